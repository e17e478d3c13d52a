// LocalPool: acquire (with check on borrow), return (with reset), FIFO waiting with
// timeouts. Status and Close: pool_close.cpp; the HealthMonitor: pool_health.cpp.
#include "core/local_pool.hpp"

#include <asio/experimental/awaitable_operators.hpp>

#include <algorithm>
#include <cstdio>
#include <random>
#include <utility>

#include "common/diagnostics.hpp"
#include "core/resilience/circuit_breaker.hpp"
#include "dbpool/error.hpp"

namespace dbpool {

using namespace asio::experimental::awaitable_operators;
using Seconds = std::chrono::duration<double>;

namespace {
Clock::duration ToDuration(double seconds) {
  return std::chrono::duration_cast<Clock::duration>(Seconds(seconds));
}
}  // namespace

/// One caller waiting for a connection. `handed` is set under the pool mutex; the channel
/// only wakes the waiting coroutine (it is safe to signal from any thread).
struct LocalPool::Waiter {
  Waiter(asio::any_io_executor ex, bool share, CancelTokenPtr cancel)
      : signal(ex, 1), share(share), cancel(std::move(cancel)) {}
  asio::experimental::concurrent_channel<void(asio::error_code, int)> signal;  // (int: asio 1.22 rejects void(error_code))
  const bool share;            // takes a share of a multiplexed connection
  const CancelTokenPtr cancel; // the borrower, recorded when a share is handed over
  std::unique_ptr<PooledConnection> handed;
  PooledConnection* shared_handed = nullptr;  // with `sharer`: a share handed over
  std::list<Sharer>::iterator sharer;
  bool woken = false;  // a slot freed up or the pool closed: look again
};

Lease::Lease(std::shared_ptr<LocalPool> pool, std::unique_ptr<PooledConnection> entry)
    : pool_(std::move(pool)), owned_(std::move(entry)) {}

Lease::Lease(std::shared_ptr<LocalPool> pool, PooledConnection* shared,
             std::list<Sharer>::iterator sharer)
    : pool_(std::move(pool)), shared_(shared), sharer_(sharer) {}

Lease& Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    Release();
    pool_ = std::move(other.pool_);
    owned_ = std::move(other.owned_);
    shared_ = std::exchange(other.shared_, nullptr);
    sharer_ = other.sharer_;
  }
  return *this;
}

void Lease::SetBorrower(const CancelTokenPtr& cancel) {
  // Shares keep the token of their one call from the start; only a held connection (a
  // transaction's) moves on from statement to statement.
  if (owned_ && cancel) pool_->SetBorrower(*owned_, cancel);
}

void LocalPool::SetBorrower(PooledConnection& entry, const CancelTokenPtr& cancel) {
  std::lock_guard lock(mutex_);  // Close() reads it under the lock
  entry.borrower = cancel;
}

void Lease::Release() {
  if (owned_) pool_->Return(std::move(owned_));
  if (shared_) pool_->ReturnShare(std::exchange(shared_, nullptr), sharer_);
  pool_.reset();
}

std::shared_ptr<LocalPool> LocalPool::Create(std::string id, PoolConfig config,
                                             std::shared_ptr<Driver> driver, Runtime& runtime) {
  return std::shared_ptr<LocalPool>(
      new LocalPool(std::move(id), std::move(config), std::move(driver), runtime));
}

LocalPool::LocalPool(std::string id, PoolConfig config, std::shared_ptr<Driver> driver,
                     Runtime& runtime)
    : id_(std::move(id)),
      config_(std::move(config)),
      driver_(std::move(driver)),
      runtime_(runtime),
      breaker_(config_.circuit_breaker.failure_threshold > 0
                   ? std::make_unique<CircuitBreaker>(config_.circuit_breaker, id_)
                   : nullptr) {}

LocalPool::~LocalPool() = default;

