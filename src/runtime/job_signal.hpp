// JobSignal: a one-shot signal from a blocking-pool job (a client-library call that may
// block: a host name lookup, PQcancel, KILL QUERY) to an event-loop coroutine, awaited with
// a deadline.
#pragma once

#include <asio.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/experimental/concurrent_channel.hpp>

#include <chrono>

namespace dbpool {

/// Shared (by shared_ptr) between the job and the waiter, because a job whose waiter gave
/// up at the deadline still runs to its end and signals into the void.
class JobSignal {
 public:
  using Clock = std::chrono::steady_clock;

  explicit JobSignal(const asio::any_io_executor& executor) : channel_(executor, 1) {}

  /// Called by the job, from any thread, once it is done (at most once per Wait()).
  void Signal() { channel_.try_send(asio::error_code{}, 0); }

  /// True when Signal() came before `deadline`; false when the deadline passed first.
  asio::awaitable<bool> Wait(Clock::time_point deadline) {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer timer(channel_.get_executor(), deadline);
    // The channel and the timer are distinct objects, so the two halves of || may safely
    // start on different event-loop threads; the loser is cancelled before this returns.
    auto winner = co_await (channel_.async_receive(asio::use_awaitable) ||
                            timer.async_wait(asio::use_awaitable));
    co_return winner.index() == 0;
  }

 private:
  // Capacity 1: a Signal() that comes before Wait() starts is kept, not lost. The int is
  // unused: Asio 1.22's channel_traits cannot instantiate a bare void(error_code).
  asio::experimental::concurrent_channel<void(asio::error_code, int)> channel_;
};

}  // namespace dbpool
