// PoolManager: the C++ entry point. A registry of independent pools (ADR-002: no global
// lock on the query path) and the operations callers run on them, as Asio awaitables.
#pragma once

#include <asio.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dbpool/config.hpp"
#include "dbpool/group_config.hpp"
#include "dbpool/pool_status.hpp"
#include "dbpool/result.hpp"
#include "dbpool/value.hpp"

namespace dbpool {

class LocalPool;
class PoolGroup;
struct Target;
class Runtime;
class CancelToken;
using CancelTokenPtr = std::shared_ptr<CancelToken>;

class PoolManager {
 public:
  /// Uses the process-wide runtime (Runtime::Global()) unless one is given.
  explicit PoolManager(Runtime* runtime = nullptr);
  ~PoolManager();
  PoolManager(const PoolManager&) = delete;
  PoolManager& operator=(const PoolManager&) = delete;

  /// Validates `config`, opens min_connections and registers the pool. Throws kConfig for
  /// an invalid config or a duplicate id, kConnection if the database can't be reached.
  asio::awaitable<void> CreatePool(std::string id, PoolConfig config);
  /// Registers a pool group over existing pools (GroupConfig::members). `id` may be the id
  /// of its first member (Failover on a pool: that id then routes over the group). Throws
  /// kConfig for an invalid config, an unknown or grouped member, or a taken id.
  void CreateGroup(std::string id, GroupConfig config);
  /// Closes the pool (waiting up to `timeout` s for borrowed connections) and forgets it;
  /// a group id removes the group (and its pool when the group was made on it). A pool in
  /// another group cannot be removed before that group (kConfig).
  asio::awaitable<void> RemovePool(std::string id, double timeout = 30.0);
  /// Closes every pool; later calls fail with kPoolClosed.
  asio::awaitable<void> Close(double timeout = 30.0);

  /// The pool named `id`; throws kPoolNotFound (or kPoolClosed after Close).
  std::shared_ptr<LocalPool> Get(const std::string& id) const;
  /// What `id` names for a call: its group if it has one, else the pool.
  Target Resolve(const std::string& id) const;
  /// The group named `id`, or nullptr.
  std::shared_ptr<PoolGroup> FindGroup(const std::string& id) const;
  /// Pool ids and group ids, sorted.
  std::vector<std::string> ListPools() const;
  PoolStatus Status(const std::string& id) const;
  Runtime& runtime() { return runtime_; }

  asio::awaitable<QueryResult> Query(std::string id, std::string sql, Params params = {},
                                     CancelTokenPtr cancel = nullptr);
  asio::awaitable<int64_t> Execute(std::string id, std::string sql, Params params = {},
                                   CancelTokenPtr cancel = nullptr);
  asio::awaitable<std::vector<QueryResult>> ExecuteBatch(std::string id,
                                                         std::vector<std::string> sqls,
                                                         CancelTokenPtr cancel = nullptr);
  asio::awaitable<std::vector<int64_t>> ExecuteTransaction(std::string id,
                                                           std::vector<std::string> sqls,
                                                           CancelTokenPtr cancel = nullptr);

 private:
  using Registry = std::map<std::string, std::shared_ptr<LocalPool>>;
  using Groups = std::map<std::string, std::shared_ptr<PoolGroup>>;

  Runtime& runtime_;
  // Readers (every query) load the current immutable snapshot; writers (create/remove)
  // copy it under writer_mutex_ and publish a new one.
  std::atomic<std::shared_ptr<const Registry>> registry_;
  std::atomic<std::shared_ptr<const Groups>> groups_;  // the same scheme
  std::mutex writer_mutex_;
  std::atomic<bool> closed_{false};
};

}  // namespace dbpool
