// The interval struct type, the check that its values fit Duration(us), and the in-place
// narrowing to Duration.
#include "arrow/interval.hpp"

#include <cstring>
#include <utility>

#include "arrow/builder.hpp"
#include "dbpool/error.hpp"

namespace dbpool::arrow {
namespace {

enum Child { kMonths = 0, kDays = 1, kMicros = 2 };

template <typename T>
const T* Values(const ArrowArray& array) {
  return static_cast<const T*>(array.buffers[1]) + array.offset;
}

bool Valid(const ArrowArray& array, int64_t i) {
  if (array.buffers[0] == nullptr) return true;
  int64_t j = array.offset + i;
  return ((static_cast<const uint8_t*>(array.buffers[0])[j >> 3] >> (j & 7)) & 1) != 0;
}

void CheckShape(const ArrowArray& array) {
  if (array.n_children != 3 || array.n_buffers != 1 || array.offset != 0) {
    throw DbError(ErrorKind::kInternal, "not an interval struct array");
  }
}

}  // namespace

DataType IntervalStructType() {
  std::vector<Field> fields(3);
  fields[kMonths].name = "months";
  fields[kMonths].type = DataType::Of(TypeId::kInt32);
  fields[kDays].name = "days";
  fields[kDays].type = DataType::Of(TypeId::kInt32);
  fields[kMicros].name = "microseconds";
  fields[kMicros].type = DataType::Of(TypeId::kInt64);
  return DataType::Struct(std::move(fields));
}

int64_t FirstNonDuration(const ArrowArray& array) {
  CheckShape(array);
  const int32_t* months = Values<int32_t>(*array.children[kMonths]);
  const int32_t* days = Values<int32_t>(*array.children[kDays]);
  const int64_t* micros = Values<int64_t>(*array.children[kMicros]);
  for (int64_t i = 0; i < array.length; ++i) {
    int64_t day_micros;
    int64_t total;
    bool fits = months[i] == 0 &&
                !__builtin_mul_overflow(int64_t{days[i]}, kIntervalDayMicros, &day_micros) &&
                !__builtin_add_overflow(micros[i], day_micros, &total);
    // A null slot holds zeros, so it fits; the check is for foreign arrays.
    if (!fits && Valid(array, i)) return i;
  }
  return -1;
}

void NarrowToDuration(ArrowArray* array) {
  CheckShape(*array);
  const int64_t length = array->length;
  const int64_t null_count = array->null_count;
  const int32_t* days = Values<int32_t>(*array->children[kDays]);
  // The builders' buffers are ours to write: fold the days into the microseconds.
  auto* micros = static_cast<int64_t*>(const_cast<void*>(array->children[kMicros]->buffers[1]));
  for (int64_t i = 0; i < length; ++i) micros[i] += int64_t{days[i]} * kIntervalDayMicros;
  void* values = DetachBuffer(array->children[kMicros], 1);
  void* validity = DetachBuffer(array, 0);
  if (values == nullptr) {
    throw DbError(ErrorKind::kInternal, "NarrowToDuration: the array was not made by a builder");
  }
  array->release(array);
  AdoptFixedWidth(length, null_count, validity, values, array);
}

}  // namespace dbpool::arrow
