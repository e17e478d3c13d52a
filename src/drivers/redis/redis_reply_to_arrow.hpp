// Redis replies -> Arrow: the documented shapes (docs/redis.md). Column types come from the
// RESP type tags of the reply (the protocol's own type information), never from parsing
// string contents: scalar -> one row in "value"; array/set -> one row per element in
// "value"; map (RESP3, or HGETALL / CONFIG GET's flat RESP2 array) -> "key" and "value".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dbpool/result.hpp"
#include "drivers/redis/resp.hpp"

namespace dbpool::redis {

/// What the conversion needs to know about the command that produced a reply.
struct CommandInfo {
  /// Upper-case name for messages and decisions: "GET", or "CONFIG GET" for commands with
  /// subcommands.
  std::string name;
  /// The command answers a flat [k1, v1, k2, v2...] array under RESP2 that RESP3 sends as a
  /// map (HGETALL, CONFIG GET): such an array gets the map shape too.
  bool flat_pairs = false;
};

/// Describes `args` (a non-empty command).
CommandInfo DescribeCommand(const std::vector<std::string>& args);

/// The reply as a one-batch QueryResult (rows_affected = -1).
/// - strings (simple, bulk, verbatim) and big numbers: String (invalid UTF-8 is a
///   DataConversionError naming the command, with the decode_responses hint); Binary when
///   `decode_responses` is false;
/// - integer: Int64; double: Float64; boolean: Boolean; nil: a null (typed String/Binary
///   when nothing else gives the column a type);
/// - nested arrays/sets: List of the elements' type; nested maps: List of Struct{key, value};
/// - elements of different RESP types in one column (EXEC results, SCAN's [cursor, keys]):
///   String holding each value's text (aggregates as JSON), field metadata
///   dbpool.db_type = "mixed".
/// The reply must not be or hold an error (see ThrowIfError).
QueryResult ReplyToResult(const Reply& reply, const CommandInfo& command, bool decode_responses);

/// The Execute() value of a reply: an integer reply's value (DEL, SADD, INCR...); a boolean
/// as 1/0; nil 0; an aggregate its number of entries (map: pairs); "QUEUED" (inside
/// MULTI) 0; any other string or double 1.
int64_t ReplyToRowsAffected(const Reply& reply);

}  // namespace dbpool::redis
