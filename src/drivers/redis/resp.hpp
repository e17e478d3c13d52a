// RESP2/RESP3 wire format: the Reply tree, an incremental (resumable) reply parser, the
// command encoder and the redis-cli style splitting of "SET k 'v w'" command text.
// Spec: https://github.com/redis/redis-specifications/blob/master/protocol/RESP3.md
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace dbpool::redis {

/// The RESP type of a reply. RESP2 servers only send the first five (a null bulk string or
/// null array is kNil); RESP3 adds the rest.
enum class ReplyType : uint8_t {
  kSimpleString,  ///< +OK
  kError,         ///< -ERR ... and RESP3 blob errors (!)
  kInteger,       ///< :42
  kBulkString,    ///< $3 abc (binary safe)
  kNil,           ///< $-1, *-1, RESP3 _
  kArray,         ///< *N
  kDouble,        ///< RESP3 ,1.5 (also inf, -inf, nan)
  kBoolean,       ///< RESP3 #t / #f
  kBigNumber,     ///< RESP3 (123456789012345678901234567890 (kept as its digits)
  kVerbatim,      ///< RESP3 =N txt:... (str holds the text without the "txt:" prefix)
  kMap,           ///< RESP3 %N: elements hold key, value, key, value...
  kSet,           ///< RESP3 ~N
  kPush,          ///< RESP3 >N out-of-band data (never the reply to a command)
};

/// Name for messages ("bulk string", "map"...).
const char* ReplyTypeName(ReplyType type);

/// One reply; aggregates hold their elements (a map: 2 per entry, key first).
struct Reply {
  ReplyType type = ReplyType::kNil;
  std::string str;        ///< strings, errors, big numbers, verbatim text
  int64_t integer = 0;    ///< kInteger; kBoolean as 0/1
  double number = 0;      ///< kDouble
  std::vector<Reply> elements;

  bool is_string() const {
    return type == ReplyType::kSimpleString || type == ReplyType::kBulkString ||
           type == ReplyType::kVerbatim;
  }
  bool is_aggregate() const {
    return type == ReplyType::kArray || type == ReplyType::kSet || type == ReplyType::kMap ||
           type == ReplyType::kPush;
  }
};

/// Malformed input from the server: the connection is out of sync and must be dropped.
class ProtocolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Parses replies incrementally: Feed() as bytes arrive; an incomplete reply keeps its state
/// (the aggregates built so far), so a large reply costs linear time however it is split.
/// RESP3 attributes (|N) are parsed and dropped; streamed types ($?, *?) are rejected.
class RespParser {
 public:
  /// Consumes whole elements from [data, data + size) and returns how many bytes it used
  /// (the caller drops them). Sets *done when a top-level reply is complete (Take() it
  /// before feeding more); stops there, so bytes of the next reply are left unconsumed.
  /// Throws ProtocolError.
  size_t Feed(const char* data, size_t size, bool* done);
  /// The completed reply (valid once Feed set *done); resets the parser.
  Reply Take();

 private:
  struct Frame {
    Reply* node;         // the open aggregate (the root, or the last element of its parent)
    int64_t remaining;   // elements still to come
    bool attribute;      // a RESP3 attribute map: dropped once complete
  };
  /// Where the next element goes (the root, or a new last element of the open aggregate).
  Reply* Place();
  /// Called when the element placed last is complete (`attribute`: it was an attribute
  /// map); closes finished aggregates. Returns true when the root is complete.
  bool Finish(bool attribute);

  Reply root_;
  std::vector<Frame> stack_;
};

/// Appends a command as a RESP array of bulk strings (what servers accept, binary safe).
void AppendCommand(std::string& out, const std::vector<std::string>& args);

/// Splits command text like redis-cli (sdssplitargs): arguments separated by whitespace;
/// "double quotes" with \n \r \t \b \a \\ \" and \xHH escapes; 'single quotes' with \'.
/// A closing quote must be followed by whitespace or the end. Throws std::invalid_argument
/// (with the reason) for unbalanced quotes.
std::vector<std::string> SplitCommandLine(std::string_view text);

}  // namespace dbpool::redis
