// RoutedCall: one call on a pool group. Tries the group's candidates in order; a member
// that is unavailable (lost connection, unreachable, breaker open, timed out read) counts
// towards its ban and the next member is tried; any other error is the caller's answer.
#pragma once

#include <asio.hpp>

#include <functional>
#include <memory>
#include <optional>

#include "core/resilience/pool_group.hpp"

namespace dbpool {

/// `run(pool)` is the whole call on one member pool (with that pool's own retry and
/// breaker). A write whose outcome is unknown (kUnknownOutcome) is never sent elsewhere.
template <typename T>
asio::awaitable<T> RoutedCall(std::shared_ptr<PoolGroup> group, CallKind kind,
                              CancelTokenPtr cancel,
                              std::function<asio::awaitable<T>(std::shared_ptr<LocalPool>)> run) {
  std::vector<PoolGroup::Member*> candidates = group->Candidates(kind);  // may throw
  std::optional<DbError> last;
  std::string last_member;
  for (PoolGroup::Member* member : candidates) {
    std::optional<DbError> failure;
    {
      PoolGroup::InFlight counted(*member);
      try {
        T result = co_await run(member->pool);
        group->OnSuccess(*member);
        co_return result;
      } catch (const DbError& e) {
        failure = e;
      }
    }
    if (!group->IsMemberFailure(*failure, kind)) throw *failure;
    group->OnFailure(*member, *failure);
    last = std::move(failure);
    last_member = member->pool->id();
    if (cancel && cancel->cancelled()) break;
  }
  throw group->AllFailed(kind, *last, last_member);
}

}  // namespace dbpool
