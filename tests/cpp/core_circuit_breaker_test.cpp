// CircuitBreaker on a fake clock (issue 4 test 10): opens at the threshold, rejects while
// open, admits the configured probes half-open, re-opens on a failed or timed-out probe.
#include <gtest/gtest.h>

#include <chrono>

#include "core/resilience/circuit_breaker.hpp"
#include "core/resilience/retry.hpp"
#include "dbpool/error.hpp"

namespace dbpool {
namespace {

using namespace std::chrono_literals;
using State = CircuitBreaker::State;

class FakeClock {
 public:
  CircuitBreaker::Clock::time_point now{CircuitBreaker::Clock::time_point{} + 1h};
  CircuitBreaker::NowFn fn() {
    return [this] { return now; };
  }
};

CircuitBreakerConfig Config(int threshold, double recovery, int probes, double probe_timeout) {
  CircuitBreakerConfig c;
  c.failure_threshold = threshold;
  c.recovery_timeout = recovery;
  c.half_open_probes = probes;
  c.probe_timeout = probe_timeout;
  return c;
}

ErrorKind RejectKind(CircuitBreaker& b) {
  try {
    b.Admit();
  } catch (const DbError& e) {
    return e.kind();
  }
  return ErrorKind::kInternal;
}

TEST(CircuitBreakerTest, OpensAtThresholdAndRejectsUntilRecovery) {
  FakeClock clock;
  CircuitBreaker b(Config(3, 10, 1, 2), "p", clock.fn());
  for (int i = 0; i < 2; ++i) b.OnFailure(b.Admit(), "lost");
  EXPECT_EQ(b.state(), State::kClosed);
  b.OnFailure(b.Admit(), "lost the connection");
  EXPECT_EQ(b.state(), State::kOpen);
  try {
    b.Admit();
    FAIL() << "admitted while open";
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCircuitOpen);
    EXPECT_EQ(e.pool_id(), "p");
    EXPECT_NE(std::string(e.what()).find("next probe in 10 s"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("lost the connection"), std::string::npos) << e.what();
  }
  clock.now += 9900ms;
  EXPECT_EQ(RejectKind(b), ErrorKind::kCircuitOpen);
  clock.now += 100ms;
  EXPECT_EQ(b.state(), State::kHalfOpen);
}

TEST(CircuitBreakerTest, SuccessResetsTheCountAndQueryErrorsAreNeutral) {
  FakeClock clock;
  CircuitBreaker b(Config(2, 5, 1, 1), "p", clock.fn());
  b.OnFailure(b.Admit(), "x");
  b.OnSuccess(b.Admit());
  b.OnFailure(b.Admit(), "x");
  EXPECT_EQ(b.state(), State::kClosed);
  b.OnNeutral(b.Admit());  // the server answered (e.g. 23505): not consecutive any more
  b.OnFailure(b.Admit(), "x");
  EXPECT_EQ(b.state(), State::kClosed);
  EXPECT_EQ(b.consecutive_failures(), 1);
}

TEST(CircuitBreakerTest, HalfOpenAdmitsTheConfiguredProbesAndClosesWhenTheyPass) {
  FakeClock clock;
  CircuitBreaker b(Config(1, 5, 2, 3), "p", clock.fn());
  b.OnFailure(b.Admit(), "x");
  clock.now += 5s;
  auto p1 = b.Admit();
  auto p2 = b.Admit();
  EXPECT_NE(p1.probe_id, 0u);
  EXPECT_NE(p2.probe_id, 0u);
  EXPECT_EQ(RejectKind(b), ErrorKind::kCircuitOpen);  // a third call is not a probe
  b.OnSuccess(p1);
  EXPECT_EQ(b.state(), State::kHalfOpen);
  EXPECT_EQ(RejectKind(b), ErrorKind::kCircuitOpen);  // slots: 1 passed + 1 in flight
  b.OnSuccess(p2);
  EXPECT_EQ(b.state(), State::kClosed);
  EXPECT_EQ(b.Admit().probe_id, 0u);
}

TEST(CircuitBreakerTest, FailedProbeReopensForAnotherRecoveryPeriod) {
  FakeClock clock;
  CircuitBreaker b(Config(1, 5, 1, 3), "p", clock.fn());
  b.OnFailure(b.Admit(), "x");
  clock.now += 5s;
  auto probe = b.Admit();
  b.OnFailure(probe, "still down");
  EXPECT_EQ(b.state(), State::kOpen);
  clock.now += 4s;
  EXPECT_EQ(RejectKind(b), ErrorKind::kCircuitOpen);
  clock.now += 1s;
  EXPECT_EQ(b.state(), State::kHalfOpen);
}

TEST(CircuitBreakerTest, ProbeThatOutlivesProbeTimeoutReopens) {
  FakeClock clock;
  CircuitBreaker b(Config(1, 5, 1, 2), "p", clock.fn());
  b.OnFailure(b.Admit(), "x");
  clock.now += 5s;
  auto probe = b.Admit();
  clock.now += 1999ms;
  EXPECT_EQ(b.state(), State::kHalfOpen);
  clock.now += 1ms;
  EXPECT_EQ(b.state(), State::kOpen);
  b.OnSuccess(probe);  // too late: issued before the state changed, ignored
  EXPECT_EQ(b.state(), State::kOpen);
}

TEST(CircuitBreakerTest, StaleResultsFromBeforeOpeningAreIgnored) {
  FakeClock clock;
  CircuitBreaker b(Config(1, 5, 1, 2), "p", clock.fn());
  auto early = b.Admit();
  b.OnFailure(b.Admit(), "x");
  b.OnSuccess(early);
  EXPECT_EQ(b.state(), State::kOpen);
}

TEST(RetryRulesTest, OnlySafeFailuresAreRetried) {
  DbError lost(ErrorKind::kConnection, "lost", "57P01");
  DbError conflict(ErrorKind::kQuery, "conflict", "40001");
  DbError deadlock(ErrorKind::kQuery, "deadlock", "40P01");
  DbError unique(ErrorKind::kQuery, "dup", "23505");
  CallProgress unsent{false, false}, sent{true, false}, committing{true, true};
  EXPECT_TRUE(IsSafeToRetry(lost, CallKind::kWrite, unsent, false));
  EXPECT_FALSE(IsSafeToRetry(lost, CallKind::kWrite, sent, false));
  EXPECT_TRUE(IsSafeToRetry(lost, CallKind::kWrite, sent, true));
  EXPECT_TRUE(IsSafeToRetry(lost, CallKind::kRead, sent, false));
  EXPECT_TRUE(IsSafeToRetry(lost, CallKind::kTransaction, sent, false));
  EXPECT_FALSE(IsSafeToRetry(lost, CallKind::kTransaction, committing, false));
  EXPECT_TRUE(IsSafeToRetry(conflict, CallKind::kTransaction, committing, false));
  EXPECT_TRUE(IsSafeToRetry(deadlock, CallKind::kRead, sent, false));
  EXPECT_FALSE(IsSafeToRetry(conflict, CallKind::kBatch, sent, false));
  EXPECT_FALSE(IsSafeToRetry(unique, CallKind::kTransaction, sent, true));
  EXPECT_TRUE(UnknownOutcome(lost, CallKind::kWrite, sent, false).has_value());
  EXPECT_EQ(UnknownOutcome(lost, CallKind::kWrite, sent, false)->kind(), ErrorKind::kUnknownOutcome);
  EXPECT_FALSE(UnknownOutcome(lost, CallKind::kWrite, sent, true).has_value());
  EXPECT_FALSE(UnknownOutcome(lost, CallKind::kTransaction, sent, false).has_value());
  EXPECT_TRUE(UnknownOutcome(lost, CallKind::kTransaction, committing, false).has_value());
  EXPECT_FALSE(UnknownOutcome(unique, CallKind::kWrite, sent, false).has_value());
}

TEST(RetryRulesTest, DelaysGrowAndStayUnderTheCap) {
  RetryConfig c;
  c.base_delay = 0.1;
  c.max_delay = 0.5;
  c.jitter = 0.2;
  for (int i = 0; i < 50; ++i) {
    double d1 = RetryDelay(c, 1), d2 = RetryDelay(c, 2), d5 = RetryDelay(c, 5);
    EXPECT_GE(d1, 0.08);
    EXPECT_LE(d1, 0.1);
    EXPECT_GE(d2, 0.16);
    EXPECT_LE(d2, 0.2);
    EXPECT_LE(d5, 0.5);
    EXPECT_GE(d5, 0.4);
  }
}

}  // namespace
}  // namespace dbpool
