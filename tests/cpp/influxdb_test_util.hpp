// Helpers for the InfluxDB driver tests: server URL from DB_POOL_TEST_INFLUX_URL, a runtime,
// running coroutines to completion, and readers for the exported Arrow C structs.
#pragma once

#include <gtest/gtest.h>

#include <asio.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dbpool/config.hpp"
#include "dbpool/error.hpp"
#include "dbpool/result.hpp"
#include "drivers/influxdb/influx_connection.hpp"
#include "drivers/influxdb/influx_driver.hpp"
#include "runtime/runtime.hpp"

namespace dbpool::influxdb::testing {

inline const char* TestUrl() { return std::getenv("DB_POOL_TEST_INFLUX_URL"); }

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

/// Named parameters.
inline Params Named(std::vector<std::pair<std::string, Value>> values) {
  Params params;
  for (auto& [name, v] : values) {
    params.names.push_back(name);
    params.values.push_back(std::move(v));
  }
  return params;
}

/// A runtime and a driver per test; the server URL comes from DB_POOL_TEST_INFLUX_URL.
class InfluxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (TestUrl() == nullptr || *TestUrl() == '\0') {
      // Under scripts/run_tests.sh the server must be there: a missing one is a failure.
      if (std::getenv("DB_POOL_TEST_REQUIRE_SERVICES")) {
        FAIL() << "DB_POOL_TEST_INFLUX_URL is not set";
      }
      GTEST_SKIP() << "DB_POOL_TEST_INFLUX_URL is not set (bash scripts/services.sh start "
                      "influxdb; . .services/env)";
    }
    config_ = PoolConfig::FromUrl(TestUrl()).connection;
  }

  template <typename T>
  T Run(asio::awaitable<T> awaitable) {
    return asio::co_spawn(runtime_.executor(), std::move(awaitable), asio::use_future).get();
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
  Runtime runtime_{2, 2};
  InfluxDriver driver_{runtime_};
  ConnectionConfig config_;
};

// ---- Reading values out of exported arrays (C Data interface layouts) ----

inline const ArrowArray& Column(const QueryResult& result, int column, int batch = 0) {
  return *result.batches.at(batch).array().children[column];
}

inline bool IsNull(const ArrowArray& a, int64_t i) {
  if (a.buffers[0] == nullptr) return false;
  auto bits = static_cast<const uint8_t*>(a.buffers[0]);
  int64_t j = a.offset + i;
  return ((bits[j >> 3] >> (j & 7)) & 1) == 0;
}

template <typename T>
T At(const ArrowArray& a, int64_t i) {
  T v;
  std::memcpy(&v, static_cast<const uint8_t*>(a.buffers[1]) + (a.offset + i) * sizeof(T),
              sizeof(T));
  return v;
}

inline bool BoolValue(const ArrowArray& a, int64_t i) {
  auto bits = static_cast<const uint8_t*>(a.buffers[1]);
  int64_t j = a.offset + i;
  return ((bits[j >> 3] >> (j & 7)) & 1) != 0;
}

/// String / Binary with 64-bit offsets.
inline std::string StringValue(const ArrowArray& a, int64_t i) {
  int64_t begin = At<int64_t>(a, i);
  int64_t end = At<int64_t>(a, i + 1);
  return std::string(static_cast<const char*>(a.buffers[2]) + begin,
                     static_cast<size_t>(end - begin));
}

/// Every value of a String/Binary column ("<null>" for nulls).
inline std::vector<std::string> Strings(const ArrowArray& a) {
  std::vector<std::string> out;
  for (int64_t i = 0; i < a.length; ++i) out.push_back(IsNull(a, i) ? "<null>" : StringValue(a, i));
  return out;
}

}  // namespace dbpool::influxdb::testing