bool LocalPool::IsTransientConnectError(const DbError& error) {
  if (error.kind() != ErrorKind::kConnection) return false;
  const std::string& state = error.sqlstate();
  // 28xxx: bad credentials; 3D000: no such database; 42xxx: a bad init statement.
  return !(state.rfind("28", 0) == 0 || state == "3D000" || state.rfind("42", 0) == 0);
}

asio::awaitable<std::unique_ptr<PooledConnection>> LocalPool::OpenConnection() {
  auto entry = std::make_unique<PooledConnection>();
  try {
    entry->connection = co_await driver_->Connect(config_.connection);
    // The init hook: the caller's statements (SET, search_path, time zone) on every new
    // session; a failing one fails the connection.
    for (const auto& sql : config_.init_sql) {
      co_await entry->connection->Execute(sql, {}, nullptr);
    }
  } catch (const DbError& e) {
    throw e.WithPool(id_);
  }
  entry->created_at = Clock::now();
  entry->last_used = entry->created_at;
  entry->last_checked = entry->created_at;
  if (config_.max_lifetime > 0) {
    // Up to 2.5% earlier than max_lifetime so connections opened together do not all
    // retire together (HikariCP's variance); the monitor also retires one per tick.
    thread_local std::mt19937_64 rng{std::random_device{}()};
    double jitter = std::uniform_real_distribution<double>(0.0, 0.025)(rng);
    entry->retire_at = entry->created_at + ToDuration(config_.max_lifetime * (1.0 - jitter));
  } else {
    entry->retire_at = Clock::time_point::max();
  }
  co_return entry;
}

asio::awaitable<std::unique_ptr<PooledConnection>> LocalPool::OpenReserved() {
  {
    std::lock_guard lock(mutex_);
    ++connect_attempts_;
  }
  std::unique_ptr<PooledConnection> entry;
  try {
    entry = co_await OpenConnection();
  } catch (const DbError& e) {
    std::lock_guard lock(mutex_);
    --pending_;
    RecordConnectFailureLocked(e);
    throw;
  } catch (...) {
    std::lock_guard lock(mutex_);
    --pending_;
    WakeOneLocked();
    throw;
  }
  std::lock_guard lock(mutex_);
  --pending_;
  ++size_;
  ++opened_total_;
  RecordConnectSuccessLocked();
  co_return entry;
}

asio::awaitable<void> LocalPool::Open() {
  for (int i = 0; i < config_.min_connections; ++i) {
    {
      std::lock_guard lock(mutex_);
      ++pending_;
    }
    std::unique_ptr<PooledConnection> entry;
    try {
      entry = co_await OpenReserved();
    } catch (const DbError& e) {
      if (config_.fail_fast || !IsTransientConnectError(e)) throw;
      break;  // the reconnect loop (started by the failure) fills the pool later
    }
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(entry));
  }
  StartMaintenance();
}

namespace {
// Never throws: `a || b` waits for the first to succeed, so a failing op would otherwise
// be held until the timer fires.
asio::awaitable<bool> Succeeds(asio::awaitable<void> op) {
  try {
    co_await std::move(op);
    co_return true;
  } catch (...) {
    co_return false;
  }
}
}  // namespace

asio::awaitable<bool> LocalPool::Bounded(asio::awaitable<void> op) {
  asio::steady_timer timer(runtime_.executor(), ToDuration(config_.validation_timeout));
  try {
    auto outcome = co_await (Succeeds(std::move(op)) || timer.async_wait(asio::use_awaitable));
    co_return outcome.index() == 0 && std::get<0>(outcome);
  } catch (...) {
    co_return false;
  }
}

asio::awaitable<bool> LocalPool::Validate(PooledConnection& entry) {
  if (entry.connection->IsBroken()) co_return false;
  bool ok = co_await Bounded(entry.connection->Ping());
  if (ok) entry.last_checked = Clock::now();
  co_return ok && !entry.connection->IsBroken();
}

