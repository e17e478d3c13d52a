// Helpers for the InfluxDB driver tests: the fixture (server URL from DB_POOL_TEST_INFLUX_URL)
// and named parameters (driver_test_util.hpp has the rest).
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
#include "driver_test_util.hpp"
#include "runtime/runtime.hpp"

namespace dbpool::influxdb::testing {

using namespace dbpool::testing;  // NOLINT: the shared fixture and array readers

inline const char* TestUrl() { return std::getenv("DB_POOL_TEST_INFLUX_URL"); }

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
class InfluxTest : public dbpool::testing::DriverTest<InfluxDriver> {
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

};

}  // namespace dbpool::influxdb::testing
