// Tests for IsValidUtf8 (the rejected classes one by one, then a randomized comparison with a
// straightforward reference decoder), IsAscii and the builder's per-batch check.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>

#include "arrow/builder.hpp"
#include "arrow/utf8.hpp"

namespace dbpool::arrow {
namespace {

bool Valid(const std::string& s) { return IsValidUtf8(s.data(), s.size()); }

// Reference: decode each sequence to a code point, then check it is in range, not a
// surrogate and not overlong (encoded with the minimal number of bytes).
bool ReferenceValid(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<uint8_t>(s[i]);
    int n;
    uint32_t cp;
    if (b < 0x80) {
      n = 1;
      cp = b;
    } else if ((b & 0xE0) == 0xC0) {
      n = 2;
      cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      n = 3;
      cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      n = 4;
      cp = b & 0x07;
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    for (int k = 1; k < n; ++k) {
      auto c = static_cast<uint8_t>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

TEST(ArrowUtf8, AcceptsWellFormedText) {
  EXPECT_TRUE(IsValidUtf8(nullptr, 0));
  EXPECT_TRUE(Valid(""));
  EXPECT_TRUE(Valid("plain ASCII text that is longer than one 8-byte word"));
  EXPECT_TRUE(Valid("h\xC3\xA9llo"));                 // é
  EXPECT_TRUE(Valid("\xE2\x82\xAC"));                 // €
  EXPECT_TRUE(Valid("\xF0\x9F\x98\x80 emoji"));       // U+1F600
  EXPECT_TRUE(Valid("\xC2\x80"));                     // U+0080, smallest 2-byte
  EXPECT_TRUE(Valid("\xE0\xA0\x80"));                 // U+0800, smallest 3-byte
  EXPECT_TRUE(Valid("\xED\x9F\xBF"));                 // U+D7FF, just below surrogates
  EXPECT_TRUE(Valid("\xEE\x80\x80"));                 // U+E000, just above
  EXPECT_TRUE(Valid("\xF0\x90\x80\x80"));             // U+10000, smallest 4-byte
  EXPECT_TRUE(Valid("\xF4\x8F\xBF\xBF"));             // U+10FFFF, the last code point
  EXPECT_TRUE(Valid(std::string("nul\0inside", 10)));  // NUL is valid UTF-8
}

TEST(ArrowUtf8, RejectsOverlongs) {
  EXPECT_FALSE(Valid("\xC0\x80"));
  EXPECT_FALSE(Valid("\xC1\xBF"));
  EXPECT_FALSE(Valid("\xE0\x80\x80"));
  EXPECT_FALSE(Valid("\xE0\x9F\xBF"));
  EXPECT_FALSE(Valid("\xF0\x80\x80\x80"));
  EXPECT_FALSE(Valid("\xF0\x8F\xBF\xBF"));
}

TEST(ArrowUtf8, RejectsSurrogatesAndBeyondMax) {
  EXPECT_FALSE(Valid("\xED\xA0\x80"));          // U+D800
  EXPECT_FALSE(Valid("\xED\xBF\xBF"));          // U+DFFF
  EXPECT_FALSE(Valid("\xF4\x90\x80\x80"));      // U+110000
  EXPECT_FALSE(Valid("\xF5\x80\x80\x80"));
  EXPECT_FALSE(Valid("\xFF"));
  EXPECT_FALSE(Valid("\xFE"));
}

TEST(ArrowUtf8, RejectsTruncatedAndStrayBytes) {
  EXPECT_FALSE(Valid("\x80"));                  // continuation without lead
  EXPECT_FALSE(Valid("abc\xBF"));
  EXPECT_FALSE(Valid("\xC3"));                  // truncated at the end
  EXPECT_FALSE(Valid("\xE2\x82"));
  EXPECT_FALSE(Valid("\xF0\x9F\x98"));
  EXPECT_FALSE(Valid("\xC3""A"));               // lead followed by ASCII
  EXPECT_FALSE(Valid("\xE2\x82""A"));
  EXPECT_FALSE(Valid("\xF0\x9F\x98""AAAAAAAA"));
}

TEST(ArrowUtf8, BadByteAtEveryPositionAroundTheFastPath) {
  // The word loop must not skip a bad byte whatever its position in or after a word.
  for (size_t len = 1; len < 40; ++len) {
    for (size_t pos = 0; pos < len; ++pos) {
      std::string s(len, 'a');
      s[pos] = '\x80';
      ASSERT_FALSE(Valid(s)) << len << " " << pos;
      s[pos] = 'b';
      ASSERT_TRUE(Valid(s));
    }
  }
}

TEST(ArrowUtf8, MatchesReferenceOnRandomInput) {
  std::mt19937 rng(12345);
  // Bias toward interesting bytes so multibyte paths are exercised, not just garbage.
  const uint8_t interesting[] = {'a',  'z',  0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0,
                                 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED,
                                 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF};
  int valid_seen = 0;
  for (int iter = 0; iter < 200000; ++iter) {
    std::string s(rng() % 24, '\0');
    for (char& c : s) {
      c = static_cast<char>(rng() % 4 == 0 ? 'x' : interesting[rng() % std::size(interesting)]);
    }
    bool expected = ReferenceValid(s);
    valid_seen += expected;
    ASSERT_EQ(Valid(s), expected) << "iteration " << iter;
  }
  EXPECT_GT(valid_seen, 1000);  // the generator does produce valid multibyte strings
}

TEST(ArrowUtf8, EveryCodePointRoundTrips) {
  for (uint32_t cp = 0; cp <= 0x10FFFF; cp += (cp < 0x11000 ? 1 : 7)) {
    std::string s;
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xE0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
    ASSERT_EQ(Valid(s), !surrogate) << std::hex << cp;
  }
}

TEST(ArrowUtf8, IsAsciiFindsAHighByteAnywhere) {
  EXPECT_TRUE(IsAscii(nullptr, 0));
  // Lengths around the 32-byte step and its tail, a high byte at every position.
  for (size_t len = 1; len < 100; ++len) {
    std::string s(len, 'a');
    ASSERT_TRUE(IsAscii(s.data(), s.size()));
    for (size_t pos = 0; pos < len; ++pos) {
      s[pos] = '\xC3';
      ASSERT_FALSE(IsAscii(s.data(), s.size())) << len << " " << pos;
      s[pos] = '\x7F';
      ASSERT_TRUE(IsAscii(s.data(), s.size()));
      s[pos] = 'a';
    }
  }
}

TEST(ArrowUtf8, BuilderFindsTheFirstInvalidValue) {
  VarBinaryBuilder ascii(DataType::Of(TypeId::kString));
  ascii.Append("plain");
  ascii.AppendNull();
  ascii.Append("");
  EXPECT_EQ(ascii.FindInvalidUtf8(), -1);

  VarBinaryBuilder mixed(DataType::Of(TypeId::kString));
  mixed.Append("h\xC3\xA9llo");  // valid, non-ASCII: the value-by-value path
  mixed.AppendNull();
  mixed.Append("ok");
  EXPECT_EQ(mixed.FindInvalidUtf8(), -1);
  // Each value alone is invalid, yet their concatenation "\xC3\xA9" is valid UTF-8: the
  // check must not take the whole buffer's validity for the values'.
  mixed.Append("\xC3");
  mixed.Append("\xA9");
  EXPECT_EQ(mixed.FindInvalidUtf8(), 3);

  ArrowArray out{};
  mixed.Finish(&out);  // the next batch is checked on its own, from index 0
  out.release(&out);
  mixed.Append("fine");
  mixed.Append("\xFF");
  EXPECT_EQ(mixed.FindInvalidUtf8(), 1);
}

}  // namespace
}  // namespace dbpool::arrow
