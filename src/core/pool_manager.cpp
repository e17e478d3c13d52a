// PoolManager: copy-on-write registry of LocalPools and the operations on them.
#include "dbpool/pool_manager.hpp"

#include "core/local_pool.hpp"
#include "core/operations.hpp"
#include "dbpool/error.hpp"

namespace dbpool {

PoolManager::PoolManager(Runtime* runtime)
    : runtime_(runtime ? *runtime : Runtime::Global()),
      registry_(std::make_shared<const Registry>()) {}

PoolManager::~PoolManager() {
  // Pools still registered are closed without waiting: their connections close as the
  // last lease goes away.
  auto registry = registry_.load();
  for (const auto& [id, pool] : *registry) {
    asio::co_spawn(runtime_.executor(), pool->Close(0.0), asio::detached);
  }
}

asio::awaitable<void> PoolManager::CreatePool(std::string id, PoolConfig config) {
  if (closed_) throw DbError(ErrorKind::kPoolClosed, "the pool manager is closed", {}, 0, id);
  if (id.empty()) throw DbError(ErrorKind::kConfig, "pool_id: must not be empty");
  try {
    config.Validate();
  } catch (const DbError& e) {
    throw e.WithPool(id);
  }
  auto driver = MakeDriver(config.connection.db_type, runtime_);
  driver->set_warning_source(id);
  {
    auto current = registry_.load();
    if (current->count(id)) {
      throw DbError(ErrorKind::kConfig, "pool_id: a pool with this id already exists", {}, 0, id);
    }
  }
  auto pool = LocalPool::Create(id, std::move(config), std::move(driver), runtime_);
  co_await pool->Open();
  bool duplicate = false;
  {
    std::lock_guard lock(writer_mutex_);
    auto current = registry_.load();
    if (current->count(id)) {
      duplicate = true;
    } else {
      auto next = std::make_shared<Registry>(*current);
      (*next)[id] = pool;
      registry_.store(std::move(next));
    }
  }
  if (duplicate) {
    co_await pool->Close(0.0);
    throw DbError(ErrorKind::kConfig, "pool_id: a pool with this id already exists", {}, 0, id);
  }
}

asio::awaitable<void> PoolManager::RemovePool(std::string id, double timeout) {
  std::shared_ptr<LocalPool> pool;
  {
    std::lock_guard lock(writer_mutex_);
    auto current = registry_.load();
    auto it = current->find(id);
    if (it == current->end()) throw DbError(ErrorKind::kPoolNotFound, "no pool with this id", {}, 0, id);
    pool = it->second;
    auto next = std::make_shared<Registry>(*current);
    next->erase(id);
    registry_.store(std::move(next));
  }
  co_await pool->Close(timeout);
}

asio::awaitable<void> PoolManager::Close(double timeout) {
  std::shared_ptr<const Registry> old;
  {
    std::lock_guard lock(writer_mutex_);
    closed_ = true;
    old = registry_.exchange(std::make_shared<const Registry>());
  }
  for (const auto& [id, pool] : *old) co_await pool->Close(timeout);
}

std::shared_ptr<LocalPool> PoolManager::Get(const std::string& id) const {
  auto registry = registry_.load();
  auto it = registry->find(id);
  if (it != registry->end()) return it->second;
  if (closed_) throw DbError(ErrorKind::kPoolClosed, "the pool manager is closed", {}, 0, id);
  std::string known;
  for (const auto& [name, pool] : *registry) known += (known.empty() ? "" : ", ") + name;
  throw DbError(ErrorKind::kPoolNotFound,
                "no pool with this id (known pools: " + (known.empty() ? "none" : known) + ")",
                {}, 0, id);
}

std::vector<std::string> PoolManager::ListPools() const {
  std::vector<std::string> ids;
  for (const auto& [id, pool] : *registry_.load()) ids.push_back(id);
  return ids;
}

PoolStatus PoolManager::Status(const std::string& id) const { return Get(id)->Status(); }

asio::awaitable<QueryResult> PoolManager::Query(std::string id, std::string sql, Params params,
                                                CancelTokenPtr cancel) {
  return RunQuery(Get(id), std::move(sql), std::move(params), std::move(cancel));
}

asio::awaitable<int64_t> PoolManager::Execute(std::string id, std::string sql, Params params,
                                              CancelTokenPtr cancel) {
  return RunExecute(Get(id), std::move(sql), std::move(params), std::move(cancel));
}

asio::awaitable<std::vector<QueryResult>> PoolManager::ExecuteBatch(
    std::string id, std::vector<std::string> sqls, CancelTokenPtr cancel) {
  std::vector<Statement> statements;
  statements.reserve(sqls.size());
  for (auto& sql : sqls) statements.push_back({std::move(sql), {}});
  return RunBatch(Get(id), std::move(statements), std::move(cancel));
}

asio::awaitable<std::vector<int64_t>> PoolManager::ExecuteTransaction(
    std::string id, std::vector<std::string> sqls, CancelTokenPtr cancel) {
  return RunTransaction(Get(id), std::move(sqls), std::move(cancel));
}

}  // namespace dbpool
