// Builders' Finish (hand buffers to an owning ArrowArray), the slow paths, MakeBuilder and
// RecordBatchBuilder.
#include "arrow/builder.hpp"

#include <string>
#include <utility>

#include "arrow/utf8.hpp"
#include "dbpool/error.hpp"

namespace dbpool::arrow {
namespace {

// private_data of every array the builders produce. It owns the buffers and the child
// structs, and never points back into the ArrowArray itself, so consumers may move the
// struct bitwise as the C Data interface allows.
struct ArrayPrivate {
  const void* buffers[3] = {nullptr, nullptr, nullptr};
  std::vector<ArrowArray> children;
  std::vector<ArrowArray*> child_ptrs;

  explicit ArrayPrivate(size_t n_children) : children(n_children), child_ptrs(n_children) {
    for (size_t i = 0; i < n_children; ++i) child_ptrs[i] = &children[i];
  }
  // Also runs when a Finish throws half way, so nothing taken so far leaks. A child the
  // consumer moved out has release == nullptr and is skipped.
  ~ArrayPrivate() {
    for (ArrowArray& child : children) {
      if (child.release != nullptr) child.release(&child);
    }
    for (const void* buffer : buffers) Buffer::Free(const_cast<void*>(buffer));
  }
};

void ReleaseArray(ArrowArray* array) {
  delete static_cast<ArrayPrivate*>(array->private_data);
  array->release = nullptr;
  array->private_data = nullptr;
}

void Publish(std::unique_ptr<ArrayPrivate> data, int64_t length, int64_t null_count,
             int64_t n_buffers, ArrowArray* out) {
  out->length = length;
  out->null_count = null_count;
  out->offset = 0;
  out->n_buffers = n_buffers;
  out->n_children = static_cast<int64_t>(data->children.size());
  out->buffers = data->buffers;
  out->children = data->children.empty() ? nullptr : data->child_ptrs.data();
  out->dictionary = nullptr;
  out->release = &ReleaseArray;
  out->private_data = data.release();
}

// Consumers (arrow-rs, older pyarrow) dereference value/offset buffers even for zero-length
// arrays, so a never-grown buffer still gets a (padded, 64-byte) allocation.
const void* TakeNonNull(Buffer& buffer) {
  if (buffer.data() == nullptr) buffer.Reserve(1);
  return buffer.Release();
}

void AppendZeroOffset(Buffer& offsets) {
  int64_t zero = 0;
  offsets.Append(&zero, sizeof(zero));
}

void CheckChildLength(const ArrayBuilder& child, int64_t expected, const std::string& name) {
  if (child.length() != expected) {
    throw DbError(ErrorKind::kInternal,
                  "column '" + name + "' has " + std::to_string(child.length()) +
                      " values, expected " + std::to_string(expected));
  }
}

}  // namespace

void ArrayBuilder::AllocateValidity() {
  // Rows before the first null were all valid: full bytes of 1s, then a partial byte.
  int64_t full_bytes = length_ / 8;
  validity_.Reserve(full_bytes + 1);
  std::memset(validity_.data(), 0xFF, static_cast<size_t>(full_bytes));
  validity_.Grow(full_bytes);
  if (int64_t rest = length_ % 8; rest != 0) {
    uint8_t partial = static_cast<uint8_t>((1u << rest) - 1);
    validity_.Append(&partial, 1);
  }
}

Buffer ArrayBuilder::TakeValidity() {
  length_ = 0;
  null_count_ = 0;
  return std::move(validity_);
}

template <typename T>
void FixedWidthBuilder<T>::Finish(ArrowArray* out) {
  auto data = std::make_unique<ArrayPrivate>(0);
  int64_t length = length_;
  int64_t null_count = null_count_;
  data->buffers[1] = TakeNonNull(values_);
  data->buffers[0] = TakeValidity().Release();
  Publish(std::move(data), length, null_count, 2, out);
}

// The builder types the header names; Finish lives here, so they are instantiated here.
template class FixedWidthBuilder<int8_t>;
template class FixedWidthBuilder<int16_t>;
template class FixedWidthBuilder<int32_t>;
template class FixedWidthBuilder<int64_t>;
template class FixedWidthBuilder<uint8_t>;
template class FixedWidthBuilder<uint16_t>;
template class FixedWidthBuilder<uint32_t>;
template class FixedWidthBuilder<uint64_t>;
template class FixedWidthBuilder<float>;
template class FixedWidthBuilder<double>;
template class FixedWidthBuilder<__int128>;

void BooleanBuilder::AppendNull() {
  AppendBit(bits_, length_, false);
  MarkNull();
}

void BooleanBuilder::Reserve(int64_t additional) { bits_.Reserve(additional / 8 + 1); }

void BooleanBuilder::Finish(ArrowArray* out) {
  auto data = std::make_unique<ArrayPrivate>(0);
  int64_t length = length_;
  int64_t null_count = null_count_;
  data->buffers[1] = TakeNonNull(bits_);
  data->buffers[0] = TakeValidity().Release();
  Publish(std::move(data), length, null_count, 2, out);
}

VarBinaryBuilder::VarBinaryBuilder(DataType type) : ArrayBuilder(std::move(type)) {
  AppendZeroOffset(offsets_);
}

void VarBinaryBuilder::AppendNull() {
  int64_t end = data_.size();
  offsets_.Append(&end, sizeof(end));
  MarkNull();
}

void VarBinaryBuilder::Reserve(int64_t additional) {
  offsets_.Reserve(additional * static_cast<int64_t>(sizeof(int64_t)));
}

int64_t VarBinaryBuilder::FindInvalidUtf8() const {
  const auto* text = reinterpret_cast<const char*>(data_.data());
  if (IsAscii(text, static_cast<size_t>(data_.size()))) return -1;
  // A valid whole buffer can still hide an invalid value (a truncated sequence completed
  // by the next value's bytes), so non-ASCII text is checked value by value.
  const auto* offsets = reinterpret_cast<const int64_t*>(offsets_.data());
  for (int64_t i = 0; i < length_; ++i) {
    if (!IsValidUtf8(text + offsets[i], static_cast<size_t>(offsets[i + 1] - offsets[i]))) {
      return i;
    }
  }
  return -1;
}

void VarBinaryBuilder::Finish(ArrowArray* out) {
  auto data = std::make_unique<ArrayPrivate>(0);
  int64_t length = length_;
  int64_t null_count = null_count_;
  data->buffers[1] = offsets_.Release();
  data->buffers[2] = TakeNonNull(data_);
  data->buffers[0] = TakeValidity().Release();
  AppendZeroOffset(offsets_);  // the next batch starts with its own 0 offset
  Publish(std::move(data), length, null_count, 3, out);
}

ListBuilder::ListBuilder(DataType type) : ArrayBuilder(std::move(type)) {
  if (type_.id != TypeId::kList || type_.children.size() != 1) {
    throw DbError(ErrorKind::kInternal, "ListBuilder needs a List type with one child, got " +
                                            type_.ToString());
  }
  values_ = MakeBuilder(type_.children[0].type);
  AppendZeroOffset(offsets_);
}

void ListBuilder::CloseList() {
  int64_t end = values_->length();
  offsets_.Append(&end, sizeof(end));
  MarkValid();
}

void ListBuilder::AppendNull() {
  int64_t end = values_->length();
  offsets_.Append(&end, sizeof(end));
  MarkNull();
}

void ListBuilder::Reserve(int64_t additional) {
  offsets_.Reserve(additional * static_cast<int64_t>(sizeof(int64_t)));
}

void ListBuilder::Finish(ArrowArray* out) {
  // Elements appended after the last CloseList() belong to no list; refusing them keeps
  // the child length equal to the last offset, which consumers check.
  int64_t last = 0;
  std::memcpy(&last, offsets_.data() + offsets_.size() - sizeof(int64_t), sizeof(last));
  CheckChildLength(*values_, last, type_.children[0].name);
  auto data = std::make_unique<ArrayPrivate>(1);
  int64_t length = length_;
  int64_t null_count = null_count_;
  values_->Finish(&data->children[0]);
  data->buffers[1] = offsets_.Release();
  data->buffers[0] = TakeValidity().Release();
  AppendZeroOffset(offsets_);
  Publish(std::move(data), length, null_count, 2, out);
}

int64_t ListBuilder::memory_bytes() const {
  return offsets_.size() + validity_.size() + values_->memory_bytes();
}

StructBuilder::StructBuilder(DataType type) : ArrayBuilder(std::move(type)) {
  if (type_.id != TypeId::kStruct) {
    throw DbError(ErrorKind::kInternal, "StructBuilder needs a Struct type, got " +
                                            type_.ToString());
  }
  children_.reserve(type_.children.size());
  for (const Field& field : type_.children) children_.push_back(MakeBuilder(field.type));
}

void StructBuilder::AppendNull() {
  // Children keep the parent's length; their slot under a null struct is null too.
  for (auto& child : children_) child->AppendNull();
  MarkNull();
}

void StructBuilder::Reserve(int64_t additional) {
  for (auto& child : children_) child->Reserve(additional);
}

void StructBuilder::Finish(ArrowArray* out) {
  for (size_t i = 0; i < children_.size(); ++i) {
    CheckChildLength(*children_[i], length_, type_.children[i].name);
  }
  auto data = std::make_unique<ArrayPrivate>(children_.size());
  int64_t length = length_;
  int64_t null_count = null_count_;
  for (size_t i = 0; i < children_.size(); ++i) children_[i]->Finish(&data->children[i]);
  data->buffers[0] = TakeValidity().Release();
  Publish(std::move(data), length, null_count, 1, out);
}

int64_t StructBuilder::memory_bytes() const {
  int64_t total = validity_.size();
  for (const auto& child : children_) total += child->memory_bytes();
  return total;
}

void NullBuilder::Finish(ArrowArray* out) {
  // The null layout has no buffers at all (n_buffers == 0), every slot is null.
  auto data = std::make_unique<ArrayPrivate>(0);
  int64_t length = length_;
  TakeValidity();
  Publish(std::move(data), length, length, 0, out);
}

void* DetachBuffer(ArrowArray* array, int index) {
  if (array->release != &ReleaseArray || index < 0 || index >= 3) return nullptr;
  auto* data = static_cast<ArrayPrivate*>(array->private_data);
  void* buffer = const_cast<void*>(data->buffers[index]);
  data->buffers[index] = nullptr;
  return buffer;
}

void AdoptFixedWidth(int64_t length, int64_t null_count, void* validity, void* values,
                     ArrowArray* out) {
  auto data = std::make_unique<ArrayPrivate>(0);
  data->buffers[0] = validity;
  data->buffers[1] = values;
  Publish(std::move(data), length, null_count, 2, out);
}

std::unique_ptr<ArrayBuilder> MakeBuilder(const DataType& type) {
  switch (type.id) {
    case TypeId::kNull: return std::make_unique<NullBuilder>(type);
    case TypeId::kBoolean: return std::make_unique<BooleanBuilder>(type);
    case TypeId::kInt8: return std::make_unique<Int8Builder>(type);
    case TypeId::kInt16: return std::make_unique<Int16Builder>(type);
    case TypeId::kInt32: return std::make_unique<Int32Builder>(type);
    case TypeId::kInt64: return std::make_unique<Int64Builder>(type);
    case TypeId::kUInt8: return std::make_unique<UInt8Builder>(type);
    case TypeId::kUInt16: return std::make_unique<UInt16Builder>(type);
    case TypeId::kUInt32: return std::make_unique<UInt32Builder>(type);
    case TypeId::kUInt64: return std::make_unique<UInt64Builder>(type);
    case TypeId::kFloat32: return std::make_unique<Float32Builder>(type);
    case TypeId::kFloat64: return std::make_unique<Float64Builder>(type);
    case TypeId::kDecimal128: return std::make_unique<Decimal128Builder>(type);
    case TypeId::kString:
    case TypeId::kBinary: return std::make_unique<VarBinaryBuilder>(type);
    case TypeId::kDate32: return std::make_unique<Date32Builder>(type);
    case TypeId::kTime64:
    case TypeId::kTimestamp:
    case TypeId::kDuration: return std::make_unique<TemporalBuilder>(type);
    case TypeId::kList: return std::make_unique<ListBuilder>(type);
    case TypeId::kStruct: return std::make_unique<StructBuilder>(type);
  }
  throw DbError(ErrorKind::kInternal, "MakeBuilder: unknown Arrow type id");
}

RecordBatchBuilder::RecordBatchBuilder(Schema schema) : schema_(std::move(schema)) {
  columns_.reserve(schema_.size());
  for (const Field& field : schema_) columns_.push_back(MakeBuilder(field.type));
}

void RecordBatchBuilder::Reserve(int64_t rows) {
  for (auto& column : columns_) column->Reserve(rows);
}

int64_t RecordBatchBuilder::memory_bytes() const {
  int64_t total = 0;
  for (const auto& column : columns_) total += column->memory_bytes();
  return total;
}

RecordBatch FinishBatch(const Schema& schema, std::vector<std::unique_ptr<ArrayBuilder>>& columns,
                        int64_t rows) {
  // A driver that forgot a value would otherwise export a batch consumers reject (or read
  // out of bounds); checking here names the column.
  for (size_t i = 0; i < columns.size(); ++i) CheckChildLength(*columns[i], rows, schema[i].name);
  // The batch is a struct array with no validity bitmap (buffers[0] == nullptr).
  auto data = std::make_unique<ArrayPrivate>(columns.size());
  for (size_t i = 0; i < columns.size(); ++i) columns[i]->Finish(&data->children[i]);
  ArrowArray array{};
  Publish(std::move(data), rows, 0, 1, &array);
  return RecordBatch(array);
}

RecordBatch RecordBatchBuilder::Finish() {
  RecordBatch batch = FinishBatch(schema_, columns_, rows_);
  rows_ = 0;
  return batch;
}

}  // namespace dbpool::arrow
