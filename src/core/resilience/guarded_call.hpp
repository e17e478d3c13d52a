// GuardedCall: one pool call with the pool's fallback strategies around it: the circuit
// breaker (reject at once while open), query_timeout, and RetryWithBackoff for failures
// that are safe to retry; a write whose outcome is unknown raises kUnknownOutcome.
#pragma once

#include <asio.hpp>
#include <asio/experimental/awaitable_operators.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>

#include "core/local_pool.hpp"
#include "core/resilience/circuit_breaker.hpp"
#include "core/resilience/retry.hpp"

namespace dbpool {

struct CallOptions {
  CallKind kind = CallKind::kRead;
  bool idempotent = false;  ///< the caller says running it twice is harmless
  bool share = false;       ///< may run on a shared connection (Driver::CanMultiplex)
};

namespace detail {

// `a || b` waits for the first to *succeed*: an attempt that throws would be held until the
// timer fires. Attempts are therefore wrapped so that they never throw.
template <typename T>
struct Captured {
  std::optional<T> value;
  std::exception_ptr error;
};

template <typename T>
asio::awaitable<Captured<T>> Capture(asio::awaitable<T> attempt) {
  Captured<T> out;
  try {
    out.value.emplace(co_await std::move(attempt));
  } catch (...) {
    out.error = std::current_exception();
  }
  co_return out;
}

inline asio::awaitable<std::exception_ptr> CaptureVoid(asio::awaitable<void> attempt) {
  std::exception_ptr error;
  try {
    co_await std::move(attempt);
  } catch (...) {
    error = std::current_exception();
  }
  co_return error;
}

[[noreturn]] inline void ThrowQueryTimeout(double seconds, Lease& lease, const std::string& pool_id) {
  lease.Invalidate();  // the statement may still run or its reply arrive: never reuse
  char buf[120];
  std::snprintf(buf, sizeof(buf),
                "the call did not finish within %g s (query_timeout or probe_timeout); its "
                "connection was dropped", seconds);
  throw DbError(ErrorKind::kQueryTimeout, buf, {}, 0, pool_id);
}

inline std::chrono::steady_clock::duration Seconds(double seconds) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(seconds));
}

/// Runs `attempt` (an awaitable<T> started on a borrowed connection) within `seconds` (0 =
/// no limit). On expiry the attempt is abandoned and its connection dropped.
template <typename T>
asio::awaitable<T> WithDeadline(asio::awaitable<T> attempt, double seconds, Lease& lease,
                                const std::string& pool_id) {
  using namespace asio::experimental::awaitable_operators;
  if (seconds <= 0) co_return co_await std::move(attempt);
  asio::steady_timer timer(co_await asio::this_coro::executor, Seconds(seconds));
  auto outcome = co_await (Capture<T>(std::move(attempt)) || timer.async_wait(asio::use_awaitable));
  if (outcome.index() != 0) ThrowQueryTimeout(seconds, lease, pool_id);
  Captured<T>& done = std::get<0>(outcome);
  if (done.error) std::rethrow_exception(done.error);
  co_return std::move(*done.value);
}

template <>
inline asio::awaitable<void> WithDeadline<void>(asio::awaitable<void> attempt, double seconds,
                                                Lease& lease, const std::string& pool_id) {
  using namespace asio::experimental::awaitable_operators;
  if (seconds <= 0) co_return co_await std::move(attempt);
  asio::steady_timer timer(co_await asio::this_coro::executor, Seconds(seconds));
  auto outcome = co_await (CaptureVoid(std::move(attempt)) || timer.async_wait(asio::use_awaitable));
  if (outcome.index() != 0) ThrowQueryTimeout(seconds, lease, pool_id);
  if (auto error = std::get<0>(outcome)) std::rethrow_exception(error);
}

}  // namespace detail

/// Borrows a connection and runs `body(connection, progress)` (an awaitable), under the
/// pool's breaker, query_timeout and retry policy. Errors carry the pool id.
template <typename Body>
auto GuardedCall(std::shared_ptr<LocalPool> pool, CancelTokenPtr cancel, CallOptions options,
                 Body body)
    -> asio::awaitable<typename decltype(body(std::declval<Connection&>(),
                                              std::declval<CallProgress&>()))::value_type> {
  using T = typename decltype(body(std::declval<Connection&>(),
                                   std::declval<CallProgress&>()))::value_type;
  const PoolConfig& config = pool->config();
  CircuitBreaker* breaker = pool->breaker();
  asio::steady_timer pause(co_await asio::this_coro::executor);
  for (int attempt = 1;; ++attempt) {
    CircuitBreaker::Ticket ticket;
    std::optional<DbError> failure;
    CallProgress progress;
    try {
      if (breaker) ticket = breaker->Admit();  // throws kCircuitOpen: no socket touched
      double limit = config.query_timeout;
      if (ticket.probe_id != 0 && (limit <= 0 || breaker->probe_timeout() < limit)) {
        limit = breaker->probe_timeout();
      }
      Lease lease = co_await pool->Acquire(cancel, options.share);
      progress.sent = !lease->IsBroken();
      if constexpr (std::is_void_v<T>) {
        co_await detail::WithDeadline<void>(body(*lease, progress), limit, lease, pool->id());
        if (breaker) breaker->OnSuccess(ticket);
        co_return;
      } else {
        T result = co_await detail::WithDeadline<T>(body(*lease, progress), limit, lease, pool->id());
        if (breaker) breaker->OnSuccess(ticket);
        co_return result;
      }
    } catch (const DbError& e) {
      failure = pool->ForCaller(e.pool_id().empty() ? e.WithPool(pool->id()) : e, cancel.get());
    }
    const DbError& error = *failure;
    if (error.kind() == ErrorKind::kCircuitOpen) throw error;
    if (breaker) {
      bool unhealthy = pool->Status().consecutive_failures > 0;
      if (IsHealthFailure(error, unhealthy)) {
        breaker->OnFailure(ticket, error.message());
      } else {
        breaker->OnNeutral(ticket);
      }
    }
    if (auto unknown = UnknownOutcome(error, options.kind, progress, options.idempotent)) {
      throw *unknown;
    }
    bool cancelled = cancel && cancel->cancelled();
    if (cancelled || attempt >= config.retry.max_attempts ||
        !IsSafeToRetry(error, options.kind, progress, options.idempotent)) {
      throw error;
    }
    pause.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(RetryDelay(config.retry, attempt))));
    co_await pause.async_wait(asio::use_awaitable);
  }
}

}  // namespace dbpool
