// LocalPool status snapshots and Close (drain, then terminate).
#include <cstdio>

#include "core/local_pool.hpp"
#include "core/resilience/circuit_breaker.hpp"

namespace dbpool {

using Seconds = std::chrono::duration<double>;

std::string PoolStatus::Counts() const {
  char buf[160];
  std::snprintf(buf, sizeof(buf), "size=%d, idle=%d, in_use=%d, waiting=%d, pending=%d, min=%d, max=%d",
                size, idle, in_use, waiting, pending, min_connections, max_connections);
  return buf;
}

PoolStatus LocalPool::StatusLocked() const {
  PoolStatus s;
  s.pool_id = id_;
  s.db_type = config_.connection.db_type;
  s.size = size_;
  s.idle = static_cast<int>(idle_.size());
  s.in_use = size_ - s.idle;
  s.waiting = static_cast<int>(waiters_.size());
  s.shared = static_cast<int>(shared_.size());
  for (const auto& entry : shared_) s.shared_calls += static_cast<int>(entry->sharers.size());
  s.pending = pending_;
  s.min_connections = config_.min_connections;
  s.max_connections = config_.max_connections;
  s.closed = closed();
  s.connections_opened = opened_total_;
  s.connections_closed = closed_total_;
  s.health = health_;
  s.consecutive_failures = connect_failures_;
  s.last_error = last_error_;
  s.seconds_since_check =
      health_checked_ ? Seconds(Clock::now() - last_health_check_).count() : -1.0;
  s.connect_attempts = connect_attempts_;
  s.leaks_reported = leaks_reported_;
  return s;
}

PoolStatus LocalPool::Status() const {
  PoolStatus s;
  {
    std::lock_guard lock(mutex_);
    s = StatusLocked();
  }
  if (breaker_) s.circuit_breaker = CircuitBreaker::StateName(breaker_->state());
  return s;
}

DbError LocalPool::ForCaller(const DbError& error, const CancelToken* cancel) const {
  if (cancel == nullptr || !closed()) return error;
  double timeout;
  {
    std::lock_guard lock(mutex_);
    if (terminated_.count(cancel) == 0) return error;
    timeout = close_timeout_;
  }
  char buf[200];
  std::snprintf(buf, sizeof(buf),
                "pool is closed: the call was still running when close(timeout=%g) ran out, "
                "so it was cancelled",
                timeout);
  return DbError(ErrorKind::kPoolClosed, buf + std::string(" (") + error.message() + ")",
                 error.sqlstate(), error.vendor_code(), id_);
}

asio::awaitable<void> LocalPool::Close(double timeout) {
  std::vector<std::unique_ptr<PooledConnection>> idle;
  {
    std::lock_guard lock(mutex_);
    if (closed_.exchange(true)) co_return;
    idle.swap(idle_);
    size_ -= static_cast<int>(idle.size());
    closed_total_ += static_cast<int64_t>(idle.size());
    WakeAllWaitersLocked();
  }
  idle.clear();
  // Drain: borrowed connections are closed as they come back.
  asio::steady_timer timer(runtime_.executor());
  auto wait_until_empty = [this](Clock::time_point until) {
    std::lock_guard lock(mutex_);
    return (size_ <= 0 && pending_ <= 0) || Clock::now() >= until;
  };
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(Seconds(timeout));
  while (!wait_until_empty(deadline)) {
    timer.expires_after(std::chrono::milliseconds(10));
    co_await timer.async_wait(asio::use_awaitable);
  }
  // Terminate: cancel the calls still holding a connection (the driver cancels their
  // statements on the server), then give them a moment to hand the connections back.
  std::vector<CancelTokenPtr> holders;
  {
    std::lock_guard lock(mutex_);
    close_timeout_ = timeout;
    for (PooledConnection* entry : borrowed_) {
      if (auto token = entry->borrower.lock()) {
        terminated_.insert(token.get());  // its caller hears PoolClosedError, not a cancel
        holders.push_back(std::move(token));
      }
    }
    for (const auto& entry : shared_) {
      for (const Sharer& sharer : entry->sharers) {
        if (auto token = sharer.borrower.lock()) holders.push_back(std::move(token));
      }
    }
  }
  if (holders.empty()) co_return;
  for (auto& token : holders) token->Cancel();
  deadline = Clock::now() + std::chrono::seconds(2);
  while (!wait_until_empty(deadline)) {
    timer.expires_after(std::chrono::milliseconds(10));
    co_await timer.async_wait(asio::use_awaitable);
  }
}

}  // namespace dbpool
