// CircuitBreaker state machine: closed -> open -> half-open -> closed (or open again).
#include "core/resilience/circuit_breaker.hpp"

#include <algorithm>
#include <cstdio>

#include "dbpool/error.hpp"

namespace dbpool {
namespace {

using Seconds = std::chrono::duration<double>;

CircuitBreaker::Clock::duration ToDuration(double seconds) {
  return std::chrono::duration_cast<CircuitBreaker::Clock::duration>(Seconds(seconds));
}

}  // namespace

CircuitBreaker::CircuitBreaker(CircuitBreakerConfig config, std::string pool_id, NowFn now)
    : config_(config),
      pool_id_(std::move(pool_id)),
      now_(now ? std::move(now) : NowFn([] { return Clock::now(); })) {}

const char* CircuitBreaker::StateName(State state) {
  switch (state) {
    case State::kClosed: return "closed";
    case State::kOpen: return "open";
    case State::kHalfOpen: return "half_open";
  }
  return "closed";
}

void CircuitBreaker::OpenLocked(Clock::time_point now, const std::string& error) {
  state_ = State::kOpen;
  opened_at_ = now;
  ++generation_;
  probes_.clear();
  probe_successes_ = 0;
  if (!error.empty()) last_error_ = error;
}

void CircuitBreaker::AdvanceLocked(Clock::time_point now) {
  if (state_ == State::kOpen && now - opened_at_ >= ToDuration(config_.recovery_timeout)) {
    state_ = State::kHalfOpen;
    ++generation_;
    probes_.clear();
    probe_successes_ = 0;
  }
  if (state_ == State::kHalfOpen) {
    for (const auto& probe : probes_) {
      if (now - probe.started >= ToDuration(config_.probe_timeout)) {
        char buf[96];
        std::snprintf(buf, sizeof(buf), "a half-open probe took longer than probe_timeout (%g s)",
                      config_.probe_timeout);
        OpenLocked(now, buf);
        return;
      }
    }
  }
}

void CircuitBreaker::ThrowOpenLocked(Clock::time_point now, const char* why) const {
  double wait = config_.recovery_timeout - Seconds(now - opened_at_).count();
  char buf[200];
  std::snprintf(buf, sizeof(buf),
                "circuit breaker is %s: calls fail at once without touching the database; "
                "next probe in %.3g s (opened after %d consecutive failures",
                why, std::max(0.0, wait), config_.failure_threshold);
  std::string message = buf;
  if (!last_error_.empty()) message += "; last error: " + last_error_;
  throw DbError(ErrorKind::kCircuitOpen, message + ")", {}, 0, pool_id_);
}

CircuitBreaker::Ticket CircuitBreaker::Admit() {
  std::lock_guard lock(mutex_);
  const auto now = now_();
  AdvanceLocked(now);
  if (state_ == State::kClosed) return Ticket{generation_, 0};
  if (state_ == State::kOpen) ThrowOpenLocked(now, "open");
  // Half-open: probes_ holds the ones in flight, probe_successes_ the ones that passed.
  if (static_cast<int>(probes_.size()) + probe_successes_ >= config_.half_open_probes) {
    ThrowOpenLocked(now, "half-open with every probe slot taken");
  }
  Probe probe{next_probe_id_++, now};
  probes_.push_back(probe);
  return Ticket{generation_, probe.id};
}

bool CircuitBreaker::ReleaseProbeLocked(uint64_t id) {
  auto it = std::find_if(probes_.begin(), probes_.end(), [id](const Probe& p) { return p.id == id; });
  if (it == probes_.end()) return false;
  probes_.erase(it);
  return true;
}

void CircuitBreaker::OnSuccess(const Ticket& ticket) {
  std::lock_guard lock(mutex_);
  AdvanceLocked(now_());
  if (ticket.generation != generation_) return;  // issued before the last state change
  if (state_ == State::kClosed) {
    failures_ = 0;
    return;
  }
  if (state_ == State::kHalfOpen && ReleaseProbeLocked(ticket.probe_id)) {
    if (++probe_successes_ >= config_.half_open_probes) {
      state_ = State::kClosed;
      ++generation_;
      failures_ = 0;
      probe_successes_ = 0;
      last_error_.clear();
    }
  }
}

void CircuitBreaker::OnFailure(const Ticket& ticket, const std::string& error) {
  std::lock_guard lock(mutex_);
  const auto now = now_();
  AdvanceLocked(now);
  if (ticket.generation != generation_) return;
  if (state_ == State::kClosed) {
    last_error_ = error;
    if (++failures_ >= config_.failure_threshold) OpenLocked(now, error);
    return;
  }
  if (state_ == State::kHalfOpen && ReleaseProbeLocked(ticket.probe_id)) OpenLocked(now, error);
}

void CircuitBreaker::OnNeutral(const Ticket& ticket) {
  std::lock_guard lock(mutex_);
  AdvanceLocked(now_());
  if (ticket.generation != generation_) return;
  if (state_ == State::kClosed) {
    failures_ = 0;  // the server answered: failures are no longer consecutive
    return;
  }
  if (state_ != State::kHalfOpen) return;
  // The server answered (with an error of the caller's making): it is reachable.
  if (ReleaseProbeLocked(ticket.probe_id) && ++probe_successes_ >= config_.half_open_probes) {
    state_ = State::kClosed;
    ++generation_;
    failures_ = 0;
    probe_successes_ = 0;
  }
}

CircuitBreaker::State CircuitBreaker::state() {
  std::lock_guard lock(mutex_);
  AdvanceLocked(now_());
  return state_;
}

int CircuitBreaker::consecutive_failures() {
  std::lock_guard lock(mutex_);
  return failures_;
}

}  // namespace dbpool
