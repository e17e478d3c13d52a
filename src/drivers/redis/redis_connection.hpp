// RedisConnection: one Redis session on an Asio socket, speaking RESP3 (RESP2 with servers
// older than 6); commands in, replies as Arrow results out. Every command goes through the
// connection's RedisPipeline, so batches and concurrent callers' commands are pipelined.
#pragma once

#include <asio.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "drivers/driver.hpp"
#include "drivers/redis/redis_commands.hpp"
#include "drivers/redis/redis_pipeline.hpp"
#include "drivers/redis/redis_reply_to_arrow.hpp"
#include "drivers/redis/redis_transport.hpp"
#include "drivers/redis/resp.hpp"

namespace dbpool::redis {

/// Per-pool settings of Redis connections (from the URL and the pool's options).
struct RedisOptions {
  std::string host;
  uint16_t port = 6379;
  int64_t database = 0;         ///< SELECTed on connect when not 0 (the URL path /N)
  std::string username;         ///< ACL user; "default" when only a password is given
  std::string password;
  int protocol = 3;             ///< 3: HELLO 3, falling back to RESP2; 2: RESP2 only
  bool decode_responses = true; ///< strings as String (UTF-8 checked) or as Binary
  std::string client_name = "db-pool";  ///< CLIENT SETNAME; empty: none
  TlsSettings tls;
  double connect_timeout = 10.0;

  /// Reads `config`: database number, port (default 6379), TLS for db_type "rediss" or
  /// option ssl=true, the options decode_responses, protocol, client_name, ssl,
  /// ssl_ca_certs, ssl_certfile, ssl_keyfile, ssl_cert_reqs, ssl_check_hostname. Throws
  /// DbError(kConfig) naming the field for anything invalid or unknown.
  static RedisOptions From(const ConnectionConfig& config);
  /// "host:port" for messages.
  std::string Endpoint() const;
};

class RedisConnection final : public Connection {
 public:
  RedisConnection(Runtime& runtime, RedisOptions options);
  ~RedisConnection() override;
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  /// Connects the socket to `endpoints` (in order), does the TLS handshake, then HELLO/AUTH/
  /// SELECT/CLIENT SETNAME. Throws DbError(kConnection / kConfig); used by RedisDriver,
  /// which bounds it with connect_timeout.
  asio::awaitable<void> Open(const std::vector<asio::ip::tcp::endpoint>* endpoints);
  /// Stops the connect: closes the socket (or, once the handshake runs, shuts it down);
  /// pending reads and writes fail. From the connect strand (the connect deadline).
  void Abort() {
    aborted_ = true;
    pipeline_->Shutdown();
  }

  /// `sql` = "SET k 'v'" (split like redis-cli) with params appended as further arguments,
  /// or "" with the whole command in params. Error replies throw kQuery ("GET: WRONGTYPE
  /// ...") and leave the connection usable. Commands for which IsMultiplexable is true may
  /// be called concurrently (from any thread): they are pipelined, replies matched in
  /// order, and cancelling one drops its reply; cancelling any other closes the connection.
  asio::awaitable<QueryResult> Query(std::string sql, Params params,
                                     CancelTokenPtr cancel) override;
  asio::awaitable<int64_t> Execute(std::string sql, Params params,
                                   CancelTokenPtr cancel) override;
  /// Pipelines every command in one write, then reads every reply (one round trip). An
  /// error reply (read to the end first, so the connection stays in sync) throws kQuery
  /// naming the command's index.
  asio::awaitable<std::vector<QueryResult>> QueryBatch(std::vector<Statement> statements,
                                                       CancelTokenPtr cancel) override;
  /// MULTI / EXEC / DISCARD.
  asio::awaitable<void> Begin() override;
  asio::awaitable<void> Commit() override;
  asio::awaitable<void> Rollback() override;
  asio::awaitable<void> Ping() override;

  bool IsBroken() const override { return broken_ || pipeline_->broken(); }
  bool InTransaction() const override { return in_transaction_; }
  /// The server's client id (CLIENT ID), 0 when the server did not say (RESP2).
  int64_t ServerSessionId() const override { return client_id_; }
  /// 2 or 3: the protocol the server agreed to.
  int protocol() const { return protocol_; }

 private:
  /// Sends `request` (holding `count` commands) through the pipeline and returns their
  /// replies; see RedisPipeline::Call.
  asio::awaitable<std::vector<Reply>> RoundTrip(std::string request, size_t count,
                                                CancelToken* cancel,
                                                RedisPipeline::OnCancel on_cancel =
                                                    RedisPipeline::OnCancel::kCloseConnection);
  /// One command during the handshake (no cancel), as a reply.
  asio::awaitable<Reply> Call(const std::vector<std::string>* args);
  /// Runs a single command through RoundTrip and checks transaction bookkeeping.
  asio::awaitable<Reply> RunCommand(std::string sql, Params params, CancelTokenPtr cancel,
                                    CommandInfo* info);

  /// Updates in_transaction_ / queued_ / broken_ after `reply` to `args`.
  void Track(const std::vector<std::string>& args, const CommandInfo& info, const Reply& reply);

  Runtime& runtime_;
  RedisOptions options_;
  std::string endpoint_;
  // Shared with its reader and writer coroutines, which may outlive the connection briefly.
  std::shared_ptr<RedisPipeline> pipeline_;
  int protocol_ = 2;
  int64_t client_id_ = 0;
  bool aborted_ = false;  // Abort() was called: connect no further
  // Written only by commands that run alone (QUIT, MULTI, EXEC, DISCARD), read by the pool.
  std::atomic<bool> broken_{false};
  std::atomic<bool> in_transaction_{false};
  std::vector<std::string> queued_;  // names of the commands queued since MULTI
};

}  // namespace dbpool::redis
