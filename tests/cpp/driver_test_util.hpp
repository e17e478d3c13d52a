// Shared by the driver tests: a fixture with a runtime and a driver, running coroutines to
// completion, catching DbErrors, collecting streams, the process's RSS (arrow_test_util.hpp
// reads the results' arrays).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <asio.hpp>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "arrow_test_util.hpp"
#include "dbpool/config.hpp"
#include "dbpool/error.hpp"
#include "dbpool/result.hpp"
#include "drivers/driver.hpp"
#include "runtime/runtime.hpp"

namespace dbpool::testing {

/// Runs `awaitable` on the runtime's event loop and waits for it (rethrowing its error).
template <typename T>
T RunOn(Runtime& runtime, asio::awaitable<T> awaitable) {
  return asio::co_spawn(runtime.executor(), std::move(awaitable), asio::use_future).get();
}

/// Runs `fn` and returns the DbError it throws (fails the test if it throws none).
template <typename F>
DbError Catch(F&& fn) {
  try {
    fn();
  } catch (const DbError& e) {
    return e;
  }
  ADD_FAILURE() << "expected a DbError";
  return DbError(ErrorKind::kInternal, "no error");
}

/// A runtime and a `Driver` per test, and shortcuts for the calls the tests repeat. A
/// server-backed fixture sets config_ in its SetUp().
template <typename Driver>
class DriverTest : public ::testing::Test {
 protected:
  explicit DriverTest(int io_threads = 2, int blocking_threads = 2)
      : runtime_(io_threads, blocking_threads), driver_(runtime_) {}

  /// Runs `awaitable` on the runtime's event loop and waits for its result.
  template <typename T>
  T Run(asio::awaitable<T> awaitable) {
    return RunOn(runtime_, std::move(awaitable));
  }

  std::unique_ptr<Connection> Connect() { return Connect(config_); }
  std::unique_ptr<Connection> Connect(const ConnectionConfig& config) {
    return Run(driver_.Connect(config));
  }
  QueryResult Query(Connection& conn, const std::string& sql, Params params = {},
                    CancelTokenPtr cancel = nullptr) {
    return Run(conn.Query(sql, std::move(params), std::move(cancel)));
  }
  int64_t Execute(Connection& conn, const std::string& sql, Params params = {}) {
    return Run(conn.Execute(sql, std::move(params), nullptr));
  }

  // Declared first, destroyed last: connections must go before the event loop.
  Runtime runtime_;
  Driver driver_;
  ConnectionConfig config_;
};

/// Collects a streamed result (Connection::QueryStream): the schema announcements, counts,
/// and with `keep` the batches themselves; `on_batch(n)` (n: batches so far) says whether
/// to go on.
class CollectSink final : public BatchSink {
 public:
  asio::awaitable<void> OnSchema(arrow::Schema schema) override {
    ++schemas;
    schema_batches = batches;
    this->schema = std::move(schema);
    co_return;
  }
  asio::awaitable<bool> OnBatch(RecordBatch batch) override {
    ++batches;
    rows += batch.num_rows();
    max_rows = std::max(max_rows, batch.num_rows());
    if (keep) kept.push_back(std::move(batch));
    co_return on_batch ? on_batch(batches) : true;
  }

  std::function<bool(int)> on_batch;
  bool keep = false;
  int schemas = 0;
  int schema_batches = -1;  ///< batches received before the (last) schema
  int batches = 0;
  int64_t rows = 0;
  int64_t max_rows = 0;
  arrow::Schema schema;
  std::vector<RecordBatch> kept;
};

/// Resident set size of this process, in bytes (/proc/self/statm).
inline int64_t CurrentRss() {
  std::ifstream statm("/proc/self/statm");
  int64_t pages = 0;
  int64_t resident = 0;
  statm >> pages >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

}  // namespace dbpool::testing
