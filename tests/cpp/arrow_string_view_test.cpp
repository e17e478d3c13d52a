// Tests for the view-layout export of String/Binary columns (StringLayout::kView): formats,
// inline and out-of-line values, nulls, nested lists, and that the bytes are not copied.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "arrow/builder.hpp"
#include "arrow/string_view.hpp"
#include "dbpool/result.hpp"

namespace dbpool::arrow {
namespace {

// Reads value `i` of a view array (nullopt-like "<null>" for nulls).
std::string ViewAt(const ArrowArray& a, int64_t i) {
  if (a.null_count != 0 && a.buffers[0] != nullptr) {
    const auto* bits = static_cast<const uint8_t*>(a.buffers[0]);
    if ((bits[i >> 3] & (1u << (i & 7))) == 0) return "<null>";
  }
  const auto* view = static_cast<const uint8_t*>(a.buffers[1]) + i * 16;
  int32_t size;
  std::memcpy(&size, view, 4);
  if (size <= 12) return std::string(reinterpret_cast<const char*>(view + 4), size);
  int32_t index, offset;
  std::memcpy(&index, view + 8, 4);
  std::memcpy(&offset, view + 12, 4);
  EXPECT_LT(index, a.n_buffers - 3);
  const auto* data = static_cast<const char*>(a.buffers[2 + index]);
  EXPECT_EQ(std::memcmp(data + offset, view + 4, 4), 0) << "prefix";
  return std::string(data + offset, size);
}

struct Stream {
  ArrowArrayStream s{};
  ~Stream() {
    if (s.release != nullptr) s.release(&s);
  }
};

TEST(ArrowStringView, ExportGivesViewsWithoutCopyingTheBytes) {
  Schema schema{Field{"s", DataType::Of(TypeId::kString)},
                Field{"b", DataType::Of(TypeId::kBinary)},
                Field{"tags", DataType::List(Field{"", DataType::Of(TypeId::kString), true})},
                Field{"n", DataType::Of(TypeId::kInt64)}};
  RecordBatchBuilder builder(schema);
  const std::vector<std::string> values = {"", "short", "exactly12byt", "thirteen byte",
                                           "a much longer value that is not inline"};
  for (size_t i = 0; i < values.size(); ++i) {
    builder.column_as<VarBinaryBuilder>(0).Append(values[i]);
    if (i == 2) {
      builder.column(1).AppendNull();
    } else {
      builder.column_as<VarBinaryBuilder>(1).Append(values[values.size() - 1 - i]);
    }
    auto& tags = builder.column_as<ListBuilder>(2);
    tags.values_as<VarBinaryBuilder>().Append(values[i]);
    tags.values().AppendNull();
    tags.CloseList();
    builder.column_as<Int64Builder>(3).Append(static_cast<int64_t>(i));
    builder.EndRow();
  }
  QueryResult result;
  result.schema = schema;
  result.batches.push_back(builder.Finish());
  // The long values' bytes, to check they are handed over rather than copied.
  const void* string_bytes = result.batches[0].array().children[0]->buffers[2];

  Stream stream;
  ExportStream(std::move(result), &stream.s, StringLayout::kView);
  ArrowSchema out_schema{};
  ASSERT_EQ(stream.s.get_schema(&stream.s, &out_schema), 0);
  EXPECT_STREQ(out_schema.children[0]->format, "vu");
  EXPECT_STREQ(out_schema.children[1]->format, "vz");
  EXPECT_STREQ(out_schema.children[2]->format, "+L");
  EXPECT_STREQ(out_schema.children[2]->children[0]->format, "vu");
  EXPECT_STREQ(out_schema.children[3]->format, "l");
  out_schema.release(&out_schema);

  ArrowArray batch{};
  ASSERT_EQ(stream.s.get_next(&stream.s, &batch), 0);
  ASSERT_NE(batch.release, nullptr);
  const ArrowArray& s = *batch.children[0];
  ASSERT_EQ(s.length, 5);
  EXPECT_EQ(s.n_buffers, 4);  // validity, views, one data buffer, variadic sizes
  EXPECT_EQ(s.buffers[2], string_bytes);
  for (size_t i = 0; i < values.size(); ++i) EXPECT_EQ(ViewAt(s, i), values[i]);
  const ArrowArray& b = *batch.children[1];
  EXPECT_EQ(b.null_count, 1);
  EXPECT_EQ(ViewAt(b, 2), "<null>");
  EXPECT_EQ(ViewAt(b, 0), values[4]);
  EXPECT_EQ(ViewAt(b, 4), values[0]);
  const ArrowArray& elements = *batch.children[2]->children[0];
  ASSERT_EQ(elements.length, 10);
  EXPECT_EQ(ViewAt(elements, 8), values[4]);
  EXPECT_EQ(ViewAt(elements, 9), "<null>");
  batch.release(&batch);
  ASSERT_EQ(stream.s.get_next(&stream.s, &batch), 0);
  EXPECT_EQ(batch.release, nullptr);
}

TEST(ArrowStringView, OnlyShortValuesNeedNoDataBuffer) {
  Schema schema{Field{"s", DataType::Of(TypeId::kString)}};
  RecordBatchBuilder builder(schema);
  for (int i = 0; i < 100; ++i) {
    builder.column_as<VarBinaryBuilder>(0).Append(std::to_string(i));
    builder.EndRow();
  }
  RecordBatch batch = builder.Finish();
  ArrowArray array = batch.Release();
  ConvertToViews(DataType::Struct(schema), &array);
  const ArrowArray& s = *array.children[0];
  EXPECT_EQ(s.n_buffers, 3);  // validity, views, (empty) variadic sizes
  EXPECT_EQ(ViewAt(s, 42), "42");
  array.release(&array);
}

}  // namespace
}  // namespace dbpool::arrow
