// Interval columns: struct or Duration(us), decided on the values of the whole result or of
// a stream's first batch (the rule is in docs/types.md).
#include "drivers/postgresql/pg_interval.hpp"

#include <cstring>
#include <utility>

#include "arrow/interval.hpp"
#include "dbpool/error.hpp"
#include "drivers/postgresql/pg_reader.hpp"

namespace dbpool::pg {
namespace {

using arrow::DataType;
using arrow::TimeUnit;

// The type name tagged on struct columns: a struct alone does not say it was an interval.
void TagInterval(arrow::Field& field, const char* name) {
  field.metadata.emplace_back(kDbTypeKey, name);
}

// A batch's column array, to be changed in place (the batch owns it).
ArrowArray& ColumnOf(ArrowArray& batch, size_t index) { return *batch.children[index]; }

template <typename T>
T ChildValue(const ArrowArray& parts, int child, int64_t i) {
  T v;
  std::memcpy(&v, static_cast<const uint8_t*>(parts.children[child]->buffers[1]) + i * sizeof(T),
              sizeof(T));
  return v;
}

// Applies `fn` to the array of `batch`, which owns it again afterwards (also on a throw).
template <typename F>
void Modify(RecordBatch& batch, F&& fn) {
  ArrowArray array = batch.Release();
  try {
    fn(array);
  } catch (...) {
    batch = RecordBatch(array);
    throw;
  }
  batch = RecordBatch(array);
}

}  // namespace

IntervalColumns::IntervalColumns(const std::vector<ColumnPlan>& plans) {
  for (size_t c = 0; c < plans.size(); ++c) {
    const ColumnPlan& plan = plans[c];
    bool list = plan.decode == Decode::kArray && !plan.element.empty() &&
                plan.element.front().decode == Decode::kInterval;
    if (plan.decode == Decode::kInterval || list) {
      Column column;
      column.index = c;
      column.list = list;
      columns_.push_back(column);
    }
  }
  if (any()) schema_ = SchemaOf(plans);
}

int64_t IntervalColumns::FirstMisfitRow(const ArrowArray& batch, const Column& column) {
  const ArrowArray& array = *batch.children[column.index];
  if (!column.list) return arrow::FirstNonDuration(array);
  int64_t element = arrow::FirstNonDuration(*array.children[0]);
  if (element < 0) return -1;
  // The list value holding that element: the last row whose first element is <= it.
  const auto* offsets = static_cast<const int64_t*>(array.buffers[1]);
  int64_t row = 0;
  while (row + 1 < array.length && offsets[row + 1] <= element) ++row;
  return row;
}

void IntervalColumns::NarrowColumn(ArrowArray& batch, const Column& column) {
  ArrowArray& array = ColumnOf(batch, column.index);
  arrow::NarrowToDuration(column.list ? array.children[0] : &array);
}

arrow::Field IntervalColumns::DurationField(const Column& column) const {
  arrow::Field field = schema_[column.index];
  DataType duration = DataType::Duration(TimeUnit::kMicro);
  if (column.list) {
    field.type.children[0].type = std::move(duration);
  } else {
    field.type = std::move(duration);
  }
  return field;
}

arrow::Field IntervalColumns::StructField(const Column& column) const {
  arrow::Field field = schema_[column.index];
  TagInterval(field, column.list ? "interval[]" : "interval");
  return field;
}

arrow::Schema IntervalColumns::FinishWhole(std::vector<RecordBatch>& batches) const {
  arrow::Schema schema = schema_;
  for (const Column& column : columns_) {
    bool fits = true;
    for (const RecordBatch& batch : batches) {
      if (FirstMisfitRow(batch.array(), column) >= 0) {
        fits = false;
        break;
      }
    }
    if (fits) {
      for (RecordBatch& batch : batches) {
        Modify(batch, [&](ArrowArray& array) { NarrowColumn(array, column); });
      }
      schema[column.index] = DurationField(column);
    } else {
      schema[column.index] = StructField(column);
    }
  }
  return schema;
}

arrow::Schema IntervalColumns::FixFromFirst(RecordBatch* first) {
  arrow::Schema schema = schema_;
  for (Column& column : columns_) {
    column.duration = first == nullptr || FirstMisfitRow(first->array(), column) < 0;
    schema[column.index] = column.duration ? DurationField(column) : StructField(column);
  }
  if (first != nullptr) NarrowDurations(*first);
  return schema;
}

void IntervalColumns::Narrow(RecordBatch& batch, int64_t first_row) const {
  for (const Column& column : columns_) {
    if (!column.duration) continue;
    int64_t row = FirstMisfitRow(batch.array(), column);
    if (row < 0) continue;
    const ArrowArray& array = *batch.array().children[column.index];
    const ArrowArray& parts = column.list ? *array.children[0] : array;
    const int64_t i = column.list ? arrow::FirstNonDuration(parts) : row;
    std::string value = std::string(column.list ? "an element" : "a value") + " of " +
                        std::to_string(ChildValue<int32_t>(parts, 0, i)) + " month(s), " +
                        std::to_string(ChildValue<int32_t>(parts, 1, i)) + " day(s) and " +
                        std::to_string(ChildValue<int64_t>(parts, 2, i)) + " microsecond(s)";
    const arrow::Field& field = schema_[column.index];
    throw DbError(ErrorKind::kDataConversion,
                  "column '" + field.name + "' (row " + std::to_string(first_row + row + 1) +
                      "): " + value +
                      " does not fit Duration(us), the type this stream's first batch gave the "
                      "column (batches already handed over cannot change type). Read it with "
                      "query(), which gives the exact {months, days, microseconds} struct, "
                      "or cast it in the query: ::text, or "
                      "extract(epoch from ...) * interval '1 second' for a Duration that "
                      "counts a month as 30 days and a year as 365.25");
  }
  NarrowDurations(batch);
}

void IntervalColumns::NarrowDurations(RecordBatch& batch) const {
  Modify(batch, [&](ArrowArray& array) {
    for (const Column& column : columns_) {
      if (column.duration) NarrowColumn(array, column);
    }
  });
}

std::optional<arrow::Schema> IntervalColumns::ForStream(RecordBatch* batch, int64_t first_row) {
  if (!any()) return std::nullopt;
  if (!fixed_) {
    fixed_ = true;
    return FixFromFirst(batch);
  }
  if (batch != nullptr) Narrow(*batch, first_row);
  return std::nullopt;
}

arrow::Schema ResultSchema(const std::vector<ColumnPlan>& plans,
                           std::vector<RecordBatch>& batches) {
  IntervalColumns intervals(plans);
  if (!intervals.any()) return SchemaOf(plans);
  return intervals.FinishWhole(batches);
}

}  // namespace dbpool::pg
