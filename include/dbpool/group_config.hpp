// Pool groups: several pools behind one id (Failover, ActiveStandby, LoadBalanced) with
// banning of unhealthy members and GracefulDegradation; parsed from string keys.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace dbpool {

struct GroupConfig {
  enum class Strategy { kFailover, kActiveStandby, kLoadBalanced };
  enum class Algorithm { kRoundRobin, kLeastConnections, kRandom, kWeighted };

  Strategy strategy = Strategy::kFailover;
  /// Pool ids in order. Failover and ActiveStandby: the primary first, then the backups.
  std::vector<std::string> members;
  Algorithm algorithm = Algorithm::kRoundRobin;  ///< LoadBalanced only
  std::vector<int> weights;  ///< kWeighted: one whole number >= 1 per member
  /// Failed calls in a row (member unreachable, not query errors) that ban a member.
  int switch_threshold = 1;
  /// Seconds a banned member gets no calls; then it is probed (connect + ping) in the
  /// background until a probe succeeds.
  double ban_time = 5.0;
  /// GracefulDegradation: while the primary is banned, writes fail at once with
  /// kReadOnlyMode (reads go on to the backups); writes are never sent to a backup.
  bool read_only_mode = false;

  /// Throws DbError(kConfig) naming the first invalid field.
  void Validate() const;
  /// Keys: strategy (failover, active_standby, load_balanced), members[N], algorithm
  /// (round_robin, least_connections, random, weighted), weights[N], switch_threshold,
  /// ban_time, read_only_mode.
  static GroupConfig FromMap(const std::map<std::string, std::string>& values);

  static const char* StrategyName(Strategy s);
  static const char* AlgorithmName(Algorithm a);
};

}  // namespace dbpool
