// GroupConfig parsing and validation: errors name the field (members[1], weights[0], ...).
#include "dbpool/group_config.hpp"

#include <cmath>
#include <cstdlib>
#include <set>

#include "dbpool/error.hpp"

namespace dbpool {
namespace {

[[noreturn]] void Fail(const std::string& field, const std::string& reason) {
  throw DbError(ErrorKind::kConfig, field + ": " + reason);
}

long ParseWhole(const std::string& field, const std::string& text, long min, long max) {
  char* end = nullptr;
  long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0') Fail(field, "expected a whole number, got '" + text + "'");
  if (v < min || v > max) {
    Fail(field, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                    ", got " + text);
  }
  return v;
}

// "key[N]" -> N, or -1 if `key` is not `name[...]`.
long IndexOf(const std::string& key, const std::string& name) {
  if (key.rfind(name + "[", 0) != 0 || key.back() != ']') return -1;
  return ParseWhole(key, key.substr(name.size() + 1, key.size() - name.size() - 2), 0, 999);
}

template <typename T>
void Put(std::vector<T>& list, long index, T value) {
  if (list.size() <= static_cast<size_t>(index)) list.resize(static_cast<size_t>(index) + 1);
  list[static_cast<size_t>(index)] = std::move(value);
}

}  // namespace

const char* GroupConfig::StrategyName(Strategy s) {
  switch (s) {
    case Strategy::kFailover: return "failover";
    case Strategy::kActiveStandby: return "active_standby";
    case Strategy::kLoadBalanced: return "load_balanced";
  }
  return "failover";
}

const char* GroupConfig::AlgorithmName(Algorithm a) {
  switch (a) {
    case Algorithm::kRoundRobin: return "round_robin";
    case Algorithm::kLeastConnections: return "least_connections";
    case Algorithm::kRandom: return "random";
    case Algorithm::kWeighted: return "weighted";
  }
  return "round_robin";
}

GroupConfig GroupConfig::FromMap(const std::map<std::string, std::string>& values) {
  GroupConfig c;
  for (const auto& [key, value] : values) {
    if (key == "strategy") {
      if (value == "failover") c.strategy = Strategy::kFailover;
      else if (value == "active_standby") c.strategy = Strategy::kActiveStandby;
      else if (value == "load_balanced") c.strategy = Strategy::kLoadBalanced;
      else Fail(key, "expected failover, active_standby or load_balanced, got '" + value + "'");
    } else if (key == "algorithm") {
      if (value == "round_robin") c.algorithm = Algorithm::kRoundRobin;
      else if (value == "least_connections") c.algorithm = Algorithm::kLeastConnections;
      else if (value == "random") c.algorithm = Algorithm::kRandom;
      else if (value == "weighted") c.algorithm = Algorithm::kWeighted;
      else {
        Fail(key, "expected round_robin, least_connections, random or weighted, got '" + value +
                      "'");
      }
    } else if (key == "switch_threshold") {
      c.switch_threshold = static_cast<int>(ParseWhole(key, value, 1, 1000000));
    } else if (key == "ban_time") {
      char* end = nullptr;
      double v = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !std::isfinite(v) || v <= 0) {
        Fail(key, "expected a number of seconds greater than 0, got '" + value + "'");
      }
      c.ban_time = v;
    } else if (key == "read_only_mode") {
      if (value == "true") c.read_only_mode = true;
      else if (value == "false") c.read_only_mode = false;
      else Fail(key, "expected true or false, got '" + value + "'");
    } else if (long i = IndexOf(key, "members"); i >= 0) {
      Put(c.members, i, value);
    } else if (long w = IndexOf(key, "weights"); w >= 0) {
      Put(c.weights, w, static_cast<int>(ParseWhole(key, value, 1, 1000000)));
    } else {
      Fail(key, "not a pool group field (strategy, members, algorithm, weights, "
                "switch_threshold, ban_time, read_only_mode)");
    }
  }
  return c;
}

void GroupConfig::Validate() const {
  const bool balanced = strategy == Strategy::kLoadBalanced;
  if (members.empty()) Fail(balanced ? "pools" : "backup_pools", "at least one pool is needed");
  std::set<std::string> seen;
  for (size_t i = 0; i < members.size(); ++i) {
    std::string field = "members[" + std::to_string(i) + "]";
    if (members[i].empty()) Fail(field, "missing pool id");
    if (!seen.insert(members[i]).second) Fail(field, "pool '" + members[i] + "' is listed twice");
  }
  if (strategy == Strategy::kActiveStandby && members.size() != 2) {
    Fail("backup", "ActiveStandby takes one primary and one backup pool");
  }
  if (strategy != Strategy::kLoadBalanced && members.size() < 2) {
    Fail("backup_pools", "at least one backup pool is needed");
  }
  if (balanced && read_only_mode) {
    Fail("read_only_mode", "needs a primary (Failover or ActiveStandby), LoadBalanced has none");
  }
  if (algorithm == Algorithm::kWeighted) {
    if (!balanced) Fail("algorithm", "weighted is a LoadBalanced algorithm");
    if (weights.size() != members.size()) {
      Fail("weights", std::to_string(weights.size()) + " weights for " +
                          std::to_string(members.size()) + " pools (one per pool)");
    }
    for (size_t i = 0; i < weights.size(); ++i) {
      if (weights[i] < 1) Fail("weights[" + std::to_string(i) + "]", "missing");
    }
  } else if (!weights.empty()) {
    Fail("weights", "only for algorithm='weighted'");
  }
}

}  // namespace dbpool
