// RedisConnection: round trips (write all, read all), commands, pipelines, transactions,
// the connect handshake, cancellation by closing the socket.
#include "drivers/redis/redis_connection.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstring>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>

#include "drivers/redis/redis_error.hpp"

namespace dbpool::redis {

struct CancelGuard {
  std::mutex mutex;
  bool closed = false;            // the round trip is over: a late handler must do nothing
  std::atomic<bool> fired{false};
  int fd = -1;
};

namespace {

constexpr size_t kReadChunk = 64 * 1024;
// A connection that once read a huge reply gives the memory back between commands.
constexpr size_t kKeepBuffer = 1024 * 1024;

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

std::string SimpleRequest(const char* name) {
  std::vector<std::string> args;
  args.emplace_back(name);
  std::string request;
  AppendCommand(request, args);
  return request;
}

// EXEC's reply: nil when a WATCHed key changed, an error (EXECABORT) when queueing failed,
// else one reply per queued command, some of which may be errors.
void CheckExecReply(const Reply& reply, const std::vector<std::string>& queued) {
  if (reply.type == ReplyType::kError) throw ReplyError("EXEC", reply.str);
  if (reply.type == ReplyType::kNil) {
    throw DbError(ErrorKind::kQuery,
                  "EXEC: the transaction was aborted because a WATCHed key changed; nothing "
                  "was applied");
  }
  std::string failures;
  size_t failed = 0;
  for (size_t i = 0; i < reply.elements.size(); ++i) {
    if (reply.elements[i].type != ReplyType::kError) continue;
    ++failed;
    if (failed <= 3) {
      failures += "; #" + std::to_string(i) + " " + (i < queued.size() ? queued[i] : "") + ": " +
                  reply.elements[i].str;
    }
  }
  if (failed > 0) {
    throw DbError(ErrorKind::kQuery,
                  "EXEC: " + std::to_string(failed) + " of " +
                      std::to_string(reply.elements.size()) +
                      " commands failed (Redis applied the others: it has no rollback)" +
                      failures);
  }
}

void CloseGuard(CancelGuard* guard) {
  if (guard == nullptr) return;
  std::lock_guard lock(guard->mutex);
  guard->closed = true;
}

// Marks the guard closed when the round trip ends, however it ends (also when the coroutine
// is destroyed), before the connection can close its socket.
struct GuardCloser {
  CancelGuard* guard;
  ~GuardCloser() { CloseGuard(guard); }
};

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

RedisConnection::RedisConnection(Runtime& runtime, RedisOptions options)
    : runtime_(runtime),
      options_(std::move(options)),
      endpoint_(options_.Endpoint()),
      transport_(runtime.executor()) {}

RedisConnection::~RedisConnection() { transport_.Close(); }

void RedisConnection::CheckReady() {
  if (broken_) {
    throw DbError(ErrorKind::kConnection, "the connection to " + endpoint_ + " is broken");
  }
  if (in_flight_) {
    // An earlier call was abandoned (its coroutine destroyed) before all its replies came:
    // the next replies would be matched to the wrong commands.
    broken_ = true;
    throw DbError(ErrorKind::kConnection, "a previous command on the connection to " +
                                              endpoint_ + " was abandoned before its reply");
  }
}

DbError RedisConnection::IoError(const asio::error_code& ec, const CancelGuard* guard,
                                 const char* what) {
  broken_ = true;
  if (guard != nullptr && guard->fired.load()) {
    return DbError(ErrorKind::kCancelled,
                   "command cancelled: Redis cannot interrupt a running command, so the "
                   "connection to " + endpoint_ + " was closed");
  }
  if (ec == asio::error::operation_aborted) {
    return DbError(ErrorKind::kCancelled, "command abandoned while waiting for " + endpoint_);
  }
  std::string reason = ec == asio::error::eof ? std::string("the server closed the connection")
                                              : ec.message();
  if (!connected_) {
    return DbError(ErrorKind::kConnection, "could not connect to " + endpoint_ + ": " + reason);
  }
  return DbError(ErrorKind::kConnection,
                 std::string("lost the connection to ") + endpoint_ + " (" + what + "): " + reason);
}

asio::awaitable<Reply> RedisConnection::ReadReply(const CancelGuard* guard) {
  for (;;) {
    if (end_ > begin_) {
      bool done = false;
      size_t used = 0;
      try {
        used = parser_.Feed(buffer_.data() + begin_, end_ - begin_, &done);
      } catch (const ProtocolError& e) {
        broken_ = true;
        throw DbError(ErrorKind::kConnection,
                      "protocol error on the connection to " + endpoint_ + ": " + e.what());
      }
      begin_ += used;
      if (begin_ == end_) begin_ = end_ = 0;
      if (done) {
        Reply reply = parser_.Take();
        if (reply.type == ReplyType::kPush) continue;  // out-of-band, not a command's reply
        co_return reply;
      }
    }
    // The parser needs more bytes than are buffered: make room, then read.
    if (begin_ > 0) {
      std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (buffer_.size() - end_ < kReadChunk / 4) {
      buffer_.resize(std::max(buffer_.size() * 2, end_ + kReadChunk));
    }
    asio::error_code ec;
    size_t n = co_await transport_.ReadSome(
        asio::buffer(buffer_.data() + end_, buffer_.size() - end_), &ec);
    if (ec) throw IoError(ec, guard, "read");
    end_ += n;
  }
}

asio::awaitable<std::vector<Reply>> RedisConnection::RoundTrip(const std::string* request,
                                                               size_t count,
                                                               CancelToken* cancel) {
  CheckReady();
  if (cancel != nullptr && cancel->cancelled()) {
    throw DbError(ErrorKind::kCancelled, "command cancelled before it was sent");
  }
  std::shared_ptr<CancelGuard> guard;
  std::optional<CancelScope> scope;
  if (cancel != nullptr) {
    guard = std::make_shared<CancelGuard>();
    guard->fd = transport_.socket().native_handle();
    // Redis cannot cancel a command; the only way out of a long one (BLPOP, a slow script)
    // is to drop the connection. shutdown() wakes our pending read (it sees EOF) and is
    // safe from any thread; the descriptor stays ours until the guard is closed.
    std::function<void()> handler = [guard] {
      std::lock_guard lock(guard->mutex);
      if (guard->closed) return;
      guard->fired = true;
      ::shutdown(guard->fd, SHUT_RDWR);
    };
    scope.emplace(*cancel, std::move(handler));
  }
  GuardCloser closer{guard.get()};

  in_flight_ = true;
  asio::error_code ec;
  co_await transport_.WriteAll(asio::buffer(*request), &ec);
  if (ec) throw IoError(ec, guard.get(), "write");
  std::vector<Reply> replies;
  replies.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    Reply reply = co_await ReadReply(guard.get());
    replies.push_back(std::move(reply));
  }
  in_flight_ = false;
  if (buffer_.size() > kKeepBuffer && begin_ == end_) {
    buffer_ = std::vector<char>();
    begin_ = end_ = 0;
  }
  CloseGuard(guard.get());
  if (guard != nullptr && guard->fired.load()) {
    // The cancel came after the last reply but before we could stop it: the socket is shut.
    broken_ = true;
    throw DbError(ErrorKind::kCancelled, "command cancelled; the connection to " + endpoint_ +
                                             " was closed");
  }
  co_return replies;
}

asio::awaitable<Reply> RedisConnection::Call(const std::vector<std::string>* args) {
  std::string request;
  AppendCommand(request, *args);
  std::vector<Reply> replies = co_await RoundTrip(&request, 1, nullptr);
  co_return std::move(replies[0]);
}

void RedisConnection::Track(const std::vector<std::string>& args, const CommandInfo& info,
                            const Reply& reply) {
  const std::string& name = info.name;
  if (name == "MULTI") {
    if (reply.type != ReplyType::kError) {
      in_transaction_ = true;
      queued_.clear();
    }
  } else if (name == "EXEC" || name == "DISCARD") {
    in_transaction_ = false;  // also after EXECABORT: the transaction is gone either way
    queued_.clear();
  } else if (in_transaction_ && reply.type == ReplyType::kSimpleString && reply.str == "QUEUED") {
    queued_.push_back(name);
  } else if (name == "QUIT") {
    broken_ = true;  // the server closes the connection after its OK
  }
  (void)args;
}

asio::awaitable<Reply> RedisConnection::RunCommand(std::string sql, Params params,
                                                   CancelTokenPtr cancel, CommandInfo* info) {
  std::vector<std::string> args = BuildCommand(sql, params);
  *info = DescribeCommand(args);
  std::string request;
  AppendCommand(request, args);
  std::vector<Reply> replies = co_await RoundTrip(&request, 1, cancel.get());
  Track(args, *info, replies[0]);
  ThrowIfError(replies[0], info->name);
  co_return std::move(replies[0]);
}

asio::awaitable<QueryResult> RedisConnection::Query(std::string sql, Params params,
                                                    CancelTokenPtr cancel) {
  CommandInfo info;
  Reply reply = co_await RunCommand(std::move(sql), std::move(params), std::move(cancel), &info);
  co_return ReplyToResult(reply, info, options_.decode_responses);
}

asio::awaitable<int64_t> RedisConnection::Execute(std::string sql, Params params,
                                                  CancelTokenPtr cancel) {
  CommandInfo info;
  Reply reply = co_await RunCommand(std::move(sql), std::move(params), std::move(cancel), &info);
  co_return ReplyToRowsAffected(reply);
}

namespace {

// Encodes every statement of a batch; a statement that cannot be sent fails the batch
// before anything is written, naming its index.
std::string EncodeBatch(const std::vector<Statement>& statements,
                        std::vector<std::vector<std::string>>* commands,
                        std::vector<CommandInfo>* infos) {
  std::string request;
  commands->reserve(statements.size());
  infos->reserve(statements.size());
  for (size_t i = 0; i < statements.size(); ++i) {
    try {
      commands->push_back(BuildCommand(statements[i].sql, statements[i].params));
    } catch (const DbError& e) {
      throw DbError(e.kind(), "command at index " + std::to_string(i) + " of " +
                                  std::to_string(statements.size()) + ": " + e.message());
    }
    infos->push_back(DescribeCommand(commands->back()));
    AppendCommand(request, commands->back());
  }
  return request;
}

std::vector<QueryResult> BatchResults(const std::vector<Reply>& replies,
                                      const std::vector<CommandInfo>& infos, bool decode) {
  const std::string total = std::to_string(replies.size());
  for (size_t i = 0; i < replies.size(); ++i) {
    try {
      ThrowIfError(replies[i], infos[i].name);
    } catch (const DbError& e) {
      throw DbError(e.kind(), "command at index " + std::to_string(i) + " of " + total +
                                  " failed: " + e.message());
    }
  }
  std::vector<QueryResult> results;
  results.reserve(replies.size());
  for (size_t i = 0; i < replies.size(); ++i) {
    try {
      results.push_back(ReplyToResult(replies[i], infos[i], decode));
    } catch (const DbError& e) {
      throw DbError(e.kind(),
                    "command at index " + std::to_string(i) + " of " + total + ": " + e.message());
    }
  }
  return results;
}

}  // namespace

asio::awaitable<std::vector<QueryResult>> RedisConnection::QueryBatch(
    std::vector<Statement> statements, CancelTokenPtr cancel) {
  if (statements.empty()) co_return std::vector<QueryResult>();
  std::vector<std::vector<std::string>> commands;
  std::vector<CommandInfo> infos;
  std::string request = EncodeBatch(statements, &commands, &infos);
  std::vector<Reply> replies = co_await RoundTrip(&request, statements.size(), cancel.get());
  // Every reply has been read, so the connection is in sync whatever failed.
  for (size_t i = 0; i < replies.size(); ++i) Track(commands[i], infos[i], replies[i]);
  co_return BatchResults(replies, infos, options_.decode_responses);
}

asio::awaitable<void> RedisConnection::Begin() {
  if (in_transaction_) {
    throw DbError(ErrorKind::kQuery, "MULTI: a transaction is already open on this connection");
  }
  std::string request = SimpleRequest("MULTI");
  std::vector<Reply> replies = co_await RoundTrip(&request, 1, nullptr);
  ThrowIfError(replies[0], "MULTI");
  in_transaction_ = true;
  queued_.clear();
}

asio::awaitable<void> RedisConnection::Commit() {
  std::string request = SimpleRequest("EXEC");
  std::vector<std::string> queued = std::move(queued_);
  queued_.clear();
  std::vector<Reply> replies = co_await RoundTrip(&request, 1, nullptr);
  in_transaction_ = false;
  CheckExecReply(replies[0], queued);
}

asio::awaitable<void> RedisConnection::Rollback() {
  std::string request = SimpleRequest("DISCARD");
  std::vector<Reply> replies = co_await RoundTrip(&request, 1, nullptr);
  in_transaction_ = false;
  queued_.clear();
  const Reply& reply = replies[0];
  // "ERR DISCARD without MULTI": nothing was open, which is what Rollback wants.
  if (reply.type == ReplyType::kError && reply.str.find("without MULTI") == std::string::npos) {
    throw ReplyError("DISCARD", reply.str);
  }
}

asio::awaitable<void> RedisConnection::Ping() {
  std::string request = SimpleRequest("PING");
  std::vector<Reply> replies = co_await RoundTrip(&request, 1, nullptr);
  if (replies[0].type == ReplyType::kError) {
    throw DbError(ErrorKind::kConnection,
                  "ping of " + endpoint_ + " failed: " + replies[0].str);
  }
}

}  // namespace dbpool::redis
