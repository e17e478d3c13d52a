// Redis failures -> DbError: error replies are QueryErrors carrying the server's text (its
// first word, WRONGTYPE / ERR / NOSCRIPT..., is the error code Redis has instead of SQLSTATE).
#pragma once

#include <string>
#include <string_view>

#include "dbpool/error.hpp"
#include "drivers/redis/resp.hpp"

namespace dbpool::redis {

/// The first word of an error reply ("WRONGTYPE", "ERR", "NOAUTH"...).
std::string_view ErrorPrefix(std::string_view error_text);

/// DbError(kQuery) for an error reply to `command`: "<command>: <server text>", SQLSTATE
/// empty (Redis has none), the prefix kept as the first word of the server text.
DbError ReplyError(std::string_view command, std::string_view error_text);

/// Throws ReplyError when `reply` is an error reply or holds one (EXEC results, Lua
/// tables); a nested one is named by its position ("element 2").
void ThrowIfError(const Reply& reply, std::string_view command);

/// True for the errors a server gives for bad or missing credentials (WRONGPASS, NOAUTH,
/// NOPERM, and Redis < 6's "ERR invalid password" / "ERR Client sent AUTH, but no password
/// is set").
bool IsAuthError(std::string_view error_text);

}  // namespace dbpool::redis
