// MysqlDriver: opens MySQL / MariaDB connections with Connector/C's non-blocking connect,
// bounded by connect_timeout even when the host never answers.
#pragma once

#include <memory>

#include "drivers/driver.hpp"

namespace dbpool::mysql {

class MysqlDriver final : public Driver {
 public:
  explicit MysqlDriver(Runtime& runtime) : runtime_(runtime) {}

  /// Connects without blocking the event loop: mysql_real_connect_start (which resolves
  /// the host name synchronously) runs on the blocking pool, the rest of the handshake on
  /// the event loop. Fails with kConnection naming host:port within config.connect_timeout;
  /// kConfig for invalid options.
  asio::awaitable<std::unique_ptr<Connection>> Connect(ConnectionConfig config) override;

 private:
  Runtime& runtime_;
};

}  // namespace dbpool::mysql
