// Redis command arguments: BuildCommand (text split like redis-cli, parameters appended),
// the commands refused on pooled connections, and which commands may be multiplexed.
#include "drivers/redis/redis_commands.hpp"

#include <cctype>
#include <charconv>
#include <set>
#include <stdexcept>
#include <string_view>

#include "dbpool/error.hpp"
#include "drivers/redis/resp.hpp"

namespace dbpool::redis {
namespace {

std::string Upper(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string ArgumentText(const Value& value, size_t index, const std::vector<std::string>& args) {
  struct Visitor {
    size_t index;
    const std::vector<std::string>& args;
    std::string operator()(std::monostate) const {
      std::string command = args.empty() ? std::string("the command") : Upper(args[0]);
      throw DbError(ErrorKind::kDataConversion,
                    command + ": argument " + std::to_string(index) +
                        (index == 0 ? " (the command name)" : "") +
                        " is NULL/None; Redis has no null value (pass str, bytes, int, float or "
                        "bool)");
    }
    std::string operator()(bool v) const { return v ? "1" : "0"; }
    std::string operator()(int64_t v) const { return std::to_string(v); }
    std::string operator()(double v) const {
      char buf[32];
      auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
      return std::string(buf, static_cast<size_t>(end - buf));
    }
    std::string operator()(const std::string& v) const { return v; }
    std::string operator()(const Bytes& v) const { return v.data; }
  };
  return std::visit(Visitor{index, args}, value);
}

// Commands that would leave a pooled connection in a state the next borrower does not
// expect; rejected before anything is sent.
void CheckAllowed(const std::vector<std::string>& args) {
  const std::string name = Upper(args[0]);
  static const std::set<std::string> kStreaming = {
      "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE",
      "SUNSUBSCRIBE", "MONITOR", "SYNC", "PSYNC"};
  const char* reason = nullptr;
  if (kStreaming.count(name)) {
    reason = "it turns the connection into a stream of pushed messages (use a dedicated "
             "client for pub/sub and MONITOR)";
  } else if (name == "SELECT") {
    reason = "it would change the database for every later user of the pooled connection; "
             "put the database number in the URL path (redis://host:6379/2)";
  } else if (name == "AUTH" || name == "RESET" || (name == "HELLO" && args.size() > 1)) {
    reason = "it would change the credentials or protocol of the pooled connection; give "
             "them in the pool's configuration";
  } else if (name == "CLIENT" && args.size() > 1 && Upper(args[1]) == "REPLY") {
    reason = "replies must stay one per command";
  }
  if (reason != nullptr) {
    throw DbError(ErrorKind::kQuery,
                  name + " is not supported on pooled connections: " + reason);
  }
}

// Commands that hold the connection (blocking until data or a timeout), transactions, and
// commands that change the session: pipelining another caller's command behind them would
// delay it for as long, run it inside the transaction, or change its session.
const std::set<std::string>& ExclusiveCommands() {
  static const std::set<std::string> kExclusive = {
      "BLPOP", "BRPOP", "BRPOPLPUSH", "BLMOVE", "BLMPOP", "BZPOPMIN", "BZPOPMAX", "BZMPOP",
      "WAIT", "WAITAOF", "MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH", "CLIENT", "QUIT",
      "READONLY", "READWRITE", "ASKING", "DEBUG", "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE",
      "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE", "MONITOR", "SYNC", "PSYNC", "SELECT",
      "AUTH", "HELLO", "RESET"};
  return kExclusive;
}

bool IsStreamRead(const std::string& name) { return name == "XREAD" || name == "XREADGROUP"; }

}  // namespace

std::vector<std::string> BuildCommand(const std::string& sql, const Params& params) {
  if (!params.names.empty()) {
    throw DbError(ErrorKind::kQuery,
                  "Redis commands take positional arguments; named parameters are not "
                  "supported");
  }
  std::vector<std::string> args;
  if (!sql.empty()) {
    try {
      args = SplitCommandLine(sql);
    } catch (const std::invalid_argument& e) {
      throw DbError(ErrorKind::kQuery, std::string("invalid command text: ") + e.what());
    }
  }
  args.reserve(args.size() + params.values.size());
  for (const Value& value : params.values) args.push_back(ArgumentText(value, args.size(), args));
  if (args.empty()) {
    throw DbError(ErrorKind::kQuery,
                  "empty command: give the command text (\"GET k\") or its arguments "
                  "([\"GET\", \"k\"])");
  }
  CheckAllowed(args);
  return args;
}

bool IsMultiplexable(const std::vector<std::string>& args) {
  const std::string name = Upper(args[0]);
  if (ExclusiveCommands().count(name)) return false;
  if (IsStreamRead(name)) {
    for (size_t i = 1; i < args.size(); ++i) {
      if (Upper(args[i]) == "BLOCK") return false;
    }
  }
  return true;
}

bool IsMultiplexable(const std::string& sql, const Params& params) {
  // Only the name decides, except for stream reads (their BLOCK option): the arguments,
  // which may be large values, are not copied for the others.
  std::string name;
  try {
    if (!sql.empty()) {
      size_t start = sql.find_first_not_of(" \t\r\n");
      size_t end = start == std::string::npos ? start : sql.find_first_of(" \t\r\n", start);
      if (start != std::string::npos) name = Upper(std::string_view(sql).substr(start, end - start));
      // A quoted name is rare: let the full split decide.
      if (!name.empty() && (name[0] == '"' || name[0] == '\'')) name.clear();
    } else if (!params.values.empty()) {
      if (const auto* text = std::get_if<std::string>(&params.values[0])) name = Upper(*text);
    }
    if (name.empty() || IsStreamRead(name)) return IsMultiplexable(BuildCommand(sql, params));
    return ExclusiveCommands().count(name) == 0;
  } catch (const DbError&) {
    return false;
  }
}

}  // namespace dbpool::redis
