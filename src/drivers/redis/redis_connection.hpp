// RedisConnection: one Redis session on an Asio socket, speaking RESP3 (RESP2 with servers
// older than 6); commands in, replies as Arrow results out; batches pipelined in one write.
#pragma once

#include <asio.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "drivers/driver.hpp"
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

/// Shared by a command in flight and its cancel handler (which may run on any thread).
struct CancelGuard;

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
  /// Closes the socket; pending reads and writes fail. Only from the thread running the
  /// connection's operations (the connect deadline runs on the connect strand).
  void Abort() {
    aborted_ = true;
    transport_.Close();
  }

  /// `sql` = "SET k 'v'" (split like redis-cli) with params appended as further arguments,
  /// or "" with the whole command in params. Error replies throw kQuery ("GET: WRONGTYPE
  /// ...") and leave the connection usable.
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

  bool IsBroken() const override { return broken_; }
  bool InTransaction() const override { return in_transaction_; }
  /// The server's client id (CLIENT ID), 0 when the server did not say (RESP2).
  int64_t ServerSessionId() const override { return client_id_; }
  /// 2 or 3: the protocol the server agreed to.
  int protocol() const { return protocol_; }

 private:
  /// Sends `request` (holding `count` commands) and reads `count` replies (pushes are
  /// skipped). I/O failure marks the connection broken and throws kConnection; `cancel`
  /// (may be null) closes the socket and the call throws kCancelled.
  asio::awaitable<std::vector<Reply>> RoundTrip(const std::string* request, size_t count,
                                                CancelToken* cancel);
  /// Reads until the parser completes one top-level reply.
  asio::awaitable<Reply> ReadReply(const CancelGuard* guard);
  /// One command during the handshake (no cancel), as a reply.
  asio::awaitable<Reply> Call(const std::vector<std::string>* args);
  /// Runs a single command through RoundTrip and checks transaction bookkeeping.
  asio::awaitable<Reply> RunCommand(std::string sql, Params params, CancelTokenPtr cancel,
                                    CommandInfo* info);

  /// Throws kConnection when the connection is broken or an earlier call was abandoned.
  void CheckReady();
  /// Updates in_transaction_ / queued_ / broken_ after `reply` to `args`.
  void Track(const std::vector<std::string>& args, const CommandInfo& info, const Reply& reply);
  /// The kConnection (or kCancelled) error for a failed read/write; marks broken.
  DbError IoError(const asio::error_code& ec, const CancelGuard* guard, const char* what);

  Runtime& runtime_;
  RedisOptions options_;
  std::string endpoint_;
  Transport transport_;
  RespParser parser_;
  std::vector<char> buffer_;  // bytes read and not parsed yet: [begin_, end_)
  size_t begin_ = 0;
  size_t end_ = 0;
  int protocol_ = 2;
  int64_t client_id_ = 0;
  bool aborted_ = false;    // Abort() was called: connect no further
  bool connected_ = false;  // the handshake is done (messages say "could not connect" before)
  bool broken_ = false;
  bool in_flight_ = false;  // a round trip started and did not finish
  bool in_transaction_ = false;
  std::vector<std::string> queued_;  // names of the commands queued since MULTI
};

/// Builds the argument list of a command: `sql` split like redis-cli, then each parameter
/// (text and bytes as-is, integers and doubles in decimal, bool as "1"/"0"). Throws
/// DbError: kQuery for an empty command, unbalanced quotes, named parameters or a command
/// that would break a pooled connection (SUBSCRIBE, MONITOR, SELECT, ...);
/// kDataConversion for a NULL argument (naming it).
std::vector<std::string> BuildCommand(const std::string& sql, const Params& params);

}  // namespace dbpool::redis
