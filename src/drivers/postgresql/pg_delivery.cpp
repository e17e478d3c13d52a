// BatchDelivery: a read's batches to a stream's sink (schema first) or a whole result's vector.
#include "drivers/postgresql/pg_delivery.hpp"

#include <utility>

#include "drivers/postgresql/pg_reader.hpp"

namespace dbpool::pg {

BatchDelivery::BatchDelivery(const std::vector<ColumnPlan>& plans, BatchSink* sink,
                             std::vector<RecordBatch>* out)
    : intervals_(sink != nullptr ? plans : std::vector<ColumnPlan>{}),
      schema_(SchemaOf(plans)),
      sink_(sink),
      out_(out) {}

asio::awaitable<void> BatchDelivery::Start() {
  if (sink_ != nullptr && !intervals_.any()) co_await sink_->OnSchema(schema_);
}

asio::awaitable<bool> BatchDelivery::Deliver(RecordBatch batch, int64_t first_row) {
  if (sink_ == nullptr) {
    out_->push_back(std::move(batch));
    co_return true;
  }
  if (auto schema = intervals_.ForStream(&batch, first_row)) {
    co_await sink_->OnSchema(std::move(*schema));
  }
  // Awaited before the read goes on: the backpressure.
  co_return co_await sink_->OnBatch(std::move(batch));
}

asio::awaitable<void> BatchDelivery::Finish(RecordBatch last, int64_t first_row) {
  if (last.num_rows() > 0) {
    (void)co_await Deliver(std::move(last), first_row);  // the last one anyway
  } else if (sink_ != nullptr) {
    if (auto schema = intervals_.ForStream(nullptr, 0)) co_await sink_->OnSchema(std::move(*schema));
  }
}

}  // namespace dbpool::pg
