// Connection-level tests: the shared in-memory database, file databases in WAL mode,
// options, lock conflicts, broken handles and cancellation.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "sqlite_test_util.hpp"

namespace dbpool::sqlite::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

class SqliteConnectionTest : public SqliteFixture {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "dbpool-sqlite-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    // Connections close on the blocking pool after their destructor, and closing the last
    // WAL handle deletes -wal/-shm files: retry while those disappear under our feet.
    for (int attempt = 0; attempt < 50; ++attempt) {
      std::error_code error;
      fs::remove_all(dir_, error);
      if (!error) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  int64_t Count(Connection& c, const std::string& table) {
    return At<int64_t>(Column(Query(c, "SELECT count(*) FROM " + table), 0), 0);
  }
  std::string Text(Connection& c, const std::string& sql) {
    QueryResult r = Query(c, sql);
    const ArrowArray& a = Column(r, 0);
    return Format(r, 0) == "U" ? StringValue(a, 0) : std::to_string(At<int64_t>(a, 0));
  }

  fs::path dir_;
};

TEST_F(SqliteConnectionTest, MemoryDatabaseIsSharedByTheDriversConnections) {
  auto a = Connect(":memory:");
  auto b = Connect(":memory:");
  Execute(*a, "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)");
  EXPECT_EQ(Count(*b, "t"), 1);
  // Another driver (another pool) has its own database.
  SqliteDriver other(runtime_);
  ConnectionConfig config;
  config.database = ":memory:";
  auto c = Run(other.Connect(config));
  EXPECT_EQ(Catch([&] { Count(*c, "t"); }).sqlstate(), "42P01");
  EXPECT_NE(other.memory_uri(), driver_.memory_uri());
  // The keeper holds the data while the pool has no connection.
  a.reset();
  b.reset();
  auto d = Connect(":memory:");
  EXPECT_EQ(Count(*d, "t"), 1);
  EXPECT_EQ(Text(*d, "PRAGMA journal_mode"), "memory");
}

// 100 explicit transactions of two rows plus 100 autocommit rows.
Params Ints(int64_t a, int64_t b) {
  Params p;
  p.values = {a, b};
  return p;
}

// (No brace lists in the coroutine: g++ 12 fails on initializer_list arrays there.)
asio::awaitable<void> Writer(Connection& c, int64_t who) {
  const std::string insert = "INSERT INTO t VALUES (?, ?)";
  for (int64_t i = 0; i < 100; ++i) {
    co_await c.Begin();
    co_await c.Execute(insert, Ints(who, i), nullptr);
    co_await c.Execute(insert, Ints(who, -i), nullptr);
    co_await c.Commit();
    co_await c.Execute(insert, Ints(who, 0), nullptr);
  }
}

TEST_F(SqliteConnectionTest, ConcurrentWritersWaitForTheLock) {
  auto a = Connect(":memory:");
  auto b = Connect(":memory:");
  Execute(*a, "CREATE TABLE t (who INTEGER, i INTEGER)");
  // Two blocking threads: the writers really run at the same time.
  auto fa = asio::co_spawn(runtime_.executor(), Writer(*a, 0), asio::use_future);
  auto fb = asio::co_spawn(runtime_.executor(), Writer(*b, 1), asio::use_future);
  fa.get();
  fb.get();
  EXPECT_EQ(Count(*a, "t"), 600);
}

TEST_F(SqliteConnectionTest, FileDatabaseUsesWal) {
  const std::string path = (dir_ / "test.db").string();
  auto a = Connect(path);
  auto b = Connect(path, {{"busy_timeout", "1234"}});
  EXPECT_EQ(Text(*a, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(Text(*a, "PRAGMA synchronous"), "1");  // NORMAL
  EXPECT_EQ(Text(*a, "PRAGMA foreign_keys"), "1");
  EXPECT_EQ(Text(*a, "PRAGMA busy_timeout"), "5000");
  EXPECT_EQ(Text(*b, "PRAGMA busy_timeout"), "1234");
  Execute(*a, "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)");
  // WAL: a reader is not blocked by an open write transaction and sees the last commit.
  Run(a->Begin());
  Execute(*a, "INSERT INTO t VALUES (2)");
  EXPECT_EQ(Count(*b, "t"), 1);
  Run(a->Commit());
  EXPECT_EQ(Count(*b, "t"), 2);
  EXPECT_TRUE(fs::exists(path + "-wal"));

  auto c = Connect((dir_ / "rollback.db").string(), {{"journal_mode", "DELETE"}});
  EXPECT_EQ(Text(*c, "PRAGMA journal_mode"), "delete");
  EXPECT_EQ(Text(*c, "PRAGMA synchronous"), "2");  // FULL outside WAL
}

TEST_F(SqliteConnectionTest, LockConflictIs55P03) {
  const std::string path = (dir_ / "busy.db").string();
  auto a = Connect(path);
  auto b = Connect(path, {{"busy_timeout", "0"}});
  Run(a->Begin());
  DbError e = Catch([&] { Run(b->Begin()); });
  EXPECT_EQ(e.kind(), ErrorKind::kQuery);
  EXPECT_EQ(e.sqlstate(), "55P03");
  EXPECT_EQ(e.vendor_code() & 0xff, SQLITE_BUSY);
  EXPECT_FALSE(b->InTransaction());
  Run(a->Rollback());
  Run(b->Begin());
  Run(b->Commit());
}

TEST_F(SqliteConnectionTest, BadConfigurationAndPaths) {
  DbError e = Catch([&] { Connect(":memory:", {{"cache_size", "10"}}); });
  EXPECT_EQ(e.kind(), ErrorKind::kConfig);
  EXPECT_NE(e.message().find("cache_size"), std::string::npos) << e.what();
  e = Catch([&] { Connect(":memory:", {{"busy_timeout", "soon"}}); });
  EXPECT_EQ(e.kind(), ErrorKind::kConfig);
  EXPECT_NE(e.message().find("busy_timeout"), std::string::npos) << e.what();
  e = Catch([&] { Connect(":memory:", {{"journal_mode", "wal; DROP TABLE x"}}); });
  EXPECT_EQ(e.kind(), ErrorKind::kConfig);
  EXPECT_EQ(Catch([&] { Connect(""); }).kind(), ErrorKind::kConfig);

  const std::string missing = (dir_ / "no-such-dir" / "x.db").string();
  e = Catch([&] { Connect(missing); });
  EXPECT_EQ(e.kind(), ErrorKind::kConnection);
  EXPECT_NE(e.message().find(missing), std::string::npos) << e.what();

  const std::string garbage = (dir_ / "garbage.db").string();
  std::ofstream(garbage) << std::string(4096, 'g');
  e = Catch([&] { Connect(garbage); });
  EXPECT_EQ(e.kind(), ErrorKind::kConnection);
  EXPECT_NE(e.message().find(garbage), std::string::npos) << e.what();
}

TEST_F(SqliteConnectionTest, DamagedFileMarksTheConnectionBroken) {
  const std::string path = (dir_ / "damaged.db").string();
  auto a = Connect(path, {{"journal_mode", "delete"}});
  Execute(*a, "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)");
  EXPECT_FALSE(a->IsBroken());
  {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.write(std::string(100, 'g').data(), 100);  // overwrite the header
  }
  DbError e = Catch([&] { Count(*a, "t"); });
  EXPECT_EQ(e.kind(), ErrorKind::kConnection) << e.what();
  EXPECT_TRUE(a->IsBroken());
}

TEST_F(SqliteConnectionTest, CancelInterruptsALongQueryAndTheConnectionStaysUsable) {
  auto a = Connect(":memory:");
  auto token = std::make_shared<CancelToken>();
  Clock::time_point cancelled_at;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    cancelled_at = Clock::now();
    token->Cancel();
  });
  DbError e = Catch([&] {
    Query(*a, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
              "SELECT count(*) FROM c",
          {}, token);
  });
  const auto ended_at = Clock::now();
  canceller.join();
  EXPECT_EQ(e.kind(), ErrorKind::kCancelled) << e.what();
  EXPECT_EQ(e.sqlstate(), "57014");
  EXPECT_LT(ended_at - cancelled_at, std::chrono::seconds(1));
  EXPECT_FALSE(a->IsBroken());
  EXPECT_EQ(At<int64_t>(Column(Query(*a, "SELECT 41 + 1"), 0), 0), 42);

  // A token cancelled before the call: nothing runs.
  Execute(*a, "CREATE TABLE t (x)");
  EXPECT_EQ(Catch([&] { Query(*a, "INSERT INTO t VALUES (1)", {}, token); }).kind(),
            ErrorKind::kCancelled);
  EXPECT_EQ(Count(*a, "t"), 0);
  // A fresh token after a cancelled one works normally.
  Query(*a, "INSERT INTO t VALUES (1)", {}, std::make_shared<CancelToken>());
  EXPECT_EQ(Count(*a, "t"), 1);
}

}  // namespace
}  // namespace dbpool::sqlite::testing
