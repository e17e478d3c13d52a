// Runtime: starts and joins the event-loop threads and the blocking pool.
#include "runtime/runtime.hpp"

#include <algorithm>
#include <cstdlib>

namespace dbpool {

Runtime::Runtime(int io_threads, int blocking_threads)
    : io_(std::max(1, io_threads)), work_(io_.get_executor()),
      blocking_(static_cast<size_t>(std::max(1, blocking_threads))) {
  for (int i = 0; i < std::max(1, io_threads); ++i) {
    threads_.emplace_back([this] { io_.run(); });
  }
}

Runtime::~Runtime() { Shutdown(); }

void Runtime::Shutdown() {
  std::call_once(shutdown_once_, [this] {
    work_.reset();
    io_.stop();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
    blocking_.stop();
    blocking_.join();
  });
}

Runtime& Runtime::Global() {
  // Leaked on purpose: pools may still hold connections at interpreter exit, and joining
  // threads from a static destructor after Python finalised is a classic shutdown hang.
  static Runtime* runtime = [] {
    int io = 2;
    int blocking = 8;
    if (const char* v = std::getenv("DB_POOL_IO_THREADS")) io = std::max(1, std::atoi(v));
    if (const char* v = std::getenv("DB_POOL_BLOCKING_THREADS")) blocking = std::max(1, std::atoi(v));
    return new Runtime(io, blocking);
  }();
  return *runtime;
}

}  // namespace dbpool
