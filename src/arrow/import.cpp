// Arrow C Data import (https://arrow.apache.org/docs/format/CDataInterface.html): format
// strings, validity bitmaps, offsets and string views of batches exported by others.
#include "arrow/import.hpp"

#include <cstdio>
#include <cstring>
#include <limits>

#include "dbpool/error.hpp"

namespace dbpool::arrow {
namespace {

[[noreturn]] void Fail(const std::string& message) {
  throw DbError(ErrorKind::kDataConversion, message);
}

}  // namespace

ImportedType ImportedType::Parse(const std::string& f, const std::string& column) {
  ImportedType t;
  t.format = f;
  auto integer = [&](ImportKind kind, int width) {
    t.kind = kind;
    t.byte_width = width;
  };
  if (f == "n") t.kind = ImportKind::kNull;
  else if (f == "b") t.kind = ImportKind::kBoolean;
  else if (f == "c") integer(ImportKind::kInt, 1);
  else if (f == "s") integer(ImportKind::kInt, 2);
  else if (f == "i") integer(ImportKind::kInt, 4);
  else if (f == "l") integer(ImportKind::kInt, 8);
  else if (f == "C") integer(ImportKind::kUInt, 1);
  else if (f == "S") integer(ImportKind::kUInt, 2);
  else if (f == "I") integer(ImportKind::kUInt, 4);
  else if (f == "L") integer(ImportKind::kUInt, 8);
  else if (f == "f") integer(ImportKind::kFloat, 4);
  else if (f == "g") integer(ImportKind::kFloat, 8);
  else if (f == "u") t.kind = ImportKind::kString;
  else if (f == "U") { t.kind = ImportKind::kString; t.large = true; }
  else if (f == "vu") { t.kind = ImportKind::kString; t.view = true; }
  else if (f == "z") t.kind = ImportKind::kBinary;
  else if (f == "Z") { t.kind = ImportKind::kBinary; t.large = true; }
  else if (f == "vz") { t.kind = ImportKind::kBinary; t.view = true; }
  else if (f == "tdD") t.kind = ImportKind::kDate32;
  else if (f.size() > 2 && f.compare(0, 2, "d:") == 0) {
    // "d:precision,scale[,bitwidth]": decimal128 unless a bit width says otherwise.
    int precision = 0, scale = 0, bits = 128;
    if (std::sscanf(f.c_str() + 2, "%d,%d,%d", &precision, &scale, &bits) < 2 || bits != 128 ||
        precision < 1 || precision > 38 || scale < 0 || scale > precision) {
      Fail("column '" + column + "': Arrow decimal '" + f +
           "' is not supported (decimal128 with precision 1..38 and 0 <= scale <= precision)");
    }
    t.kind = ImportKind::kDecimal;
    t.byte_width = 16;
    t.precision = precision;
    t.scale = scale;
  }
  else if (f.size() >= 4 && f.compare(0, 2, "ts") == 0 && f[3] == ':') {
    t.kind = ImportKind::kTimestamp;
    switch (f[2]) {
      case 's': t.ns_per_unit = 1000000000; break;
      case 'm': t.ns_per_unit = 1000000; break;
      case 'u': t.ns_per_unit = 1000; break;
      case 'n': t.ns_per_unit = 1; break;
      default: Fail("column '" + column + "': unknown timestamp unit in Arrow format '" + f + "'");
    }
    t.timezone = f.substr(4);
  } else {
    Fail("column '" + column + "': Arrow type '" + f +
         "' is not supported here (integers, floats, booleans, strings, binary, decimals, "
         "timestamps, dates)");
  }
  return t;
}

bool ColumnView::IsNull(int64_t row) const {
  if (type_->kind == ImportKind::kNull) return true;
  if (array_->null_count == 0 || array_->buffers[0] == nullptr) return false;
  int64_t bit = array_->offset + row;
  auto* bits = static_cast<const uint8_t*>(array_->buffers[0]);
  return (bits[bit >> 3] & (1u << (bit & 7))) == 0;
}

bool ColumnView::Bool(int64_t row) const {
  int64_t bit = array_->offset + row;
  auto* bits = static_cast<const uint8_t*>(array_->buffers[1]);
  return (bits[bit >> 3] & (1u << (bit & 7))) != 0;
}

int64_t ColumnView::Int(int64_t row) const {
  switch (type_->byte_width) {
    case 1: return At<int8_t>(row);
    case 2: return At<int16_t>(row);
    case 4: return At<int32_t>(row);
    default: return At<int64_t>(row);
  }
}

uint64_t ColumnView::UInt(int64_t row) const {
  switch (type_->byte_width) {
    case 1: return At<uint8_t>(row);
    case 2: return At<uint16_t>(row);
    case 4: return At<uint32_t>(row);
    default: return At<uint64_t>(row);
  }
}

double ColumnView::Float(int64_t row) const {
  return type_->byte_width == 4 ? At<float>(row) : At<double>(row);
}

std::string_view ColumnView::String(int64_t row) const {
  int64_t i = array_->offset + row;
  if (type_->view) {
    // 16-byte views: length, then the bytes inline (<= 12) or prefix, buffer index, offset.
    const char* view = static_cast<const char*>(array_->buffers[1]) + 16 * i;
    int32_t length;
    std::memcpy(&length, view, 4);
    if (length <= 12) return std::string_view(view + 4, static_cast<size_t>(length));
    int32_t buffer, offset;
    std::memcpy(&buffer, view + 8, 4);
    std::memcpy(&offset, view + 12, 4);
    const char* data = static_cast<const char*>(array_->buffers[2 + buffer]);
    return std::string_view(data + offset, static_cast<size_t>(length));
  }
  const char* data = static_cast<const char*>(array_->buffers[2]);
  if (type_->large) {
    auto* offsets = static_cast<const int64_t*>(array_->buffers[1]);
    return std::string_view(data + offsets[i], static_cast<size_t>(offsets[i + 1] - offsets[i]));
  }
  auto* offsets = static_cast<const int32_t*>(array_->buffers[1]);
  return std::string_view(data + offsets[i], static_cast<size_t>(offsets[i + 1] - offsets[i]));
}

__int128 ColumnView::Decimal(int64_t row) const {
  __int128 value;  // little-endian two's complement, 16 bytes
  std::memcpy(&value, static_cast<const char*>(array_->buffers[1]) + 16 * (array_->offset + row),
              sizeof(value));
  return value;
}

bool ColumnView::TimeNs(int64_t row, int64_t* out) const {
  if (type_->kind == ImportKind::kDate32) {
    return !__builtin_mul_overflow(static_cast<int64_t>(At<int32_t>(row)),
                                   int64_t{86400} * 1000000000, out);
  }
  return !__builtin_mul_overflow(At<int64_t>(row), type_->ns_per_unit, out);
}

std::shared_ptr<ImportedTable> ImportedTable::FromStream(ArrowArrayStream* stream) {
  std::shared_ptr<ImportedTable> table(new ImportedTable());
  auto stream_error = [&](const char* what, int code) {
    const char* text = stream->get_last_error ? stream->get_last_error(stream) : nullptr;
    std::string message = std::string("Arrow stream: ") + what + " failed (" +
                          std::strerror(code) + ")" + (text ? std::string(": ") + text : "");
    stream->release(stream);
    Fail(message);
  };
  if (int rc = stream->get_schema(stream, &table->schema_)) stream_error("get_schema", rc);
  const ArrowSchema& schema = table->schema_;
  if (std::strcmp(schema.format, "+s") != 0) {
    stream->release(stream);
    Fail("Arrow stream: the schema is not a struct (format '" + std::string(schema.format) + "')");
  }
  for (int64_t c = 0; c < schema.n_children; ++c) {
    const ArrowSchema* child = schema.children[c];
    std::string name = child->name ? child->name : "";
    if (child->dictionary) {
      stream->release(stream);
      Fail("column '" + name + "': dictionary-encoded (Categorical) columns are not supported; "
           "cast to String first");
    }
    try {
      table->types_.push_back(ImportedType::Parse(child->format, name));
    } catch (...) {
      stream->release(stream);
      throw;
    }
    table->names_.push_back(std::move(name));
  }
  while (true) {
    ArrowArray batch{};
    if (int rc = stream->get_next(stream, &batch)) stream_error("get_next", rc);
    if (batch.release == nullptr) break;  // end of stream
    table->batches_.push_back(batch);
    if (batch.offset != 0) {
      stream->release(stream);
      Fail("Arrow stream: a batch with a non-zero struct offset is not supported (rechunk first)");
    }
    if (batch.n_children != schema.n_children) {
      stream->release(stream);
      Fail("Arrow stream: a batch has " + std::to_string(batch.n_children) + " columns, the schema " +
           std::to_string(schema.n_children));
    }
  }
  stream->release(stream);
  return table;
}

ImportedTable::~ImportedTable() {
  for (auto& batch : batches_) {
    if (batch.release) batch.release(&batch);
  }
  if (schema_.release) schema_.release(&schema_);
}

int64_t ImportedTable::num_rows() const {
  int64_t rows = 0;
  for (const auto& batch : batches_) rows += batch.length;
  return rows;
}

int ImportedTable::Find(std::string_view name) const {
  for (size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] == name) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace dbpool::arrow
