// LocalPool and PoolManager against real SQLite databases: sizing, FIFO waiting, timeouts,
// idle/lifetime maintenance, dirty returns, cancellation and closing.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <thread>

#include "core/local_pool.hpp"
#include "core/operations.hpp"
#include "dbpool/error.hpp"
#include "dbpool/pool_manager.hpp"

namespace dbpool {
namespace {

using namespace std::chrono_literals;

template <typename T>
T Await(Runtime& rt, asio::awaitable<T> work) {
  return asio::co_spawn(rt.executor(), std::move(work), asio::use_future).get();
}
inline void Await(Runtime& rt, asio::awaitable<void> work) {
  asio::co_spawn(rt.executor(), std::move(work), asio::use_future).get();
}

class PoolTest : public ::testing::Test {
 protected:
  std::shared_ptr<LocalPool> MakePool(const std::string& url, int min, int max,
                                      double acquire_timeout = 5) {
    PoolConfig config = PoolConfig::FromUrl(url);
    config.min_connections = min;
    config.max_connections = max;
    config.acquire_timeout = acquire_timeout;
    auto pool = LocalPool::Create("t", config, MakeDriver("sqlite", rt_), rt_);
    Await(rt_, pool->Open());
    return pool;
  }
  std::string FileUrl() {
    auto dir = std::filesystem::temp_directory_path() /
               ("dbpool-core-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return "sqlite://" + (dir / "t.db").string();
  }

  Runtime rt_{2, 4};
};

TEST_F(PoolTest, OpensMinAndGrowsToMax) {
  auto pool = MakePool("sqlite::memory:", 2, 3);
  EXPECT_EQ(pool->Status().size, 2);
  EXPECT_EQ(pool->Status().idle, 2);
  std::vector<Lease> leases;
  for (int i = 0; i < 3; ++i) leases.push_back(Await(rt_, pool->Acquire(nullptr)));
  auto s = pool->Status();
  EXPECT_EQ(s.size, 3);
  EXPECT_EQ(s.in_use, 3);
  EXPECT_EQ(s.idle, 0);
  leases.clear();
  EXPECT_EQ(pool->Status().idle, 3);
  Await(rt_, pool->Close(1));
}

TEST_F(PoolTest, TimeoutNamesPoolAndCounts) {
  auto pool = MakePool("sqlite::memory:", 1, 1, 0.2);
  Lease held = Await(rt_, pool->Acquire(nullptr));
  auto start = std::chrono::steady_clock::now();
  try {
    Await(rt_, pool->Acquire(nullptr));
    FAIL() << "expected a timeout";
  } catch (const DbError& e) {
    double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(e.kind(), ErrorKind::kPoolTimeout);
    EXPECT_GE(waited, 0.19);
    EXPECT_LT(waited, 0.6);
    std::string text = e.what();
    EXPECT_NE(text.find("pool 't'"), std::string::npos) << text;
    EXPECT_NE(text.find("size=1, idle=0, in_use=1, waiting=1"), std::string::npos) << text;
  }
  EXPECT_EQ(pool->Status().waiting, 0);
}

TEST_F(PoolTest, WaitersAreServedFirstComeFirstServed) {
  auto pool = MakePool("sqlite::memory:", 1, 1);
  Lease held = Await(rt_, pool->Acquire(nullptr));
  std::mutex mutex;
  std::vector<int> order;
  std::vector<std::future<void>> waiters;
  for (int i = 0; i < 8; ++i) {
    waiters.push_back(asio::co_spawn(
        rt_.executor(),
        [&, i]() -> asio::awaitable<void> {
          Lease lease = co_await pool->Acquire(nullptr);
          std::lock_guard lock(mutex);
          order.push_back(i);
        },
        asio::use_future));
    while (pool->Status().waiting < i + 1) std::this_thread::sleep_for(1ms);
  }
  held.Release();
  for (auto& w : waiters) w.get();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST_F(PoolTest, CancelWhileWaitingLeavesTheQueue) {
  auto pool = MakePool("sqlite::memory:", 1, 1);
  Lease held = Await(rt_, pool->Acquire(nullptr));
  auto token = std::make_shared<CancelToken>();
  auto waiting = asio::co_spawn(rt_.executor(), pool->Acquire(token), asio::use_future);
  while (pool->Status().waiting < 1) std::this_thread::sleep_for(1ms);
  token->Cancel();
  try {
    waiting.get();
    FAIL() << "expected cancellation";
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCancelled);
  }
  EXPECT_EQ(pool->Status().waiting, 0);
}

TEST_F(PoolTest, DirtyReturnIsRolledBack) {
  auto pool = MakePool(FileUrl(), 1, 1);
  Await(rt_, RunExecute(pool, "CREATE TABLE t (x INTEGER)", {}, nullptr));
  {
    Lease lease = Await(rt_, pool->Acquire(nullptr));
    Await(rt_, lease->Begin());
    Await(rt_, lease->Execute("INSERT INTO t VALUES (1)", {}, std::make_shared<CancelToken>()));
  }  // returned with the transaction open
  Lease next = Await(rt_, pool->Acquire(nullptr));
  EXPECT_FALSE(next->InTransaction());
  auto result = Await(rt_, next->Query("SELECT count(*) FROM t", {}, std::make_shared<CancelToken>()));
  ASSERT_EQ(result.batches.size(), 1u);
  auto* counts = static_cast<const int64_t*>(result.batches[0].array().children[0]->buffers[1]);
  EXPECT_EQ(counts[0], 0);
}

TEST_F(PoolTest, IdleConnectionsAboveMinAreClosed) {
  PoolConfig config = PoolConfig::FromUrl("sqlite::memory:");
  config.min_connections = 1;
  config.max_connections = 4;
  config.idle_timeout = 0.3;
  auto pool = LocalPool::Create("idle", config, MakeDriver("sqlite", rt_), rt_);
  Await(rt_, pool->Open());
  {
    std::vector<Lease> leases;
    for (int i = 0; i < 4; ++i) leases.push_back(Await(rt_, pool->Acquire(nullptr)));
  }
  EXPECT_EQ(pool->Status().size, 4);
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(pool->Status().size, 1);
}

TEST_F(PoolTest, MaxLifetimeRetiresAndRefills) {
  PoolConfig config = PoolConfig::FromUrl("sqlite::memory:");
  config.min_connections = 2;
  config.max_connections = 2;
  config.max_lifetime = 0.4;
  auto pool = LocalPool::Create("life", config, MakeDriver("sqlite", rt_), rt_);
  Await(rt_, pool->Open());
  EXPECT_EQ(pool->Status().connections_opened, 2);
  std::this_thread::sleep_for(1500ms);
  auto s = pool->Status();
  EXPECT_EQ(s.size, 2);                     // refilled to min
  EXPECT_GE(s.connections_closed, 2);       // the first two were retired
  EXPECT_EQ(s.connections_opened, s.connections_closed + 2);
}

TEST_F(PoolTest, CloseWakesWaitersAndRejectsNewCalls) {
  auto pool = MakePool("sqlite::memory:", 1, 1);
  Lease held = Await(rt_, pool->Acquire(nullptr));
  auto waiting = asio::co_spawn(rt_.executor(), pool->Acquire(nullptr), asio::use_future);
  while (pool->Status().waiting < 1) std::this_thread::sleep_for(1ms);
  auto closing = asio::co_spawn(rt_.executor(), pool->Close(5), asio::use_future);
  try {
    waiting.get();
    FAIL() << "expected PoolClosed";
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kPoolClosed);
  }
  held.Release();
  closing.get();
  EXPECT_EQ(pool->Status().size, 0);
}

TEST(PoolManagerTest, RegistryAndErrors) {
  Runtime rt(1, 2);
  PoolManager manager(&rt);
  Await(rt, manager.CreatePool("a", PoolConfig::FromUrl("sqlite::memory:")));
  EXPECT_EQ(manager.ListPools(), std::vector<std::string>{"a"});
  try {
    manager.Get("b");
    FAIL();
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kPoolNotFound);
    EXPECT_NE(std::string(e.what()).find("known pools: a"), std::string::npos) << e.what();
  }
  try {
    Await(rt, manager.CreatePool("a", PoolConfig::FromUrl("sqlite::memory:")));
    FAIL();
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kConfig);
  }
  auto result = Await(rt, manager.Query("a", "SELECT 41 + 1 AS x"));
  EXPECT_EQ(result.num_rows(), 1);
  Await(rt, manager.Close(1));
  try {
    manager.Get("a");
    FAIL();
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kPoolClosed);
  }
}

}  // namespace
}  // namespace dbpool
