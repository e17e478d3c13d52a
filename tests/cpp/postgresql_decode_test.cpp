// Wire-format tests without a server: hand-built binary values (as the types' send
// functions write them) through the decoders, including malformed and truncated ones.
#include <gtest/gtest.h>

#include <initializer_list>
#include <optional>
#include <string>

#include "arrow/builder.hpp"
#include "arrow/interval.hpp"
#include "dbpool/error.hpp"
#include "drivers/postgresql/pg_decode.hpp"
#include "drivers/postgresql/pg_interval.hpp"
#include "drivers/postgresql/pg_reader.hpp"
#include "drivers/postgresql/pg_types.hpp"

namespace dbpool::pg {
namespace {

void Put16(std::string* out, int v) {
  out->push_back(static_cast<char>((v >> 8) & 0xff));
  out->push_back(static_cast<char>(v & 0xff));
}
void Put32(std::string* out, int64_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

// numeric_send: ndigits, weight, sign, dscale, then base-10000 digits.
std::string Numeric(int weight, int sign, int dscale, std::initializer_list<int> digits) {
  std::string out;
  Put16(&out, static_cast<int>(digits.size()));
  Put16(&out, weight);
  Put16(&out, sign);
  Put16(&out, dscale);
  for (int d : digits) Put16(&out, d);
  return out;
}

std::string ToString(__int128 v) {
  if (v == 0) return "0";
  bool negative = v < 0;
  std::string s;
  for (; v != 0; v /= 10) {
    s.insert(s.begin(), static_cast<char>('0' + (negative ? -(v % 10) : v % 10)));
  }
  return negative ? "-" + s : s;
}

__int128 Decimal(const std::string& wire, int precision, int scale) {
  return NumericToDecimal(wire.data(), static_cast<int32_t>(wire.size()), precision, scale);
}

TEST(PgDecodeTest, NumericToDecimal) {
  std::string v = Numeric(0, 0x0000, 1, {1234, 5000});  // 1234.5
  EXPECT_EQ(ToString(Decimal(v, 10, 1)), "12345");
  EXPECT_EQ(ToString(Decimal(v, 10, 3)), "1234500");
  EXPECT_EQ(ToString(Decimal(Numeric(0, 0x4000, 1, {1234, 5000}), 10, 1)), "-12345");
  EXPECT_EQ(ToString(Decimal(Numeric(-2, 0, 5, {1000}), 10, 5)), "1");   // 0.00001
  EXPECT_EQ(ToString(Decimal(Numeric(2, 0, 0, {1}), 12, 2)), "10000000000");  // 1e8
  EXPECT_EQ(ToString(Decimal(Numeric(0, 0, 0, {}), 5, 2)), "0");
  // 38 nines: 10 digit groups, the first one "99".
  std::string nines = Numeric(9, 0, 0, {99, 9999, 9999, 9999, 9999, 9999, 9999, 9999, 9999, 9999});
  EXPECT_EQ(ToString(Decimal(nines, 38, 0)), std::string(38, '9'));
  EXPECT_THROW(Decimal(nines, 37, 0), DecodeError);  // above the declared precision
  std::string too_big =
      Numeric(9, 0, 0, {999, 9999, 9999, 9999, 9999, 9999, 9999, 9999, 9999, 9999});
  EXPECT_THROW(Decimal(too_big, 38, 0), DecodeError);  // 39 digits
  EXPECT_THROW(Decimal(Numeric(0, 0, 2, {1, 2300}), 10, 1), DecodeError);  // 1.23 at scale 1
}

TEST(PgDecodeTest, NumericSpecialsAndMalformed) {
  EXPECT_THROW(Decimal(Numeric(0, 0xC000, 0, {}), 10, 2), DecodeError);  // NaN
  EXPECT_THROW(Decimal(Numeric(0, 0xD000, 0, {}), 10, 2), DecodeError);  // Infinity
  EXPECT_THROW(Decimal(Numeric(0, 0xF000, 0, {}), 10, 2), DecodeError);  // -Infinity
  EXPECT_THROW(Decimal(Numeric(0, 0x1234, 0, {}), 10, 2), DecodeError);  // bad sign
  EXPECT_THROW(Decimal(Numeric(0, 0, 0, {10000}), 10, 2), DecodeError);  // bad digit
  std::string truncated = Numeric(0, 0, 0, {1, 2});
  truncated.pop_back();
  EXPECT_THROW(Decimal(truncated, 10, 2), DecodeError);
  EXPECT_THROW(Decimal(std::string(3, '\0'), 10, 2), DecodeError);
}

TEST(PgDecodeTest, NumericToText) {
  auto text = [](const std::string& wire) {
    return NumericToText(wire.data(), static_cast<int32_t>(wire.size()));
  };
  EXPECT_EQ(text(Numeric(0, 0, 4, {123, 4500})), "123.4500");
  EXPECT_EQ(text(Numeric(-1, 0, 5, {1, 2000})), "0.00012");
  EXPECT_EQ(text(Numeric(-2, 0x4000, 8, {1})), "-0.00000001");
  EXPECT_EQ(text(Numeric(2, 0, 0, {1})), "100000000");
  EXPECT_EQ(text(Numeric(1, 0, 2, {12, 3})), "120003.00");
  EXPECT_EQ(text(Numeric(0, 0, 0, {})), "0");
  EXPECT_EQ(text(Numeric(0, 0xC000, 0, {})), "NaN");
  EXPECT_EQ(text(Numeric(0, 0xF000, 0, {})), "-Infinity");
}

TEST(PgDecodeTest, TemporalEdges) {
  std::string date;
  Put32(&date, INT32_MAX);
  EXPECT_THROW(DateToArrow(date.data(), 4), DecodeError);
  EXPECT_THROW(DateToArrow(date.data(), 3), DecodeError);
  std::string zero(4, '\0');
  EXPECT_EQ(DateToArrow(zero.data(), 4), kPgEpochDays);

  // timetz 23:00 at zone -02 (zone is seconds west: -7200) wraps to 01:00 UTC.
  std::string timetz;
  int64_t micros = 23LL * 3600 * 1000000;
  Put32(&timetz, micros >> 32);
  Put32(&timetz, micros & 0xffffffff);
  Put32(&timetz, 7200);  // 23:00-02 -> 01:00 UTC
  EXPECT_EQ(TimeTzToUtc(timetz.data(), 12), 1LL * 3600 * 1000000);
}

// interval_send: int64 microseconds, int32 days, int32 months.
std::string Interval(int64_t micros, int32_t days, int32_t months) {
  std::string out;
  Put32(&out, micros >> 32);
  Put32(&out, micros & 0xffffffff);
  Put32(&out, days);
  Put32(&out, months);
  return out;
}

TEST(PgDecodeTest, IntervalsKeepTheirThreeFieldsThenNarrowToDurationWhenNoneHasMonths) {
  TypeRegistry types;
  std::vector<ColumnPlan> plans{types.Plan("iv", 1186, -1)};
  ASSERT_EQ(plans[0].field.type, arrow::IntervalStructType());
  auto read = [&](const std::vector<std::string>& values) {
    arrow::RecordBatchBuilder builder(SchemaOf(plans));
    for (const std::string& v : values) {
      if (v.empty()) {
        builder.column(0).AppendNull();
      } else {
        AppendValue(plans[0], v.data(), static_cast<int32_t>(v.size()), builder.column(0));
      }
      builder.EndRow();
    }
    std::vector<RecordBatch> batches;
    batches.push_back(builder.Finish());
    return batches;
  };
  // '1 day 25:00:00.5', NULL, '-3 days': no months -> Duration(us), a day = 86,400 s.
  auto batches = read({Interval(90000500000, 1, 0), "", Interval(0, -3, 0)});
  arrow::Schema schema = ResultSchema(plans, batches);
  EXPECT_EQ(schema[0].type, arrow::DataType::Duration(arrow::TimeUnit::kMicro));
  EXPECT_TRUE(schema[0].metadata.empty());
  const ArrowArray& d = *batches[0].array().children[0];
  ASSERT_EQ(d.n_children, 0);
  EXPECT_EQ(d.null_count, 1);
  const auto* ticks = static_cast<const int64_t*>(d.buffers[1]);
  EXPECT_EQ(ticks[0], 86400000000LL + 90000500000LL);
  EXPECT_EQ(ticks[2], -3LL * 86400000000LL);
  // '1 year 2 mons 3 days 04:05:06.789' keeps every field as sent; so does its neighbour
  // without months ('36:00:00' stays 0 days 36 hours, no folding).
  batches = read({Interval(129600000000, 0, 0), Interval(14706789000, 3, 14), ""});
  schema = ResultSchema(plans, batches);
  ASSERT_EQ(schema[0].type, arrow::IntervalStructType());
  EXPECT_EQ(schema[0].metadata.at(0).second, "interval");
  const ArrowArray& s = *batches[0].array().children[0];
  auto field = [&](int child, int64_t row) -> int64_t {
    const void* values = s.children[child]->buffers[1];
    return child == 2 ? static_cast<const int64_t*>(values)[row]
                      : static_cast<const int32_t*>(values)[row];
  };
  EXPECT_EQ(field(0, 0), 0);
  EXPECT_EQ(field(1, 0), 0);
  EXPECT_EQ(field(2, 0), 129600000000);
  EXPECT_EQ(field(0, 1), 14);
  EXPECT_EQ(field(1, 1), 3);
  EXPECT_EQ(field(2, 1), 14706789000);
  EXPECT_EQ(s.null_count, 1);
  // 2^31-1 days do not fit int64 microseconds: the struct, not an error.
  batches = read({Interval(0, INT32_MAX, 0)});
  EXPECT_EQ(ResultSchema(plans, batches)[0].type, arrow::IntervalStructType());
  std::string truncated = Interval(0, 0, 1).substr(0, 12);
  arrow::RecordBatchBuilder builder(SchemaOf(plans));
  EXPECT_THROW(AppendValue(plans[0], truncated.data(), 12, builder.column(0)), DecodeError);
}

TEST(PgDecodeTest, StreamIntervalTypeIsFixedByTheFirstBatch) {
  TypeRegistry types;
  std::vector<ColumnPlan> plans{types.Plan("n", 23, -1), types.Plan("iv", 1186, -1)};
  auto batch = [&](int32_t months) {
    arrow::RecordBatchBuilder builder(SchemaOf(plans));
    for (int i = 0; i < 2; ++i) {
      builder.column_as<arrow::Int32Builder>(0).Append(i);
      std::string v = Interval(1, 2, i == 1 ? months : 0);
      AppendValue(plans[1], v.data(), 16, builder.column(1));
      builder.EndRow();
    }
    return builder.Finish();
  };
  IntervalColumns durations(plans);
  RecordBatch first = batch(0);
  std::optional<arrow::Schema> schema = durations.ForStream(&first, 0);
  ASSERT_TRUE(schema.has_value());
  EXPECT_EQ((*schema)[0].type.id, arrow::TypeId::kInt32);
  EXPECT_EQ((*schema)[1].type, arrow::DataType::Duration(arrow::TimeUnit::kMicro));
  RecordBatch second = batch(0);
  EXPECT_FALSE(durations.ForStream(&second, 2).has_value());
  EXPECT_EQ(second.array().children[1]->n_children, 0);
  RecordBatch third = batch(5);
  try {
    durations.ForStream(&third, 4);
    ADD_FAILURE() << "a month value in a Duration stream must fail";
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kDataConversion);
    EXPECT_NE(e.message().find("column 'iv' (row 6): a value of 5 month(s), 2 day(s) and 1 "
                               "microsecond(s)"),
              std::string::npos)
        << e.message();
    EXPECT_NE(e.message().find("::text"), std::string::npos) << e.message();
  }
  EXPECT_FALSE(durations.ForStream(nullptr, 6).has_value());

  IntervalColumns structs(plans);
  first = batch(1);
  schema = structs.ForStream(&first, 0);
  ASSERT_EQ((*schema)[1].type, arrow::IntervalStructType());
  second = batch(0);
  EXPECT_FALSE(structs.ForStream(&second, 2).has_value());
  EXPECT_EQ(second.array().children[1]->n_children, 3);  // stays the struct

  IntervalColumns empty(plans);
  schema = empty.ForStream(nullptr, 0);
  ASSERT_TRUE(schema.has_value());
  EXPECT_EQ((*schema)[1].type, arrow::DataType::Duration(arrow::TimeUnit::kMicro));
  EXPECT_FALSE(IntervalColumns({types.Plan("n", 23, -1)}).ForStream(nullptr, 0).has_value());
}

TEST(PgDecodeTest, FixedWidthValuesCheckTheirLength) {
  TypeRegistry types;
  ColumnPlan int4 = types.Plan("n", 23, -1);
  auto builder = arrow::MakeBuilder(int4.field.type);
  EXPECT_THROW(AppendValue(int4, "\0\0\0", 3, *builder), DecodeError);
  EXPECT_THROW(AppendValue(int4, "\0\0\0\0\0", 5, *builder), DecodeError);
  AppendValue(int4, "\0\0\0\x2a", 4, *builder);
  EXPECT_EQ(builder->length(), 1);
}

TEST(PgDecodeTest, ArraysAreBoundsChecked) {
  TypeRegistry types;
  ColumnPlan plan = types.Plan("a", 1007, -1);  // int4[]
  ASSERT_EQ(plan.decode, Decode::kArray);
  // ndim 1, no nulls, element 23, dim 2 from 1, then elements 7 and NULL.
  std::string wire;
  Put32(&wire, 1);
  Put32(&wire, 1);
  Put32(&wire, 23);
  Put32(&wire, 2);
  Put32(&wire, 1);
  Put32(&wire, 4);
  Put32(&wire, 7);
  Put32(&wire, -1);
  auto builder = arrow::MakeBuilder(plan.field.type);
  AppendValue(plan, wire.data(), static_cast<int32_t>(wire.size()), *builder);
  EXPECT_EQ(builder->length(), 1);
  auto& list = static_cast<arrow::ListBuilder&>(*builder);
  EXPECT_EQ(list.values().length(), 2);
  EXPECT_EQ(list.values().null_count(), 1);

  for (size_t cut = 1; cut < wire.size(); ++cut) {  // every truncation is caught
    auto fresh = arrow::MakeBuilder(plan.field.type);
    EXPECT_THROW(AppendValue(plan, wire.data(), static_cast<int32_t>(wire.size() - cut), *fresh),
                 DecodeError)
        << cut;
  }
  std::string lying = wire;
  lying[23] = 100;  // first element length 100 > what is left
  auto fresh = arrow::MakeBuilder(plan.field.type);
  EXPECT_THROW(AppendValue(plan, lying.data(), static_cast<int32_t>(lying.size()), *fresh),
               DecodeError);
  std::string two_dims = wire;
  two_dims[3] = 2;
  EXPECT_THROW(AppendValue(plan, two_dims.data(), static_cast<int32_t>(two_dims.size()), *fresh),
               DecodeError);
}

TEST(PgDecodeTest, TextLikeValues) {
  TypeRegistry types;
  ColumnPlan jsonb = types.Plan("j", 3802, -1);
  auto builder = arrow::MakeBuilder(jsonb.field.type);
  AppendValue(jsonb, "\x01{}", 3, *builder);
  EXPECT_THROW(AppendValue(jsonb, "\x02{}", 3, *builder), DecodeError);
  EXPECT_THROW(AppendValue(jsonb, "", 0, *builder), DecodeError);

  ColumnPlan text = types.Plan("t", 25, -1);
  auto strings = arrow::MakeBuilder(text.field.type);
  EXPECT_THROW(AppendValue(text, "caf\xe9", 4, *strings), DecodeError);
  EXPECT_THROW(AppendValue(text, "\xed\xa0\x80", 3, *strings), DecodeError);  // surrogate

  char uuid[36];
  EXPECT_THROW(FormatUuid("0123456789abcde", 15, uuid), DecodeError);
  EXPECT_EQ(InetToText("\x02\x20\x00\x04\x7f\x00\x00\x01", 8), "127.0.0.1");
  EXPECT_EQ(InetToText("\x02\x08\x01\x04\x0a\x00\x00\x00", 8), "10.0.0.0/8");
  EXPECT_THROW(InetToText("\x02\x20\x00\x10\x7f\x00\x00\x01", 8), DecodeError);
  EXPECT_EQ(BitsToText("\x00\x00\x00\x0a\xff\xc0", 6), "1111111111");
  EXPECT_THROW(BitsToText("\x00\x00\x00\x11\xff", 5), DecodeError);
}

TEST(PgDecodeTest, NumericFastAndWidePathsAgree) {
  // Up to 18 digits at the target scale take a 64-bit path; more take the 128-bit one.
  // 9999999999999999.99: weight 3, groups 9999 9999 9999 9999 . 9900 -> 18 digits at scale 2.
  std::string v18 = Numeric(3, 0, 2, {9999, 9999, 9999, 9999, 9900});
  EXPECT_EQ(ToString(Decimal(v18, 18, 2)), "999999999999999999");
  EXPECT_EQ(ToString(Decimal(v18, 19, 3)), "9999999999999999990");  // 19 digits: wide path
  EXPECT_THROW(Decimal(v18, 17, 2), DecodeError);                     // precision checked
  EXPECT_EQ(ToString(Decimal(Numeric(3, 0x4000, 2, {9999, 9999, 9999, 9999, 9900}), 18, 2)),
            "-999999999999999999");
  // 1e16 at scale 2 (the digit group past the decimal point is all zero).
  EXPECT_EQ(ToString(Decimal(Numeric(4, 0, 0, {1}), 19, 2)), "1000000000000000000");
  EXPECT_EQ(ToString(Decimal(Numeric(3, 0, 0, {1}), 18, 2)), "100000000000000");
  EXPECT_EQ(ToString(Decimal(Numeric(-1, 0, 4, {25}), 5, 4)), "25");  // 0.0025
  EXPECT_THROW(Decimal(Numeric(-1, 0, 4, {25}), 5, 3), DecodeError);   // beyond the scale
  EXPECT_THROW(Decimal(Numeric(-3, 0, 12, {1}), 5, 4), DecodeError);   // 1e-12, scale 4
}

TEST(PgDecodeTest, NumericTypmods) {
  int32_t p = 0;
  int32_t s = 0;
  auto typmod = [](int precision, int scale) { return ((precision << 16) | (scale & 0x7ff)) + 4; };
  ASSERT_TRUE(NumericDecimalType(typmod(38, 10), &p, &s));
  EXPECT_EQ(p, 38);
  EXPECT_EQ(s, 10);
  ASSERT_TRUE(NumericDecimalType(typmod(3, -2), &p, &s));
  EXPECT_EQ(p, 5);
  EXPECT_EQ(s, 0);
  ASSERT_TRUE(NumericDecimalType(typmod(2, 4), &p, &s));
  EXPECT_EQ(p, 4);
  EXPECT_EQ(s, 4);
  EXPECT_FALSE(NumericDecimalType(-1, &p, &s));
  EXPECT_FALSE(NumericDecimalType(typmod(39, 0), &p, &s));
  EXPECT_FALSE(NumericDecimalType(typmod(37, -2), &p, &s));  // 39 digits once folded
}

}  // namespace
}  // namespace dbpool::pg
