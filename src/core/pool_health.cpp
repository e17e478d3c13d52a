// LocalPool's HealthMonitor: a maintenance loop per pool that retires connections (idle,
// lifetime: one per tick, so never all at once), pings idle ones (keepalive, health
// checks), reports leaks, auto-scales, and a reconnect loop with exponential backoff.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "common/diagnostics.hpp"
#include "core/local_pool.hpp"
#include "dbpool/error.hpp"

namespace dbpool {
namespace {

using Seconds = std::chrono::duration<double>;

Clock::duration ToDuration(double seconds) {
  return std::chrono::duration_cast<Clock::duration>(Seconds(seconds));
}

// The loop wakes often enough for the shortest configured period, at most every 500 ms.
std::chrono::milliseconds TickOf(const PoolConfig& c) {
  double tick = 0.5;
  for (double period : {c.health_check_interval, c.keepalive_interval, c.leak_detection_threshold,
                        c.max_lifetime, c.idle_timeout}) {
    if (period > 0) tick = std::min(tick, period / 4);
  }
  return std::chrono::milliseconds(static_cast<int64_t>(std::max(tick, 0.02) * 1000));
}

}  // namespace

void LocalPool::WarnLater(std::string message) {
  // Posted, never called in place: callers may hold the pool mutex, and the sink (Python
  // logging) takes the GIL, which a Python thread may hold while it waits for that mutex.
  asio::post(runtime_.executor(), [id = id_, message = std::move(message)] { Warn(id, message); });
}

void LocalPool::RecordConnectSuccessLocked() {
  if (health_ == "unhealthy") WarnLater("the server is reachable again");
  connect_failures_ = 0;
  unreachable_.store(false, std::memory_order_relaxed);
  health_ = "healthy";
}

void LocalPool::RecordConnectFailureLocked(const DbError& error) {
  last_error_ = error.message();
  if (!IsTransientConnectError(error)) {
    WakeOneLocked();  // a waiter retries and reports the same (permanent) error
    return;
  }
  ++connect_failures_;
  unreachable_.store(true, std::memory_order_relaxed);
  if (health_ != "unhealthy") WarnLater("cannot open connections: " + last_error_);
  health_ = "unhealthy";
  if (!closed()) EnsureConnectorLocked();
}

double LocalPool::BackoffSeconds(int failures) const {
  // base * 2^(n-1), capped, minus up to 20% jitter so many pools (or processes) restarted
  // together do not reconnect in lock-step.
  thread_local std::mt19937_64 rng{std::random_device{}()};
  double nominal = config_.reconnect_backoff_base * std::pow(2.0, std::max(0, failures - 1));
  nominal = std::min(nominal, config_.reconnect_backoff_max);
  return nominal * (1.0 - std::uniform_real_distribution<double>(0.0, 0.2)(rng));
}

void LocalPool::EnsureConnectorLocked() {
  if (connector_running_ || closed()) return;
  connector_running_ = true;
  // Posted: co_spawn starts the coroutine inline on an engine thread, and the caller holds
  // the pool mutex that the loop takes first.
  asio::post(runtime_.executor(), [self = shared_from_this()] {
    asio::co_spawn(self->runtime_.executor(), ConnectorLoop(self), asio::detached);
  });
}

asio::awaitable<void> LocalPool::ConnectorLoop(std::shared_ptr<LocalPool> self) {
  asio::steady_timer timer(self->runtime_.executor());
  while (true) {
    int failures;
    {
      std::lock_guard lock(self->mutex_);
      failures = self->connect_failures_;
      bool below_min = self->size_ + self->pending_ < self->config_.min_connections;
      bool demand = self->HasUnservedWaitersLocked() && self->size_ + self->pending_ < self->config_.max_connections;
      if (self->closed() || !(below_min || demand)) {
        self->connector_running_ = false;
        co_return;
      }
    }
    if (failures > 0) {
      timer.expires_after(ToDuration(self->BackoffSeconds(failures)));
      co_await timer.async_wait(asio::use_awaitable);
    }
    {
      std::lock_guard lock(self->mutex_);
      if (self->closed()) {
        self->connector_running_ = false;
        co_return;
      }
      ++self->pending_;
    }
    std::unique_ptr<PooledConnection> entry;
    try {
      entry = co_await self->OpenReserved();
    } catch (const DbError& e) {
      if (!IsTransientConnectError(e)) {
        std::lock_guard lock(self->mutex_);
        // Credentials or database name are wrong: retrying won't help; waiters report it.
        self->connector_running_ = false;
        co_return;
      }
      continue;
    } catch (...) {
      continue;
    }
    self->ReturnClean(std::move(entry));
  }
}

void LocalPool::StartMaintenance() {
  std::weak_ptr<LocalPool> weak = shared_from_this();
  auto executor = runtime_.executor();
  const auto tick = TickOf(config_);
  asio::co_spawn(
      executor,
      [weak, executor, tick]() -> asio::awaitable<void> {
        asio::steady_timer timer(executor);
        while (true) {
          timer.expires_after(tick);
          co_await timer.async_wait(asio::use_awaitable);
          auto self = weak.lock();
          if (!self || self->closed()) co_return;
          self->MaintainOnce();
        }
      },
      asio::detached);
  std::lock_guard lock(mutex_);
  if (size_ + pending_ < config_.min_connections) EnsureConnectorLocked();
}

void LocalPool::MaintainOnce() {
  std::vector<std::unique_ptr<PooledConnection>> retired;
  std::vector<std::unique_ptr<PooledConnection>> to_check;
  bool grow = false;
  {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    const auto idle_limit = ToDuration(config_.idle_timeout);
    const auto keepalive = ToDuration(config_.keepalive_interval);
    const bool health_due =
        config_.health_check_interval > 0 &&
        (!health_checked_ || now - last_health_check_ >= ToDuration(config_.health_check_interval));
    if (health_due) {
      health_checked_ = true;
      last_health_check_ = now;
    }
    bool lifetime_retired = false;
    double utilisation = size_ > 0 ? static_cast<double>(size_ - idle_.size()) / size_ : 0.0;
    bool shrink = config_.auto_scaling && utilisation <= config_.scale_down_threshold;
    // idle_ is ordered by last use (front = oldest), so the oldest idle ones go first.
    for (size_t i = 0; i < idle_.size();) {
      auto& entry = idle_[i];
      // At most one lifetime retirement per tick: a pool whose connections were opened
      // together never loses them all at once (a replacement is opened in between).
      bool expired = !lifetime_retired && now >= entry->retire_at;
      bool above_min = size_ > config_.min_connections;
      bool surplus = above_min && ((config_.idle_timeout > 0 && now - entry->last_used >= idle_limit) ||
                                   (shrink && now - entry->last_used >= TickOf(config_)));
      bool ping = health_due ||
                  (config_.keepalive_interval > 0 &&
                   now - std::max(entry->last_used, entry->last_checked) >= keepalive);
      if (expired || surplus) {
        lifetime_retired = lifetime_retired || expired;
        shrink = false;  // one early close per tick
        retired.push_back(std::move(entry));
        idle_.erase(idle_.begin() + static_cast<long>(i));
        --size_;
        ++closed_total_;
      } else if (ping) {
        to_check.push_back(std::move(entry));
        idle_.erase(idle_.begin() + static_cast<long>(i));
      } else {
        ++i;
      }
    }
    if (config_.leak_detection_threshold > 0) ReportLeaksLocked(now);
    if (size_ + pending_ < config_.min_connections) EnsureConnectorLocked();
    // Auto-scaling up: busy above the threshold, open one spare ahead of demand.
    if (config_.auto_scaling && size_ > 0 && utilisation >= config_.scale_up_threshold &&
        pending_ == 0 && size_ < config_.max_connections && connect_failures_ == 0) {
      ++pending_;
      grow = true;
    }
  }
  retired.clear();  // closes them outside the lock
  if (!to_check.empty()) CheckIdle(std::move(to_check));
  if (grow) {
    auto self = shared_from_this();
    asio::co_spawn(
        runtime_.executor(),
        [self]() -> asio::awaitable<void> {
          try {
            auto entry = co_await self->OpenReserved();
            self->ReturnClean(std::move(entry));
          } catch (...) {
          }
        },
        asio::detached);
  }
}

void LocalPool::CheckIdle(std::vector<std::unique_ptr<PooledConnection>> entries) {
  for (auto& entry : entries) {
    asio::co_spawn(runtime_.executor(), CheckAndReturn(shared_from_this(), std::move(entry)),
                   asio::detached);
  }
}

asio::awaitable<void> LocalPool::CheckAndReturn(std::shared_ptr<LocalPool> self,
                                                std::unique_ptr<PooledConnection> entry) {
  bool ok = co_await self->Validate(*entry);
  if (ok) {
    {
      std::lock_guard lock(self->mutex_);
      if (self->connect_failures_ == 0) self->health_ = "healthy";
    }
    self->ReturnClean(std::move(entry), /*used=*/false);
  } else {
    // A dead idle connection (server restarted, backend terminated): drop it; the
    // replacement comes from the reconnect loop, with backoff if the server is down.
    self->Discard(std::move(entry));
  }
}

void LocalPool::ReportLeaksLocked(Clock::time_point now) {
  const auto threshold = ToDuration(config_.leak_detection_threshold);
  auto report = [&](Clock::time_point acquired_at, const std::string& site, const char* what) {
    ++leaks_reported_;
    char buf[200];
    std::snprintf(buf, sizeof(buf), "possible connection leak: %s for %.3g s (leak_detection_threshold %g s)",
                  what, Seconds(now - acquired_at).count(), config_.leak_detection_threshold);
    WarnLater(std::string(buf) + ", acquired at " +
              (site.empty() ? std::string("an unknown site") : site));
  };
  for (PooledConnection* entry : borrowed_) {
    if (entry->leak_reported || now - entry->acquired_at < threshold) continue;
    entry->leak_reported = true;
    report(entry->acquired_at, entry->acquire_site, "a connection has been held");
  }
  // A multiplexed connection may stay busy for ever under steady traffic: what leaks there
  // is one call that holds its share too long.
  for (const auto& entry : shared_) {
    for (Sharer& sharer : entry->sharers) {
      if (sharer.leak_reported || now - sharer.acquired_at < threshold) continue;
      sharer.leak_reported = true;
      report(sharer.acquired_at, sharer.acquire_site, "a call has held its share of a multiplexed connection");
    }
  }
}

}  // namespace dbpool
