// CircuitBreaker: after failure_threshold consecutive failures of a pool's calls it opens
// and rejects calls at once (no connection, no socket) for recovery_timeout; then it lets
// half_open_probes calls through, each with its own probe_timeout, and closes when they
// all succeed or re-opens on the first failed or timed-out probe. The clock is injectable
// so tests drive it by hand.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "dbpool/config.hpp"

namespace dbpool {

class CircuitBreaker {
 public:
  using Clock = std::chrono::steady_clock;
  using NowFn = std::function<Clock::time_point()>;
  enum class State { kClosed, kOpen, kHalfOpen };

  /// A permission to make one call; hand it back to OnSuccess/OnFailure/OnNeutral.
  struct Ticket {
    uint64_t generation = 0;  ///< the state period it was issued in (stale ones are ignored)
    uint64_t probe_id = 0;    ///< non-zero for a half-open probe
  };

  /// `now` defaults to the steady clock. `pool_id` names the pool in errors.
  CircuitBreaker(CircuitBreakerConfig config, std::string pool_id, NowFn now = {});

  /// Admits a call or throws DbError(kCircuitOpen) saying why and for how long.
  Ticket Admit();
  /// The call worked: closes the breaker (after enough probes) and clears the count.
  void OnSuccess(const Ticket& ticket);
  /// The call failed for a server-health reason (connection lost, unreachable, timeout).
  void OnFailure(const Ticket& ticket, const std::string& error);
  /// The call ended for a reason unrelated to health (a query error): frees a probe slot.
  void OnNeutral(const Ticket& ticket);

  /// The state now (applies the recovery and probe timeouts first).
  State state();
  static const char* StateName(State state);
  /// Seconds a probe may take (the call's deadline while half-open).
  double probe_timeout() const { return config_.probe_timeout; }
  int consecutive_failures();

 private:
  struct Probe {
    uint64_t id;
    Clock::time_point started;
  };
  void AdvanceLocked(Clock::time_point now);
  void OpenLocked(Clock::time_point now, const std::string& error);
  [[noreturn]] void ThrowOpenLocked(Clock::time_point now, const char* why) const;
  bool ReleaseProbeLocked(uint64_t id);

  const CircuitBreakerConfig config_;
  const std::string pool_id_;
  const NowFn now_;
  std::mutex mutex_;  // per pool; held for a few comparisons, never across I/O
  State state_ = State::kClosed;
  uint64_t generation_ = 1;
  uint64_t next_probe_id_ = 1;
  int failures_ = 0;
  int probe_successes_ = 0;
  std::vector<Probe> probes_;
  Clock::time_point opened_at_{};
  std::string last_error_;
};

}  // namespace dbpool
