// PostgreSQL type -> Arrow type mapping (TYPES.md): built-in table, pg_type cache, typmods.
#include "drivers/postgresql/pg_types.hpp"

#include <algorithm>
#include <utility>

#include "arrow/interval.hpp"
#include "dbpool/error.hpp"
#include "drivers/postgresql/pg_decode.hpp"

namespace dbpool::pg {
namespace {

using arrow::DataType;
using arrow::TimeUnit;
using arrow::TypeId;

constexpr Oid kTimestampTzOid = 1184;
constexpr Oid kNumericOid = 1700;
constexpr int kMaxDepth = 8;  // domains of arrays of domains...: a cycle guard, never reached

struct Builtin {
  Oid oid;
  const char* name;
  Decode decode;
  bool tag;  // the Arrow type alone does not say what the column was: add dbpool.db_type
};

// The built-in types with a dedicated mapping (OIDs are fixed in pg_type.dat). Built-ins
// missing here (point, tsvector, ranges, tid...) go through the pg_type lookup like user
// types and become Binary tagged with their name, since their binary forms need per-type code.
constexpr Builtin kBuiltins[] = {
    {16, "bool", Decode::kBool, false},
    {17, "bytea", Decode::kBytes, false},
    {18, "char", Decode::kText, true},
    {19, "name", Decode::kText, false},
    {20, "int8", Decode::kInt64, false},
    {21, "int2", Decode::kInt16, false},
    {23, "int4", Decode::kInt32, false},
    {24, "regproc", Decode::kUInt32, true},
    {25, "text", Decode::kText, false},
    {26, "oid", Decode::kUInt32, false},
    {28, "xid", Decode::kUInt32, true},
    {29, "cid", Decode::kUInt32, true},
    {114, "json", Decode::kText, true},
    {142, "xml", Decode::kText, true},
    {650, "cidr", Decode::kInet, true},
    {700, "float4", Decode::kFloat32, false},
    {701, "float8", Decode::kFloat64, false},
    {705, "unknown", Decode::kText, false},
    {774, "macaddr8", Decode::kMacaddr8, true},
    {790, "money", Decode::kMoney, true},
    {829, "macaddr", Decode::kMacaddr, true},
    {869, "inet", Decode::kInet, true},
    {1042, "bpchar", Decode::kText, false},
    {1043, "varchar", Decode::kText, false},
    {1082, "date", Decode::kDate, false},
    {1083, "time", Decode::kTime, false},
    {1114, "timestamp", Decode::kTimestamp, false},
    {1184, "timestamptz", Decode::kTimestamp, false},
    {1186, "interval", Decode::kInterval, false},
    {1266, "timetz", Decode::kTimeTz, true},
    {1560, "bit", Decode::kBits, true},
    {1562, "varbit", Decode::kBits, true},
    {1700, "numeric", Decode::kNumericDecimal, false},  // kNumericText when no typmod fits
    {1790, "refcursor", Decode::kText, true},
    {2202, "regprocedure", Decode::kUInt32, true},
    {2203, "regoper", Decode::kUInt32, true},
    {2204, "regoperator", Decode::kUInt32, true},
    {2205, "regclass", Decode::kUInt32, true},
    {2206, "regtype", Decode::kUInt32, true},
    {2275, "cstring", Decode::kText, false},
    {2278, "void", Decode::kVoid, true},
    {2950, "uuid", Decode::kUuid, true},
    {3220, "pg_lsn", Decode::kPgLsn, true},
    {3734, "regconfig", Decode::kUInt32, true},
    {3769, "regdictionary", Decode::kUInt32, true},
    {3802, "jsonb", Decode::kVersionedText, true},
    {4072, "jsonpath", Decode::kVersionedText, true},
    {4089, "regnamespace", Decode::kUInt32, true},
    {4096, "regrole", Decode::kUInt32, true},
    {4191, "regcollation", Decode::kUInt32, true},
    {5069, "xid8", Decode::kUInt64, true},
};

// Array type -> element type for the built-ins above (SELECT oid, typelem FROM pg_type
// WHERE typcategory = 'A'). int2vector and oidvector use the array wire format too.
constexpr std::pair<Oid, Oid> kBuiltinArrays[] = {
    {1000, 16},   {1001, 17},   {1002, 18},   {1003, 19},   {1016, 20},   {1005, 21},
    {22, 21},     {1007, 23},   {1008, 24},   {1009, 25},   {1028, 26},   {30, 26},
    {1011, 28},   {1012, 29},   {199, 114},   {143, 142},   {651, 650},   {1021, 700},
    {1022, 701},  {775, 774},   {791, 790},   {1040, 829},  {1041, 869},  {1014, 1042},
    {1015, 1043}, {1182, 1082}, {1183, 1083}, {1115, 1114}, {1185, 1184}, {1187, 1186},
    {1270, 1266}, {1561, 1560}, {1563, 1562}, {1231, 1700}, {2201, 1790}, {2207, 2202},
    {2208, 2203}, {2209, 2204}, {2210, 2205}, {2211, 2206}, {1263, 2275}, {2951, 2950},
    {3221, 3220}, {3735, 3734}, {3770, 3769}, {3807, 3802}, {4073, 4072}, {4090, 4089},
    {4097, 4096}, {4192, 4191}, {271, 5069},
};

const Builtin* FindBuiltin(Oid oid) {
  for (const Builtin& b : kBuiltins) {
    if (b.oid == oid) return &b;
  }
  return nullptr;
}

Oid BuiltinArrayElement(Oid oid) {
  for (const auto& [array, element] : kBuiltinArrays) {
    if (array == oid) return element;
  }
  return 0;
}

DataType TypeFor(Decode decode, Oid oid) {
  switch (decode) {
    case Decode::kBool: return DataType::Of(TypeId::kBoolean);
    case Decode::kInt16: return DataType::Of(TypeId::kInt16);
    case Decode::kInt32: return DataType::Of(TypeId::kInt32);
    case Decode::kInt64: return DataType::Of(TypeId::kInt64);
    case Decode::kUInt32: return DataType::Of(TypeId::kUInt32);
    case Decode::kUInt64: return DataType::Of(TypeId::kUInt64);
    case Decode::kFloat32: return DataType::Of(TypeId::kFloat32);
    case Decode::kFloat64: return DataType::Of(TypeId::kFloat64);
    // money's binary form is an int64 in units of the lc_monetary currency's minor unit; we
    // assume two fractional digits (every common lc_monetary), so the value is cents.
    case Decode::kMoney: return DataType::Decimal(19, 4);
    case Decode::kBytes: return DataType::Of(TypeId::kBinary);
    case Decode::kDate: return DataType::Of(TypeId::kDate32);
    case Decode::kTime:
    case Decode::kTimeTz: return DataType::Time(TimeUnit::kMicro);
    case Decode::kTimestamp:
      return DataType::Timestamp(TimeUnit::kMicro, oid == kTimestampTzOid ? "UTC" : "");
    // The exact parts; IntervalColumns (pg_interval.hpp) narrows them to Duration(us) when
    // no value has months.
    case Decode::kInterval: return arrow::IntervalStructType();
    case Decode::kVoid: return DataType::Of(TypeId::kNull);
    case Decode::kNumericDecimal:  // Plan() builds the decimal type from the typmod
    case Decode::kArray:           // and the list type from the element
    case Decode::kNumericText:
    case Decode::kText:
    case Decode::kVersionedText:
    case Decode::kUuid:
    case Decode::kInet:
    case Decode::kMacaddr:
    case Decode::kMacaddr8:
    case Decode::kBits:
    case Decode::kPgLsn: return DataType::Of(TypeId::kString);
  }
  return DataType::Of(TypeId::kBinary);
}

ColumnPlan Simple(std::string name, Decode decode, DataType type, const char* db_type) {
  ColumnPlan plan;
  plan.field.name = std::move(name);
  plan.field.type = std::move(type);
  plan.decode = decode;
  if (db_type != nullptr) plan.field.metadata.emplace_back(kDbTypeKey, db_type);
  return plan;
}

std::string DbTypeOf(const arrow::Field& field) {
  for (const auto& [key, value] : field.metadata) {
    if (key == kDbTypeKey) return value;
  }
  return {};
}

ColumnPlan ListOf(std::string name, ColumnPlan element) {
  ColumnPlan plan;
  plan.field.name = std::move(name);
  plan.decode = Decode::kArray;
  if (std::string db_type = DbTypeOf(element.field); !db_type.empty()) {
    plan.field.metadata.emplace_back(kDbTypeKey, db_type + "[]");
  }
  element.field.name = "item";
  plan.field.type = DataType::List(element.field);
  plan.element.push_back(std::move(element));
  return plan;
}

}  // namespace

bool NumericDecimalType(int32_t typmod, int32_t* precision, int32_t* scale) {
  constexpr int32_t kVarHdrSz = 4;  // numeric typmods are offset by VARHDRSZ
  if (typmod < kVarHdrSz) return false;
  int32_t packed = typmod - kVarHdrSz;
  int32_t p = (packed >> 16) & 0xffff;
  // PostgreSQL 15 packs the scale in 11 bits, signed (numeric.c, make_numeric_typmod).
  int32_t s = ((packed & 0x7ff) ^ 1024) - 1024;
  // PostgreSQL 15 allows s < 0 (numeric(3,-2): multiples of 100 up to 99900) and s > p
  // (numeric(2,4): 0.00xx). Consumers like Polars need 0 <= scale <= precision, so fold the
  // scale in: (3,-2) -> (5,0), (2,4) -> (4,4); same values, exactly.
  if (s < 0) {
    p -= s;
    s = 0;
  }
  p = std::max(p, s);
  // Above 38 digits Decimal128 cannot hold every value: such columns (and unconstrained
  // numeric, whose values may have up to 131072 digits) are exact decimal text instead,
  // tagged dbpool.db_type=numeric, rather than a lossy float.
  if (p < 1 || p > 38) return false;
  *precision = p;
  *scale = s;
  return true;
}

void TypeRegistry::CollectMissing(Oid oid, std::vector<Oid>* missing) const {
  for (int depth = 0; depth < kMaxDepth; ++depth) {
    if (FindBuiltin(oid) != nullptr || BuiltinArrayElement(oid) != 0) return;
    auto it = catalog_.find(oid);
    if (it == catalog_.end()) {
      if (std::find(missing->begin(), missing->end(), oid) == missing->end()) {
        missing->push_back(oid);
      }
      return;
    }
    const PgTypeInfo& info = it->second;
    if (info.typtype == 'd' && info.base != 0) {
      oid = info.base;
    } else if (info.category == 'A' && info.elem != 0) {
      oid = info.elem;
    } else {
      return;
    }
  }
}

void TypeRegistry::Add(PgTypeInfo info) { catalog_[info.oid] = std::move(info); }

void TypeRegistry::AddUnknown(Oid oid) {
  PgTypeInfo info;
  info.oid = oid;
  info.name = "oid " + std::to_string(oid);
  info.typtype = '?';
  catalog_[oid] = std::move(info);
}

ColumnPlan TypeRegistry::Plan(std::string name, Oid oid, int32_t typmod) const {
  return PlanType(std::move(name), oid, typmod, 0);
}

ColumnPlan TypeRegistry::PlanType(std::string name, Oid oid, int32_t typmod, int depth) const {
  if (oid == kNumericOid) {
    int32_t precision = 0;
    int32_t scale = 0;
    if (NumericDecimalType(typmod, &precision, &scale)) {
      return Simple(std::move(name), Decode::kNumericDecimal,
                    DataType::Decimal(precision, scale), nullptr);
    }
    return Simple(std::move(name), Decode::kNumericText, DataType::Of(TypeId::kString),
                  "numeric");
  }
  if (const Builtin* b = FindBuiltin(oid)) {
    ColumnPlan plan = Simple(std::move(name), b->decode, TypeFor(b->decode, oid),
                             b->tag ? b->name : nullptr);
    if (b->decode == Decode::kTimeTz) {
      plan.field.metadata.emplace_back("dbpool.note", "converted to UTC");
    }
    return plan;
  }
  if (depth >= kMaxDepth) {
    return Simple(std::move(name), Decode::kBytes, DataType::Of(TypeId::kBinary), "unknown");
  }
  // An array column's typmod (PQfmod) is its element's: numeric(10,2)[] has numeric(10,2)'s.
  if (Oid element = BuiltinArrayElement(oid); element != 0) {
    return ListOf(std::move(name), PlanType("item", element, typmod, depth + 1));
  }
  auto it = catalog_.find(oid);
  if (it == catalog_.end()) {
    // CollectMissing() + a catalog lookup precede every Plan(); reaching here means the
    // lookup failed for this OID. Binary keeps the bytes rather than failing the query.
    return Simple(std::move(name), Decode::kBytes, DataType::Of(TypeId::kBinary), "unknown");
  }
  const PgTypeInfo& info = it->second;
  if (info.typtype == 'd' && info.base != 0) {
    // Row descriptions already report domains as their base type; this path is for
    // elements of arrays of domains, whose typmod is the domain's.
    return PlanType(std::move(name), info.base, typmod >= 0 ? typmod : info.typmod, depth + 1);
  }
  if (info.typtype == 'e') {
    // An enum's binary form is its label.
    return Simple(std::move(name), Decode::kText, DataType::Of(TypeId::kString),
                  info.name.c_str());
  }
  if (info.category == 'A' && info.elem != 0) {
    return ListOf(std::move(name), PlanType("item", info.elem, typmod, depth + 1));
  }
  return Simple(std::move(name), Decode::kBytes, DataType::Of(TypeId::kBinary),
                info.name.c_str());
}

void TypeRegistry::AddCatalogRows(const PGresult* result, const std::vector<Oid>& asked) {
  std::vector<Oid> found;
  for (int r = 0; result != nullptr && r < PQntuples(result); ++r) {
    // Every column has a fixed size but typname; check before reading.
    auto value = [&](int c, int size) {
      if (PQgetisnull(result, r, c) || (size > 0 && PQgetlength(result, r, c) != size)) {
        throw DbError(ErrorKind::kInternal, "unexpected pg_type row from the catalog query");
      }
      return PQgetvalue(result, r, c);
    };
    PgTypeInfo info;
    info.oid = LoadU32(value(0, 4));
    info.name.assign(value(1, 0), static_cast<size_t>(PQgetlength(result, r, 1)));
    info.typtype = value(2, 1)[0];
    info.category = value(3, 1)[0];
    info.base = LoadU32(value(4, 4));
    info.elem = LoadU32(value(5, 4));
    info.typmod = LoadI32(value(6, 4));
    found.push_back(info.oid);
    Add(std::move(info));
  }
  for (Oid oid : asked) {
    if (std::find(found.begin(), found.end(), oid) == found.end()) AddUnknown(oid);
  }
}

const char* TypeRegistry::CatalogQuery() {
  return "SELECT t.oid, t.typname, t.typtype, t.typcategory, t.typbasetype, t.typelem, "
         "t.typtypmod FROM pg_catalog.pg_type t WHERE t.oid = ANY($1::pg_catalog.oid[])";
}

}  // namespace dbpool::pg
