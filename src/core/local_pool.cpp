// LocalPool: acquire/return, FIFO waiting with timeouts, maintenance (idle, lifetime, min).
#include "core/local_pool.hpp"

#include <asio/experimental/awaitable_operators.hpp>

#include <cstdio>
#include <random>

#include "dbpool/error.hpp"

namespace dbpool {

using namespace asio::experimental::awaitable_operators;
using Seconds = std::chrono::duration<double>;

/// One caller waiting for a connection. `handed` is set under the pool mutex; the channel
/// only wakes the waiting coroutine (it is safe to signal from any thread).
struct LocalPool::Waiter {
  explicit Waiter(asio::any_io_executor ex) : signal(ex, 1) {}
  asio::experimental::concurrent_channel<void(asio::error_code, int)> signal;  // (int: asio 1.22 rejects void(error_code))
  std::unique_ptr<PooledConnection> handed;
  bool woken = false;  // a slot freed up or the pool closed: look again
};

std::string PoolStatus::Counts() const {
  char buf[160];
  std::snprintf(buf, sizeof(buf), "size=%d, idle=%d, in_use=%d, waiting=%d, pending=%d, min=%d, max=%d",
                size, idle, in_use, waiting, pending, min_connections, max_connections);
  return buf;
}

Lease::Lease(std::shared_ptr<LocalPool> pool, std::unique_ptr<PooledConnection> entry)
    : pool_(std::move(pool)), entry_(std::move(entry)) {}

Lease& Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    Release();
    pool_ = std::move(other.pool_);
    entry_ = std::move(other.entry_);
  }
  return *this;
}

void Lease::Release() {
  if (entry_) pool_->Return(std::move(entry_));
  pool_.reset();
}

std::shared_ptr<LocalPool> LocalPool::Create(std::string id, PoolConfig config,
                                             std::shared_ptr<Driver> driver, Runtime& runtime) {
  return std::shared_ptr<LocalPool>(
      new LocalPool(std::move(id), std::move(config), std::move(driver), runtime));
}

LocalPool::LocalPool(std::string id, PoolConfig config, std::shared_ptr<Driver> driver,
                     Runtime& runtime)
    : id_(std::move(id)), config_(std::move(config)), driver_(std::move(driver)), runtime_(runtime) {}

LocalPool::~LocalPool() = default;

asio::awaitable<std::unique_ptr<PooledConnection>> LocalPool::OpenConnection() {
  auto entry = std::make_unique<PooledConnection>();
  try {
    entry->connection = co_await driver_->Connect(config_.connection);
  } catch (const DbError& e) {
    throw e.WithPool(id_);
  }
  entry->created_at = Clock::now();
  entry->last_used = entry->created_at;
  if (config_.max_lifetime > 0) {
    // Up to 2.5% earlier than max_lifetime so connections opened together do not all
    // retire together (HikariCP's variance).
    thread_local std::mt19937_64 rng{std::random_device{}()};
    double jitter = std::uniform_real_distribution<double>(0.0, 0.025)(rng);
    entry->retire_at = entry->created_at + std::chrono::duration_cast<Clock::duration>(
                                               Seconds(config_.max_lifetime * (1.0 - jitter)));
  } else {
    entry->retire_at = Clock::time_point::max();
  }
  co_return entry;
}

asio::awaitable<std::unique_ptr<PooledConnection>> LocalPool::OpenReserved() {
  std::unique_ptr<PooledConnection> entry;
  try {
    entry = co_await OpenConnection();
  } catch (...) {
    std::lock_guard lock(mutex_);
    --pending_;
    WakeOneLocked();  // the slot is free again: a waiter may open it
    throw;
  }
  std::lock_guard lock(mutex_);
  --pending_;
  ++size_;
  ++opened_total_;
  co_return entry;
}

asio::awaitable<void> LocalPool::Open() {
  for (int i = 0; i < config_.min_connections; ++i) {
    {
      std::lock_guard lock(mutex_);
      ++pending_;
    }
    auto entry = co_await OpenReserved();
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(entry));
  }
  StartMaintenance();
}

