// PoolGroup: several LocalPools behind one id (Failover, ActiveStandby, LoadBalanced).
// Chooses the members a call tries, in order; bans members that fail (or whose
// HealthMonitor says unreachable) and re-probes them in the background. Lock-free on the
// query path: member state is atomics, the member list is immutable.
#pragma once

#include <asio.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "core/local_pool.hpp"
#include "core/resilience/retry.hpp"
#include "dbpool/group_config.hpp"
#include "dbpool/pool_status.hpp"

namespace dbpool {

class PoolGroup : public std::enable_shared_from_this<PoolGroup> {
 public:
  struct Member {
    std::shared_ptr<LocalPool> pool;
    int weight = 1;
    bool primary = false;
    std::atomic<int> failures_in_row{0};
    std::atomic<int64_t> banned_since_ns{0};  ///< steady clock; 0 = up
    std::atomic<bool> probing{false};
    std::atomic<int> in_flight{0};
    std::atomic<int64_t> calls{0};
    std::atomic<int64_t> failures{0};
    std::atomic<int64_t> bans{0};
    bool banned() const { return banned_since_ns.load(std::memory_order_acquire) != 0; }
  };

  /// Counts a call running on a member (least_connections, status).
  class InFlight {
   public:
    explicit InFlight(Member& m) : m_(m) {
      m_.in_flight.fetch_add(1, std::memory_order_relaxed);
      m_.calls.fetch_add(1, std::memory_order_relaxed);
    }
    ~InFlight() { m_.in_flight.fetch_sub(1, std::memory_order_relaxed); }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;

   private:
    Member& m_;
  };

  /// `members` in config order; starts the background prober.
  static std::shared_ptr<PoolGroup> Create(std::string id, GroupConfig config,
                                           std::vector<std::shared_ptr<LocalPool>> members,
                                           Runtime& runtime);
  ~PoolGroup();

  const std::string& id() const { return id_; }
  const GroupConfig& config() const { return config_; }
  bool HasMember(const std::string& pool_id) const;

  /// The members a call of `kind` tries, in order: those not banned, ordered by the
  /// strategy; all of them when all are banned. A write of a read_only_mode group goes to
  /// the primary only, and fails at once (kReadOnlyMode) while the primary is banned.
  std::vector<Member*> Candidates(CallKind kind);

  /// Whether `error` from a member means the member is unavailable (try the next one, and
  /// count it towards a ban) rather than an answer to give the caller.
  bool IsMemberFailure(const DbError& error, CallKind kind) const;
  void OnSuccess(Member& member);
  void OnFailure(Member& member, const DbError& error);

  /// The error for a call that every candidate failed: the last member's error, renamed
  /// to the group (kReadOnlyMode for a write of a read_only_mode group).
  DbError AllFailed(CallKind kind, const DbError& last, const std::string& member_id) const;

  GroupStatus Status() const;
  /// Stops the prober (the group is being removed).
  void Stop();

 private:
  PoolGroup(std::string id, GroupConfig config, std::vector<std::shared_ptr<LocalPool>> members,
            Runtime& runtime);
  void Ban(Member& member, const std::string& reason);
  void Unban(Member& member);
  /// Orders the available members of a LoadBalanced group by its algorithm.
  void Balance(std::vector<Member*>& members);
  static asio::awaitable<void> ProberLoop(std::weak_ptr<PoolGroup> weak);
  static asio::awaitable<void> Probe(std::shared_ptr<PoolGroup> self, Member* member);

  const std::string id_;
  const GroupConfig config_;
  std::vector<std::unique_ptr<Member>> members_;  // fixed after construction
  Runtime& runtime_;
  std::atomic<uint64_t> next_{0};  // round_robin / weighted position
  std::atomic<bool> stopped_{false};
};

}  // namespace dbpool
