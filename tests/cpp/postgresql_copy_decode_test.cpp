// Without a server: binary COPY streams built by hand (as copyto.c writes them) through
// CopyDecoder, the COPY statement text helpers, and the statement cache's LRU.
#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "drivers/postgresql/pg_copy.hpp"
#include "drivers/postgresql/pg_statement_cache.hpp"
#include "drivers/postgresql/pg_types.hpp"

namespace dbpool::pg {
namespace {

void Put16(std::string* out, int v) {
  out->push_back(static_cast<char>((v >> 8) & 0xff));
  out->push_back(static_cast<char>(v & 0xff));
}
void Put32(std::string* out, int64_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>((v >> shift) & 0xff));
}

std::string Header(int extension = 0) {
  std::string out("PGCOPY\n\377\r\n\0", 11);
  Put32(&out, 0);
  Put32(&out, extension);
  out.append(static_cast<size_t>(extension), 'x');
  return out;
}

// One row of (int4, text); nullopt-like: empty `text` with `null_text`.
std::string Row(int32_t n, const std::string& text, bool null_text = false) {
  std::string out;
  Put16(&out, 2);
  Put32(&out, 4);
  Put32(&out, n);
  if (null_text) {
    Put32(&out, -1);
  } else {
    Put32(&out, static_cast<int64_t>(text.size()));
    out += text;
  }
  return out;
}

std::string Trailer() {
  std::string out;
  Put16(&out, -1);
  return out;
}

std::vector<ColumnPlan> IntAndText() {
  TypeRegistry types;
  std::vector<ColumnPlan> plans;
  plans.push_back(types.Plan("n", 23, -1));
  plans.push_back(types.Plan("t", 25, -1));
  return plans;
}

void Feed(CopyDecoder& decoder, const std::string& message) {
  decoder.Feed(message.data(), static_cast<int32_t>(message.size()));
}

int32_t IntAt(const RecordBatch& batch, int64_t i) {
  int32_t v;
  std::memcpy(&v, static_cast<const char*>(batch.array().children[0]->buffers[1]) + 4 * i, 4);
  return v;
}

TEST(PgCopyDecodeTest, RowsNullsAndBatches) {
  CopyDecoder decoder(IntAndText(), 2);
  Feed(decoder, Header(3) + Row(1, "one"));  // the header comes with the first row
  EXPECT_FALSE(decoder.batch_full());
  Feed(decoder, Row(2, "", true));
  ASSERT_TRUE(decoder.batch_full());
  RecordBatch first = decoder.TakeBatch();
  EXPECT_EQ(first.num_rows(), 2);
  EXPECT_EQ(IntAt(first, 1), 2);
  const ArrowArray& text = *first.array().children[1];
  EXPECT_EQ(text.null_count, 1);
  EXPECT_EQ(std::string(static_cast<const char*>(text.buffers[2]), 3), "one");
  Feed(decoder, Row(-3, "héllo"));
  Feed(decoder, Trailer());
  EXPECT_TRUE(decoder.ended());
  EXPECT_EQ(decoder.pending_rows(), 1);
  EXPECT_EQ(decoder.total_rows(), 3);
  RecordBatch last = decoder.TakeBatch();
  EXPECT_EQ(IntAt(last, 0), -3);
  EXPECT_EQ(last.array().children[1]->null_count, 0);
}

TEST(PgCopyDecodeTest, EmptyResultIsHeaderAndTrailer) {
  CopyDecoder decoder(IntAndText(), 10);
  Feed(decoder, Header() + Trailer());
  EXPECT_TRUE(decoder.ended());
  EXPECT_EQ(decoder.total_rows(), 0);
}

TEST(PgCopyDecodeTest, BatchesAlsoEndByBytes) {
  CopyDecoder decoder(IntAndText(), 1000000, 100);
  Feed(decoder, Header() + Row(1, std::string(60, 'a')));
  EXPECT_FALSE(decoder.batch_full());
  Feed(decoder, Row(2, std::string(60, 'b')));
  EXPECT_TRUE(decoder.batch_full());
  EXPECT_EQ(decoder.TakeBatch().num_rows(), 2);
  EXPECT_FALSE(decoder.batch_full());
}

TEST(PgCopyDecodeTest, FullBatchesSizeTheNextOne) {
  // After a full batch the builders are reserved for the next: values must stay right.
  CopyDecoder decoder(IntAndText(), 3);
  Feed(decoder, Header());
  for (int batch = 0; batch < 4; ++batch) {
    for (int i = 0; i < 3; ++i) Feed(decoder, Row(batch * 3 + i, std::string(5 + i, 'x')));
    ASSERT_TRUE(decoder.batch_full());
    RecordBatch b = decoder.TakeBatch();
    EXPECT_EQ(b.num_rows(), 3);
    EXPECT_EQ(IntAt(b, 2), batch * 3 + 2);
  }
}

// A row of raw wire fields (nullopt: NULL).
std::string RawRow(const std::vector<std::optional<std::string>>& fields) {
  std::string out;
  Put16(&out, static_cast<int>(fields.size()));
  for (const auto& field : fields) {
    Put32(&out, field ? static_cast<int64_t>(field->size()) : -1);
    if (field) out += *field;
  }
  return out;
}

std::string Int4(int32_t n) {
  std::string out;
  Put32(&out, n);
  return out;
}

// The error of a read that fails, in Feed or, for text (checked per batch), in TakeBatch.
std::string FailureOf(CopyDecoder& decoder, const std::vector<std::string>& rows) {
  try {
    for (const std::string& row : rows) Feed(decoder, row);
    decoder.TakeBatch();
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kDataConversion);
    return e.message();
  }
  ADD_FAILURE() << "expected a conversion error";
  return "";
}