asio::awaitable<Lease> LocalPool::Acquire(CancelTokenPtr cancel) {
  const auto start = Clock::now();
  const auto deadline =
      start + std::chrono::duration_cast<Clock::duration>(Seconds(config_.acquire_timeout));
  auto self = shared_from_this();
  while (true) {
    if (cancel && cancel->cancelled()) throw DbError(ErrorKind::kCancelled, "cancelled while waiting for a connection", {}, 0, id_);
    std::shared_ptr<Waiter> waiter;
    std::vector<std::unique_ptr<PooledConnection>> expired;
    bool create = false;
    {
      std::lock_guard lock(mutex_);
      if (closed()) throw DbError(ErrorKind::kPoolClosed, "pool is closed", {}, 0, id_);
      const auto now = Clock::now();
      while (!idle_.empty()) {
        auto entry = std::move(idle_.back());
        idle_.pop_back();
        if (now >= entry->retire_at) {
          --size_;
    ++closed_total_;
          expired.push_back(std::move(entry));
          continue;
        }
        // Waiters queued earlier get connections first (FIFO); we only take an idle one
        // when nobody is queued, which is always the case here because Return hands
        // connections to waiters before idling them.
        entry->last_used = now;
        co_return Lease(self, std::move(entry));
      }
      if (size_ + pending_ < config_.max_connections) {
        ++pending_;
        create = true;
      } else {
        waiter = std::make_shared<Waiter>(runtime_.executor());
        waiters_.push_back(waiter);
      }
    }
    expired.clear();  // closes retired connections outside the lock
    if (create) co_return Lease(self, co_await OpenReserved());

    // Wait for a hand-over, a freed slot, cancellation or the deadline.
    std::weak_ptr<Waiter> weak_waiter = waiter;
    std::optional<CancelScope> scope;
    if (cancel) {
      scope.emplace(*cancel, [self, weak_waiter] {
        if (auto w = weak_waiter.lock()) {
          std::lock_guard lock(self->mutex_);
          w->woken = true;
          w->signal.try_send(asio::error_code{}, 0);
        }
      });
    }
    asio::steady_timer timer(runtime_.executor(), deadline);
    try {
      co_await (waiter->signal.async_receive(asio::use_awaitable) ||
                timer.async_wait(asio::use_awaitable));
    } catch (const std::exception&) {
      // Both failed (executor shutting down): treat as a timeout check below.
    }
    scope.reset();
    std::unique_ptr<PooledConnection> handed;
    PoolStatus seen;  // the counts while we were still waiting, for the timeout message
    {
      std::lock_guard lock(mutex_);
      handed = std::move(waiter->handed);
      if (!handed) {
        seen = StatusLocked();
        auto it = std::find(waiters_.begin(), waiters_.end(), waiter);
        if (it != waiters_.end()) waiters_.erase(it);
      }
    }
    if (handed) {
      handed->last_used = Clock::now();
      co_return Lease(self, std::move(handed));
    }
    if (cancel && cancel->cancelled()) continue;  // throws kCancelled at the loop top
    if (closed()) continue;                       // throws kPoolClosed at the loop top
    if (Clock::now() >= deadline) ThrowTimeout(Seconds(Clock::now() - start).count(), seen);
    // Woken because a slot became free: loop and try again with the same deadline.
  }
}

void LocalPool::ThrowTimeout(double waited, const PoolStatus& status) const {
  char buf[96];
  std::snprintf(buf, sizeof(buf), "timed out after %.3g s waiting for a connection (", waited);
  throw DbError(ErrorKind::kPoolTimeout, buf + status.Counts() + ")", {}, 0, id_);
}

void LocalPool::Return(std::unique_ptr<PooledConnection> entry) {
  Connection& conn = *entry->connection;
  if (conn.IsBroken() || closed() || Clock::now() >= entry->retire_at) {
    Discard(std::move(entry));
    return;
  }
  if (!conn.InTransaction()) {
    ReturnClean(std::move(entry));
    return;
  }
  // A transaction was left open (or failed): roll back before anyone else sees the session;
  // if that fails the connection is discarded, never reused dirty.
  auto self = shared_from_this();
  asio::co_spawn(
      runtime_.executor(),
      [self, entry = std::move(entry)]() mutable -> asio::awaitable<void> {
        bool clean = false;
        try {
          co_await entry->connection->Rollback();
          clean = !entry->connection->InTransaction() && !entry->connection->IsBroken();
        } catch (...) {
        }
        if (clean) {
          self->ReturnClean(std::move(entry));
        } else {
          self->Discard(std::move(entry));
        }
      },
      asio::detached);
}

void LocalPool::ReturnClean(std::unique_ptr<PooledConnection> entry) {
  entry->last_used = Clock::now();
  std::lock_guard lock(mutex_);
  if (closed()) {
    --size_;
    ++closed_total_;
    return;  // entry is destroyed (closed) when it goes out of scope
  }
  while (!waiters_.empty()) {
    auto waiter = std::move(waiters_.front());
    waiters_.pop_front();
    if (waiter->woken) continue;  // already told to look again; it will re-queue
    waiter->handed = std::move(entry);
    waiter->signal.try_send(asio::error_code{}, 0);
    return;
  }
  idle_.push_back(std::move(entry));
}

