// A snapshot of one pool's counts, as returned by get_pool_status and named in timeouts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dbpool {

struct PoolStatus {
  std::string pool_id;
  std::string db_type;
  int size = 0;        ///< open connections (idle + in use)
  int idle = 0;
  int in_use = 0;
  int waiting = 0;     ///< callers queued for a connection
  int pending = 0;     ///< connections being opened
  int shared = 0;       ///< of in_use: connections multiplexed (lent to several calls at once)
  int shared_calls = 0; ///< calls running on those shared connections
  int min_connections = 0;
  int max_connections = 0;
  bool closed = false;
  int64_t connections_opened = 0;  ///< since the pool was created
  int64_t connections_closed = 0;  ///< retired, idle-closed, broken or closed with the pool

  /// HealthMonitor's view: "unknown" (nothing checked yet), "healthy" (the last connect or
  /// check succeeded) or "unhealthy" (the server cannot be reached now).
  std::string health = "unknown";
  int consecutive_failures = 0;     ///< connect attempts failed in a row
  std::string last_error;           ///< the last connect or check error ("" if none)
  double seconds_since_check = -1;  ///< since the last health check (-1: none yet)
  int64_t connect_attempts = 0;     ///< connections the pool tried to open
  int64_t leaks_reported = 0;       ///< leak_detection_threshold warnings so far
  /// "off", "closed", "open" or "half_open" (the circuit breaker, if configured).
  std::string circuit_breaker = "off";

  /// "size=3, idle=0, in_use=3, waiting=7, min=1, max=3"
  std::string Counts() const;
};

/// One member of a pool group, as get_pool_status shows it.
struct MemberStatus {
  std::string pool_id;
  std::string role;      ///< "primary", "backup" or "member" (LoadBalanced)
  std::string state;     ///< "up" or "banned"
  std::string health;    ///< the member pool's own HealthMonitor state
  int64_t calls = 0;     ///< calls routed to it (each attempt counts)
  int64_t failures = 0;  ///< of those, failed because the member was unreachable
  int64_t bans = 0;      ///< times it was banned
  int in_flight = 0;     ///< calls running on it now
  int weight = 1;
  double seconds_banned = 0;  ///< since the current ban began (0 when up)
};

/// A pool group (Failover, ActiveStandby, LoadBalanced).
struct GroupStatus {
  std::string group_id;
  std::string strategy;   ///< "failover", "active_standby", "load_balanced"
  std::string algorithm;  ///< LoadBalanced's algorithm ("" otherwise)
  /// "ok" (all members up), "degraded" (some banned; for read_only_mode the primary),
  /// "down" (all banned: every member is tried).
  std::string state;
  bool read_only_mode = false;
  double ban_time = 0;
  std::vector<MemberStatus> members;
};

}  // namespace dbpool
