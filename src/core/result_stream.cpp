// ResultStream: producer coroutine (driver -> channel) and consumer (channel -> caller).
#include "core/result_stream.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>

namespace dbpool {

using namespace asio::experimental::awaitable_operators;

/// What travels through the channel: the schema, a batch, the end, or an error.
struct ResultStream::Item {
  std::optional<arrow::Schema> schema;
  std::optional<RecordBatch> batch;
  std::exception_ptr error;
  bool end = false;
};

/// Forwards the driver's batches into the channel; a send that waits is the backpressure.
class ResultStream::Sink final : public BatchSink {
 public:
  explicit Sink(ResultStream& stream) : stream_(stream) {}

  asio::awaitable<void> OnSchema(arrow::Schema schema) override {
    auto item = std::make_shared<Item>();
    item->schema = std::move(schema);
    co_await Send(std::move(item));
  }

  asio::awaitable<bool> OnBatch(RecordBatch batch) override {
    if (stream_.closed_) co_return false;
    auto item = std::make_shared<Item>();
    item->batch = std::move(batch);
    bool sent = co_await Send(std::move(item));
    co_return sent && !stream_.closed_;
  }

  asio::awaitable<bool> Send(std::shared_ptr<Item> item) { return stream_.Send(std::move(item)); }

 private:
  ResultStream& stream_;
};

std::shared_ptr<ResultStream> ResultStream::Start(std::shared_ptr<LocalPool> pool, std::string sql,
                                                  Params params, int64_t batch_rows) {
  std::shared_ptr<ResultStream> stream(new ResultStream(std::move(pool), batch_rows));
  asio::co_spawn(stream->pool_->runtime().executor(),
                 [stream, sql = std::move(sql), params = std::move(params)]() mutable {
                   return stream->Produce(std::move(sql), std::move(params));
                 },
                 asio::detached);
  return stream;
}

ResultStream::ResultStream(std::shared_ptr<LocalPool> pool, int64_t batch_rows)
    : pool_(std::move(pool)),
      batch_rows_(batch_rows > 0 ? batch_rows : 65536),
      channel_(pool_->runtime().executor(), 1) {}

ResultStream::~ResultStream() = default;

asio::awaitable<void> ResultStream::Produce(std::string sql, Params params) {
  auto keep_alive = shared_from_this();
  auto finish = std::make_shared<Item>();
  try {
    Lease lease = co_await pool_->Acquire(cancel_);
    Sink sink(*this);
    co_await lease->QueryStream(std::move(sql), std::move(params), cancel_, sink, batch_rows_);
    finish->end = true;
  } catch (const DbError& e) {
    finish->error = std::make_exception_ptr(e.pool_id().empty() ? e.WithPool(pool_->id()) : e);
  } catch (...) {
    finish->error = std::current_exception();
  }
  // The lease is back in the pool here. Tell the consumer how it ended (ignored if closed).
  co_await Send(std::move(finish));
}

asio::awaitable<bool> ResultStream::Send(std::shared_ptr<Item> item) {
  // asio 1.22's channel close() does not wake a blocked sender, so a send waits in slices
  // and gives up once the consumer has closed the stream.
  asio::steady_timer slice(co_await asio::this_coro::executor);
  while (!closed_) {
    slice.expires_after(std::chrono::milliseconds(100));
    try {
      auto sent = co_await (channel_.async_send(asio::error_code{}, item, asio::use_awaitable) ||
                            slice.async_wait(asio::use_awaitable));
      if (sent.index() == 0) co_return true;
    } catch (const std::exception&) {
      co_return false;  // the channel is closed
    }
  }
  co_return false;
}

asio::awaitable<std::optional<QueryResult>> ResultStream::Next() {
  while (!finished_) {
    auto [ec, item] = co_await channel_.async_receive(asio::experimental::as_tuple(asio::use_awaitable));
    if (ec) {
      finished_ = true;
      throw DbError(ErrorKind::kPoolClosed, "the stream was closed", {}, 0, pool_->id());
    }
    if (item->schema) {
      schema_ = std::move(*item->schema);
      continue;
    }
    if (item->error) {
      finished_ = true;
      std::rethrow_exception(item->error);
    }
    QueryResult result;
    result.schema = schema_;
    if (item->end) {
      finished_ = true;
      if (delivered_any_) break;
      // No rows at all: one empty result so the caller sees the schema.
    } else {
      result.batches.push_back(std::move(*item->batch));
    }
    delivered_any_ = true;
    co_return result;
  }
  co_return std::nullopt;
}

void ResultStream::Close() {
  if (closed_.exchange(true)) return;
  cancel_->Cancel();
  // Wakes a producer blocked in a send; later sends fail at once.
  channel_.close();
}

}  // namespace dbpool
