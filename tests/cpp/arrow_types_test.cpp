// Tests for DataType/Field: C Data format strings, readable names, factories and equality.
#include <gtest/gtest.h>

#include <string>

#include "dbpool/arrow_types.hpp"
#include "dbpool/error.hpp"

namespace dbpool::arrow {
namespace {

TEST(ArrowTypes, FormatOfEveryPrimitive) {
  EXPECT_EQ(DataType::Of(TypeId::kNull).Format(), "n");
  EXPECT_EQ(DataType::Of(TypeId::kBoolean).Format(), "b");
  EXPECT_EQ(DataType::Of(TypeId::kInt8).Format(), "c");
  EXPECT_EQ(DataType::Of(TypeId::kInt16).Format(), "s");
  EXPECT_EQ(DataType::Of(TypeId::kInt32).Format(), "i");
  EXPECT_EQ(DataType::Of(TypeId::kInt64).Format(), "l");
  EXPECT_EQ(DataType::Of(TypeId::kUInt8).Format(), "C");
  EXPECT_EQ(DataType::Of(TypeId::kUInt16).Format(), "S");
  EXPECT_EQ(DataType::Of(TypeId::kUInt32).Format(), "I");
  EXPECT_EQ(DataType::Of(TypeId::kUInt64).Format(), "L");
  EXPECT_EQ(DataType::Of(TypeId::kFloat32).Format(), "f");
  EXPECT_EQ(DataType::Of(TypeId::kFloat64).Format(), "g");
  EXPECT_EQ(DataType::Of(TypeId::kString).Format(), "U");
  EXPECT_EQ(DataType::Of(TypeId::kBinary).Format(), "Z");
  EXPECT_EQ(DataType::Of(TypeId::kDate32).Format(), "tdD");
}

TEST(ArrowTypes, FormatOfParameterisedTypes) {
  EXPECT_EQ(DataType::Decimal(15, 2).Format(), "d:15,2");
  EXPECT_EQ(DataType::Decimal(38, 0).Format(), "d:38,0");
  EXPECT_EQ(DataType::Decimal(5, -2).Format(), "d:5,-2");
  EXPECT_EQ(DataType::Time(TimeUnit::kMicro).Format(), "ttu");
  EXPECT_EQ(DataType::Time(TimeUnit::kNano).Format(), "ttn");
  EXPECT_EQ(DataType::Timestamp(TimeUnit::kMicro, "").Format(), "tsu:");
  EXPECT_EQ(DataType::Timestamp(TimeUnit::kMicro, "UTC").Format(), "tsu:UTC");
  EXPECT_EQ(DataType::Timestamp(TimeUnit::kNano, "Europe/Paris").Format(),
            "tsn:Europe/Paris");
  EXPECT_EQ(DataType::Duration(TimeUnit::kMicro).Format(), "tDu");
  EXPECT_EQ(DataType::Duration(TimeUnit::kNano).Format(), "tDn");
  EXPECT_EQ(DataType::List(Field{"", DataType::Of(TypeId::kInt64)}).Format(), "+L");
  EXPECT_EQ(DataType::Struct({}).Format(), "+s");
}

TEST(ArrowTypes, DecimalRejectsImpossiblePrecision) {
  EXPECT_THROW(DataType::Decimal(0, 0), DbError);
  EXPECT_THROW(DataType::Decimal(39, 2), DbError);
  DataType d = DataType::Decimal(10, 3);
  EXPECT_EQ(d.id, TypeId::kDecimal128);
  EXPECT_EQ(d.precision, 10);
  EXPECT_EQ(d.scale, 3);
}

TEST(ArrowTypes, ListNamesAnUnnamedChildItem) {
  DataType unnamed = DataType::List(Field{"", DataType::Of(TypeId::kString), false});
  ASSERT_EQ(unnamed.children.size(), 1u);
  EXPECT_EQ(unnamed.children[0].name, "item");
  EXPECT_FALSE(unnamed.children[0].nullable);
  EXPECT_EQ(unnamed.children[0].type.id, TypeId::kString);
  DataType named = DataType::List(Field{"element", DataType::Of(TypeId::kInt32)});
  EXPECT_EQ(named.children[0].name, "element");
}

TEST(ArrowTypes, ToStringIsReadable) {
  EXPECT_EQ(DataType::Of(TypeId::kInt64).ToString(), "Int64");
  EXPECT_EQ(DataType::Decimal(15, 2).ToString(), "Decimal128(15, 2)");
  EXPECT_EQ(DataType::Timestamp(TimeUnit::kMicro, "UTC").ToString(), "Timestamp[us, UTC]");
  EXPECT_EQ(DataType::Timestamp(TimeUnit::kNano, "").ToString(), "Timestamp[ns]");
  EXPECT_EQ(DataType::Time(TimeUnit::kNano).ToString(), "Time64[ns]");
  EXPECT_EQ(DataType::Duration(TimeUnit::kMicro).ToString(), "Duration[us]");
  DataType nested = DataType::Struct(
      {Field{"a", DataType::Of(TypeId::kInt32)},
       Field{"b", DataType::List(Field{"", DataType::Of(TypeId::kString)})}});
  EXPECT_EQ(nested.ToString(), "Struct<a: Int32, b: List<String>>");
}

TEST(ArrowTypes, EqualityComparesOnlyRelevantAttributes) {
  EXPECT_EQ(DataType::Of(TypeId::kInt64), DataType::Of(TypeId::kInt64));
  EXPECT_NE(DataType::Of(TypeId::kInt64), DataType::Of(TypeId::kInt32));
  DataType stray = DataType::Of(TypeId::kInt64);
  stray.precision = 9;  // meaningless for Int64
  EXPECT_EQ(stray, DataType::Of(TypeId::kInt64));

  EXPECT_EQ(DataType::Decimal(10, 2), DataType::Decimal(10, 2));
  EXPECT_NE(DataType::Decimal(10, 2), DataType::Decimal(10, 3));
  EXPECT_NE(DataType::Decimal(10, 2), DataType::Decimal(11, 2));

  EXPECT_NE(DataType::Time(TimeUnit::kMicro), DataType::Time(TimeUnit::kNano));
  EXPECT_NE(DataType::Duration(TimeUnit::kMicro), DataType::Duration(TimeUnit::kNano));
  EXPECT_EQ(DataType::Timestamp(TimeUnit::kMicro, "UTC"),
            DataType::Timestamp(TimeUnit::kMicro, "UTC"));
  EXPECT_NE(DataType::Timestamp(TimeUnit::kMicro, "UTC"),
            DataType::Timestamp(TimeUnit::kMicro, ""));
  EXPECT_NE(DataType::Timestamp(TimeUnit::kMicro, "UTC"),
            DataType::Timestamp(TimeUnit::kNano, "UTC"));

  auto list_of = [](TypeId id) { return DataType::List(Field{"", DataType::Of(id)}); };
  EXPECT_EQ(list_of(TypeId::kInt64), list_of(TypeId::kInt64));
  EXPECT_NE(list_of(TypeId::kInt64), list_of(TypeId::kInt32));
  EXPECT_NE(DataType::Struct({Field{"a", DataType::Of(TypeId::kInt64)}}),
            DataType::Struct({Field{"b", DataType::Of(TypeId::kInt64)}}));
}

TEST(ArrowTypes, FieldEquality) {
  Field a{"x", DataType::Of(TypeId::kString), true, {{"dbpool.db_type", "uuid"}}};
  Field b = a;
  EXPECT_EQ(a, b);
  b.nullable = false;
  EXPECT_NE(a, b);
  b = a;
  b.metadata[0].second = "inet";
  EXPECT_NE(a, b);
  b = a;
  b.name = "y";
  EXPECT_NE(a, b);
  b = a;
  b.type = DataType::Of(TypeId::kBinary);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace dbpool::arrow
