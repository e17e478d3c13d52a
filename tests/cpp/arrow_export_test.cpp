// Tests for RecordBatchBuilder, ExportSchema and ExportStream: walks the exported C structs
// (formats, names, flags, metadata bytes, batches, end of stream) and checks releases.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "arrow/builder.hpp"
#include "dbpool/error.hpp"
#include "dbpool/result.hpp"

namespace dbpool::arrow {
namespace {

struct OwnedSchema {
  ArrowSchema s{};
  ~OwnedSchema() {
    if (s.release != nullptr) s.release(&s);
  }
};
struct OwnedArray {
  ArrowArray a{};
  ~OwnedArray() {
    if (a.release != nullptr) a.release(&a);
  }
};
struct OwnedStream {
  ArrowArrayStream s{};
  ~OwnedStream() {
    if (s.release != nullptr) s.release(&s);
  }
};

int64_t Int64At(const ArrowArray& a, int buffer, int64_t i) {
  int64_t v;
  std::memcpy(&v, static_cast<const uint8_t*>(a.buffers[buffer]) + i * 8, 8);
  return v;
}

Schema AllTypes() {
  return {
      Field{"i64", DataType::Of(TypeId::kInt64), false},
      Field{"txt", DataType::Of(TypeId::kString), true, {{"dbpool.db_type", "citext"}}},
      Field{"dec", DataType::Decimal(15, 2)},
      Field{"ts", DataType::Timestamp(TimeUnit::kMicro, "UTC")},
      Field{"naive", DataType::Timestamp(TimeUnit::kNano, "")},
      Field{"t", DataType::Time(TimeUnit::kMicro)},
      Field{"d", DataType::Of(TypeId::kDate32)},
      Field{"dur", DataType::Duration(TimeUnit::kNano)},
      Field{"bin", DataType::Of(TypeId::kBinary)},
      Field{"tags", DataType::List(Field{"", DataType::Of(TypeId::kString), false})},
      Field{"pt", DataType::Struct({Field{"x", DataType::Of(TypeId::kFloat64)},
                                    Field{"ok", DataType::Of(TypeId::kBoolean)}})},
  };
}

TEST(ArrowExport, SchemaFormatsNamesFlagsAndChildren) {
  OwnedSchema out;
  ExportSchema(AllTypes(), &out.s);
  ASSERT_NE(out.s.release, nullptr);
  EXPECT_STREQ(out.s.format, "+s");
  EXPECT_STREQ(out.s.name, "");
  EXPECT_EQ(out.s.metadata, nullptr);
  EXPECT_EQ(out.s.dictionary, nullptr);
  ASSERT_EQ(out.s.n_children, 11);
  const char* formats[] = {"l",   "U",   "d:15,2", "tsu:UTC", "tsn:", "ttu",
                           "tdD", "tDn", "Z",      "+L",      "+s"};
  const char* names[] = {"i64", "txt", "dec", "ts", "naive", "t",
                         "d",   "dur", "bin", "tags", "pt"};
  for (int i = 0; i < 11; ++i) {
    EXPECT_STREQ(out.s.children[i]->format, formats[i]) << i;
    EXPECT_STREQ(out.s.children[i]->name, names[i]) << i;
    EXPECT_NE(out.s.children[i]->release, nullptr);
  }
  EXPECT_EQ(out.s.children[0]->flags, 0);  // not nullable
  EXPECT_EQ(out.s.children[2]->flags, ARROW_FLAG_NULLABLE);
  EXPECT_EQ(out.s.children[0]->metadata, nullptr);

  const ArrowSchema& tags = *out.s.children[9];
  ASSERT_EQ(tags.n_children, 1);
  EXPECT_STREQ(tags.children[0]->format, "U");
  EXPECT_STREQ(tags.children[0]->name, "item");
  EXPECT_EQ(tags.children[0]->flags, 0);

  const ArrowSchema& pt = *out.s.children[10];
  ASSERT_EQ(pt.n_children, 2);
  EXPECT_STREQ(pt.children[0]->name, "x");
  EXPECT_STREQ(pt.children[0]->format, "g");
  EXPECT_STREQ(pt.children[1]->format, "b");
}

TEST(ArrowExport, MetadataUsesTheBinaryEncoding) {
  OwnedSchema out;
  ExportSchema({Field{"c", DataType::Of(TypeId::kString), true,
                      {{"dbpool.db_type", "citext"}, {"k", ""}}}},
               &out.s);
  const char* m = out.s.children[0]->metadata;
  ASSERT_NE(m, nullptr);
  auto read_int = [&m] {
    int32_t v;
    std::memcpy(&v, m, 4);
    m += 4;
    return v;
  };
  auto read_str = [&m](int32_t n) {
    std::string s(m, n);
    m += n;
    return s;
  };
  EXPECT_EQ(read_int(), 2);
  int32_t n = read_int();
  EXPECT_EQ(read_str(n), "dbpool.db_type");
  n = read_int();
  EXPECT_EQ(read_str(n), "citext");
  n = read_int();
  EXPECT_EQ(read_str(n), "k");
  EXPECT_EQ(read_int(), 0);
}

// Fills one row of AllTypes(); row 1 of every batch is all nulls where nullable.
void AppendRow(RecordBatchBuilder& b, int64_t i) {
  bool null = (i % 2 == 1);
  b.column_as<Int64Builder>(0).Append(i);
  for (size_t c = 1; c < b.num_columns() && null; ++c) b.column(c).AppendNull();
  if (!null) {
    b.column_as<VarBinaryBuilder>(1).Append("row" + std::to_string(i));
    b.column_as<Decimal128Builder>(2).Append(i * 100 + 5);
    b.column_as<TemporalBuilder>(3).Append(1700000000000000 + i);
    b.column_as<TemporalBuilder>(4).Append(i);
    b.column_as<TemporalBuilder>(5).Append(3600000000LL);
    b.column_as<Date32Builder>(6).Append(19000);
    b.column_as<TemporalBuilder>(7).Append(-5);
    b.column_as<VarBinaryBuilder>(8).Append(std::string("\0\1", 2));
    auto& tags = b.column_as<ListBuilder>(9);
    tags.values_as<VarBinaryBuilder>().Append("a");
    tags.values_as<VarBinaryBuilder>().Append("b");
    tags.CloseList();
    auto& pt = b.column_as<StructBuilder>(10);
    pt.child_as<Float64Builder>(0).Append(1.5);
    pt.child_as<BooleanBuilder>(1).Append(true);
    pt.Append();
  }
  b.EndRow();
}

TEST(ArrowExport, StreamYieldsSchemaThenBatchesThenEnd) {
  RecordBatchBuilder b(AllTypes());
  QueryResult result;
  result.schema = b.schema();
  for (int64_t i = 0; i < 3; ++i) AppendRow(b, i);
  result.batches.push_back(b.Finish());
  EXPECT_EQ(b.num_rows(), 0);
  for (int64_t i = 0; i < 2; ++i) AppendRow(b, i);
  result.batches.push_back(b.Finish());
  EXPECT_EQ(result.num_rows(), 5);
  EXPECT_TRUE(result.has_rows());

  OwnedStream stream;
  ExportStream(std::move(result), &stream.s);
  EXPECT_TRUE(result.batches.empty());
  for (int pass = 0; pass < 2; ++pass) {  // get_schema may be called any number of times
    OwnedSchema schema;
    ASSERT_EQ(stream.s.get_schema(&stream.s, &schema.s), 0);
    EXPECT_STREQ(schema.s.format, "+s");
    EXPECT_EQ(schema.s.n_children, 11);
  }
  EXPECT_EQ(stream.s.get_last_error(&stream.s), nullptr);

  OwnedArray first;
  ASSERT_EQ(stream.s.get_next(&stream.s, &first.a), 0);
  ASSERT_NE(first.a.release, nullptr);
  EXPECT_EQ(first.a.length, 3);
  EXPECT_EQ(first.a.null_count, 0);
  EXPECT_EQ(first.a.n_buffers, 1);
  EXPECT_EQ(first.a.buffers[0], nullptr);
  ASSERT_EQ(first.a.n_children, 11);
  for (int c = 0; c < 11; ++c) EXPECT_EQ(first.a.children[c]->length, 3) << c;
  EXPECT_EQ(first.a.children[0]->null_count, 0);
  EXPECT_EQ(first.a.children[1]->null_count, 1);
  EXPECT_EQ(Int64At(*first.a.children[0], 1, 2), 2);
  // Column "tags": offsets [0, 2, 2, 4] and a child of 4 strings.
  const ArrowArray& tags = *first.a.children[9];
  EXPECT_EQ(Int64At(tags, 1, 1), 2);
  EXPECT_EQ(Int64At(tags, 1, 2), 2);
  EXPECT_EQ(Int64At(tags, 1, 3), 4);
  EXPECT_EQ(tags.children[0]->length, 4);

  OwnedArray second;
  ASSERT_EQ(stream.s.get_next(&stream.s, &second.a), 0);
  ASSERT_NE(second.a.release, nullptr);
  EXPECT_EQ(second.a.length, 2);
  // Independent of the first batch: offsets restart at 0, values are its own.
  EXPECT_EQ(Int64At(*second.a.children[1], 1, 0), 0);
  EXPECT_EQ(Int64At(*second.a.children[1], 1, 1), 4);
  EXPECT_NE(second.a.children[0]->buffers[1], first.a.children[0]->buffers[1]);

  for (int i = 0; i < 2; ++i) {
    ArrowArray end;
    std::memset(&end, 0xAB, sizeof(end));
    ASSERT_EQ(stream.s.get_next(&stream.s, &end), 0);
    EXPECT_EQ(end.release, nullptr);
  }
  stream.s.release(&stream.s);
  EXPECT_EQ(stream.s.release, nullptr);
  // Batches already taken stay valid after the stream is gone.
  EXPECT_EQ(Int64At(*first.a.children[0], 1, 1), 1);
}

TEST(ArrowExport, ReleasingTheStreamFreesUntakenBatches) {
  RecordBatchBuilder b(AllTypes());
  QueryResult result;
  result.schema = b.schema();
  for (int batch = 0; batch < 3; ++batch) {
    for (int64_t i = 0; i < 10; ++i) AppendRow(b, i);
    result.batches.push_back(b.Finish());
  }
  ArrowArrayStream stream;
  ExportStream(std::move(result), &stream);
  OwnedArray taken;
  ASSERT_EQ(stream.get_next(&stream, &taken.a), 0);
  stream.release(&stream);  // two batches never taken: valgrind/ASan prove they are freed
  EXPECT_EQ(stream.release, nullptr);
}

TEST(ArrowExport, MovedOutChildSurvivesItsParent) {
  RecordBatchBuilder b(AllTypes());
  for (int64_t i = 0; i < 4; ++i) AppendRow(b, i);
  ArrowArray batch = b.Finish().Release();
  // Move child 1 out (bitwise, marking the source released), then release the parent.
  OwnedArray child;
  child.a = *batch.children[1];
  batch.children[1]->release = nullptr;
  batch.release(&batch);
  EXPECT_EQ(batch.release, nullptr);
  ASSERT_EQ(child.a.length, 4);
  EXPECT_EQ(std::string(static_cast<const char*>(child.a.buffers[2]), 4), "row0");
}

TEST(ArrowExport, ZeroColumnBatchKeepsRowCount) {
  RecordBatchBuilder b(Schema{});
  for (int i = 0; i < 7; ++i) b.EndRow();
  RecordBatch batch = b.Finish();
  EXPECT_EQ(batch.num_rows(), 7);
  EXPECT_EQ(batch.array().n_children, 0);
  EXPECT_EQ(b.num_rows(), 0);
}

TEST(ArrowExport, FinishRejectsAColumnMissingValues) {
  RecordBatchBuilder b({Field{"a", DataType::Of(TypeId::kInt32)},
                        Field{"b", DataType::Of(TypeId::kInt32)}});
  b.column_as<Int32Builder>(0).Append(1);
  b.EndRow();
  try {
    b.Finish();
    FAIL() << "expected DbError";
  } catch (const DbError& e) {
    EXPECT_NE(std::string(e.what()).find("'b'"), std::string::npos) << e.what();
  }
}

TEST(ArrowExport, RecordBatchMoveAndRelease) {
  RecordBatchBuilder b({Field{"a", DataType::Of(TypeId::kInt64)}});
  b.column_as<Int64Builder>(0).Append(9);
  b.EndRow();
  RecordBatch one = b.Finish();
  RecordBatch two(std::move(one));
  EXPECT_EQ(one.num_rows(), 0);
  EXPECT_EQ(one.array().release, nullptr);
  EXPECT_EQ(two.num_rows(), 1);
  RecordBatch three;
  b.column_as<Int64Builder>(0).Append(1);
  b.EndRow();
  three = b.Finish();
  three = std::move(two);  // releases the batch three held
  EXPECT_EQ(three.num_rows(), 1);
  EXPECT_EQ(Int64At(*three.array().children[0], 1, 0), 9);
  ArrowArray raw = three.Release();
  EXPECT_EQ(three.array().release, nullptr);
  raw.release(&raw);
}

TEST(ArrowExport, RowCountResultGivesAnEmptyStream) {
  QueryResult result;
  result.rows_affected = 3;
  EXPECT_FALSE(result.has_rows());
  OwnedStream stream;
  ExportStream(std::move(result), &stream.s);
  OwnedSchema schema;
  ASSERT_EQ(stream.s.get_schema(&stream.s, &schema.s), 0);
  EXPECT_EQ(schema.s.n_children, 0);
  OwnedArray end;
  ASSERT_EQ(stream.s.get_next(&stream.s, &end.a), 0);
  EXPECT_EQ(end.a.release, nullptr);
}

}  // namespace
}  // namespace dbpool::arrow
