// PoolManager: copy-on-write registry of LocalPools and the operations on them.
#include "dbpool/pool_manager.hpp"

#include "core/local_pool.hpp"
#include "core/operations.hpp"
#include "core/resilience/pool_group.hpp"
#include "dbpool/error.hpp"

#include <set>

namespace dbpool {

PoolManager::PoolManager(Runtime* runtime)
    : runtime_(runtime ? *runtime : Runtime::Global()),
      registry_(std::make_shared<const Registry>()),
      groups_(std::make_shared<const Groups>()) {}

PoolManager::~PoolManager() {
  auto groups = groups_.load();
  for (const auto& [id, group] : *groups) group->Stop();
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

void PoolManager::CreateGroup(std::string id, GroupConfig config) {
  if (closed_) throw DbError(ErrorKind::kPoolClosed, "the pool manager is closed", {}, 0, id);
  if (id.empty()) throw DbError(ErrorKind::kConfig, "pool_id: must not be empty");
  auto fail = [&id](const std::string& text) { throw DbError(ErrorKind::kConfig, text, {}, 0, id); };
  try {
    config.Validate();
  } catch (const DbError& e) {
    throw e.WithPool(id);
  }
  std::lock_guard lock(writer_mutex_);
  auto pools = registry_.load();
  auto groups = groups_.load();
  if (groups->count(id)) fail("pool_id: a pool group with this id already exists");
  if (pools->count(id) && config.members.front() != id) {
    fail("pool_id: a pool with this id already exists (a group may take the id of its first "
         "pool only)");
  }
  std::vector<std::shared_ptr<LocalPool>> members;
  for (size_t i = 0; i < config.members.size(); ++i) {
    const std::string& member = config.members[i];
    std::string field = "members[" + std::to_string(i) + "]";
    auto it = pools->find(member);
    if (it == pools->end()) {
      fail(field + ": no pool '" + member + "' (create the member pools first)");
    }
    if (groups->count(member) && member != id) {
      fail(field + ": '" + member + "' is a pool group; members must be pools");
    }
    members.push_back(it->second);
  }
  auto next = std::make_shared<Groups>(*groups);
  (*next)[id] = PoolGroup::Create(id, std::move(config), std::move(members), runtime_);
  groups_.store(std::move(next));
}

asio::awaitable<void> PoolManager::RemovePool(std::string id, double timeout) {
  std::shared_ptr<LocalPool> pool;
  {
    std::lock_guard lock(writer_mutex_);
    auto current = registry_.load();
    auto groups = groups_.load();
    auto group = groups->find(id);
    auto it = current->find(id);
    if (it == current->end() && group == groups->end()) {
      throw DbError(ErrorKind::kPoolNotFound, "no pool with this id", {}, 0, id);
    }
    for (const auto& [gid, g] : *groups) {
      if (gid != id && it != current->end() && g->HasMember(id)) {
        throw DbError(ErrorKind::kConfig,
                      "pool_id: this pool is a member of group '" + gid + "' (remove it first)",
                      {}, 0, id);
      }
    }
    if (group != groups->end()) {
      group->second->Stop();
      auto next = std::make_shared<Groups>(*groups);
      next->erase(id);
      groups_.store(std::move(next));
    }
    if (it != current->end()) {
      pool = it->second;
      auto next = std::make_shared<Registry>(*current);
      next->erase(id);
      registry_.store(std::move(next));
    }
  }
  if (pool) co_await pool->Close(timeout);
}

asio::awaitable<void> PoolManager::Close(double timeout) {
  std::shared_ptr<const Registry> old;
  {
    std::lock_guard lock(writer_mutex_);
    closed_ = true;
    old = registry_.exchange(std::make_shared<const Registry>());
    auto groups = groups_.exchange(std::make_shared<const Groups>());
    for (const auto& [id, group] : *groups) group->Stop();
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

std::shared_ptr<PoolGroup> PoolManager::FindGroup(const std::string& id) const {
  auto groups = groups_.load();
  auto it = groups->find(id);
  return it == groups->end() ? nullptr : it->second;
}

Target PoolManager::Resolve(const std::string& id) const {
  if (auto group = FindGroup(id)) return Target{nullptr, std::move(group)};
  return Target{Get(id), nullptr};
}

std::vector<std::string> PoolManager::ListPools() const {
  std::set<std::string> ids;
  // Both snapshots are held: a concurrent swap must not free a map mid-loop (a range-for
  // over *registry_.load() would drop the temporary shared_ptr before the loop runs).
  auto registry = registry_.load();
  for (const auto& [id, pool] : *registry) ids.insert(id);
  auto groups = groups_.load();
  for (const auto& [id, group] : *groups) ids.insert(id);
  return {ids.begin(), ids.end()};
}

PoolStatus PoolManager::Status(const std::string& id) const { return Get(id)->Status(); }

asio::awaitable<QueryResult> PoolManager::Query(std::string id, std::string sql, Params params,
                                                CancelTokenPtr cancel) {
  return RunQuery(Resolve(id), std::move(sql), std::move(params), std::move(cancel));
}

asio::awaitable<int64_t> PoolManager::Execute(std::string id, std::string sql, Params params,
                                              CancelTokenPtr cancel) {
  return RunExecute(Resolve(id), std::move(sql), std::move(params), std::move(cancel));
}

asio::awaitable<std::vector<QueryResult>> PoolManager::ExecuteBatch(
    std::string id, std::vector<std::string> sqls, CancelTokenPtr cancel) {
  std::vector<Statement> statements;
  statements.reserve(sqls.size());
  for (auto& sql : sqls) statements.push_back({std::move(sql), {}});
  return RunBatch(Resolve(id), std::move(statements), std::move(cancel));
}

asio::awaitable<std::vector<int64_t>> PoolManager::ExecuteTransaction(
    std::string id, std::vector<std::string> sqls, CancelTokenPtr cancel) {
  return RunTransaction(Resolve(id), std::move(sqls), std::move(cancel));
}

}  // namespace dbpool
