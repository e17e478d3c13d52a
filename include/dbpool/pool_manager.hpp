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
#include "dbpool/pool_status.hpp"
#include "dbpool/result.hpp"
#include "dbpool/value.hpp"

namespace dbpool {

class LocalPool;
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
  /// Closes the pool (waiting up to `timeout` s for borrowed connections) and forgets it.
  asio::awaitable<void> RemovePool(std::string id, double timeout = 30.0);
  /// Closes every pool; later calls fail with kPoolClosed.
  asio::awaitable<void> Close(double timeout = 30.0);

  /// The pool named `id`; throws kPoolNotFound (or kPoolClosed after Close).
  std::shared_ptr<LocalPool> Get(const std::string& id) const;
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

  Runtime& runtime_;
  // Readers (every query) load the current immutable snapshot; writers (create/remove)
  // copy it under writer_mutex_ and publish a new one.
  std::atomic<std::shared_ptr<const Registry>> registry_;
  std::mutex writer_mutex_;
  std::atomic<bool> closed_{false};
};

}  // namespace dbpool
