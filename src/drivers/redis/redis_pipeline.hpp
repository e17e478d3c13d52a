// RedisPipeline: the byte stream of one Redis connection, shared by every command in flight
// on it. Callers append their request and wait; one writer coroutine sends whatever has
// accumulated back to back, one reader coroutine parses replies and hands each to the oldest
// call still owed one (Redis answers in order). Commands in flight together cost one round
// trip, whether they came as one batch or from concurrent callers.
#pragma once

#include <asio.hpp>
#include <asio/experimental/concurrent_channel.hpp>

#include <atomic>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "dbpool/error.hpp"
#include "drivers/redis/redis_transport.hpp"
#include "drivers/redis/resp.hpp"
#include "runtime/cancel.hpp"

namespace dbpool::redis {

/// One call waiting for its replies. Shared by the caller and the pipeline's queue, so a
/// caller that gives up (or whose coroutine is destroyed) leaves a valid entry behind.
struct PendingCall {
  PendingCall(const asio::any_io_executor& executor, size_t count)
      : expected(count), signal(executor, 1) {}
  const size_t expected;        ///< replies the call's request asks for
  size_t received = 0;          ///< replies matched to it so far (kept unless abandoned)
  std::vector<Reply> replies;
  std::optional<DbError> error;  ///< the connection failed before every reply came
  bool done = false;             ///< every reply came, or error is set
  bool abandoned = false;        ///< the caller gave up: its replies are read and dropped
  bool cancel_closed = false;    ///< its cancel shut the connection (it reports kCancelled)
  /// Wakes the caller (capacity 1: a send before the caller waits is kept). The int is
  /// unused: Asio 1.22 channels cannot carry a bare void(error_code).
  asio::experimental::concurrent_channel<void(asio::error_code, int)> signal;
};

/// FIFO matching of replies to calls. No I/O and no lock of its own (the pipeline's mutex
/// guards it), so it is tested on its own.
class ReplyQueue {
 public:
  void Push(std::shared_ptr<PendingCall> call) { calls_.push_back(std::move(call)); }
  /// Gives `reply` to the oldest call (dropped if that call was abandoned). Returns the call
  /// when it now has all its replies (it has left the queue: wake it), else nullptr. Throws
  /// ProtocolError when no call is owed a reply (the stream is out of sync).
  std::shared_ptr<PendingCall> Deliver(Reply reply);
  /// Fails every queued call with `error`, empties the queue and returns the calls (to wake).
  std::vector<std::shared_ptr<PendingCall>> FailAll(const DbError& error);
  bool empty() const { return calls_.empty(); }
  size_t size() const { return calls_.size(); }

 private:
  std::deque<std::shared_ptr<PendingCall>> calls_;
};

class RedisPipeline : public std::enable_shared_from_this<RedisPipeline> {
 public:
  /// What cancelling a call does. Redis cannot interrupt a command, so a call that may run
  /// for long (BLPOP, WAIT, a transaction) closes the connection; any other call just stops
  /// waiting and its reply is dropped when it comes, the connection staying in sync.
  enum class OnCancel { kDropReply, kCloseConnection };

  RedisPipeline(const asio::any_io_executor& executor, std::string endpoint);

  /// The stream (for connect and the TLS handshake, before Start).
  Transport& transport() { return transport_; }
  /// Starts the reader on the connected (and TLS-established) stream.
  void Start();
  /// Messages say "lost the connection" from now on, not "could not connect".
  void SetConnected() { connected_ = true; }

  /// Appends `request` (holding `count` commands) to the stream and waits for their
  /// replies (RESP3 pushes are skipped). Safe to call from several coroutines at once: the
  /// replies go to each caller in the order the requests were appended. Throws DbError:
  /// kConnection when the connection failed (every call in flight fails with it and the
  /// pipeline is broken); kCancelled when `cancel` (may be null) fired or the wait itself
  /// was cancelled (per-operation cancellation, as query_timeout does), see OnCancel.
  asio::awaitable<std::vector<Reply>> Call(std::string request, size_t count,
                                           CancelToken* cancel, OnCancel on_cancel);

  /// Shuts the stream down; safe from any thread. Calls in flight fail with kConnection.
  void Shutdown();
  bool broken() const { return broken_.load(std::memory_order_acquire); }

 private:
  static asio::awaitable<void> ReadLoop(std::shared_ptr<RedisPipeline> self);
  static asio::awaitable<void> WriteLoop(std::shared_ptr<RedisPipeline> self);
  /// Reads until the parser completes one top-level reply; false (and *ec) on I/O failure.
  /// Throws ProtocolError.
  asio::awaitable<bool> ReadReply(Reply* reply, asio::error_code* ec);
  /// Marks the pipeline broken and fails every queued call with `error`; shuts the socket
  /// so the other loop stops too. Returns the calls to wake (outside the lock).
  std::vector<std::shared_ptr<PendingCall>> FailLocked(const DbError& error);
  void ShutdownSocketLocked();
  DbError IoError(const asio::error_code& ec, const char* what) const;
  static void Wake(const std::vector<std::shared_ptr<PendingCall>>& calls);

  asio::strand<asio::any_io_executor> strand_;  // every socket operation runs on it
  const std::string endpoint_;
  Transport transport_;
  std::atomic<bool> broken_{false};
  std::atomic<bool> connected_{false};

  // Reader only (on the strand):
  RespParser parser_;
  std::vector<char> buffer_;  // bytes read and not parsed yet: [begin_, end_)
  size_t begin_ = 0;
  size_t end_ = 0;
  // Writer only (on the strand): the bytes being written.
  std::string sending_;

  std::mutex mutex_;  // guards what follows; never held across I/O
  ReplyQueue queue_;
  std::string outgoing_;       // appended by callers, taken by the writer
  bool writing_ = false;       // a writer coroutine runs
  bool started_ = false;       // the reader runs
  bool socket_closed_ = false; // the descriptor is closed (and its number maybe reused)
  int fd_ = -1;
  std::optional<DbError> failure_;  // why the pipeline broke
};

}  // namespace dbpool::redis
