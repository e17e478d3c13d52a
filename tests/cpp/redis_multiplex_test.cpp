// Multiplexing on one Redis connection: FIFO reply matching (ReplyQueue, no server), then
// concurrent calls on one real connection: each caller gets its own reply, an error reply
// fails only its command, a cancelled call's reply is dropped without disturbing the others.
#include <unistd.h>

#include <chrono>
#include <future>
#include <thread>

#include "drivers/redis/redis_commands.hpp"
#include "drivers/redis/redis_pipeline.hpp"
#include "redis_test_util.hpp"

namespace dbpool::redis::testing {
namespace {

Reply Text(const std::string& text) {
  Reply reply;
  reply.type = ReplyType::kBulkString;
  reply.str = text;
  return reply;
}

class ReplyQueueTest : public ::testing::Test {
 protected:
  std::shared_ptr<PendingCall> NewCall(size_t count) {
    return std::make_shared<PendingCall>(io_.get_executor(), count);
  }
  asio::io_context io_;
};

TEST_F(ReplyQueueTest, RepliesGoToCallsInTheOrderTheyWereQueued) {
  ReplyQueue queue;
  auto one = NewCall(1), batch = NewCall(3), last = NewCall(1);
  queue.Push(one);
  queue.Push(batch);
  queue.Push(last);
  EXPECT_EQ(queue.Deliver(Text("a")), one);
  EXPECT_EQ(queue.Deliver(Text("b")), nullptr);  // the batch waits for all three
  EXPECT_EQ(queue.Deliver(Text("c")), nullptr);
  EXPECT_EQ(queue.Deliver(Text("d")), batch);
  EXPECT_EQ(queue.Deliver(Text("e")), last);
  EXPECT_TRUE(queue.empty());
  EXPECT_TRUE(one->done && batch->done && last->done);
  EXPECT_EQ(one->replies[0].str, "a");
  ASSERT_EQ(batch->replies.size(), 3u);
  EXPECT_EQ(batch->replies[0].str, "b");
  EXPECT_EQ(batch->replies[2].str, "d");
  EXPECT_EQ(last->replies[0].str, "e");
}

TEST_F(ReplyQueueTest, AnAbandonedCallsRepliesAreDroppedAndTheNextCallStillMatches) {
  ReplyQueue queue;
  auto gone = NewCall(2), next = NewCall(1);
  queue.Push(gone);
  queue.Push(next);
  gone->abandoned = true;
  EXPECT_EQ(queue.Deliver(Text("x")), nullptr);
  EXPECT_EQ(queue.Deliver(Text("y")), gone);  // complete (the reader does not wake it)
  EXPECT_TRUE(gone->replies.empty());
  EXPECT_EQ(queue.Deliver(Text("z")), next);
  EXPECT_EQ(next->replies[0].str, "z");
}

TEST_F(ReplyQueueTest, AnUnexpectedReplyIsAProtocolErrorAndFailAllFailsEveryCall) {
  ReplyQueue queue;
  EXPECT_THROW(queue.Deliver(Text("stray")), ProtocolError);
  auto a = NewCall(1), b = NewCall(2);
  queue.Push(a);
  queue.Push(b);
  EXPECT_EQ(queue.Deliver(Text("a")), a);
  queue.Deliver(Text("half of b"));
  auto failed = queue.FailAll(DbError(ErrorKind::kConnection, "lost"));
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0], b);
  EXPECT_TRUE(b->done);
  ASSERT_TRUE(b->error.has_value());
  EXPECT_EQ(b->error->kind(), ErrorKind::kConnection);
  EXPECT_FALSE(a->error.has_value());
  EXPECT_TRUE(queue.empty());
}

TEST(MultiplexableCommands, BlockingTransactionalAndSessionCommandsRunAlone) {
  for (const char* text : {"GET k", "set k v", "INCR n", "EVAL 'return 1' 0", "XREAD STREAMS s 0",
                           "PING", "HGETALL h"}) {
    EXPECT_TRUE(IsMultiplexable(text, Params{})) << text;
  }
  for (const char* text : {"BLPOP k 0", "brpop k 1", "BLMOVE a b LEFT RIGHT 0", "BZPOPMIN z 0",
                           "XREAD BLOCK 0 STREAMS s $", "xreadgroup group g c block 10 streams s >",
                           "WAIT 1 0", "MULTI", "EXEC", "DISCARD", "WATCH k", "UNWATCH",
                           "CLIENT ID", "QUIT", "DEBUG SLEEP 1", "\"GET\" k"}) {
    // (A quoted name is split in full: "GET" is then multiplexable.)
    EXPECT_EQ(IsMultiplexable(text, Params{}), std::string(text) == "\"GET\" k") << text;
  }
  EXPECT_TRUE(IsMultiplexable("", Args({"GET", "k"})));
  EXPECT_FALSE(IsMultiplexable("", Args({"BLPOP", "k", "0"})));
  EXPECT_FALSE(IsMultiplexable("", Args({"XREAD", "block", "0", "STREAMS", "s", "$"})));
  EXPECT_FALSE(IsMultiplexable("", Params{}));      // cannot be built: runs alone, reports it
}

class RedisMultiplexTest : public RedisTest {
 protected:
  std::string Key(const std::string& name) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    // A run id keeps keys of earlier runs on the same server (INCR counts) out of the way.
    static const std::string run = std::to_string(::getpid()) + "." +
        std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
    return "cpptest:" + run + ":" + info->name() + ":" + name;
  }
  std::string GetText(const QueryResult& result) { return Strings(Column(result, 0))[0]; }
};

