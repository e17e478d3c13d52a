// bulk_insert for SQL Server through FreeTDS bcp: the table's columns (SET FMTONLY), the
// column plan, a check of every value, then bcp_init / bcp_bind / bcp_sendrow, bcp_batch
// every batch_rows rows and bcp_done.
#include "drivers/mssql/mssql_bulk.hpp"

#include <algorithm>
#include <cctype>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>

#include "dbpool/error.hpp"
#include "drivers/mssql/mssql_connection.hpp"

namespace dbpool::mssql {
namespace {

using arrow::ImportKind;

constexpr int64_t kDaysFrom1900To1970 = 25567;
constexpr int64_t kDaysFrom1900To0001 = -693595;   // 0001-01-01
constexpr int64_t kDaysFrom1900To10000 = 2958464;  // 10000-01-01, the first day too late
constexpr int64_t kDaysFrom1900To1753 = -53690;    // datetime's first day
constexpr int64_t kDaysFrom1900To2079Jun7 = 65535 + 1;  // smalldatetime's end
constexpr int64_t kTicksPerDay = 864000000000;     // 100 ns ticks
// How often the copy looks at the cancel flag, in rows.
constexpr int64_t kCancelCheckRows = 256;

[[noreturn]] void ConfigError(const std::string& message) {
  throw DbError(ErrorKind::kConfig, "bulk_insert: " + message);
}

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string ArrowName(const arrow::ImportedType& type) {
  switch (type.kind) {
    case ImportKind::kNull: return "Null";
    case ImportKind::kBoolean: return "Boolean";
    case ImportKind::kInt: return "Int" + std::to_string(type.byte_width * 8);
    case ImportKind::kUInt: return "UInt" + std::to_string(type.byte_width * 8);
    case ImportKind::kFloat: return "Float" + std::to_string(type.byte_width * 8);
    case ImportKind::kString: return "String";
    case ImportKind::kBinary: return "Binary";
    case ImportKind::kDecimal:
      return "Decimal(" + std::to_string(type.precision) + ", " + std::to_string(type.scale) + ")";
    case ImportKind::kTimestamp:
      return type.timezone.empty() ? "Datetime" : "Datetime(" + type.timezone + ")";
    case ImportKind::kDate32: return "Date";
  }
  return type.format;
}

// The host form for a table column of kind `target` fed from Arrow `source`; false when
// they do not fit together.
bool ChooseForm(ColumnKind target, ImportKind source, HostForm* form, int* host_type) {
  auto set = [&](HostForm f, int t) {
    *form = f;
    *host_type = t;
    return true;
  };
  const bool integer = source == ImportKind::kInt || source == ImportKind::kUInt ||
                       source == ImportKind::kBoolean;
  const bool temporal = source == ImportKind::kTimestamp || source == ImportKind::kDate32;
  switch (target) {
    case ColumnKind::kUInt8:
    case ColumnKind::kInt16:
    case ColumnKind::kInt32:
    case ColumnKind::kInt64:
      return integer && set(HostForm::kInt64, SYBINT8);
    case ColumnKind::kBoolean:
      return integer && set(HostForm::kBit, SYBBIT);
    case ColumnKind::kFloat32:
    case ColumnKind::kFloat64:
      return (integer || source == ImportKind::kFloat) && set(HostForm::kFloat64, SYBFLT8);
    case ColumnKind::kDecimal:
      return (integer || source == ImportKind::kDecimal) && set(HostForm::kNumeric, SYBNUMERIC);
    // Money in its own host types: db-lib's bcp overruns its 8-byte buffer converting a
    // DBNUMERIC into money.
    case ColumnKind::kMoney:
      return (integer || source == ImportKind::kDecimal) && set(HostForm::kMoney, SYBMONEY);
    case ColumnKind::kSmallMoney:
      return (integer || source == ImportKind::kDecimal) && set(HostForm::kMoney, SYBMONEY4);
    case ColumnKind::kString:
    case ColumnKind::kGuid:
      return source == ImportKind::kString && set(HostForm::kChars, SYBCHAR);
    case ColumnKind::kBinary:
      return source == ImportKind::kBinary && set(HostForm::kBytes, SYBBINARY);
    case ColumnKind::kDate:
      return temporal && set(HostForm::kDateTimeAll, SYBMSDATE);
    case ColumnKind::kDateTime2:
    case ColumnKind::kDateTime:
    case ColumnKind::kSmallDateTime:
      return temporal && set(HostForm::kDateTimeAll, SYBMSDATETIME2);
    case ColumnKind::kDateTimeOffset:
      return temporal && set(HostForm::kDateTimeAll, SYBMSDATETIMEOFFSET);
    case ColumnKind::kTime:
    case ColumnKind::kOther:
      return false;
  }
  return false;
}

std::string TargetName(const BulkColumn& c) {
  switch (c.target.kind) {
    case ColumnKind::kDecimal:
      return "decimal(" + std::to_string(c.precision) + "," + std::to_string(c.scale) + ")";
    default:
      return Lower(TypeName(c.target.db_type));
  }
}

__int128 Pow10(int n) {
  __int128 p = 1;
  while (n-- > 0) p *= 10;
  return p;
}

// `value` at scale `from` -> scale `to`, rounding half away from zero as SQL Server does;
// false on overflow of 38 digits.
bool Rescale(__int128 value, int from, int to, __int128* out) {
  const __int128 limit = Pow10(38);
  if (to >= from) {
    const __int128 factor = Pow10(to - from);
    if (value > limit / factor || value < -limit / factor) return false;
    *out = value * factor;
    return true;
  }
  const __int128 divisor = Pow10(from - to);
  __int128 q = value / divisor, r = value % divisor;
  if (r * 2 >= divisor) ++q;
  if (r * 2 <= -divisor) --q;
  *out = q;
  return true;
}

std::string Int128Text(__int128 v) {
  if (v == 0) return "0";
  const bool negative = v < 0;
  std::string digits;
  while (v != 0) {
    int d = static_cast<int>(v % 10);
    digits.push_back(static_cast<char>('0' + (d < 0 ? -d : d)));
    v /= 10;
  }
  if (negative) digits.push_back('-');
  return std::string(digits.rbegin(), digits.rend());
}

std::string DecimalText(__int128 unscaled, int scale) {
  std::string text = Int128Text(unscaled < 0 ? -unscaled : unscaled);
  if (scale > 0) {
    if (static_cast<int>(text.size()) <= scale) text.insert(0, scale + 1 - text.size(), '0');
    text.insert(text.size() - scale, ".");
  }
  return (unscaled < 0 ? "-" : "") + text;
}

// Days since 1900-01-01 and 100 ns ticks into the day of a Date or Datetime value (UTC for
// zoned ones: Arrow stores them as UTC).
void DayAndTicks(const arrow::ColumnView& view, int64_t row, int64_t* days, int64_t* ticks) {
  if (view.type().kind == ImportKind::kDate32) {
    *days = view.Days(row) + kDaysFrom1900To1970;
    *ticks = 0;
    return;
  }
  // 128 bits: seconds-precision values of year 1 overflow int64 nanoseconds.
  const __int128 ns = static_cast<__int128>(view.Ticks(row)) * view.type().ns_per_unit;
  const __int128 ns_per_day = static_cast<__int128>(kTicksPerDay) * 100;
  __int128 day = ns / ns_per_day, rest = ns % ns_per_day;
  if (rest < 0) {
    rest += ns_per_day;
    --day;
  }
  *days = static_cast<int64_t>(day) + kDaysFrom1900To1970;
  *ticks = static_cast<int64_t>(rest / 100);
}

// Decodes one UTF-8 sequence at `p` (Polars strings are valid UTF-8; anything else is an
// error); returns its length, 0 when invalid.
size_t DecodeUtf8(std::string_view text, size_t p, uint32_t* code) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char c = byte(p);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (n == 0 || p + n > text.size()) return 0;
  uint32_t v = n == 1 ? c : c & (0x7F >> n);
  for (size_t i = 1; i < n; ++i) {
    if ((byte(p + i) & 0xC0) != 0x80) return 0;
    v = (v << 6) | (byte(p + i) & 0x3F);
  }
  *code = v;
  return n;
}

// UTF-8 -> UTF-16LE for nchar/nvarchar/ntext: db-lib's bcp sends bound character data as
// it is, without converting it to the column's encoding.
bool ToUtf16(std::string_view text, std::string* out) {
  out->clear();
  for (size_t p = 0; p < text.size();) {
    uint32_t code;
    size_t n = DecodeUtf8(text, p, &code);
    if (n == 0) return false;
    p += n;
    auto put = [&](uint32_t unit) {
      out->push_back(static_cast<char>(unit & 0xFF));
      out->push_back(static_cast<char>(unit >> 8));
    };
    if (code >= 0x10000) {
      code -= 0x10000;
      put(0xD800 + (code >> 10));
      put(0xDC00 + (code & 0x3FF));
    } else {
      put(code);
    }
  }
  return true;
}

// UTF-8 -> Windows-1252 for char/varchar/text (the code page of SQL Server's default Latin1
// collations); false for a character it does not have.
bool ToWindows1252(std::string_view text, std::string* out) {
  // Windows-1252's 0x80..0x9F, by code point (0 = unassigned).
  static constexpr uint16_t kHigh[32] = {
      0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
      0x2039, 0x0152, 0, 0x017D, 0, 0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013,
      0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178};
  out->clear();
  for (size_t p = 0; p < text.size();) {
    uint32_t code;
    size_t n = DecodeUtf8(text, p, &code);
    if (n == 0) return false;
    p += n;
    if (code < 0x80 || (code >= 0xA0 && code <= 0xFF)) {
      out->push_back(static_cast<char>(code));
      continue;
    }
    int found = -1;
    for (int i = 0; i < 32; ++i) {
      if (kHigh[i] != 0 && kHigh[i] == code) found = i;
    }
    if (found < 0) return false;
    out->push_back(static_cast<char>(0x80 + found));
  }
  return true;
}

bool IsAscii(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

}  // namespace

void CheckTableName(const std::string& target) {
  auto bad = [&](const std::string& why) {
    ConfigError("table name '" + target + "' " + why +
                " (expected table, schema.table or db.schema.table; [brackets] for other names)");
  };
  if (target.empty()) bad("is empty");
  int parts = 0;
  size_t i = 0;
  while (true) {
    if (i >= target.size()) bad("ends with a dot");
    if (target[i] == '[') {
      size_t j = i + 1;
      while (true) {
        if (j >= target.size()) bad("has an unclosed [");
        if (target[j] == ']') {
          if (j + 1 < target.size() && target[j + 1] == ']') {
            j += 2;
            continue;
          }
          break;
        }
        if (target[j] == '\0' || target[j] == '\n' || target[j] == '\r') bad("has a control character");
        ++j;
      }
      if (j == i + 1) bad("has an empty [] part");
      i = j + 1;
    } else {
      size_t j = i;
      while (j < target.size() &&
             (std::isalnum(static_cast<unsigned char>(target[j])) || target[j] == '_' ||
              target[j] == '@' || target[j] == '#' || target[j] == '$')) {
        ++j;
      }
      if (j == i) bad("has a character that needs [brackets]");
      if (std::isdigit(static_cast<unsigned char>(target[i]))) bad("has a part starting with a digit");
      i = j;
    }
    ++parts;
    if (i == target.size()) break;
    if (target[i] != '.') bad("has a character that needs [brackets]");
    ++i;
  }
  if (parts > 3) bad("has more than three parts");
}

std::vector<BulkColumn> PlanColumns(const std::string& target,
                                    const std::vector<TableColumn>& table,
                                    const arrow::ImportedTable& frame) {
  std::vector<BulkColumn> plan;
  std::vector<char> used(table.size(), 0);
  auto names = [&] {
    std::string list;
    for (const auto& c : table) list += (list.empty() ? "" : ", ") + c.name;
    return list;
  };
  for (size_t s = 0; s < frame.names().size(); ++s) {
    const std::string& name = frame.names()[s];
    int found = -1;
    for (size_t t = 0; t < table.size(); ++t) {
      if (table[t].name == name) found = static_cast<int>(t);
    }
    if (found < 0) {
      const std::string lower = Lower(name);
      for (size_t t = 0; t < table.size(); ++t) {
        if (Lower(table[t].name) != lower) continue;
        if (found >= 0) {
          ConfigError("column '" + name + "' matches several columns of " + target +
                      " that differ only in case");
        }
        found = static_cast<int>(t);
      }
    }
    if (found < 0) {
      ConfigError("column '" + name + "' is not a column of " + target + " (its columns: " +
                  names() + ")");
    }
    if (used[found]) ConfigError("column '" + name + "' is given twice");
    used[found] = 1;
    const TableColumn& column = table[found];
    if (column.identity) {
      ConfigError("column '" + name + "' is an identity column of " + target +
                  ": the server assigns it, leave it out of the DataFrame");
    }
    BulkColumn bound;
    bound.table_column = found + 1;
    bound.source = static_cast<int>(s);
    bound.name = column.name;
    bound.target = SpecFor(column.db_type, column.precision, column.scale);
    bound.precision = bound.target.kind == ColumnKind::kMoney        ? 19
                      : bound.target.kind == ColumnKind::kSmallMoney ? 10
                                                                     : column.precision;
    bound.scale = bound.target.kind == ColumnKind::kDecimal ? column.scale : 4;
    bound.wide_text = column.wide_text;
    const arrow::ImportedType& source = frame.types()[s];
    // An all-null column fits anywhere; its values are all NULL.
    const ImportKind kind = source.kind == ImportKind::kNull ? ImportKind::kString : source.kind;
    bool fits = ChooseForm(bound.target.kind, kind, &bound.form, &bound.host_type);
    if (source.kind == ImportKind::kNull && !fits) {
      fits = ChooseForm(bound.target.kind, ImportKind::kInt, &bound.form, &bound.host_type) ||
             ChooseForm(bound.target.kind, ImportKind::kTimestamp, &bound.form, &bound.host_type) ||
             ChooseForm(bound.target.kind, ImportKind::kBinary, &bound.form, &bound.host_type);
    }
    if (!fits) {
      throw DbError(ErrorKind::kDataConversion,
                    "bulk_insert: column '" + name + "': Arrow " + ArrowName(source) +
                        " cannot be written to the " + TargetName(bound) + " column of " + target +
                        (bound.target.kind == ColumnKind::kTime || bound.target.kind == ColumnKind::kOther
                             ? " (bulk_insert does not write this SQL Server type)"
                             : ""));
    }
    plan.push_back(std::move(bound));
  }
  if (plan.empty()) ConfigError("the DataFrame has no columns");
  return plan;
}

std::string Prepare(const arrow::ColumnView& view, int64_t row, BulkColumn& c) {
  c.is_null = view.IsNull(row);
  if (c.is_null) return "";
  const ImportKind kind = view.type().kind;
  switch (c.form) {
    case HostForm::kInt64: {
      int64_t v;
      if (kind == ImportKind::kBoolean) {
        v = view.Bool(row) ? 1 : 0;
      } else if (kind == ImportKind::kUInt) {
        uint64_t u = view.UInt(row);
        if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          return std::to_string(u) + " is out of range for " + TargetName(c);
        }
        v = static_cast<int64_t>(u);
      } else {
        v = view.Int(row);
      }
      int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
      if (c.target.kind == ColumnKind::kUInt8) lo = 0, hi = 255;
      if (c.target.kind == ColumnKind::kInt16) lo = INT16_MIN, hi = INT16_MAX;
      if (c.target.kind == ColumnKind::kInt32) lo = INT32_MIN, hi = INT32_MAX;
      if (v < lo || v > hi) return std::to_string(v) + " is out of range for " + TargetName(c);
      c.int_value = v;
      return "";
    }
    case HostForm::kBit:
      c.bit_value = kind == ImportKind::kBoolean ? view.Bool(row)
                    : kind == ImportKind::kUInt  ? view.UInt(row) != 0
                                                 : view.Int(row) != 0;
      return "";
    case HostForm::kFloat64: {
      double v = kind == ImportKind::kFloat ? view.Float(row)
                 : kind == ImportKind::kUInt ? static_cast<double>(view.UInt(row))
                 : kind == ImportKind::kBoolean ? (view.Bool(row) ? 1.0 : 0.0)
                                                : static_cast<double>(view.Int(row));
      if (!std::isfinite(v)) return "SQL Server cannot store NaN or infinity";
      if (c.target.kind == ColumnKind::kFloat32 && std::fabs(v) > FLT_MAX) {
        return std::to_string(v) + " is out of range for real";
      }
      c.float_value = v;
      return "";
    }
    case HostForm::kNumeric:
    case HostForm::kMoney: {
      __int128 unscaled;
      int from = 0;
      if (kind == ImportKind::kDecimal) {
        unscaled = view.Decimal(row);
        from = view.type().scale;
      } else if (kind == ImportKind::kUInt) {
        unscaled = view.UInt(row);
      } else if (kind == ImportKind::kBoolean) {
        unscaled = view.Bool(row) ? 1 : 0;
      } else {
        unscaled = view.Int(row);
      }
      __int128 value = 0;
      const bool fits = Rescale(unscaled, from, c.scale, &value);
      const __int128 limit = c.target.kind == ColumnKind::kMoney
                                 ? static_cast<__int128>(INT64_MAX)
                             : c.target.kind == ColumnKind::kSmallMoney
                                 ? static_cast<__int128>(INT32_MAX)
                                 : Pow10(c.precision) - 1;
      const __int128 low = c.target.kind == ColumnKind::kMoney ? static_cast<__int128>(INT64_MIN)
                           : c.target.kind == ColumnKind::kSmallMoney
                               ? static_cast<__int128>(INT32_MIN)
                               : -limit;
      if (!fits || value > limit || value < low) {
        return DecimalText(unscaled, from) + " is out of range for " + TargetName(c);
      }
      if (c.form == HostForm::kMoney) {  // units of 1/10000
        const int64_t units = static_cast<int64_t>(value);
        c.money.mnyhigh = static_cast<DBINT>(units >> 32);
        c.money.mnylow = static_cast<DBUINT>(static_cast<uint64_t>(units) & 0xFFFFFFFFu);
        c.money4.mny4 = static_cast<DBINT>(units);
        return "";
      }
      c.numeric = DBNUMERIC{};
      c.numeric.precision = static_cast<BYTE>(c.precision);
      c.numeric.scale = static_cast<BYTE>(c.scale);
      c.numeric.array[0] = value < 0 ? 1 : 0;  // db-lib: 1 for negatives
      unsigned __int128 magnitude =
          value < 0 ? static_cast<unsigned __int128>(-value) : static_cast<unsigned __int128>(value);
      const int bytes = NumericBytes(c.precision);
      for (int i = bytes; i >= 1; --i) {  // big-endian magnitude
        c.numeric.array[i] = static_cast<BYTE>(magnitude & 0xFF);
        magnitude >>= 8;
      }
      return "";
    }
    case HostForm::kChars: {
      std::string_view text = view.String(row);
      if (c.target.kind == ColumnKind::kString && c.wide_text) {
        if (!ToUtf16(text, &c.scratch)) return "the text is not valid UTF-8";
        c.bytes = c.scratch;
      } else if (c.target.kind == ColumnKind::kString && !IsAscii(text)) {
        if (!ToWindows1252(text, &c.scratch)) {
          return "a character outside Windows-1252, which this " + TargetName(c) +
                 " column stores (use nvarchar for any text)";
        }
        c.bytes = c.scratch;
      } else {
        c.bytes = text;
      }
      return "";
    }
    case HostForm::kBytes:
      c.bytes = view.String(row);
      return "";
    case HostForm::kDateTimeAll: {
      int64_t days, ticks;
      DayAndTicks(view, row, &days, &ticks);
      int64_t first = kDaysFrom1900To0001, end = kDaysFrom1900To10000;
      if (c.target.kind == ColumnKind::kDateTime) first = kDaysFrom1900To1753;
      if (c.target.kind == ColumnKind::kSmallDateTime) first = 0, end = kDaysFrom1900To2079Jun7;
      if (days < first || days >= end) {
        return "the date is out of range for " + TargetName(c);
      }
      c.datetime = DBDATETIMEALL{};
      c.datetime.date = static_cast<DBINT>(days);
      c.datetime.has_date = 1;
      if (c.target.kind != ColumnKind::kDate) {
        c.datetime.time = static_cast<DBUBIGINT>(ticks);
        c.datetime.time_prec = 7;
        c.datetime.has_time = 1;
      }
      if (c.target.kind == ColumnKind::kDateTimeOffset) {
        c.datetime.offset = 0;  // stored as UTC (+00:00)
        c.datetime.has_offset = 1;
      }
      return "";
    }
  }
  return "";
}

