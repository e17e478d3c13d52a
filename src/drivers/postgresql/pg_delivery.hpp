// Where the batches of a read decoded as it arrives (COPY, row by row) go: a stream's sink,
// told the schema first, or the vector of a whole result.
#pragma once

#include <cstdint>
#include <vector>

#include <asio.hpp>

#include "dbpool/result.hpp"
#include "drivers/driver.hpp"
#include "drivers/postgresql/pg_interval.hpp"
#include "drivers/postgresql/pg_types.hpp"

namespace dbpool::pg {

/// One read's batches, in order, to exactly one of `sink` (a stream) or `out` (a whole
/// result; its interval columns are decided afterwards, IntervalColumns::FinishWhole). A
/// stream with interval columns announces its schema with its first batch, whose values fix
/// their type (pg_interval.hpp); any other, at Start().
class BatchDelivery {
 public:
  BatchDelivery(const std::vector<ColumnPlan>& plans, BatchSink* sink,
                std::vector<RecordBatch>* out);

  /// Before the first batch. Throws what the sink throws.
  asio::awaitable<void> Start();

  /// Hands over `batch`, whose first row is row `first_row` (0-based) of the result. False
  /// when the stream's consumer wants no more. Throws what the sink throws, or the
  /// DbError(kDataConversion) of an interval that no longer fits its column's type.
  asio::awaitable<bool> Deliver(RecordBatch batch, int64_t first_row);

  /// The result is over with `last` (possibly empty) still to hand over: then a stream that
  /// got no batch at all still gets its schema. Pass a named batch: GCC 12 loses a batch
  /// passed as `cond ? TakeBatch() : RecordBatch()` (a conditional prvalue as a coroutine's
  /// by-value argument; seen in the interval stream tests).
  asio::awaitable<void> Finish(RecordBatch last, int64_t first_row);

 private:
  IntervalColumns intervals_;
  arrow::Schema schema_;
  BatchSink* sink_;
  std::vector<RecordBatch>* out_;
};

}  // namespace dbpool::pg
