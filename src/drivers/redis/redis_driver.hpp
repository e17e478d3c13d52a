// RedisDriver: opens Redis connections (redis://, rediss:// with TLS) on the event loop,
// bounded by connect_timeout from name lookup to the end of AUTH/SELECT.
#pragma once

#include <memory>

#include "drivers/driver.hpp"

namespace dbpool::redis {

class RedisDriver final : public Driver {
 public:
  explicit RedisDriver(Runtime& runtime) : runtime_(runtime) {}

  /// Resolves the host (on the blocking pool, unless it is an IP address), connects, does
  /// the TLS handshake and HELLO/AUTH/SELECT. Fails with kConnection naming host:port
  /// (never the password) within config.connect_timeout; kConfig for invalid options or
  /// a database number the server refuses.
  asio::awaitable<std::unique_ptr<Connection>> Connect(ConnectionConfig config) override;

  /// Every command but those that block or hold the connection (IsMultiplexable), unless
  /// the pool's option multiplex=false.
  bool CanMultiplex(const ConnectionConfig& config, const std::string& sql,
                    const Params& params) const override;

 private:
  Runtime& runtime_;
};

}  // namespace dbpool::redis
