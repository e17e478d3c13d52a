// Pool groups (core/resilience/pool_group.*) over real SQLite pools: the members each
// algorithm chooses, counted per member, and the configuration errors, which name the field.
#include <gtest/gtest.h>

#include <future>

#include "core/operations.hpp"
#include "core/resilience/pool_group.hpp"
#include "dbpool/error.hpp"
#include "dbpool/pool_manager.hpp"

namespace dbpool {
namespace {

template <typename T>
T Await(Runtime& rt, asio::awaitable<T> work) {
  return asio::co_spawn(rt.executor(), std::move(work), asio::use_future).get();
}
inline void Await(Runtime& rt, asio::awaitable<void> work) {
  asio::co_spawn(rt.executor(), std::move(work), asio::use_future).get();
}

class PoolGroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* id : {"a", "b", "c"}) {
      Await(rt_, manager_.CreatePool(id, PoolConfig::FromUrl("sqlite::memory:")));
    }
  }
  void TearDown() override { Await(rt_, manager_.Close(1)); }

  // Calls per member after `n` queries through `group`.
  std::map<std::string, int64_t> Spread(const std::string& group, int n) {
    for (int i = 0; i < n; ++i) Await(rt_, manager_.Query(group, "SELECT 1"));
    std::map<std::string, int64_t> calls;
    for (const auto& m : manager_.FindGroup(group)->Status().members) calls[m.pool_id] = m.calls;
    return calls;
  }
  std::string ConfigError(GroupConfig config, const std::string& id = "g") {
    try {
      manager_.CreateGroup(id, std::move(config));
    } catch (const DbError& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kConfig) << e.what();
      return e.what();
    }
    ADD_FAILURE() << "no ConfigError";
    return {};
  }

  Runtime rt_{2, 4};
  PoolManager manager_{&rt_};
};

GroupConfig Balanced(const char* algorithm, std::vector<int> weights = {}) {
  std::map<std::string, std::string> values{
      {"strategy", "load_balanced"}, {"algorithm", algorithm},
      {"members[0]", "a"}, {"members[1]", "b"}, {"members[2]", "c"}};
  for (size_t i = 0; i < weights.size(); ++i) {
    values["weights[" + std::to_string(i) + "]"] = std::to_string(weights[i]);
  }
  return GroupConfig::FromMap(values);
}

TEST_F(PoolGroupTest, RoundRobinVisitsEachMemberInTurn) {
  manager_.CreateGroup("g", Balanced("round_robin"));
  auto calls = Spread("g", 30);
  EXPECT_EQ(calls, (std::map<std::string, int64_t>{{"a", 10}, {"b", 10}, {"c", 10}}));
}

TEST_F(PoolGroupTest, WeightedSendsExactShares) {
  manager_.CreateGroup("g", Balanced("weighted", {3, 2, 1}));
  auto calls = Spread("g", 60);
  EXPECT_EQ(calls, (std::map<std::string, int64_t>{{"a", 30}, {"b", 20}, {"c", 10}}));
}

TEST_F(PoolGroupTest, LeastConnectionsPrefersIdleMembers) {
  manager_.CreateGroup("g", Balanced("least_connections"));
  auto group = manager_.FindGroup("g");
  // Calls one after another: nothing is in flight, so the first member (stable order)
  // takes them all; a call running on "a" moves the next ones to "b".
  auto first = group->Candidates(CallKind::kRead);
  EXPECT_EQ(first.front()->pool->id(), "a");
  PoolGroup::InFlight busy(*first.front());
  EXPECT_EQ(group->Candidates(CallKind::kRead).front()->pool->id(), "b");
}

TEST_F(PoolGroupTest, RandomReachesEveryMember) {
  manager_.CreateGroup("g", Balanced("random"));
  auto calls = Spread("g", 300);
  for (const auto& [id, n] : calls) {
    EXPECT_GT(n, 40) << id;  // expected 100 each; 40 is > 7 standard deviations away
  }
}

TEST_F(PoolGroupTest, FailoverOnAPoolKeepsItsIdAndStatus) {
  manager_.CreateGroup("a", GroupConfig::FromMap({{"strategy", "failover"},
                                                  {"members[0]", "a"},
                                                  {"members[1]", "b"}}));
  Spread("a", 5);
  auto s = manager_.FindGroup("a")->Status();
  EXPECT_EQ(s.state, "ok");
  ASSERT_EQ(s.members.size(), 2u);
  EXPECT_EQ(s.members[0].role, "primary");
  EXPECT_EQ(s.members[0].calls, 5);
  EXPECT_EQ(s.members[1].calls, 0);
  // A member pool cannot be removed while its group exists; removing the group id removes
  // the group and the pool it was made on.
  EXPECT_THROW(Await(rt_, manager_.RemovePool("b", 1)), DbError);
  Await(rt_, manager_.RemovePool("a", 1));
  EXPECT_EQ(manager_.FindGroup("a"), nullptr);
  EXPECT_EQ(manager_.ListPools(), (std::vector<std::string>{"b", "c"}));
}

TEST_F(PoolGroupTest, ConfigErrorsNameTheField) {
  EXPECT_NE(ConfigError(GroupConfig::FromMap({{"strategy", "load_balanced"},
                                              {"members[0]", "a"},
                                              {"members[1]", "nope"}}))
                .find("members[1]: no pool 'nope'"),
            std::string::npos);
  EXPECT_NE(ConfigError(Balanced("weighted", {1, 2})).find("weights: 2 weights for 3 pools"),
            std::string::npos);
  EXPECT_NE(ConfigError(GroupConfig::FromMap({{"strategy", "load_balanced"},
                                              {"members[0]", "a"},
                                              {"members[1]", "a"}}))
                .find("members[1]: pool 'a' is listed twice"),
            std::string::npos);
  EXPECT_NE(ConfigError(GroupConfig::FromMap({{"strategy", "failover"}, {"members[0]", "a"},
                                              {"members[1]", "b"}}),
                        "b")
                .find("pool_id: a pool with this id already exists"),
            std::string::npos);
  EXPECT_NE(ConfigError(GroupConfig::FromMap({{"strategy", "load_balanced"},
                                              {"members[0]", "a"},
                                              {"read_only_mode", "true"}}))
                .find("read_only_mode: needs a primary"),
            std::string::npos);
  try {
    GroupConfig::FromMap({{"algorithm", "fastest"}});
    FAIL();
  } catch (const DbError& e) {
    EXPECT_NE(std::string(e.what()).find("algorithm: expected round_robin"), std::string::npos);
  }
}

}  // namespace
}  // namespace dbpool
