// StatementCache: LRU list + index.
#include "drivers/postgresql/pg_statement_cache.hpp"

#include <cstdio>
#include <cstring>
#include <random>

namespace dbpool::pg {

StatementCache::StatementCache(size_t capacity) : capacity_(capacity) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char prefix[32];
  std::snprintf(prefix, sizeof(prefix), "dbpool_%016llx_",
                static_cast<unsigned long long>(rng()));
  prefix_ = prefix;
}

std::string StatementCache::Key(std::string_view sql, const unsigned int* types, int count) {
  std::string key;
  key.reserve(sql.size() + 1 + sizeof(unsigned int) * static_cast<size_t>(count));
  key.append(sql);
  key.push_back('\0');  // the SQL text cannot hold a NUL, so the split is unambiguous
  if (count > 0) {
    key.append(reinterpret_cast<const char*>(types), sizeof(unsigned int) * static_cast<size_t>(count));
  }
  return key;
}

StatementCache::Entry* StatementCache::Find(const std::string& key) {
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  if (it->second != lru_.begin()) lru_.splice(lru_.begin(), lru_, it->second);
  return &it->second->second;
}

StatementCache::Entry& StatementCache::Add(const std::string& key,
                                           std::vector<std::string>* evicted) {
  if (Entry* existing = Find(key)) return *existing;
  while (!lru_.empty() && lru_.size() >= capacity_) {
    auto& victim = lru_.back();
    evicted->push_back(std::move(victim.second.name));
    index_.erase(victim.first);
    lru_.pop_back();
  }
  lru_.emplace_front(key, Entry{});
  Entry& entry = lru_.front().second;
  // Lower-case letters, digits and '_' only: the name is spliced into DEALLOCATE without
  // quoting (and stays far below NAMEDATALEN).
  entry.name = prefix_ + std::to_string(next_id_++);
  index_.emplace(std::string_view(lru_.front().first), lru_.begin());
  return entry;
}

void StatementCache::Erase(const std::string& key, std::vector<std::string>* evicted) {
  auto it = index_.find(key);
  if (it == index_.end()) return;
  List::iterator node = it->second;
  index_.erase(it);
  if (evicted != nullptr) evicted->push_back(std::move(node->second.name));
  lru_.erase(node);
}

}  // namespace dbpool::pg
