// SqliteDriver: option validation, the shared memdb database and its keeper connection.
#include "drivers/sqlite/sqlite_driver.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>

namespace dbpool::sqlite {
namespace {

constexpr const char* kMemoryDatabase = ":memory:";

std::string UniqueMemoryUri() {
  // The pid keeps names apart from another copy of this library in the process only in
  // theory; the counter keeps drivers (pools) of this process apart, which is what matters.
  static std::atomic<uint64_t> counter{0};
  return "file:/dbpool-mem-" + std::to_string(::getpid()) + "-" +
         std::to_string(counter.fetch_add(1)) + "?vfs=memdb";
}

DbError ConfigError(std::string message) {
  return DbError(ErrorKind::kConfig, std::move(message));
}

}  // namespace

SqliteDriver::SqliteDriver(Runtime& runtime)
    : runtime_(runtime), memory_uri_(UniqueMemoryUri()) {}

SqliteDriver::~SqliteDriver() {
  std::lock_guard lock(keeper_mutex_);
  if (keeper_ != nullptr) {
    // Like connections, closed on the blocking pool; the database is freed when the last
    // connection that still uses it closes.
    asio::post(runtime_.blocking_pool(), [db = keeper_] { sqlite3_close_v2(db); });
  }
}

OpenOptions SqliteDriver::ParseOptions(const ConnectionConfig& config) {
  OpenOptions options;
  options.memory = config.database == kMemoryDatabase;
  for (const auto& [key, value] : config.options) {
    if (key == "busy_timeout") {
      int ms = -1;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
      if (ec != std::errc() || ptr != value.data() + value.size() || ms < 0) {
        throw ConfigError("busy_timeout: expected a non-negative number of milliseconds, got '" +
                          value + "'");
      }
      options.busy_timeout_ms = ms;
    } else if (key == "journal_mode") {
      std::string mode = value;
      std::transform(mode.begin(), mode.end(), mode.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      // A fixed list: PRAGMA values cannot be bound, so only known words reach the SQL.
      static constexpr const char* kModes[] = {"delete", "truncate", "persist",
                                               "memory", "wal",      "off"};
      if (std::none_of(std::begin(kModes), std::end(kModes),
                       [&](const char* m) { return mode == m; })) {
        throw ConfigError("journal_mode: expected one of delete, truncate, persist, memory, "
                          "wal, off; got '" + value + "'");
      }
      options.journal_mode = mode;
    } else {
      throw ConfigError("unknown SQLite option '" + key +
                        "' (supported: busy_timeout, journal_mode)");
    }
  }
  return options;
}

void SqliteDriver::EnsureKeeper() {
  std::lock_guard lock(keeper_mutex_);
  if (keeper_ == nullptr) keeper_ = OpenHandle(memory_uri_, kMemoryDatabase);
}

asio::awaitable<std::unique_ptr<Connection>> SqliteDriver::Connect(ConnectionConfig config) {
  if (config.database.empty()) {
    throw ConfigError("database: SQLite needs a file path or ':memory:'");
  }
  OpenOptions options = ParseOptions(config);
  co_return co_await runtime_.RunBlocking([this, o = &options, db = &config.database]() -> std::unique_ptr<Connection> {
        if (!o->memory) return SqliteConnection::Open(runtime_, *db, *db, *o);
        EnsureKeeper();
        return SqliteConnection::Open(runtime_, memory_uri_, *db, *o);
      });
}

}  // namespace dbpool::sqlite