asio::awaitable<int64_t> MssqlConnection::BulkInsert(std::string target,
                                                     std::shared_ptr<arrow::ImportedTable> table,
                                                     BulkInsertOptions options,
                                                     CancelTokenPtr cancel) {
  if (options.batch_rows < 1) ConfigError("batch_rows must be at least 1");
  if (!options.tag_columns.empty()) ConfigError("tag_columns applies to InfluxDB only");
  CheckTableName(target);
  co_return co_await runtime_.RunBlocking(
      [this, target = &target, table = table.get(), options = &options, c = cancel.get()] {
        CheckUsable(c);
        Operation operation(*this, c);
        return BulkCopy(*target, *table, *options);
      });
}

int64_t MssqlConnection::BulkCopy(const std::string& target, const arrow::ImportedTable& table,
                                  const BulkInsertOptions& options) {
  // The table's columns, as bcp_init will see them.
  std::vector<TableColumn> columns;
  Send("SET FMTONLY ON select * from " + target + " SET FMTONLY OFF", {});
  {
    bool failed = dbsqlok(dbproc_) == FAIL;
    RETCODE rc;
    while ((rc = dbresults(dbproc_)) != NO_MORE_RESULTS) {
      if (rc == FAIL) {
        failed = true;
        if (dbdead(dbproc_) == TRUE) break;
        continue;
      }
      if (columns.empty() && dbnumcols(dbproc_) > 0) {
        for (int i = 1; i <= dbnumcols(dbproc_); ++i) {
          TableColumn column;
          column.name = dbcolname(dbproc_, i);
          column.db_type = dbcoltype(dbproc_, i);
          if (DBTYPEINFO* info = dbcoltypeinfo(dbproc_, i)) {
            column.precision = info->precision;
            column.scale = info->scale;
          }
          DBCOL2 described{};
          described.SizeOfStruct = sizeof(described);
          if (dbtablecolinfo(dbproc_, i, reinterpret_cast<DBCOL*>(&described)) == SUCCEED) {
            column.identity = described.Identity == TRUE;
            // The server's own type byte: nchar 0xEF, nvarchar 0xE7, ntext 0x63.
            column.wide_text = described.ServerType == 0xEF || described.ServerType == 0xE7 ||
                               described.ServerType == 0x63;
          } else {
            column.wide_text = column.db_type == SYBNVARCHAR || column.db_type == SYBNTEXT;
          }
          columns.push_back(std::move(column));
        }
      }
      dbcanquery(dbproc_);
    }
    if (failed || !sink_.server_errors().empty() || columns.empty()) {
      if (target_->cancelled.load(std::memory_order_acquire)) ThrowCancelled();
      DbError error = Failure("bulk_insert: could not read the columns of " + target);
      throw DbError(error.kind(), "bulk_insert: " + error.message(), error.sqlstate(),
                    error.vendor_code());
    }
  }
  std::vector<BulkColumn> plan = PlanColumns(target, columns, table);

  // Every value is checked before anything is sent: a bad one writes nothing.
  int64_t index = 0;
  for (size_t b = 0; b < table.num_batches(); ++b) {
    for (auto& column : plan) {
      arrow::ColumnView view = table.Column(b, static_cast<size_t>(column.source));
      for (int64_t r = 0; r < table.batch_rows(b); ++r) {
        std::string problem = Prepare(view, r, column);
        if (!problem.empty()) {
          throw DbError(ErrorKind::kDataConversion,
                        "bulk_insert: row " + std::to_string(index + r) + ", column '" +
                            table.names()[column.source] + "': " + problem + " (nothing written)");
        }
      }
    }
    index += table.batch_rows(b);
  }
  if (table.num_rows() == 0) return 0;

  sink_.Clear();
  if (bcp_init(dbproc_, target.c_str(), nullptr, nullptr, DB_IN) == FAIL) {
    if (target_->cancelled.load(std::memory_order_acquire)) {
      broken_.store(true, std::memory_order_release);  // bcp half set up: start afresh
      ThrowCancelled();
    }
    DbError error = Failure("bcp_init failed");
    throw DbError(error.kind(), "bulk_insert into " + target + ": " + error.message(),
                  error.sqlstate(), error.vendor_code());
  }
  for (auto& column : plan) {
    BYTE* address = nullptr;
    switch (column.form) {
      case HostForm::kInt64: address = reinterpret_cast<BYTE*>(&column.int_value); break;
      case HostForm::kBit: address = reinterpret_cast<BYTE*>(&column.bit_value); break;
      case HostForm::kFloat64: address = reinterpret_cast<BYTE*>(&column.float_value); break;
      case HostForm::kNumeric: address = reinterpret_cast<BYTE*>(&column.numeric); break;
      case HostForm::kMoney:
        address = column.host_type == SYBMONEY ? reinterpret_cast<BYTE*>(&column.money)
                                               : reinterpret_cast<BYTE*>(&column.money4);
        break;
      case HostForm::kDateTimeAll: address = reinterpret_cast<BYTE*>(&column.datetime); break;
      case HostForm::kChars:
      case HostForm::kBytes: address = reinterpret_cast<BYTE*>(const_cast<char*>("")); break;
    }
    // -1: fixed-size host types (db-lib counts the DBDATETIMEALL forms among them); the
    // others get their length per row through bcp_collen.
    const DBINT length =
        column.form == HostForm::kNumeric ? static_cast<DBINT>(sizeof(DBNUMERIC)) : -1;
    if (bcp_bind(dbproc_, address, 0, length, nullptr, 0, column.host_type, column.table_column) ==
        FAIL) {
      broken_.store(true, std::memory_order_release);  // a bcp left half set up: start afresh
      DbError error = Failure("bcp_bind failed");
      throw DbError(error.kind(), "bulk_insert: column '" + column.name + "': " + error.message(),
                    error.sqlstate(), error.vendor_code());
    }
  }

  // From the first row on, a failure leaves the bulk load half sent: the connection is then
  // dropped (the server rolls the open batch back) rather than reused.
  int64_t written = 0, in_batch = 0;
  index = 0;
  auto fail = [&](const std::string& where) -> DbError {
    broken_.store(true, std::memory_order_release);
    if (target_->cancelled.load(std::memory_order_acquire)) {
      return DbError(ErrorKind::kCancelled, "bulk_insert cancelled; " + std::to_string(written) +
                                                " rows were committed before", "HY008");
    }
    DbError error = StatementError(sink_, dbdead(dbproc_) == TRUE, "bcp failed");
    return DbError(error.kind(), "bulk_insert into " + target + ": " + where + ": " +
                                     error.message() + "; " + std::to_string(written) +
                                     " rows were committed before",
                   error.sqlstate(), error.vendor_code());
  };
  auto commit = [&](bool last) {
    DBINT n = last ? bcp_done(dbproc_) : bcp_batch(dbproc_);
    if (n < 0 || !sink_.server_errors().empty()) {
      throw fail("rows " + std::to_string(index - in_batch) + ".." + std::to_string(index - 1));
    }
    written += in_batch;
    in_batch = 0;
  };
  for (size_t b = 0; b < table.num_batches(); ++b) {
    std::vector<arrow::ColumnView> views;
    for (const auto& column : plan) views.push_back(table.Column(b, static_cast<size_t>(column.source)));
    for (int64_t r = 0; r < table.batch_rows(b); ++r) {
      if (index % kCancelCheckRows == 0 && target_->cancelled.load(std::memory_order_acquire)) {
        throw fail("row " + std::to_string(index));
      }
      for (size_t k = 0; k < plan.size(); ++k) {
        BulkColumn& column = plan[k];
        Prepare(views[k], r, column);  // checked above
        RETCODE rc = SUCCEED;
        if (column.form == HostForm::kChars || column.form == HostForm::kBytes) {
          if (!column.is_null) {
            rc = bcp_colptr(dbproc_,
                            reinterpret_cast<BYTE*>(const_cast<char*>(column.bytes.data())),
                            column.table_column);
          }
          if (rc != FAIL) {
            rc = bcp_collen(dbproc_, column.is_null ? 0 : static_cast<DBINT>(column.bytes.size()),
                            column.table_column);
          }
        } else {
          const DBINT length =
              column.form == HostForm::kNumeric ? static_cast<DBINT>(sizeof(DBNUMERIC)) : -1;
          rc = bcp_collen(dbproc_, column.is_null ? 0 : length, column.table_column);
        }
        if (rc == FAIL) throw fail("row " + std::to_string(index) + ", column '" + column.name + "'");
      }
      if (bcp_sendrow(dbproc_) == FAIL) throw fail("row " + std::to_string(index));
      ++index;
      ++in_batch;
      if (in_batch == options.batch_rows && index < table.num_rows()) commit(false);
    }
  }
  commit(true);
  return written;
}

}  // namespace dbpool::mssql
