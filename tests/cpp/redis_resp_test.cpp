// RESP parsing/encoding, command splitting, reply -> Arrow shapes and option parsing,
// without a server (wire bytes as a Redis 7 server sends them).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "drivers/redis/redis_connection.hpp"
#include "drivers/redis/redis_error.hpp"
#include "drivers/redis/redis_reply_to_arrow.hpp"
#include "drivers/redis/resp.hpp"
#include "redis_test_util.hpp"

namespace dbpool::redis::testing {
namespace {

// Parses every reply in `wire`, feeding it `chunk` bytes at a time (0: all at once).
std::vector<Reply> ParseAll(const std::string& wire, size_t chunk = 0) {
  RespParser parser;
  std::vector<Reply> replies;
  std::string pending;
  size_t fed = 0;
  while (fed < wire.size() || !pending.empty()) {
    size_t n = chunk == 0 ? wire.size() - fed : std::min(chunk, wire.size() - fed);
    pending.append(wire, fed, n);
    fed += n;
    for (;;) {
      bool done = false;
      size_t used = parser.Feed(pending.data(), pending.size(), &done);
      pending.erase(0, used);
      if (!done) break;
      replies.push_back(parser.Take());
    }
    if (fed == wire.size()) {
      EXPECT_TRUE(pending.empty()) << "unparsed bytes left: " << pending.size();
      break;
    }
  }
  return replies;
}

const std::string kWire =
    "+OK\r\n"
    "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    ":-42\r\n"
    "$5\r\nhe\r\no\r\n"
    "$-1\r\n"
    "*-1\r\n"
    "_\r\n"
    "*3\r\n$1\r\na\r\n*2\r\n:1\r\n:2\r\n*0\r\n"
    "%2\r\n+name\r\n$3\r\nbob\r\n+tags\r\n~1\r\n+x\r\n"
    ",1.5\r\n,inf\r\n,-inf\r\n"
    "#t\r\n#f\r\n"
    "(3492890328409238509324850943850943825024385\r\n"
    "=15\r\ntxt:Some string\r\n"
    "|1\r\n+ttl\r\n:3600\r\n$1\r\nv\r\n"           // an attribute, then the reply
    ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"  // a push
    "!9\r\nERR blob!\r\n";  // a RESP3 blob error

void CheckWire(const std::vector<Reply>& r) {
  ASSERT_EQ(r.size(), 19u);
  EXPECT_EQ(r[0].type, ReplyType::kSimpleString);
  EXPECT_EQ(r[0].str, "OK");
  EXPECT_EQ(r[1].type, ReplyType::kError);
  EXPECT_EQ(ErrorPrefix(r[1].str), "WRONGTYPE");
  EXPECT_EQ(r[2].integer, -42);
  EXPECT_EQ(r[3].type, ReplyType::kBulkString);
  EXPECT_EQ(r[3].str, "he\r\no");  // binary safe
  EXPECT_EQ(r[4].type, ReplyType::kNil);
  EXPECT_EQ(r[5].type, ReplyType::kNil);
  EXPECT_EQ(r[6].type, ReplyType::kNil);
  ASSERT_EQ(r[7].type, ReplyType::kArray);
  ASSERT_EQ(r[7].elements.size(), 3u);
  EXPECT_EQ(r[7].elements[0].str, "a");
  EXPECT_EQ(r[7].elements[1].elements[1].integer, 2);
  EXPECT_EQ(r[7].elements[2].type, ReplyType::kArray);
  EXPECT_TRUE(r[7].elements[2].elements.empty());
  ASSERT_EQ(r[8].type, ReplyType::kMap);
  ASSERT_EQ(r[8].elements.size(), 4u);
  EXPECT_EQ(r[8].elements[1].str, "bob");
  EXPECT_EQ(r[8].elements[3].type, ReplyType::kSet);
  EXPECT_DOUBLE_EQ(r[9].number, 1.5);
  EXPECT_TRUE(std::isinf(r[10].number) && r[10].number > 0);
  EXPECT_TRUE(std::isinf(r[11].number) && r[11].number < 0);
  EXPECT_EQ(r[12].integer, 1);
  EXPECT_EQ(r[13].integer, 0);
  EXPECT_EQ(r[14].type, ReplyType::kBigNumber);
  EXPECT_EQ(r[15].type, ReplyType::kVerbatim);
  EXPECT_EQ(r[15].str, "Some string");
  EXPECT_EQ(r[16].type, ReplyType::kBulkString);  // the attribute was dropped
  EXPECT_EQ(r[16].str, "v");
  EXPECT_EQ(r[17].type, ReplyType::kPush);
  EXPECT_EQ(r[18].type, ReplyType::kError);  // RESP3 blob error
  EXPECT_EQ(r[18].str, "ERR blob!");
}

TEST(RespParser, EveryTypeAtOnce) { CheckWire(ParseAll(kWire)); }

TEST(RespParser, EveryTypeByteByByte) {
  for (size_t chunk : {1, 2, 3, 7, 64}) {
    SCOPED_TRACE(chunk);
    CheckWire(ParseAll(kWire, chunk));
  }
}

TEST(RespParser, DeepAndWideAggregates) {
  std::string wire;
  for (int i = 0; i < 100; ++i) wire += "*1\r\n";
  wire += ":7\r\n";
  wire += "*100000\r\n";
  for (int i = 0; i < 100000; ++i) wire += "$1\r\nx\r\n";
  auto replies = ParseAll(wire, 4096);
  ASSERT_EQ(replies.size(), 2u);
  const Reply* r = &replies[0];
  for (int i = 0; i < 100; ++i) r = &r->elements.at(0);
  EXPECT_EQ(r->integer, 7);
  EXPECT_EQ(replies[1].elements.size(), 100000u);
}

TEST(RespParser, MalformedInputIsAProtocolError) {
  RespParser parser;
  bool done = false;
  std::string bad = "?what\r\n";
  EXPECT_THROW(parser.Feed(bad.data(), bad.size(), &done), ProtocolError);
  RespParser p2;
  std::string no_cr = ":1\n";
  EXPECT_THROW(p2.Feed(no_cr.data(), no_cr.size(), &done), ProtocolError);
  RespParser p3;
  std::string bad_len = "$abc\r\n";
  EXPECT_THROW(p3.Feed(bad_len.data(), bad_len.size(), &done), ProtocolError);
}

TEST(RespEncoder, CommandIsAnArrayOfBulkStrings) {
  std::string out;
  std::vector<std::string> args = {"SET", "k", std::string("\0v\r\n", 4)};
  AppendCommand(out, args);
  EXPECT_EQ(out, std::string("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\n\0v\r\n\r\n", 30));
}

TEST(SplitCommandLine, LikeRedisCli) {
  using V = std::vector<std::string>;
  EXPECT_EQ(SplitCommandLine("  SET   k  v "), (V{"SET", "k", "v"}));
  EXPECT_EQ(SplitCommandLine("SET k \"a b\\n\\x41\\\"\""), (V{"SET", "k", "a b\nA\""}));
  EXPECT_EQ(SplitCommandLine("SET k 'it\\'s \\n'"), (V{"SET", "k", "it's \\n"}));
  EXPECT_EQ(SplitCommandLine("SET k \"\""), (V{"SET", "k", ""}));
  EXPECT_EQ(SplitCommandLine("SET\tk\r\nv"), (V{"SET", "k", "v"}));
  EXPECT_EQ(SplitCommandLine(""), V{});
  EXPECT_THROW(SplitCommandLine("SET k \"open"), std::invalid_argument);
  EXPECT_THROW(SplitCommandLine("SET k 'open"), std::invalid_argument);
  EXPECT_THROW(SplitCommandLine("SET k \"a\"b"), std::invalid_argument);
}

TEST(BuildCommand, TextThenParameters) {
  Params params;
  params.values = {Value{std::string("x y")}, Value{Bytes{std::string("\0\xff", 2)}},
                   Value{int64_t{-5}}, Value{2.5}, Value{true}, Value{false}};
  auto args = BuildCommand("RPUSH 'my list'", params);
  std::vector<std::string> expected = {"RPUSH", "my list", "x y", std::string("\0\xff", 2),
                                       "-5",    "2.5",     "1",   "0"};
  EXPECT_EQ(args, expected);
}

TEST(BuildCommand, Errors) {
  Params null_arg = Args({"SET", "k"});
  null_arg.values.emplace_back(std::monostate{});
  DbError e = Catch([&] { BuildCommand("", null_arg); });
  EXPECT_EQ(e.kind(), ErrorKind::kDataConversion);
  EXPECT_NE(e.message().find("argument 2"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find("SET"), std::string::npos) << e.message();

  e = Catch([] { BuildCommand("", Params{}); });
  EXPECT_EQ(e.kind(), ErrorKind::kQuery);
  e = Catch([] { BuildCommand("GET \"k", Params{}); });
  EXPECT_EQ(e.kind(), ErrorKind::kQuery);
  for (const char* rejected : {"SELECT 1", "subscribe ch", "MONITOR", "CLIENT REPLY OFF",
                               "AUTH pw", "HELLO 2", "RESET"}) {
    e = Catch([&] { BuildCommand(rejected, Params{}); });
    EXPECT_EQ(e.kind(), ErrorKind::kQuery) << rejected;
    EXPECT_NE(e.message().find("not supported on pooled connections"), std::string::npos);
  }
  Params named = Args({"v"});
  named.names = {"x"};
  e = Catch([&] { BuildCommand("SET k", named); });
  EXPECT_EQ(e.kind(), ErrorKind::kQuery);
}

// ---- reply -> Arrow shapes ----

Reply Parse(const std::string& wire) {
  auto replies = ParseAll(wire);
  EXPECT_EQ(replies.size(), 1u);
  return replies.at(0);
}

QueryResult Convert(const std::string& wire, const std::string& command = "X",
                    bool decode = true) {
  std::vector<std::string> args = SplitCommandLine(command);
  return ReplyToResult(Parse(wire), DescribeCommand(args), decode);
}

TEST(ReplyToArrow, Scalars) {
  QueryResult r = Convert("$3\r\nabc\r\n", "GET k");
  ASSERT_EQ(r.schema.size(), 1u);
  EXPECT_EQ(r.schema[0].name, "value");
  EXPECT_EQ(r.schema[0].type.id, arrow::TypeId::kString);
  EXPECT_EQ(r.num_rows(), 1);
  EXPECT_EQ(StringValue(Column(r, 0), 0), "abc");
  EXPECT_TRUE(r.has_rows());

  r = Convert(":12\r\n", "INCR k");
  EXPECT_EQ(r.schema[0].type.id, arrow::TypeId::kInt64);
  EXPECT_EQ(At<int64_t>(Column(r, 0), 0), 12);

  r = Convert(",2.5\r\n", "ZSCORE z m");
  EXPECT_EQ(r.schema[0].type.id, arrow::TypeId::kFloat64);
  r = Convert("#t\r\n");
  EXPECT_EQ(r.schema[0].type.id, arrow::TypeId::kBoolean);
  EXPECT_TRUE(BoolValue(Column(r, 0), 0));

  r = Convert("_\r\n", "GET missing");
  EXPECT_EQ(r.schema[0].type.id, arrow::TypeId::kString);
  EXPECT_EQ(r.num_rows(), 1);
  EXPECT_TRUE(IsNull(Column(r, 0), 0));

  r = Convert("+OK\r\n", "SET k v", false);
  EXPECT_EQ(r.schema[0].type.id, arrow::TypeId::kBinary);
}

TEST(ReplyToArrow, ArraysAndSets) {
  QueryResult r = Convert("*3\r\n$1\r\na\r\n$-1\r\n$1\r\nc\r\n", "MGET a b c");
  EXPECT_EQ(r.schema[0].type.id, arrow::TypeId::kString);
  EXPECT_EQ(Strings(Column(r, 0)), (std::vector<std::string>{"a", "<null>", "c"}));

  r = Convert("*0\r\n", "LRANGE empty 0 -1");
  EXPECT_EQ(r.schema[0].type.id, arrow::TypeId::kString);
  EXPECT_EQ(r.num_rows(), 0);

  r = Convert("~2\r\n:1\r\n:2\r\n", "X");
  EXPECT_EQ(r.schema[0].type.id, arrow::TypeId::kInt64);
  EXPECT_EQ(r.num_rows(), 2);

  // Nested arrays: List of the element type (ZRANGE ... WITHSCORES under RESP3).
  r = Convert("*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,2\r\n", "ZRANGE z 0 -1 WITHSCORES");
  ASSERT_EQ(r.schema[0].type.id, arrow::TypeId::kList);
  EXPECT_EQ(r.schema[0].type.children[0].type.id, arrow::TypeId::kString);  // mixed inside
  const ArrowArray& list = Column(r, 0);
  EXPECT_EQ(ListRange(list, 1), (std::pair<int64_t, int64_t>{2, 4}));
  EXPECT_EQ(Strings(*list.children[0]), (std::vector<std::string>{"a", "1", "b", "2"}));

  r = Convert("*2\r\n*2\r\n:1\r\n:2\r\n*0\r\n");
  EXPECT_EQ(r.schema[0].type.children[0].type.id, arrow::TypeId::kInt64);
}

TEST(ReplyToArrow, MixedElementsBecomeText) {
  // SCAN: [cursor, [keys]]
  QueryResult r = Convert("*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$2\r\nb\"\r\n", "SCAN 0");
  EXPECT_EQ(r.schema[0].type.id, arrow::TypeId::kString);
  EXPECT_EQ(Metadata(r.schema[0], "dbpool.db_type"), "mixed");
  EXPECT_EQ(Strings(Column(r, 0)), (std::vector<std::string>{"0", "[\"a\",\"b\\\"\"]"}));
  r = Convert("*3\r\n+OK\r\n:5\r\n_\r\n", "EXEC");
  EXPECT_EQ(Strings(Column(r, 0)), (std::vector<std::string>{"OK", "5", "<null>"}));
}

TEST(ReplyToArrow, Maps) {
  QueryResult r = Convert("%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n", "HGETALL h");
  ASSERT_EQ(r.schema.size(), 2u);
  EXPECT_EQ(r.schema[0].name, "key");
  EXPECT_EQ(r.schema[1].name, "value");
  EXPECT_EQ(Strings(Column(r, 0)), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(Strings(Column(r, 1)), (std::vector<std::string>{"1", "2"}));

  // RESP2 HGETALL / CONFIG GET: a flat array, recognised by the command name.
  r = Convert("*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n", "hgetall h");
  ASSERT_EQ(r.schema.size(), 2u);
  EXPECT_EQ(Strings(Column(r, 1)), (std::vector<std::string>{"1", "2"}));
  r = Convert("*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n", "CONFIG GET maxmemory");
  ASSERT_EQ(r.schema.size(), 2u);
  r = Convert("*2\r\n$1\r\na\r\n$1\r\n1\r\n", "LRANGE l 0 -1");
  EXPECT_EQ(r.schema.size(), 1u);

  // A map inside a map: List<Struct<key, value>>.
  r = Convert("%1\r\n+m\r\n%1\r\n+x\r\n:1\r\n");
  ASSERT_EQ(r.schema[1].type.id, arrow::TypeId::kList);
  EXPECT_EQ(r.schema[1].type.children[0].type.id, arrow::TypeId::kStruct);
}

TEST(ReplyToArrow, InvalidUtf8IsAnErrorUnlessBinary) {
  DbError e = Catch([] { Convert("$2\r\n\xff\xfe\r\n", "GET k"); });
  EXPECT_EQ(e.kind(), ErrorKind::kDataConversion);
  EXPECT_NE(e.message().find("GET"), std::string::npos);
  EXPECT_NE(e.message().find("decode_responses=false"), std::string::npos);
  QueryResult r = Convert("$2\r\n\xff\xfe\r\n", "GET k", false);
  EXPECT_EQ(r.schema[0].type.id, arrow::TypeId::kBinary);
  EXPECT_EQ(StringValue(Column(r, 0), 0), "\xff\xfe");
}

TEST(ReplyToArrow, RowsAffected) {
  EXPECT_EQ(ReplyToRowsAffected(Parse(":3\r\n")), 3);
  EXPECT_EQ(ReplyToRowsAffected(Parse("+OK\r\n")), 1);
  EXPECT_EQ(ReplyToRowsAffected(Parse("+QUEUED\r\n")), 0);
  EXPECT_EQ(ReplyToRowsAffected(Parse("_\r\n")), 0);
  EXPECT_EQ(ReplyToRowsAffected(Parse("*2\r\n:1\r\n:1\r\n")), 2);
  EXPECT_EQ(ReplyToRowsAffected(Parse("%1\r\n:1\r\n:1\r\n")), 1);
  EXPECT_EQ(ReplyToRowsAffected(Parse("$1\r\nx\r\n")), 1);
}

TEST(ReplyErrors, NestedErrorsAreFound) {
  DbError e = Catch([] { ThrowIfError(Parse("-ERR bad\r\n"), "GET"); });
  EXPECT_EQ(e.kind(), ErrorKind::kQuery);
  EXPECT_EQ(e.message(), "GET: ERR bad");
  EXPECT_TRUE(e.sqlstate().empty());
  e = Catch([] { ThrowIfError(Parse("*2\r\n+OK\r\n-WRONGTYPE x\r\n"), "EXEC"); });
  EXPECT_NE(e.message().find("element 1"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find("WRONGTYPE x"), std::string::npos);
}

// ---- options ----

TEST(RedisOptions, FromUrl) {
  RedisOptions o = RedisOptions::From(PoolConfig::FromUrl("redis://u:p%40ss@h/3").connection);
  EXPECT_EQ(o.host, "h");
  EXPECT_EQ(o.port, 6379);
  EXPECT_EQ(o.database, 3);
  EXPECT_EQ(o.username, "u");
  EXPECT_EQ(o.password, "p@ss");
  EXPECT_FALSE(o.tls.enabled);
  EXPECT_TRUE(o.decode_responses);

  o = RedisOptions::From(
      PoolConfig::FromUrl("rediss://h:7000?decode_responses=false&protocol=2&ssl_cert_reqs=none")
          .connection);
  EXPECT_TRUE(o.tls.enabled);
  EXPECT_FALSE(o.tls.verify_peer);
  EXPECT_EQ(o.port, 7000);
  EXPECT_EQ(o.database, 0);
  EXPECT_EQ(o.protocol, 2);
  EXPECT_FALSE(o.decode_responses);
  EXPECT_EQ(o.Endpoint(), "h:7000");

  for (const char* bad : {"redis://h/x", "redis://h/0?bogus=1", "redis://h/0?protocol=4",
                          "redis://h/0?decode_responses=maybe"}) {
    DbError e = Catch([&] { RedisOptions::From(PoolConfig::FromUrl(bad).connection); });
    EXPECT_EQ(e.kind(), ErrorKind::kConfig) << bad;
  }
}

}  // namespace
}  // namespace dbpool::redis::testing