TEST(PgCopyDecodeTest, ConversionErrorsNameColumnAndRow) {
  CopyDecoder decoder(IntAndText(), 10);
  std::string message =
      FailureOf(decoder, {Header() + Row(1, "ok"), Row(2, "caf\xe9"), Row(3, "fine")});
  EXPECT_NE(message.find("column 't' (row 2)"), std::string::npos) << message;
  EXPECT_NE(message.find("UTF-8"), std::string::npos) << message;
}

TEST(PgCopyDecodeTest, TextCheckedPerBatchReportsTheFirstBadValue) {
  // Text is checked when a batch ends, other values as they arrive; the error must still be
  // the first bad value in row order, then column order, as a check per value finds it.
  TypeRegistry types;
  std::vector<ColumnPlan> text_first = {types.Plan("t", 25, -1), types.Plan("n", 23, -1)};
  std::vector<ColumnPlan> int_first = {types.Plan("n", 23, -1), types.Plan("t", 25, -1)};
  const std::string bad_text = "caf\xe9";
  const std::string bad_int = "abc";  // 3 bytes for an int4
  struct Case {
    std::vector<ColumnPlan> plans;
    std::vector<std::string> rows;
    std::string expected;
  };
  const std::vector<Case> cases = {
      // Bad text in an earlier row than a bad int.
      {text_first, {RawRow({"a", Int4(1)}), RawRow({bad_text, Int4(2)}), RawRow({"c", bad_int})},
       "column 't' (row 2)"},
      {int_first, {RawRow({Int4(1), bad_text}), RawRow({bad_int, "b"})}, "column 't' (row 1)"},
      // A bad int in an earlier row than bad text.
      {text_first, {RawRow({"a", bad_int}), RawRow({bad_text, Int4(2)})}, "column 'n' (row 1)"},
      // The same row: the leftmost column.
      {text_first, {RawRow({"a", Int4(1)}), RawRow({bad_text, bad_int})}, "column 't' (row 2)"},
      {int_first, {RawRow({Int4(1), "a"}), RawRow({bad_int, bad_text})}, "column 'n' (row 2)"},
      // Two bad texts: the earlier row, whichever column.
      {int_first, {RawRow({Int4(1), "a"}), RawRow({Int4(2), bad_text})}, "column 't' (row 2)"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    CopyDecoder decoder(cases[i].plans, 10);
    std::vector<std::string> rows = cases[i].rows;
    rows.front() = Header() + rows.front();
    std::string message = FailureOf(decoder, rows);
    EXPECT_NE(message.find(cases[i].expected), std::string::npos) << "case " << i << ": " << message;
  }
  // A batch ended by its size checks its text at once: the next batch never starts.
  CopyDecoder decoder(IntAndText(), 2);
  Feed(decoder, Header() + Row(1, "ok"));
  Feed(decoder, Row(2, bad_text));
  ASSERT_TRUE(decoder.batch_full());
  std::string message = FailureOf(decoder, {});
  EXPECT_NE(message.find("column 't' (row 2)"), std::string::npos) << message;
}

TEST(PgCopyDecodeTest, MalformedStreamsAreRejected) {
  auto expect_malformed = [](const std::string& message, const char* why) {
    CopyDecoder decoder(IntAndText(), 10);
    try {
      Feed(decoder, message);
      ADD_FAILURE() << why << ": no error";
    } catch (const DbError& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInternal) << why;
      EXPECT_NE(e.message().find("COPY"), std::string::npos) << e.message();
    }
  };
  expect_malformed("PGCOPY", "short header");
  expect_malformed(std::string("PGCOPZ\n\377\r\n\0", 11) + std::string(8, '\0'), "signature");
  std::string oids("PGCOPY\n\377\r\n\0", 11);
  Put32(&oids, 1 << 16);
  Put32(&oids, 0);
  expect_malformed(oids, "rows with OIDs");
  expect_malformed(Header().substr(0, 15) + std::string("\0\0\0\x7f", 4), "extension");
  std::string three = Header();
  Put16(&three, 3);
  expect_malformed(three, "field count");
  std::string row = Row(1, "abc");
  expect_malformed(Header() + row.substr(0, row.size() - 1), "truncated value");
  expect_malformed(Header() + row.substr(0, 5), "truncated length");
  expect_malformed(Header() + Trailer() + row, "data after the trailer");
  std::string lying = Header();
  Put16(&lying, 2);
  Put32(&lying, 4);
  Put32(&lying, 1);
  Put32(&lying, -2);  // negative length other than -1
  expect_malformed(lying, "negative length");
}