TEST_F(RedisMultiplexTest, ConcurrentCallsOnOneConnectionEachGetTheirOwnReply) {
  auto conn = Connect();
  constexpr int kCalls = 200;
  std::vector<std::future<QueryResult>> sets, gets;
  for (int i = 0; i < kCalls; ++i) {
    sets.push_back(asio::co_spawn(
        runtime_.executor(),
        conn->Query("", Args({"SET", Key(std::to_string(i)), "v" + std::to_string(i)}), nullptr),
        asio::use_future));
  }
  for (auto& f : sets) EXPECT_EQ(GetText(f.get()), "OK");
  for (int i = 0; i < kCalls; ++i) {
    gets.push_back(asio::co_spawn(runtime_.executor(),
                                  conn->Query("", Args({"GET", Key(std::to_string(i))}), nullptr),
                                  asio::use_future));
  }
  for (int i = 0; i < kCalls; ++i) EXPECT_EQ(GetText(gets[i].get()), "v" + std::to_string(i));
  EXPECT_FALSE(conn->IsBroken());
}

TEST_F(RedisMultiplexTest, AnErrorReplyFailsOnlyItsOwnCommand) {
  auto conn = Connect();
  const std::string list = Key("list");
  Execute(*conn, "", Args({"RPUSH", list, "a"}));
  std::vector<std::future<QueryResult>> calls;
  for (int i = 0; i < 30; ++i) {
    // Every third call is a WRONGTYPE error; the others must still get their replies.
    std::string key = i % 3 == 0 ? list : Key("s" + std::to_string(i));
    calls.push_back(asio::co_spawn(runtime_.executor(),
                                   conn->Query("", Args({"INCR", key}), nullptr), asio::use_future));
  }
  for (int i = 0; i < 30; ++i) {
    if (i % 3 == 0) {
      DbError e = Catch([&] { calls[i].get(); });
      EXPECT_EQ(e.kind(), ErrorKind::kQuery);
      EXPECT_NE(e.message().find("WRONGTYPE"), std::string::npos) << e.message();
    } else {
      EXPECT_EQ(At<int64_t>(Column(calls[i].get(), 0), 0), 1);
    }
  }
  EXPECT_FALSE(conn->IsBroken());
}

TEST_F(RedisMultiplexTest, CancellingOneCallDropsItsReplyAndKeepsTheConnection) {
  auto conn = Connect();
  auto admin = Connect();
  // A slow script holds the server, so the calls behind it are still owed when one of
  // them is cancelled.
  auto slow = asio::co_spawn(
      runtime_.executor(),
      conn->Query("EVAL \"local t=redis.call('TIME') local e=t[1]*1000000+t[2]+300000 "
                  "while true do local n=redis.call('TIME') if n[1]*1000000+n[2]>e then "
                  "break end end return 'slow'\" 0",
                  {}, nullptr),
      asio::use_future);
  // Spawned one after the other so they queue in this order (two I/O threads).
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto token = std::make_shared<CancelToken>();
  auto cancelled = asio::co_spawn(runtime_.executor(),
                                  conn->Query("", Args({"SET", Key("c"), "cancelled"}), token),
                                  asio::use_future);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto after = asio::co_spawn(runtime_.executor(), conn->Query("", Args({"ECHO", "after"}), nullptr),
                              asio::use_future);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  token->Cancel();
  DbError e = Catch([&] { cancelled.get(); });
  EXPECT_EQ(e.kind(), ErrorKind::kCancelled) << e.message();
  EXPECT_EQ(GetText(slow.get()), "slow");
  EXPECT_EQ(GetText(after.get()), "after");  // not "OK": the dropped reply was not its
  EXPECT_FALSE(conn->IsBroken());
  EXPECT_EQ(GetText(Query(*conn, "", Args({"ECHO", "still in sync"}))), "still in sync");
  // The cancelled SET had been sent: Redis ran it (a cancel cannot take it back).
  EXPECT_EQ(GetText(Query(*admin, "", Args({"GET", Key("c")}))), "cancelled");
}

TEST_F(RedisMultiplexTest, AKilledConnectionFailsEveryCallInFlight) {
  auto conn = Connect();
  auto admin = Connect();
  int64_t id = conn->ServerSessionId();
  if (id == 0) id = At<int64_t>(Column(Query(*conn, "CLIENT ID"), 0), 0);
  auto blocked = asio::co_spawn(runtime_.executor(),
                                conn->Query("", Args({"BLPOP", Key("never"), "0"}), nullptr),
                                asio::use_future);
  // Calls spawned together have no order among them: wait until the server has the BLPOP,
  // so the PINGs queue behind it instead of perhaps overtaking it.
  auto client_list = [&] { return GetText(Query(*admin, "", Args({"CLIENT", "LIST", "ID", std::to_string(id)}))); };
  for (int i = 0; i < 500 && client_list().find("cmd=blpop") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_NE(client_list().find("cmd=blpop"), std::string::npos) << client_list();
  std::vector<std::future<QueryResult>> behind;
  for (int i = 0; i < 10; ++i) {
    behind.push_back(asio::co_spawn(runtime_.executor(), conn->Query("PING", {}, nullptr),
                                    asio::use_future));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Execute(*admin, "", Args({"CLIENT", "KILL", "ID", std::to_string(id)}));
  EXPECT_EQ(Catch([&] { blocked.get(); }).kind(), ErrorKind::kConnection);
  for (auto& f : behind) EXPECT_EQ(Catch([&] { f.get(); }).kind(), ErrorKind::kConnection);
  EXPECT_TRUE(conn->IsBroken());
  EXPECT_EQ(Catch([&] { Query(*conn, "PING"); }).kind(), ErrorKind::kConnection);
}

}  // namespace
}  // namespace dbpool::redis::testing