Lease LocalPool::Lend(std::unique_ptr<PooledConnection> entry, const CancelTokenPtr& cancel) {
  entry->acquired_at = Clock::now();
  entry->leak_reported = false;
  entry->discard = false;
  entry->borrower = cancel;
  entry->acquire_site = cancel ? cancel->site : std::string();
  {
    std::lock_guard lock(mutex_);
    borrowed_.insert(entry.get());
  }
  return Lease(shared_from_this(), std::move(entry));
}

std::list<Sharer>::iterator LocalPool::AddSharerLocked(PooledConnection* entry,
                                                       const CancelTokenPtr& cancel) {
  Sharer sharer;
  sharer.acquired_at = Clock::now();
  sharer.borrower = cancel;
  if (cancel) sharer.acquire_site = cancel->site;
  entry->sharers.push_back(std::move(sharer));
  return std::prev(entry->sharers.end());
}

Lease LocalPool::LendShared(std::unique_ptr<PooledConnection> entry, const CancelTokenPtr& cancel) {
  entry->acquired_at = Clock::now();
  entry->leak_reported = false;
  entry->discard = false;
  PooledConnection* raw = entry.get();
  std::lock_guard lock(mutex_);
  shared_.push_back(std::move(entry));
  auto sharer = AddSharerLocked(raw, cancel);
  ShareWithWaitersLocked(raw);
  return Lease(shared_from_this(), raw, sharer);
}

void LocalPool::ShareWithWaitersLocked(PooledConnection* entry) {
  // The sharers at the head of the queue, in order, up to the first exclusive waiter (it
  // keeps its place: the connection goes to it when the sharers are done).
  while (!waiters_.empty() && (waiters_.front()->woken || waiters_.front()->share)) {
    auto waiter = std::move(waiters_.front());
    waiters_.pop_front();
    if (waiter->woken) continue;  // already told to look again; it will re-queue
    waiter->sharer = AddSharerLocked(entry, waiter->cancel);
    waiter->shared_handed = entry;
    waiter->signal.try_send(asio::error_code{}, 0);
  }
}

PooledConnection* LocalPool::JoinableLocked() const {
  const auto now = Clock::now();
  PooledConnection* best = nullptr;
  for (const auto& entry : shared_) {
    // Not one that must be dropped, is broken, or is due to retire (it drains and goes).
    if (entry->discard || entry->connection->IsBroken() || now >= entry->retire_at) continue;
    if (best == nullptr || entry->sharers.size() < best->sharers.size()) best = entry.get();
  }
  return best;
}

void LocalPool::ReturnShare(PooledConnection* entry, std::list<Sharer>::iterator sharer) {
  std::unique_ptr<PooledConnection> last;
  Sharer gone;
  {
    std::lock_guard lock(mutex_);
    gone = std::move(*sharer);
    entry->sharers.erase(sharer);
    if (entry->sharers.empty()) {
      auto it = std::find_if(shared_.begin(), shared_.end(),
                             [entry](const auto& e) { return e.get() == entry; });
      last = std::move(*it);
      shared_.erase(it);
    }
  }
  if (gone.leak_reported) {
    char buf[96];
    std::snprintf(buf, sizeof(buf), "a call reported as leaked was done after %.3g s",
                  Seconds(Clock::now() - gone.acquired_at).count());
    WarnLater(buf + (gone.acquire_site.empty() ? "" : " (acquired at " + gone.acquire_site + ")"));
  }
  // The last sharer gives the connection back like an exclusive borrower would.
  if (last) Return(std::move(last));
}