TEST(PgCopyDecodeTest, ZeroColumnRows) {
  CopyDecoder decoder({}, 10);
  std::string message = Header();
  Put16(&message, 0);
  Put16(&message, 0);
  Feed(decoder, message);
  EXPECT_EQ(decoder.TakeBatch().num_rows(), 2);
}

TEST(PgCopySqlTest, LeadingKeywordAndCandidates) {
  EXPECT_EQ(LeadingKeyword("  select 1"), "SELECT");
  EXPECT_EQ(LeadingKeyword("-- c\n/* a /* nested */ b */ ((Values (1)))"), "VALUES");
  EXPECT_EQ(LeadingKeyword("/* unterminated"), "");
  EXPECT_EQ(LeadingKeyword(""), "");
  EXPECT_TRUE(IsCopyCandidate("SELECT 1"));
  EXPECT_TRUE(IsCopyCandidate("table t"));
  EXPECT_TRUE(IsCopyCandidate("WITH x AS (SELECT 1) SELECT * FROM x"));
  EXPECT_FALSE(IsCopyCandidate("SELECTED"));
  EXPECT_FALSE(IsCopyCandidate("INSERT INTO t VALUES (1) RETURNING *"));
  EXPECT_FALSE(IsCopyCandidate("EXPLAIN SELECT 1"));
  EXPECT_FALSE(IsCopyCandidate("SHOW search_path"));
}

TEST(PgCopySqlTest, TrailingSemicolonsAndCommentsAreTrimmed) {
  EXPECT_EQ(TrimStatementEnd("SELECT 1;"), "SELECT 1");
  EXPECT_EQ(TrimStatementEnd("SELECT 1 ; ;\n"), "SELECT 1");
  EXPECT_EQ(TrimStatementEnd("SELECT 1; -- done\n/* really */ "), "SELECT 1");
  EXPECT_EQ(TrimStatementEnd("SELECT ';' -- x"), "SELECT ';'");
  EXPECT_EQ(TrimStatementEnd("SELECT 'it''s;'"), "SELECT 'it''s;'");
  EXPECT_EQ(TrimStatementEnd("SELECT E'\\';' ;"), "SELECT E'\\';'");
  EXPECT_EQ(TrimStatementEnd("SELECT \"a;--\" FROM t;"), "SELECT \"a;--\" FROM t");
  EXPECT_EQ(TrimStatementEnd("SELECT $$ -- ; $$;"), "SELECT $$ -- ; $$");
  EXPECT_EQ(TrimStatementEnd("SELECT $q$;$q$ ;"), "SELECT $q$;$q$");
  EXPECT_EQ(TrimStatementEnd("SELECT $1;"), "SELECT $1");
  EXPECT_EQ(TrimStatementEnd("SELECT a$b;"), "SELECT a$b");
  EXPECT_EQ(CopyStatement("SELECT 1 -- c;"),
            "COPY (\nSELECT 1\n) TO STDOUT (FORMAT binary)");
}

TEST(PgStatementCacheTest, LeastRecentlyUsedIsEvicted) {
  StatementCache cache(2);
  std::vector<std::string> evicted;
  unsigned int int8[] = {20};
  std::string a = StatementCache::Key("SELECT $1", int8, 1);
  std::string b = StatementCache::Key("SELECT $1", nullptr, 0);
  std::string c = StatementCache::Key("SELECT 3", nullptr, 0);
  EXPECT_NE(a, b);
  std::string name_a = cache.Add(a, &evicted).name;
  std::string name_b = cache.Add(b, &evicted).name;
  EXPECT_NE(name_a, name_b);
  EXPECT_TRUE(evicted.empty());
  ASSERT_NE(cache.Find(a), nullptr);  // a is now the most recent
  cache.Add(c, &evicted);
  ASSERT_EQ(evicted.size(), 1u);
  EXPECT_EQ(evicted[0], name_b);
  EXPECT_EQ(cache.Find(b), nullptr);
  EXPECT_EQ(cache.size(), 2u);
  // Names are never reused, even for a key seen before.
  std::string again = cache.Add(b, &evicted).name;
  EXPECT_NE(again, name_b);
  cache.Erase(again, nullptr);  // a key, not a name: nothing happens
  EXPECT_EQ(cache.size(), 2u);
  cache.Erase(b, &evicted);
  EXPECT_EQ(evicted.back(), again);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_FALSE(StatementCache(0).enabled());
}

}  // namespace
}  // namespace dbpool::pg
