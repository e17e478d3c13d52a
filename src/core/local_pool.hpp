// LocalPool: one database's connections. Min/max sizing, FIFO waiters with acquire_timeout,
// idle_timeout and max_lifetime (with jitter) enforced by a maintenance loop. The only lock
// is this pool's own mutex, held for a few pointer moves, never across I/O.
#pragma once

#include <asio.hpp>
#include <asio/experimental/concurrent_channel.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dbpool/config.hpp"
#include "dbpool/pool_status.hpp"
#include "drivers/driver.hpp"

namespace dbpool {

using Clock = std::chrono::steady_clock;

/// A connection owned by the pool, with the times the pool manages it by.
struct PooledConnection {
  std::unique_ptr<Connection> connection;
  Clock::time_point created_at;
  Clock::time_point retire_at;  ///< created_at + max_lifetime minus jitter
  Clock::time_point last_used;
};

class LocalPool;

/// A borrowed connection; goes back to its pool (reset first if needed) when destroyed.
class Lease {
 public:
  Lease() = default;
  Lease(std::shared_ptr<LocalPool> pool, std::unique_ptr<PooledConnection> entry);
  Lease(Lease&& other) noexcept = default;
  Lease& operator=(Lease&& other) noexcept;
  ~Lease() { Release(); }

  Connection& operator*() const { return *entry_->connection; }
  Connection* operator->() const { return entry_->connection.get(); }
  explicit operator bool() const { return entry_ != nullptr; }
  /// Returns the connection now (idempotent).
  void Release();

 private:
  std::shared_ptr<LocalPool> pool_;
  std::unique_ptr<PooledConnection> entry_;
};

class LocalPool : public std::enable_shared_from_this<LocalPool> {
 public:
  static std::shared_ptr<LocalPool> Create(std::string id, PoolConfig config,
                                           std::shared_ptr<Driver> driver, Runtime& runtime);
  ~LocalPool();

  const std::string& id() const { return id_; }
  const PoolConfig& config() const { return config_; }
  Runtime& runtime() { return runtime_; }

  /// Opens min_connections and starts maintenance; throws the first connection error so
  /// a wrong URL or password is reported when the pool is created.
  asio::awaitable<void> Open();

  /// Borrows a connection: an idle one, a new one while below max, else waits in FIFO
  /// order until one is returned, `cancel` fires (kCancelled) or acquire_timeout passes
  /// (kPoolTimeout naming the counts).
  asio::awaitable<Lease> Acquire(CancelTokenPtr cancel);

  PoolStatus Status() const;

  /// Stops lending, wakes waiters with PoolClosedError, closes idle connections and waits
  /// up to `timeout` seconds for borrowed ones to come back (they are closed on return).
  asio::awaitable<void> Close(double timeout);

  bool closed() const { return closed_.load(std::memory_order_acquire); }

 private:
  friend class Lease;
  struct Waiter;

  LocalPool(std::string id, PoolConfig config, std::shared_ptr<Driver> driver, Runtime& runtime);

  asio::awaitable<std::unique_ptr<PooledConnection>> OpenConnection();
  /// Opens a connection for a slot already counted in pending_: on success the slot moves
  /// to size_, on failure it is released and a waiter is woken to use it.
  asio::awaitable<std::unique_ptr<PooledConnection>> OpenReserved();
  /// Called by Lease: resets (rollback) if needed, then hands over to a waiter or idles.
  void Return(std::unique_ptr<PooledConnection> entry);
  void ReturnClean(std::unique_ptr<PooledConnection> entry);
  /// Drops a connection that must not be reused and lets a waiter open a replacement.
  void Discard(std::unique_ptr<PooledConnection> entry);
  /// Wakes the first waiter without a connection: it retries (a slot became free).
  void WakeOneLocked();
  void StartMaintenance();
  void MaintainOnce();
  void FillToMin();
  PoolStatus StatusLocked() const;
  [[noreturn]] void ThrowTimeout(double waited, const PoolStatus& status) const;

  const std::string id_;
  const PoolConfig config_;
  const std::shared_ptr<Driver> driver_;
  Runtime& runtime_;
  std::atomic<bool> closed_{false};

  mutable std::mutex mutex_;  // guards everything below
  std::vector<std::unique_ptr<PooledConnection>> idle_;  // back = most recently used
  std::deque<std::shared_ptr<Waiter>> waiters_;           // FIFO
  int size_ = 0;     // open connections (idle + in use)
  int pending_ = 0;  // connections being opened
  int64_t opened_total_ = 0;
  int64_t closed_total_ = 0;
};

}  // namespace dbpool
