// LocalPool: one database's connections. Min/max sizing, FIFO waiters with acquire_timeout,
// idle_timeout and max_lifetime (with jitter), check on borrow, reset on return, shared
// (multiplexed) leases for calls the driver can pipeline, and a HealthMonitor
// (pool_health.cpp: keepalive, health checks, leak detection, reconnect with backoff,
// auto-scaling). The only lock is this pool's own mutex, held for a few pointer moves,
// never across I/O. No SQL here: drivers give Ping/ResetSession/IsBroken/CanMultiplex.
#pragma once

#include <asio.hpp>
#include <asio/experimental/concurrent_channel.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "dbpool/config.hpp"
#include "dbpool/pool_status.hpp"
#include "drivers/driver.hpp"

namespace dbpool {

using Clock = std::chrono::steady_clock;
class CircuitBreaker;

/// One call holding a share of a multiplexed connection (leak detection, termination).
struct Sharer {
  Clock::time_point acquired_at;
  std::string acquire_site;
  std::weak_ptr<CancelToken> borrower;
  bool leak_reported = false;
};

/// A connection owned by the pool, with the times the pool manages it by.
struct PooledConnection {
  std::unique_ptr<Connection> connection;
  Clock::time_point created_at;
  Clock::time_point retire_at;     ///< created_at + max_lifetime minus jitter
  Clock::time_point last_used;     ///< last returned by a borrower (drives idle_timeout)
  Clock::time_point last_checked;  ///< last successful ping (keepalive, health check)
  // While borrowed (leak detection, termination at close):
  Clock::time_point acquired_at;
  std::string acquire_site;
  std::weak_ptr<CancelToken> borrower;
  bool leak_reported = false;
  /// Set by Lease::Invalidate (maybe by one of several sharers): closed on return, never
  /// reused, and no further call joins it.
  std::atomic<bool> discard{false};
  /// While lent shared: the calls running on it (guarded by the pool mutex); else empty.
  std::list<Sharer> sharers;
};

class LocalPool;

/// A borrowed connection, or a share of one lent to several calls at once (multiplexed);
/// goes back to its pool (reset first if needed) when destroyed, a shared one when its last
/// sharer is done.
class Lease {
 public:
  Lease() = default;
  Lease(std::shared_ptr<LocalPool> pool, std::unique_ptr<PooledConnection> entry);
  Lease(std::shared_ptr<LocalPool> pool, PooledConnection* shared,
        std::list<Sharer>::iterator sharer);
  Lease(Lease&& other) noexcept { *this = std::move(other); }
  Lease& operator=(Lease&& other) noexcept;
  ~Lease() { Release(); }

  Connection& operator*() const { return *entry()->connection; }
  Connection* operator->() const { return entry()->connection.get(); }
  explicit operator bool() const { return entry() != nullptr; }
  /// True for a share of a multiplexed connection.
  bool shared() const { return shared_ != nullptr; }
  /// Returns the connection (or this share of it) now (idempotent).
  void Release();
  /// Marks the connection unusable (its state is unknown): it is closed on return.
  void Invalidate() {
    if (PooledConnection* e = entry()) e->discard = true;
  }
  /// Makes `cancel` the token Close() cancels to terminate the holder (a transaction's
  /// statements each come with their own token, not the one it was acquired with).
  void SetBorrower(const CancelTokenPtr& cancel);

 private:
  PooledConnection* entry() const { return owned_ ? owned_.get() : shared_; }

  std::shared_ptr<LocalPool> pool_;
  std::unique_ptr<PooledConnection> owned_;
  PooledConnection* shared_ = nullptr;  // owned by the pool's shared_ list
  std::list<Sharer>::iterator sharer_;
};

class LocalPool : public std::enable_shared_from_this<LocalPool> {
 public:
  static std::shared_ptr<LocalPool> Create(std::string id, PoolConfig config,
                                           std::shared_ptr<Driver> driver, Runtime& runtime);
  ~LocalPool();

