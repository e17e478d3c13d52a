// RESP2/RESP3 parsing (resumable, one element at a time), command encoding and splitting.
#include "drivers/redis/resp.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace dbpool::redis {
namespace {

// Aggregates announce their size up front; reserving it all would let a corrupt header
// allocate gigabytes before a single element arrived.
constexpr int64_t kMaxReserve = 1 << 16;

int64_t ParseInteger(std::string_view text, const char* what) {
  int64_t value = 0;
  const char* begin = text.data();
  const char* end = begin + text.size();
  if (!text.empty() && *begin == '+') ++begin;  // RESP3 allows an explicit sign
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc() || ptr != end || begin == end) {
    throw ProtocolError(std::string("invalid ") + what + " '" + std::string(text.substr(0, 32)) +
                        "' in the server's reply");
  }
  return value;
}

double ParseDouble(std::string_view text) {
  double value = 0;
  const char* begin = text.data();
  const char* end = begin + text.size();
  if (!text.empty() && *begin == '+') ++begin;
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec == std::errc::result_out_of_range) return value;  // denormals round; keep going
  if (ec != std::errc() || ptr != end || begin == end) {
    throw ProtocolError("invalid double '" + std::string(text.substr(0, 32)) +
                        "' in the server's reply");
  }
  return value;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsSpace(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f';
}

}  // namespace

const char* ReplyTypeName(ReplyType type) {
  switch (type) {
    case ReplyType::kSimpleString: return "simple string";
    case ReplyType::kError: return "error";
    case ReplyType::kInteger: return "integer";
    case ReplyType::kBulkString: return "bulk string";
    case ReplyType::kNil: return "nil";
    case ReplyType::kArray: return "array";
    case ReplyType::kDouble: return "double";
    case ReplyType::kBoolean: return "boolean";
    case ReplyType::kBigNumber: return "big number";
    case ReplyType::kVerbatim: return "verbatim string";
    case ReplyType::kMap: return "map";
    case ReplyType::kSet: return "set";
    case ReplyType::kPush: return "push";
  }
  return "unknown";
}

Reply* RespParser::Place() {
  if (stack_.empty()) {
    root_ = Reply();
    return &root_;
  }
  // Only the last element of an open aggregate is ever open itself, so growing this vector
  // never moves a node the stack points to.
  auto& elements = stack_.back().node->elements;
  elements.emplace_back();
  return &elements.back();
}

bool RespParser::Finish(bool attribute) {
  for (;;) {
    if (stack_.empty()) {
      if (attribute) {
        root_ = Reply();  // an attribute before the reply: drop it, the reply follows
        return false;
      }
      return true;
    }
    Frame& top = stack_.back();
    if (attribute) {
      top.node->elements.pop_back();  // attributes do not count as elements
    } else {
      --top.remaining;
    }
    if (top.remaining > 0) return false;
    attribute = top.attribute;
    stack_.pop_back();
  }
}

size_t RespParser::Feed(const char* data, size_t size, bool* done) {
  *done = false;
  size_t pos = 0;
  while (pos < size) {
    const char* start = data + pos;
    const auto* newline = static_cast<const char*>(std::memchr(start, '\n', size - pos));
    if (newline == nullptr) return pos;
    if (newline == start || newline[-1] != '\r') {
      throw ProtocolError("a line of the server's reply does not end in CRLF");
    }
    const char kind = *start;
    std::string_view line(start + 1, static_cast<size_t>(newline - 1 - (start + 1)));
    size_t next = static_cast<size_t>(newline + 1 - data);

    Reply element;
    int64_t count = 0;  // > 0: an aggregate whose elements follow
    bool attribute = false;
    switch (kind) {
      case '+':
        element.type = ReplyType::kSimpleString;
        element.str.assign(line);
        break;
      case '-':
        element.type = ReplyType::kError;
        element.str.assign(line);
        break;
      case ':':
        element.type = ReplyType::kInteger;
        element.integer = ParseInteger(line, "integer");
        break;
      case ',':
        element.type = ReplyType::kDouble;
        element.number = ParseDouble(line);
        break;
      case '#':
        if (line != "t" && line != "f") throw ProtocolError("invalid boolean in the server's reply");
        element.type = ReplyType::kBoolean;
        element.integer = line == "t" ? 1 : 0;
        break;
      case '(':
        element.type = ReplyType::kBigNumber;
        element.str.assign(line);
        break;
      case '_':
        element.type = ReplyType::kNil;
        break;
      case '$':
      case '=':
      case '!': {
        if (line == "?") throw ProtocolError("streamed strings (RESP3 $?) are not supported");
        int64_t length = ParseInteger(line, "length");
        if (length == -1 && kind == '$') {
          element.type = ReplyType::kNil;
          break;
        }
        if (length < 0) throw ProtocolError("negative length in the server's reply");
        if (static_cast<uint64_t>(length) + 2 > size - next) return pos;  // payload incomplete
        const char* payload = data + next;
        if (payload[length] != '\r' || payload[length + 1] != '\n') {
          throw ProtocolError("a string in the server's reply does not end in CRLF");
        }
        element.type = kind == '$' ? ReplyType::kBulkString
                                   : kind == '=' ? ReplyType::kVerbatim : ReplyType::kError;
        std::string_view text(payload, static_cast<size_t>(length));
        // Verbatim strings start with a 3-letter format and a colon ("txt:", "mkd:").
        if (kind == '=' && text.size() >= 4 && text[3] == ':') text.remove_prefix(4);
        element.str.assign(text);
        next += static_cast<size_t>(length) + 2;
        break;
      }
      case '*':
      case '~':
      case '%':
      case '>':
      case '|': {
        if (line == "?") throw ProtocolError("streamed aggregates (RESP3 *?) are not supported");
        count = ParseInteger(line, "length");
        if (count == -1 && kind == '*') {
          element.type = ReplyType::kNil;
          count = 0;
          break;
        }
        if (count < 0) throw ProtocolError("negative length in the server's reply");
        element.type = kind == '*'   ? ReplyType::kArray
                       : kind == '~' ? ReplyType::kSet
                       : kind == '>' ? ReplyType::kPush
                                     : ReplyType::kMap;
        attribute = kind == '|';
        if (kind == '%' || kind == '|') count *= 2;
        element.elements.reserve(static_cast<size_t>(std::min(count, kMaxReserve)));
        break;
      }
      default:
        throw ProtocolError(std::string("unexpected type byte 0x") + "0123456789abcdef"[(kind >> 4) & 15] +
                            "0123456789abcdef"[kind & 15] + " in the server's reply");
    }
    pos = next;
    Reply* node = Place();
    *node = std::move(element);
    if (count > 0) {
      stack_.push_back(Frame{node, count, attribute});
      continue;
    }
    if (Finish(attribute)) {
      *done = true;
      return pos;
    }
  }
  return pos;
}

