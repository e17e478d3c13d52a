// UTF-8 validation for text columns: drivers reject invalid text with an error naming the
// column instead of exporting a String array that consumers would refuse.
#pragma once

#include <cstddef>

namespace dbpool::arrow {

/// True when [data, data + size) is well-formed UTF-8 (RFC 3629 / Unicode table 3-7):
/// no overlong forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no truncated
/// sequence. ASCII is checked 8 bytes at a time.
bool IsValidUtf8(const char* data, size_t size);

/// True when every byte is below 0x80. Much faster per byte than IsValidUtf8 (a vectorized
/// OR of whole words): a builder checks a batch's whole data buffer with it first, and only
/// a buffer with non-ASCII bytes is then checked value by value.
bool IsAscii(const char* data, size_t size);

}  // namespace dbpool::arrow