  const std::string& id() const { return id_; }
  const PoolConfig& config() const { return config_; }
  Runtime& runtime() { return runtime_; }
  /// The pool's circuit breaker, or nullptr when none is configured.
  CircuitBreaker* breaker() const { return breaker_.get(); }

  /// Opens min_connections and starts the HealthMonitor. With fail_fast the first
  /// connection error is thrown (a wrong URL or password is reported at creation); without
  /// it only errors that retrying cannot fix (credentials, database name) are, and an
  /// unreachable server is retried in the background with backoff.
  asio::awaitable<void> Open();

  /// Borrows a connection: an idle one (checked first per check_on_borrow), a new one
  /// while below max, else waits in FIFO order until one is returned, `cancel` fires
  /// (kCancelled) or acquire_timeout passes (kPoolTimeout naming the counts and, while the
  /// server is unreachable, the last connection error).
  /// With `share` (only for a call the driver CanMultiplex) the lease may be a share of a
  /// connection other such calls use at the same time: an idle connection is taken first,
  /// else the least busy shared one is joined (unless exclusive callers are queued: they go
  /// first), else it is the ordinary path, and a connection handed to a queued sharer goes
  /// to every sharer at the head of the queue.
  asio::awaitable<Lease> Acquire(CancelTokenPtr cancel, bool share = false);

  /// The driver's Driver::CanMultiplex: whether this one statement may take a shared lease.
  bool CanMultiplex(const std::string& sql, const Params& params) const {
    return driver_->CanMultiplex(config_.connection, sql, params);
  }

  PoolStatus Status() const;

  /// Stops lending, wakes waiters with PoolClosedError, closes idle connections and waits
  /// up to `timeout` seconds for borrowed ones to come back (drain); then cancels the
  /// calls still holding one (terminate) and waits a moment for them.
  asio::awaitable<void> Close(double timeout);

  bool closed() const { return closed_.load(std::memory_order_acquire); }
  /// True while the last connection attempt failed for a reason waiting can fix (the
  /// HealthMonitor's "unhealthy"); read without the pool's lock (pool groups route by it).
  bool unreachable() const { return unreachable_.load(std::memory_order_relaxed); }

  /// The error a caller sees for `error`: kPoolClosed, saying so, when its call (token
  /// `cancel`, may be null) was cancelled by Close() after the drain timeout rather than by
  /// the caller itself; else `error` unchanged.
  DbError ForCaller(const DbError& error, const CancelToken* cancel) const;

  /// True for connection errors that waiting can fix (server down, restarting,
  /// unreachable); false for credentials, unknown database, configuration.
  static bool IsTransientConnectError(const DbError& error);

 private:
  friend class Lease;
  struct Waiter;

  LocalPool(std::string id, PoolConfig config, std::shared_ptr<Driver> driver, Runtime& runtime);

