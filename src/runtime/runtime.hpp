// The process-wide engine runtime: an Asio I/O event loop on a few threads for non-blocking
// drivers, and a bounded blocking pool for client libraries that only block (SQLite).
#pragma once

#include <asio.hpp>

#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace dbpool {

class Runtime {
 public:
  /// Starts `io_threads` threads running the event loop and a blocking pool of
  /// `blocking_threads` threads.
  Runtime(int io_threads, int blocking_threads);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  /// The runtime shared by all pools of the process (started on first use).
  static Runtime& Global();

  /// Stops the event loop and joins every thread (idempotent). Called at process exit so no
  /// engine thread is still running while static destructors tear the process down.
  void Shutdown();

  asio::io_context& io() { return io_; }
  asio::any_io_executor executor() { return io_.get_executor(); }
  asio::thread_pool& blocking_pool() { return blocking_; }

  /// Runs `fn` on the blocking pool and resumes the awaiting coroutine on its own executor
  /// with fn's result (or exception).
  ///
  /// `fn` must be trivially copyable (capture pointers/references into the awaiting
  /// coroutine's frame, which outlives the call): g++ 12 destroys a closure temporary in a
  /// co_await expression twice, so a captured std::string or shared_ptr would be freed
  /// twice (reproduced under ASan). The static_assert keeps that bug out of every driver.
  template <typename F>
  asio::awaitable<std::invoke_result_t<F>> RunBlocking(F fn);

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::thread_pool blocking_;
  std::vector<std::thread> threads_;
  std::once_flag shutdown_once_;
};

template <typename F>
asio::awaitable<std::invoke_result_t<F>> Runtime::RunBlocking(F fn) {
  static_assert(std::is_trivially_copyable_v<F>,
                "RunBlocking: capture pointers only (see the comment on RunBlocking)");
  using R = std::invoke_result_t<F>;
  auto& pool = blocking_;
  if constexpr (std::is_void_v<R>) {
    co_await asio::async_initiate<decltype(asio::use_awaitable), void(std::exception_ptr)>(
        [&pool, fn = std::move(fn)](auto handler) mutable {
          asio::post(pool, [fn = std::move(fn), handler = std::move(handler)]() mutable {
            std::exception_ptr error;
            try {
              fn();
            } catch (...) {
              error = std::current_exception();
            }
            auto ex = asio::get_associated_executor(handler);
            asio::dispatch(ex, [handler = std::move(handler), error]() mutable {
              std::move(handler)(error);
            });
          });
        },
        asio::use_awaitable);
  } else {
    std::optional<R> result;
    co_await asio::async_initiate<decltype(asio::use_awaitable), void(std::exception_ptr)>(
        [&pool, &result, fn = std::move(fn)](auto handler) mutable {
          asio::post(pool, [&result, fn = std::move(fn), handler = std::move(handler)]() mutable {
            std::exception_ptr error;
            try {
              result.emplace(fn());
            } catch (...) {
              error = std::current_exception();
            }
            auto ex = asio::get_associated_executor(handler);
            asio::dispatch(ex, [handler = std::move(handler), error]() mutable {
              std::move(handler)(error);
            });
          });
        },
        asio::use_awaitable);
    co_return std::move(*result);
  }
}

}  // namespace dbpool
