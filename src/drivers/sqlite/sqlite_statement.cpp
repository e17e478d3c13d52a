// Statement cache, parameter binding and statement splitting for the SQLite driver.
#include "drivers/sqlite/sqlite_statement.hpp"

#include <cctype>
#include <string_view>

#include "drivers/sqlite/sqlite_error.hpp"

namespace dbpool::sqlite {
namespace {

DbError QueryError(std::string message) {
  return DbError(ErrorKind::kQuery, std::move(message), "08P01");
}

void BindOne(sqlite3* db, sqlite3_stmt* stmt, int index, const Value& value) {
  int rc = SQLITE_OK;
  switch (value.index()) {
    case 0:
      rc = sqlite3_bind_null(stmt, index);
      break;
    case 1:
      rc = sqlite3_bind_int(stmt, index, std::get<bool>(value) ? 1 : 0);
      break;
    case 2:
      rc = sqlite3_bind_int64(stmt, index, std::get<int64_t>(value));
      break;
    case 3:
      rc = sqlite3_bind_double(stmt, index, std::get<double>(value));
      break;
    case 4: {
      const auto& text = std::get<std::string>(value);
      rc = sqlite3_bind_text64(stmt, index, text.data(), text.size(), SQLITE_STATIC,
                               SQLITE_UTF8);
      break;
    }
    case 5: {
      const auto& bytes = std::get<Bytes>(value).data;
      // A null pointer would bind NULL, not an empty blob.
      rc = bytes.empty() ? sqlite3_bind_zeroblob(stmt, index, 0)
                         : sqlite3_bind_blob64(stmt, index, bytes.data(), bytes.size(),
                                               SQLITE_STATIC);
      break;
    }
  }
  if (rc != SQLITE_OK) {
    throw MakeError(db, rc, "binding parameter " + std::to_string(index));
  }
}

// The index of the value named like `placeholder` (":id"), matched with or without the
// prefix; -1 when absent.
int FindName(const std::vector<std::string>& names, std::string_view placeholder) {
  std::string_view bare = placeholder.substr(1);
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == bare || names[i] == placeholder) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace

bool IsBlankSql(const char* p, const char* end) {
  while (p < end) {
    if (std::isspace(static_cast<unsigned char>(*p)) || *p == ';') {
      ++p;
    } else if (*p == '-' && p + 1 < end && p[1] == '-') {
      while (p < end && *p != '\n') ++p;
    } else if (*p == '/' && p + 1 < end && p[1] == '*') {
      p += 2;
      while (p + 1 < end && !(p[0] == '*' && p[1] == '/')) ++p;
      p = p + 1 < end ? p + 2 : end;  // an unterminated comment runs to the end (as SQLite)
    } else {
      return false;
    }
  }
  return true;
}

void BindParams(sqlite3* db, sqlite3_stmt* stmt, const Params& params) {
  const int count = sqlite3_bind_parameter_count(stmt);
  if (params.names.empty()) {
    if (static_cast<int>(params.values.size()) != count) {
      throw QueryError("the statement has " + std::to_string(count) + " parameter(s) but " +
                       std::to_string(params.values.size()) + " value(s) were given");
    }
    for (int i = 0; i < count; ++i) BindOne(db, stmt, i + 1, params.values[i]);
    return;
  }
  if (params.names.size() != params.values.size()) {
    throw QueryError("named parameters: " + std::to_string(params.names.size()) +
                     " name(s) for " + std::to_string(params.values.size()) + " value(s)");
  }
  std::vector<bool> used(params.values.size(), false);
  for (int i = 1; i <= count; ++i) {
    const char* name = sqlite3_bind_parameter_name(stmt, i);
    if (name == nullptr) {
      // `?` or an index skipped by `?NNN`: nothing a name can refer to.
      throw QueryError("parameter " + std::to_string(i) +
                       " is positional (?) but values were given by name");
    }
    int found = FindName(params.names, name);
    if (found < 0) throw QueryError(std::string("no value given for parameter ") + name);
    used[found] = true;
    BindOne(db, stmt, i, params.values[found]);
  }
  for (size_t i = 0; i < used.size(); ++i) {
    if (!used[i]) {
      // Most likely a typo; binding silently nothing would hide it.
      throw QueryError("parameter '" + params.names[i] + "' does not occur in the statement");
    }
  }
}

sqlite3_stmt* StatementCache::Find(const std::string& sql) {
  auto it = index_.find(sql);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

void StatementCache::Insert(const std::string& sql, sqlite3_stmt* stmt) {
  if (capacity_ == 0) {
    sqlite3_finalize(stmt);
    return;
  }
  if (lru_.size() >= capacity_) {
    sqlite3_finalize(lru_.back().second);
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
  lru_.emplace_front(sql, stmt);
  index_[sql] = lru_.begin();
}

void StatementCache::Clear() {
  for (auto& entry : lru_) sqlite3_finalize(entry.second);
  lru_.clear();
  index_.clear();
}

}  // namespace dbpool::sqlite