void LocalPool::Discard(std::unique_ptr<PooledConnection> entry) {
  {
    std::lock_guard lock(mutex_);
    --size_;
    ++closed_total_;
    WakeOneLocked();
  }
  entry.reset();
  if (!closed()) FillToMin();
}

void LocalPool::WakeOneLocked() {
  for (auto& waiter : waiters_) {
    if (!waiter->woken) {
      waiter->woken = true;
      waiter->signal.try_send(asio::error_code{}, 0);
      return;
    }
  }
}

void LocalPool::FillToMin() {
  int missing;
  {
    std::lock_guard lock(mutex_);
    missing = config_.min_connections - size_ - pending_;
    if (missing <= 0) return;
    pending_ += missing;
  }
  auto self = shared_from_this();
  for (int i = 0; i < missing; ++i) {
    asio::co_spawn(
        runtime_.executor(),
        [self]() -> asio::awaitable<void> {
          std::unique_ptr<PooledConnection> entry;
          try {
            entry = co_await self->OpenReserved();
          } catch (...) {
            co_return;  // the database is unreachable: maintenance retries on its next tick
          }
          self->ReturnClean(std::move(entry));
        },
        asio::detached);
  }
}

void LocalPool::StartMaintenance() {
  std::weak_ptr<LocalPool> weak = shared_from_this();
  auto executor = runtime_.executor();
  asio::co_spawn(
      executor,
      [weak, executor]() -> asio::awaitable<void> {
        asio::steady_timer timer(executor);
        while (true) {
          timer.expires_after(std::chrono::milliseconds(500));
          co_await timer.async_wait(asio::use_awaitable);
          auto self = weak.lock();
          if (!self || self->closed()) co_return;
          self->MaintainOnce();
        }
      },
      asio::detached);
}

void LocalPool::MaintainOnce() {
  std::vector<std::unique_ptr<PooledConnection>> retired;
  {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    const auto idle_limit =
        std::chrono::duration_cast<Clock::duration>(Seconds(config_.idle_timeout));
    // idle_ is ordered by last use (back = newest), so the oldest idle ones go first.
    for (size_t i = 0; i < idle_.size();) {
      auto& entry = idle_[i];
      bool expired = now >= entry->retire_at;
      bool surplus = config_.idle_timeout > 0 && size_ > config_.min_connections &&
                     now - entry->last_used >= idle_limit;
      if (expired || surplus) {
        retired.push_back(std::move(entry));
        idle_.erase(idle_.begin() + static_cast<long>(i));
        --size_;
    ++closed_total_;
      } else {
        ++i;
      }
    }
  }
  retired.clear();
  FillToMin();
}

PoolStatus LocalPool::StatusLocked() const {
  PoolStatus s;
  s.pool_id = id_;
  s.db_type = config_.connection.db_type;
  s.size = size_;
  s.idle = static_cast<int>(idle_.size());
  s.in_use = size_ - s.idle;
  s.waiting = static_cast<int>(waiters_.size());
  s.pending = pending_;
  s.min_connections = config_.min_connections;
  s.max_connections = config_.max_connections;
  s.closed = closed();
  s.connections_opened = opened_total_;
  s.connections_closed = closed_total_;
  return s;
}

PoolStatus LocalPool::Status() const {
  std::lock_guard lock(mutex_);
  return StatusLocked();
}

asio::awaitable<void> LocalPool::Close(double timeout) {
  std::vector<std::unique_ptr<PooledConnection>> idle;
  {
    std::lock_guard lock(mutex_);
    if (closed_.exchange(true)) co_return;
    idle.swap(idle_);
    size_ -= static_cast<int>(idle.size());
    closed_total_ += static_cast<int64_t>(idle.size());
    for (auto& waiter : waiters_) {
      waiter->woken = true;
      waiter->signal.try_send(asio::error_code{}, 0);
    }
    waiters_.clear();
  }
  idle.clear();
  // Drain: borrowed connections are closed as they come back.
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(Seconds(timeout));
  asio::steady_timer timer(runtime_.executor());
  while (Clock::now() < deadline) {
    {
      std::lock_guard lock(mutex_);
      if (size_ <= 0 && pending_ <= 0) break;
    }
    timer.expires_after(std::chrono::milliseconds(10));
    co_await timer.async_wait(asio::use_awaitable);
  }
}

}  // namespace dbpool
