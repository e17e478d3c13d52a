// InfluxDriver: makes InfluxConnections (db_type "influxdb", or "influxdbs" for TLS).
#pragma once

#include "drivers/driver.hpp"

namespace dbpool::influxdb {

class InfluxDriver final : public Driver {
 public:
  explicit InfluxDriver(Runtime& runtime) : runtime_(runtime) {}
  /// Pings the server (and checks credentials when given) within connect_timeout.
  asio::awaitable<std::unique_ptr<Connection>> Connect(ConnectionConfig config) override;

 private:
  Runtime& runtime_;
};

}  // namespace dbpool::influxdb
