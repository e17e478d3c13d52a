// RedisConnection: commands, batches and transactions as round trips through the
// connection's RedisPipeline, and what a cancel does to each.
#include "drivers/redis/redis_connection.hpp"

#include <algorithm>

#include "drivers/redis/redis_error.hpp"

namespace dbpool::redis {
namespace {

using OnCancel = RedisPipeline::OnCancel;

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

}  // namespace

RedisConnection::RedisConnection(Runtime& runtime, RedisOptions options)
    : runtime_(runtime),
      options_(std::move(options)),
      endpoint_(options_.Endpoint()),
      pipeline_(std::make_shared<RedisPipeline>(runtime.executor(), endpoint_)) {}

// The pipeline's reader notices the shut socket, fails what is still owed and closes it.
RedisConnection::~RedisConnection() { pipeline_->Shutdown(); }

asio::awaitable<std::vector<Reply>> RedisConnection::RoundTrip(std::string request, size_t count,
                                                               CancelToken* cancel,
                                                               RedisPipeline::OnCancel on_cancel) {
  if (broken_) {
    throw DbError(ErrorKind::kConnection, "the connection to " + endpoint_ + " is broken");
  }
  co_return co_await pipeline_->Call(std::move(request), count, cancel, on_cancel);
}

asio::awaitable<Reply> RedisConnection::Call(const std::vector<std::string>* args) {
  std::string request;
  AppendCommand(request, *args);
  std::vector<Reply> replies = co_await RoundTrip(std::move(request), 1, nullptr);
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
  // A command that may share the connection only stops waiting when cancelled (its reply
  // is dropped); one that holds it (BLPOP, a transaction) can only be stopped by closing.
  const OnCancel on_cancel = IsMultiplexable(args) ? OnCancel::kDropReply : OnCancel::kCloseConnection;
  std::vector<Reply> replies = co_await RoundTrip(std::move(request), 1, cancel.get(), on_cancel);
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
  const bool shareable = std::all_of(commands.begin(), commands.end(),
                                     [](const auto& args) { return IsMultiplexable(args); });
  std::vector<Reply> replies =
      co_await RoundTrip(std::move(request), statements.size(), cancel.get(),
                         shareable ? OnCancel::kDropReply : OnCancel::kCloseConnection);
  // Every reply has been read, so the connection is in sync whatever failed.
  for (size_t i = 0; i < replies.size(); ++i) Track(commands[i], infos[i], replies[i]);
  co_return BatchResults(replies, infos, options_.decode_responses);
}

asio::awaitable<void> RedisConnection::Begin() {
  if (in_transaction_) {
    throw DbError(ErrorKind::kQuery, "MULTI: a transaction is already open on this connection");
  }
  std::string request = SimpleRequest("MULTI");
  std::vector<Reply> replies = co_await RoundTrip(std::move(request), 1, nullptr);
  ThrowIfError(replies[0], "MULTI");
  in_transaction_ = true;
  queued_.clear();
}

asio::awaitable<void> RedisConnection::Commit() {
  std::string request = SimpleRequest("EXEC");
  std::vector<std::string> queued = std::move(queued_);
  queued_.clear();
  std::vector<Reply> replies = co_await RoundTrip(std::move(request), 1, nullptr);
  in_transaction_ = false;
  CheckExecReply(replies[0], queued);
}

asio::awaitable<void> RedisConnection::Rollback() {
  std::string request = SimpleRequest("DISCARD");
  std::vector<Reply> replies = co_await RoundTrip(std::move(request), 1, nullptr);
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
  std::vector<Reply> replies = co_await RoundTrip(std::move(request), 1, nullptr);
  if (replies[0].type == ReplyType::kError) {
    throw DbError(ErrorKind::kConnection,
                  "ping of " + endpoint_ + " failed: " + replies[0].str);
  }
}

}  // namespace dbpool::redis
