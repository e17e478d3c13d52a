// PoolGroup: member choice by strategy, banning on failures, background re-probes.
#include "core/resilience/pool_group.hpp"

#include <algorithm>
#include <numeric>
#include <random>

#include "common/diagnostics.hpp"
#include "core/resilience/guarded_call.hpp"
#include "dbpool/error.hpp"

namespace dbpool {
namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

bool IsWrite(CallKind kind) { return kind != CallKind::kRead; }

}  // namespace

std::shared_ptr<PoolGroup> PoolGroup::Create(std::string id, GroupConfig config,
                                             std::vector<std::shared_ptr<LocalPool>> members,
                                             Runtime& runtime) {
  std::shared_ptr<PoolGroup> group(
      new PoolGroup(std::move(id), std::move(config), std::move(members), runtime));
  asio::co_spawn(runtime.executor(), ProberLoop(group), asio::detached);
  return group;
}

PoolGroup::PoolGroup(std::string id, GroupConfig config,
                     std::vector<std::shared_ptr<LocalPool>> members, Runtime& runtime)
    : id_(std::move(id)), config_(std::move(config)), runtime_(runtime) {
  for (size_t i = 0; i < members.size(); ++i) {
    auto m = std::make_unique<Member>();
    m->pool = std::move(members[i]);
    m->weight = config_.weights.empty() ? 1 : config_.weights[i];
    m->primary = i == 0 && config_.strategy != GroupConfig::Strategy::kLoadBalanced;
    members_.push_back(std::move(m));
  }
}

PoolGroup::~PoolGroup() { Stop(); }

void PoolGroup::Stop() { stopped_.store(true); }

bool PoolGroup::HasMember(const std::string& pool_id) const {
  return std::any_of(members_.begin(), members_.end(),
                     [&](const auto& m) { return m->pool->id() == pool_id; });
}

std::vector<PoolGroup::Member*> PoolGroup::Candidates(CallKind kind) {
  // A member whose HealthMonitor cannot connect is banned at once: calls would only queue
  // for its reconnect loop.
  for (auto& m : members_) {
    if (!m->banned() && (m->pool->unreachable() || m->pool->closed())) {
      Ban(*m, m->pool->closed() ? "the pool is closed" : "its server is unreachable");
    }
  }
  if (config_.read_only_mode && IsWrite(kind)) {
    Member& primary = *members_.front();
    if (primary.banned()) {
      throw DbError(ErrorKind::kReadOnlyMode,
                    "read-only mode: the primary '" + primary.pool->id() +
                        "' is down, so writes are refused (reads go on to the backups)",
                    {}, 0, id_);
    }
    return {&primary};
  }
  std::vector<Member*> up;
  for (auto& m : members_) {
    if (!m->banned()) up.push_back(m.get());
  }
  if (up.empty()) {  // all banned: try every one rather than fail without trying
    for (auto& m : members_) up.push_back(m.get());
  }
  if (config_.strategy == GroupConfig::Strategy::kLoadBalanced) Balance(up);
  return up;
}

void PoolGroup::Balance(std::vector<Member*>& members) {
  using Algorithm = GroupConfig::Algorithm;
  if (members.size() < 2) return;
  switch (config_.algorithm) {
    case Algorithm::kRoundRobin: {
      auto shift = next_.fetch_add(1, std::memory_order_relaxed) % members.size();
      std::rotate(members.begin(), members.begin() + static_cast<long>(shift), members.end());
      break;
    }
    case Algorithm::kLeastConnections:
      std::stable_sort(members.begin(), members.end(), [](Member* a, Member* b) {
        return a->in_flight.load(std::memory_order_relaxed) <
               b->in_flight.load(std::memory_order_relaxed);
      });
      break;
    case Algorithm::kRandom: {
      thread_local std::mt19937_64 rng{std::random_device{}()};
      std::shuffle(members.begin(), members.end(), rng);
      break;
    }
    case Algorithm::kWeighted: {
      // Deterministic: position p of every sum(weights) calls goes to the member whose
      // cumulative weight range holds p, so weights 3:1 give exactly 3 of every 4 calls.
      int total = 0;
      for (Member* m : members) total += m->weight;
      auto p = static_cast<int>(next_.fetch_add(1, std::memory_order_relaxed) %
                                static_cast<uint64_t>(total));
      size_t pick = 0;
      for (int acc = 0; pick < members.size(); ++pick) {
        acc += members[pick]->weight;
        if (p < acc) break;
      }
      std::rotate(members.begin(), members.begin() + static_cast<long>(pick), members.end());
      break;
    }
  }
}

bool PoolGroup::IsMemberFailure(const DbError& error, CallKind kind) const {
  switch (error.kind()) {
    case ErrorKind::kConnection:
    case ErrorKind::kPoolTimeout:
    case ErrorKind::kCircuitOpen:
    case ErrorKind::kPoolClosed:
      return true;
    case ErrorKind::kQueryTimeout:
      return !IsWrite(kind);  // a write that timed out may have run: never sent twice
    case ErrorKind::kQuery:
      // 25006: a standby (or a demoted primary) refused the write; the next member may be
      // the primary now.
      return IsWrite(kind) && error.sqlstate() == "25006" &&
             config_.strategy != GroupConfig::Strategy::kLoadBalanced;
    default:
      return false;
  }
}

