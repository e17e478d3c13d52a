// ImportedTable / ColumnView on hand-made Arrow C streams: string views (inline and in
// data buffers), 32-bit offsets, validity bitmaps with offsets, timestamp units, dates.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "arrow/import.hpp"
#include "dbpool/error.hpp"

namespace dbpool::arrow {
namespace {

// A stream of one batch whose columns are the given (format, array) pairs; buffers live
// in the test's frame, release callbacks only mark themselves released.
struct FakeStream {
  std::vector<std::string> formats;
  std::vector<std::string> names;
  std::vector<ArrowArray> columns;
  std::vector<ArrowSchema> child_schemas;
  std::vector<ArrowSchema*> schema_ptrs;
  std::vector<ArrowArray*> array_ptrs;
  ArrowArray batch{};
  bool sent = false;
  int releases = 0;

  void Add(const std::string& name, const std::string& format, ArrowArray array) {
    names.push_back(name);
    formats.push_back(format);
    columns.push_back(array);
  }

  ArrowArrayStream Stream() {
    for (size_t i = 0; i < columns.size(); ++i) {
      ArrowSchema s{};
      s.format = formats[i].c_str();
      s.name = names[i].c_str();
      s.release = [](ArrowSchema* self) { self->release = nullptr; };
      child_schemas.push_back(s);
      columns[i].release = [](ArrowArray* self) { self->release = nullptr; };
    }
    for (auto& s : child_schemas) schema_ptrs.push_back(&s);
    for (auto& a : columns) array_ptrs.push_back(&a);
    ArrowArrayStream stream{};
    stream.private_data = this;
    stream.get_schema = [](ArrowArrayStream* self, ArrowSchema* out) {
      auto* me = static_cast<FakeStream*>(self->private_data);
      *out = ArrowSchema{};
      out->format = "+s";
      out->n_children = static_cast<int64_t>(me->schema_ptrs.size());
      out->children = me->schema_ptrs.data();
      out->release = [](ArrowSchema* s) { s->release = nullptr; };
      return 0;
    };
    stream.get_next = [](ArrowArrayStream* self, ArrowArray* out) {
      auto* me = static_cast<FakeStream*>(self->private_data);
      *out = ArrowArray{};
      if (me->sent) return 0;
      me->sent = true;
      out->length = me->columns.empty() ? 0 : me->columns[0].length;
      out->n_children = static_cast<int64_t>(me->array_ptrs.size());
      out->children = me->array_ptrs.data();
      out->private_data = me;
      out->release = [](ArrowArray* a) {
        static_cast<FakeStream*>(a->private_data)->releases++;
        a->release = nullptr;
      };
      return 0;
    };
    stream.get_last_error = [](ArrowArrayStream*) -> const char* { return nullptr; };
    stream.release = [](ArrowArrayStream* self) { self->release = nullptr; };
    return stream;
  }
};

ArrowArray Array(int64_t length, int64_t offset, int64_t null_count, std::vector<const void*>* buffers) {
  ArrowArray a{};
  a.length = length;
  a.offset = offset;
  a.null_count = null_count;
  a.n_buffers = static_cast<int64_t>(buffers->size());
  a.buffers = buffers->data();
  return a;
}

TEST(ArrowImport, ReadsEveryLayout) {
  // Utf8View: row 0 inline ("short"), row 1 in data buffer 0, row 2 null.
  const std::string long_text = "a string longer than twelve bytes";
  uint8_t views[48] = {};
  int32_t len0 = 5;
  std::memcpy(views, &len0, 4);
  std::memcpy(views + 4, "short", 5);
  int32_t len1 = static_cast<int32_t>(long_text.size()), buffer = 0, offset = 0;
  std::memcpy(views + 16, &len1, 4);
  std::memcpy(views + 20, long_text.data(), 4);
  std::memcpy(views + 24, &buffer, 4);
  std::memcpy(views + 28, &offset, 4);
  uint8_t validity = 0b011;
  int64_t sizes[1] = {static_cast<int64_t>(long_text.size())};
  std::vector<const void*> view_buffers = {&validity, views, long_text.data(), sizes};

  // Utf8 with 32-bit offsets, read from offset 1 (slice) with validity bit 1 of the slice null.
  int32_t offsets[5] = {0, 1, 3, 3, 6};
  const char* text = "abbccc";
  uint8_t utf8_valid = 0b1011;  // rows: 0 valid, 1 valid, 2 null (bit 2), 3 valid
  std::vector<const void*> utf8_buffers = {&utf8_valid, offsets, text};

  int64_t ms[3] = {1, -2, 3};
  std::vector<const void*> ts_buffers = {nullptr, ms};
  uint32_t u32[3] = {7, 4000000000u, 9};
  std::vector<const void*> u32_buffers = {nullptr, u32};
  int32_t days[3] = {0, 1, -1};
  std::vector<const void*> date_buffers = {nullptr, days};
  uint8_t bools = 0b101;
  std::vector<const void*> bool_buffers = {nullptr, &bools};

  FakeStream fake;
  fake.Add("v", "vu", Array(3, 0, 1, &view_buffers));
  fake.Add("u", "u", Array(3, 1, 1, &utf8_buffers));
  fake.Add("t", "tsm:Europe/Paris", Array(3, 0, 0, &ts_buffers));
  fake.Add("n", "I", Array(3, 0, 0, &u32_buffers));
  fake.Add("d", "tdD", Array(3, 0, 0, &date_buffers));
  fake.Add("b", "b", Array(3, 0, 0, &bool_buffers));
  ArrowArrayStream stream = fake.Stream();
  {
    auto table = ImportedTable::FromStream(&stream);
    EXPECT_EQ(stream.release, nullptr);  // consumed
    ASSERT_EQ(table->num_batches(), 1u);
    EXPECT_EQ(table->num_rows(), 3);
    EXPECT_EQ(table->Find("t"), 2);
    ColumnView v = table->Column(0, 0);
    EXPECT_EQ(v.String(0), "short");
    EXPECT_EQ(v.String(1), long_text);
    EXPECT_TRUE(v.IsNull(2));
    ColumnView u = table->Column(0, 1);
    EXPECT_EQ(u.String(0), "bb");
    EXPECT_TRUE(u.IsNull(1));
    EXPECT_EQ(u.String(2), "ccc");
    ColumnView t = table->Column(0, 2);
    EXPECT_EQ(t.type().timezone, "Europe/Paris");
    int64_t ns = 0;
    ASSERT_TRUE(t.TimeNs(1, &ns));
    EXPECT_EQ(ns, -2000000);
    EXPECT_EQ(table->Column(0, 3).UInt(1), 4000000000u);
    ColumnView d = table->Column(0, 4);
    ASSERT_TRUE(d.TimeNs(2, &ns));
    EXPECT_EQ(ns, -86400LL * 1000000000);
    ColumnView b = table->Column(0, 5);
    EXPECT_TRUE(b.Bool(0));
    EXPECT_FALSE(b.Bool(1));
    EXPECT_TRUE(b.Bool(2));
  }
  EXPECT_EQ(fake.releases, 1);  // the batch was released with the table
}

TEST(ArrowImport, UnsupportedTypeNamesTheColumn) {
  FakeStream fake;
  std::vector<const void*> buffers = {nullptr};
  fake.Add("lst", "+l", Array(0, 0, 0, &buffers));
  ArrowArrayStream stream = fake.Stream();
  try {
    ImportedTable::FromStream(&stream);
    FAIL() << "expected a DbError";
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kDataConversion);
    EXPECT_NE(std::string(e.what()).find("column 'lst'"), std::string::npos) << e.what();
  }
  EXPECT_EQ(stream.release, nullptr);
}

TEST(ArrowImport, DecimalAndBinaryColumns) {
  __int128 unscaled[2] = {-12345, (static_cast<__int128>(1) << 100)};
  std::vector<const void*> decimal_buffers = {nullptr, unscaled};
  int64_t offsets[3] = {0, 2, 2};
  const char bytes[] = {'\0', '\xff'};
  std::vector<const void*> binary_buffers = {nullptr, offsets, bytes};
  FakeStream fake;
  fake.Add("d", "d:38,2", Array(2, 0, 0, &decimal_buffers));
  fake.Add("z", "Z", Array(2, 0, 0, &binary_buffers));
  ArrowArrayStream stream = fake.Stream();
  auto table = ImportedTable::FromStream(&stream);
  ColumnView d = table->Column(0, 0);
  EXPECT_EQ(d.type().kind, ImportKind::kDecimal);
  EXPECT_EQ(d.type().precision, 38);
  EXPECT_EQ(d.type().scale, 2);
  EXPECT_TRUE(d.Decimal(0) == -12345);
  EXPECT_TRUE(d.Decimal(1) == (static_cast<__int128>(1) << 100));
  ColumnView z = table->Column(0, 1);
  EXPECT_EQ(z.type().kind, ImportKind::kBinary);
  EXPECT_EQ(z.String(0), std::string_view(bytes, 2));
  EXPECT_EQ(z.String(1), "");
}

TEST(ArrowImport, Decimal256IsRefusedNamingTheColumn) {
  std::vector<const void*> buffers = {nullptr, nullptr};
  FakeStream fake;
  fake.Add("wide", "d:60,2,256", Array(0, 0, 0, &buffers));
  ArrowArrayStream stream = fake.Stream();
  try {
    ImportedTable::FromStream(&stream);
    FAIL() << "expected a DbError";
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kDataConversion);
    EXPECT_NE(std::string(e.what()).find("column 'wide'"), std::string::npos) << e.what();
  }
}

TEST(ArrowImport, TimestampOverflowIsReported) {
  int64_t seconds[1] = {INT64_MAX / 10};
  std::vector<const void*> buffers = {nullptr, seconds};
  FakeStream fake;
  fake.Add("t", "tss:", Array(1, 0, 0, &buffers));
  ArrowArrayStream stream = fake.Stream();
  auto table = ImportedTable::FromStream(&stream);
  int64_t ns;
  EXPECT_FALSE(table->Column(0, 0).TimeNs(0, &ns));
}

}  // namespace
}  // namespace dbpool::arrow
