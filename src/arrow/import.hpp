// Arrow C Data / C Stream import: reads record batches that another library (Polars,
// through __arrow_c_stream__) exported, without copying; columns are typed views.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dbpool/arrow_c.hpp"

namespace dbpool::arrow {

/// What an imported column holds, by logical family.
enum class ImportKind {
  kNull, kBoolean, kInt, kUInt, kFloat, kString, kBinary, kDecimal, kTimestamp, kDate32
};

/// The type of one imported column, from its C Data format string.
struct ImportedType {
  ImportKind kind = ImportKind::kNull;
  int byte_width = 0;        ///< integers and floats: 1, 2, 4, 8
  bool large = false;        ///< String/Binary with 64-bit offsets ("U", "Z")
  bool view = false;         ///< Utf8View / BinaryView ("vu", "vz")
  int precision = 0;         ///< Decimal: digits (decimal128 only)
  int scale = 0;             ///< Decimal: digits after the point
  int64_t ns_per_unit = 1;   ///< Timestamp: nanoseconds per tick (s, ms, us, ns)
  std::string timezone;      ///< Timestamp: "" = naive
  std::string format;        ///< the format string as exported

  /// Parses `format`; throws DbError(kDataConversion) naming `column` for anything else.
  static ImportedType Parse(const std::string& format, const std::string& column);
};

/// A read-only view of one column of one imported batch.
class ColumnView {
 public:
  ColumnView(const ImportedType* type, const ArrowArray* array) : type_(type), array_(array) {}
  const ImportedType& type() const { return *type_; }
  int64_t length() const { return array_->length; }
  bool IsNull(int64_t row) const;
  bool Bool(int64_t row) const;
  int64_t Int(int64_t row) const;    ///< kInt (any width)
  uint64_t UInt(int64_t row) const;  ///< kUInt (any width)
  double Float(int64_t row) const;   ///< kFloat (float32 widened)
  /// kString and kBinary (the same layouts).
  std::string_view String(int64_t row) const;
  /// kDecimal: the unscaled value (scale in type().scale).
  __int128 Decimal(int64_t row) const;
  /// kDate32: days since 1970-01-01.
  int32_t Days(int64_t row) const { return At<int32_t>(row); }
  /// kTimestamp: the stored ticks (units of type().ns_per_unit nanoseconds).
  int64_t Ticks(int64_t row) const { return At<int64_t>(row); }
  /// kTimestamp / kDate32 as nanoseconds since the epoch (UTC for zoned timestamps: Arrow
  /// stores zoned values as UTC already); false when it overflows int64 nanoseconds.
  bool TimeNs(int64_t row, int64_t* out) const;

 private:
  template <typename T>
  T At(int64_t row) const {
    return static_cast<const T*>(array_->buffers[1])[array_->offset + row];
  }
  const ImportedType* type_;
  const ArrowArray* array_;
};

/// Every batch of an Arrow C stream, owned until destruction (which releases them).
class ImportedTable {
 public:
  /// Reads `stream` to its end and releases it. Throws DbError(kDataConversion) for a
  /// stream error, a batch that is not a struct array, or an unsupported column type.
  static std::shared_ptr<ImportedTable> FromStream(ArrowArrayStream* stream);
  ~ImportedTable();
  ImportedTable(const ImportedTable&) = delete;
  ImportedTable& operator=(const ImportedTable&) = delete;

  const std::vector<std::string>& names() const { return names_; }
  const std::vector<ImportedType>& types() const { return types_; }
  size_t num_batches() const { return batches_.size(); }
  int64_t batch_rows(size_t batch) const { return batches_[batch].length; }
  int64_t num_rows() const;
  /// Column `column` of batch `batch`.
  ColumnView Column(size_t batch, size_t column) const {
    return ColumnView(&types_[column], batches_[batch].children[column]);
  }
  /// Index of the column named `name`, or -1.
  int Find(std::string_view name) const;

 private:
  ImportedTable() = default;
  ArrowSchema schema_{};
  std::vector<ArrowArray> batches_;
  std::vector<std::string> names_;
  std::vector<ImportedType> types_;
};

}  // namespace dbpool::arrow