void PoolGroup::OnSuccess(Member& member) {
  member.failures_in_row.store(0, std::memory_order_relaxed);
}

void PoolGroup::OnFailure(Member& member, const DbError& error) {
  member.failures.fetch_add(1, std::memory_order_relaxed);
  int in_row = member.failures_in_row.fetch_add(1, std::memory_order_relaxed) + 1;
  if (in_row >= config_.switch_threshold) Ban(member, error.message());
}

void PoolGroup::Ban(Member& member, const std::string& reason) {
  int64_t expected = 0;
  if (!member.banned_since_ns.compare_exchange_strong(expected, NowNs())) return;  // already
  member.bans.fetch_add(1, std::memory_order_relaxed);
  asio::post(runtime_.executor(), [id = id_, pool = member.pool->id(), reason] {
    Warn(id, "member '" + pool + "' banned: " + reason);
  });
}

void PoolGroup::Unban(Member& member) {
  member.failures_in_row.store(0, std::memory_order_relaxed);
  member.banned_since_ns.store(0, std::memory_order_release);
  asio::post(runtime_.executor(), [id = id_, pool = member.pool->id()] {
    Warn(id, "member '" + pool + "' is back (probe succeeded)");
  });
}

DbError PoolGroup::AllFailed(CallKind kind, const DbError& last, const std::string& member_id) const {
  std::string text = "every member failed (" + std::to_string(members_.size()) +
                     " pools); last, pool '" + member_id + "': " + last.message();
  if (config_.read_only_mode && IsWrite(kind)) {
    return DbError(ErrorKind::kReadOnlyMode, "read-only mode: the primary '" + member_id +
                                                 "' is down, so writes are refused: " +
                                                 last.message(),
                   last.sqlstate(), last.vendor_code(), id_);
  }
  return DbError(last.kind(), text, last.sqlstate(), last.vendor_code(), id_);
}

GroupStatus PoolGroup::Status() const {
  GroupStatus s;
  s.group_id = id_;
  s.strategy = GroupConfig::StrategyName(config_.strategy);
  if (config_.strategy == GroupConfig::Strategy::kLoadBalanced) {
    s.algorithm = GroupConfig::AlgorithmName(config_.algorithm);
  }
  s.read_only_mode = config_.read_only_mode;
  s.ban_time = config_.ban_time;
  const int64_t now = NowNs();
  size_t banned = 0;
  for (const auto& m : members_) {
    MemberStatus ms;
    ms.pool_id = m->pool->id();
    ms.role = config_.strategy == GroupConfig::Strategy::kLoadBalanced ? "member"
              : m->primary                                              ? "primary"
                                                                        : "backup";
    int64_t since = m->banned_since_ns.load(std::memory_order_acquire);
    ms.state = since != 0 ? "banned" : "up";
    if (since != 0) {
      ++banned;
      ms.seconds_banned = static_cast<double>(now - since) / 1e9;
    }
    ms.health = m->pool->Status().health;
    ms.calls = m->calls.load();
    ms.failures = m->failures.load();
    ms.bans = m->bans.load();
    ms.in_flight = m->in_flight.load();
    ms.weight = m->weight;
    s.members.push_back(std::move(ms));
  }
  bool primary_down = config_.read_only_mode && members_.front()->banned();
  s.state = banned == members_.size() ? "down" : (banned > 0 || primary_down) ? "degraded" : "ok";
  return s;
}

asio::awaitable<void> PoolGroup::ProberLoop(std::weak_ptr<PoolGroup> weak) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (true) {
    timer.expires_after(std::chrono::milliseconds(100));
    co_await timer.async_wait(asio::use_awaitable);
    auto self = weak.lock();
    if (!self || self->stopped_) co_return;
    const int64_t now = NowNs();
    const auto ban_ns = static_cast<int64_t>(self->config_.ban_time * 1e9);
    for (auto& m : self->members_) {
      int64_t since = m->banned_since_ns.load(std::memory_order_acquire);
      if (since == 0 || now - since < ban_ns || m->probing.exchange(true)) continue;
      asio::co_spawn(self->runtime_.executor(), Probe(self, m.get()), asio::detached);
    }
  }
}

asio::awaitable<void> PoolGroup::Probe(std::shared_ptr<PoolGroup> self, Member* member) {
  // Connect (or borrow) and ping: what a call needs. The pool's own acquire_timeout and
  // validation_timeout bound it; no caller waits for it.
  bool ok = false;
  auto& pool = member->pool;
  if (!pool->closed()) {
    try {
      Lease lease = co_await pool->Acquire(std::make_shared<CancelToken>());
      co_await detail::WithDeadline<void>(lease->Ping(), pool->config().validation_timeout,
                                          lease, pool->id());
      ok = true;
    } catch (const DbError&) {
    }
  }
  if (ok && !self->stopped_) {
    self->Unban(*member);
  } else {
    member->banned_since_ns.store(NowNs(), std::memory_order_release);  // wait ban_time again
  }
  member->probing.store(false);
}

}  // namespace dbpool