Reply RespParser::Take() {
  Reply reply = std::move(root_);
  root_ = Reply();
  stack_.clear();
  return reply;
}

void AppendCommand(std::string& out, const std::vector<std::string>& args) {
  char header[32];
  auto append_header = [&](char kind, size_t n) {
    header[0] = kind;
    auto [end, ec] = std::to_chars(header + 1, header + sizeof(header) - 2, n);
    *end++ = '\r';
    *end++ = '\n';
    out.append(header, static_cast<size_t>(end - header));
  };
  append_header('*', args.size());
  for (const auto& arg : args) {
    append_header('$', arg.size());
    out.append(arg);
    out.append("\r\n", 2);
  }
}

std::vector<std::string> SplitCommandLine(std::string_view text) {
  std::vector<std::string> args;
  size_t i = 0;
  const size_t n = text.size();
  auto at = [&](size_t k) { return k < n ? text[k] : '\0'; };
  for (;;) {
    while (i < n && IsSpace(text[i])) ++i;
    if (i >= n) return args;
    std::string current;
    bool in_double = false;
    bool in_single = false;
    for (bool done = false; !done; ++i) {
      char c = at(i);
      if (in_double) {
        if (i >= n) throw std::invalid_argument("unbalanced double quotes");
        if (c == '\\' && at(i + 1) == 'x' && HexDigit(at(i + 2)) >= 0 && HexDigit(at(i + 3)) >= 0) {
          current.push_back(static_cast<char>(HexDigit(at(i + 2)) * 16 + HexDigit(at(i + 3))));
          i += 3;
        } else if (c == '\\' && i + 1 < n) {
          ++i;
          switch (text[i]) {
            case 'n': current.push_back('\n'); break;
            case 'r': current.push_back('\r'); break;
            case 't': current.push_back('\t'); break;
            case 'b': current.push_back('\b'); break;
            case 'a': current.push_back('\a'); break;
            default: current.push_back(text[i]); break;
          }
        } else if (c == '"') {
          // redis-cli insists on a separator after the closing quote.
          if (i + 1 < n && !IsSpace(text[i + 1])) {
            throw std::invalid_argument("closing quote must be followed by a space");
          }
          done = true;
        } else {
          current.push_back(c);
        }
      } else if (in_single) {
        if (i >= n) throw std::invalid_argument("unbalanced single quotes");
        if (c == '\\' && at(i + 1) == '\'') {
          current.push_back('\'');
          ++i;
        } else if (c == '\'') {
          if (i + 1 < n && !IsSpace(text[i + 1])) {
            throw std::invalid_argument("closing quote must be followed by a space");
          }
          done = true;
        } else {
          current.push_back(c);
        }
      } else if (i >= n || IsSpace(c)) {
        done = true;
      } else if (c == '"') {
        in_double = true;
      } else if (c == '\'') {
        in_single = true;
      } else {
        current.push_back(c);
      }
    }
    args.push_back(std::move(current));
  }
}

}  // namespace dbpool::redis