asio::awaitable<Lease> LocalPool::Acquire(CancelTokenPtr cancel, bool share) {
  const auto start = Clock::now();
  const auto deadline = start + ToDuration(config_.acquire_timeout);
  const auto borrow_idle = ToDuration(config_.check_on_borrow_idle);
  while (true) {
    if (cancel && cancel->cancelled()) throw DbError(ErrorKind::kCancelled, "cancelled while waiting for a connection", {}, 0, id_);
    std::shared_ptr<Waiter> waiter;
    std::unique_ptr<PooledConnection> candidate;
    bool create = false;
    {
      std::lock_guard lock(mutex_);
      if (closed()) throw DbError(ErrorKind::kPoolClosed, "pool is closed", {}, 0, id_);
      // A sharer joins a busy shared connection only when no idle one is at hand and
      // nobody queued before it (an exclusive waiter must not starve behind sharers).
      if (share && idle_.empty() && waiters_.empty()) {
        if (PooledConnection* joinable = JoinableLocked()) {
          co_return Lease(shared_from_this(), joinable, AddSharerLocked(joinable, cancel));
        }
      }
      // Waiters queued earlier get connections first (FIFO): Return hands connections to
      // waiters before idling them, so an idle one means nobody is queued.
      if (!idle_.empty()) {
        candidate = std::move(idle_.back());
        idle_.pop_back();
      } else if (size_ + pending_ < config_.max_connections && connect_failures_ == 0) {
        ++pending_;
        create = true;
      } else {
        // At max, or the server is failing: the reconnect loop opens (with backoff) and
        // hands connections over, so callers do not hammer a server that is down.
        waiter = std::make_shared<Waiter>(runtime_.executor(), share, cancel);
        waiters_.push_back(waiter);
        if (size_ + pending_ < config_.max_connections) EnsureConnectorLocked();
      }
    }
    if (candidate) {
      using Mode = PoolConfig::CheckOnBorrow;
      const auto now = Clock::now();
      bool check = config_.check_on_borrow == Mode::kAlways ||
                   (config_.check_on_borrow == Mode::kAfterIdle &&
                    now - std::max(candidate->last_used, candidate->last_checked) >= borrow_idle);
      bool usable = !candidate->connection->IsBroken();
      if (usable && check) usable = co_await Validate(*candidate);
      if (!usable) {
        Discard(std::move(candidate));  // never handed out; try the next one
        continue;
      }
      if (share) co_return LendShared(std::move(candidate), cancel);
      co_return Lend(std::move(candidate), cancel);
    }
    if (create) {
      try {
        std::unique_ptr<PooledConnection> opened = co_await OpenReserved();
        if (share) co_return LendShared(std::move(opened), cancel);
        co_return Lend(std::move(opened), cancel);
      } catch (const DbError& e) {
        if (!IsTransientConnectError(e)) throw;
      }
      continue;  // the server is failing: wait in line for the reconnect loop
    }

    // Wait for a hand-over, a freed slot, cancellation or the deadline.
    auto self = shared_from_this();
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
      if (waiter->shared_handed != nullptr) {
        co_return Lease(shared_from_this(), waiter->shared_handed, waiter->sharer);
      }
      handed = std::move(waiter->handed);
      if (!handed) {
        seen = StatusLocked();
        auto it = std::find(waiters_.begin(), waiters_.end(), waiter);
        if (it != waiters_.end()) waiters_.erase(it);
      }
    }
    if (handed) {
      if (share) co_return LendShared(std::move(handed), cancel);
      co_return Lend(std::move(handed), cancel);
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
  std::string message = buf + status.Counts() + ")";
  if (status.consecutive_failures > 0 && !status.last_error.empty()) {
    message += "; the server is unreachable, last connection error: " + status.last_error;
  }
  throw DbError(ErrorKind::kPoolTimeout, message, {}, 0, id_);
}

void LocalPool::Return(std::unique_ptr<PooledConnection> entry) {
  {
    std::lock_guard lock(mutex_);
    borrowed_.erase(entry.get());
  }
  entry->borrower.reset();
  if (entry->leak_reported) {
    char buf[96];
    std::snprintf(buf, sizeof(buf), "a connection reported as leaked was returned after %.3g s",
                  Seconds(Clock::now() - entry->acquired_at).count());
    WarnLater(buf + (entry->acquire_site.empty() ? "" : " (acquired at " + entry->acquire_site + ")"));
  }
  Connection& conn = *entry->connection;
  if (entry->discard || conn.IsBroken() || closed()) {
    Discard(std::move(entry));
    return;
  }
  if (!conn.InTransaction() && !config_.reset_session) {
    ReturnClean(std::move(entry));
    return;
  }
  // Roll back (or reset) before anyone else sees the session; if that fails the
  // connection is discarded, never reused dirty.
  asio::co_spawn(runtime_.executor(), ResetAndReturn(shared_from_this(), std::move(entry)),
                 asio::detached);
}

namespace {
asio::awaitable<void> ExecuteIgnoringRows(Connection& conn, const std::string& sql) {
  co_await conn.Execute(sql, {}, nullptr);
}
}  // namespace

asio::awaitable<void> LocalPool::ResetAndReturn(std::shared_ptr<LocalPool> self,
                                                std::unique_ptr<PooledConnection> entry) {
  Connection& conn = *entry->connection;
  const PoolConfig& config = self->config_;
  bool clean;
  if (config.reset_session) {
    clean = co_await self->Bounded(conn.ResetSession());
    for (size_t i = 0; clean && i < config.init_sql.size(); ++i) {
      clean = co_await self->Bounded(ExecuteIgnoringRows(conn, config.init_sql[i]));
    }
  } else {
    clean = co_await self->Bounded(conn.Rollback());
  }
  clean = clean && !conn.InTransaction() && !conn.IsBroken();
  if (clean) {
    self->ReturnClean(std::move(entry));
  } else {
    self->Discard(std::move(entry));
  }
}

void LocalPool::ReturnClean(std::unique_ptr<PooledConnection> entry, bool used) {
  if (used) entry->last_used = Clock::now();
  std::lock_guard lock(mutex_);
  if (closed()) {
    --size_;
    ++closed_total_;
    return;  // entry is destroyed (closed) when it goes out of scope
  }
  while (!waiters_.empty()) {
    if (!waiters_.front()->woken && waiters_.front()->share) {
      // Sharers at the head of the queue all take this connection, as one shared one.
      entry->acquired_at = Clock::now();
      entry->leak_reported = false;
      PooledConnection* raw = entry.get();
      shared_.push_back(std::move(entry));
      ShareWithWaitersLocked(raw);
      return;
    }
    auto waiter = std::move(waiters_.front());
    waiters_.pop_front();
    if (waiter->woken) continue;  // already told to look again; it will re-queue
    waiter->handed = std::move(entry);
    waiter->signal.try_send(asio::error_code{}, 0);
    return;
  }
  idle_.push_back(std::move(entry));
  // Keep idle_ ordered by last use (back = newest) although checks return old ones.
  if (!used) {
    std::stable_sort(idle_.begin(), idle_.end(), [](const auto& a, const auto& b) {
      return a->last_used < b->last_used;
    });
  }
}

void LocalPool::Discard(std::unique_ptr<PooledConnection> entry) {
  {
    std::lock_guard lock(mutex_);
    --size_;
    ++closed_total_;
    WakeOneLocked();
    if (!closed() && size_ + pending_ < config_.min_connections) EnsureConnectorLocked();
  }
  entry.reset();
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

void LocalPool::WakeAllWaitersLocked() {
  for (auto& waiter : waiters_) {
    waiter->woken = true;
    waiter->signal.try_send(asio::error_code{}, 0);
  }
  waiters_.clear();
}

bool LocalPool::HasUnservedWaitersLocked() const {
  return std::any_of(waiters_.begin(), waiters_.end(),
                     [](const auto& w) { return !w->woken && !w->handed; });
}

}  // namespace dbpool