  asio::awaitable<std::unique_ptr<PooledConnection>> OpenConnection();
  /// Opens a connection for a slot already counted in pending_: on success the slot moves
  /// to size_, on failure it is released and the failure recorded (see RecordConnectFailure).
  asio::awaitable<std::unique_ptr<PooledConnection>> OpenReserved();
  /// Pings `entry` within validation_timeout; false (and the connection is unusable) if not.
  asio::awaitable<bool> Validate(PooledConnection& entry);
  /// Runs `op` within validation_timeout; false if it failed or took too long.
  asio::awaitable<bool> Bounded(asio::awaitable<void> op);
  // Spawned coroutines take `self` as a parameter: it is copied into the frame at the call,
  // so the pool outlives them even if the caller's last reference goes right after.
  static asio::awaitable<void> ResetAndReturn(std::shared_ptr<LocalPool> self,
                                              std::unique_ptr<PooledConnection> entry);
  static asio::awaitable<void> CheckAndReturn(std::shared_ptr<LocalPool> self,
                                              std::unique_ptr<PooledConnection> entry);
  /// Records the borrower and makes the lease.
  Lease Lend(std::unique_ptr<PooledConnection> entry, const CancelTokenPtr& cancel);
  /// Makes `entry` a shared connection, hands it to the sharers queued at the head of the
  /// waiters too, and returns the caller's share.
  Lease LendShared(std::unique_ptr<PooledConnection> entry, const CancelTokenPtr& cancel);
  /// Gives shares of `entry` (already shared) to the sharers at the head of the queue.
  void ShareWithWaitersLocked(PooledConnection* entry);
  std::list<Sharer>::iterator AddSharerLocked(PooledConnection* entry, const CancelTokenPtr& cancel);
  /// The shared connection a new sharer may join (the least busy usable one), or nullptr.
  PooledConnection* JoinableLocked() const;
  /// Called by a shared Lease: drops the share; the last one returns the connection.
  void ReturnShare(PooledConnection* entry, std::list<Sharer>::iterator sharer);
  /// Called by Lease: resets if needed, then hands over to a waiter or idles.
  void Return(std::unique_ptr<PooledConnection> entry);
  void SetBorrower(PooledConnection& entry, const CancelTokenPtr& cancel);
  /// Hands `entry` to the first waiter or idles it; `used` updates last_used.
  void ReturnClean(std::unique_ptr<PooledConnection> entry, bool used = true);
  /// Drops a connection that must not be reused and lets a replacement be opened.
  void Discard(std::unique_ptr<PooledConnection> entry);
  /// Wakes the first waiter without a connection: it retries (a slot became free).
  void WakeOneLocked();
  bool HasUnservedWaitersLocked() const;
  /// Wakes every waiter (they see the pool closed) and empties the queue.
  void WakeAllWaitersLocked();
  PoolStatus StatusLocked() const;
  [[noreturn]] void ThrowTimeout(double waited, const PoolStatus& status) const;

  // HealthMonitor (pool_health.cpp).
  void StartMaintenance();
  void MaintainOnce();
  void RecordConnectSuccessLocked();
  void RecordConnectFailureLocked(const DbError& error);
  /// Starts the reconnect loop unless it runs: it opens connections (one at a time, with
  /// exponential backoff after failures) while the pool is below min or callers wait.
  void EnsureConnectorLocked();
  static asio::awaitable<void> ConnectorLoop(std::shared_ptr<LocalPool> self);
  double BackoffSeconds(int failures) const;
  void CheckIdle(std::vector<std::unique_ptr<PooledConnection>> entries);
  void ReportLeaksLocked(Clock::time_point now);
  /// Sends a warning (logger "db_pool") from the event loop, outside every lock.
  void WarnLater(std::string message);

  const std::string id_;
  const PoolConfig config_;
  const std::shared_ptr<Driver> driver_;
  Runtime& runtime_;
  const std::unique_ptr<CircuitBreaker> breaker_;
  std::atomic<bool> closed_{false};
  std::atomic<bool> unreachable_{false};  // mirrors connect_failures_ > 0

  mutable std::mutex mutex_;  // guards everything below
  std::vector<std::unique_ptr<PooledConnection>> idle_;  // back = most recently used
  std::deque<std::shared_ptr<Waiter>> waiters_;           // FIFO
  std::unordered_set<PooledConnection*> borrowed_;       // owned by their leases
  std::vector<std::unique_ptr<PooledConnection>> shared_;  // lent to several calls at once
  int size_ = 0;     // open connections (idle + in use)
  int pending_ = 0;  // connections being opened
  int64_t opened_total_ = 0;
  int64_t closed_total_ = 0;
  int64_t connect_attempts_ = 0;
  int64_t leaks_reported_ = 0;
  // Health: connect failures in a row (0 = the last attempt worked), what failed last.
  int connect_failures_ = 0;
  std::string last_error_;
  std::string health_ = "unknown";
  bool connector_running_ = false;
  Clock::time_point last_health_check_{};
  bool health_checked_ = false;
  // Calls Close() cancelled after its timeout (terminate), and that timeout.
  std::unordered_set<const CancelToken*> terminated_;
  double close_timeout_ = 0.0;
};

}  // namespace dbpool
