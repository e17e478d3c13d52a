// ResultStream: a query whose batches are handed to the caller one at a time, with at most
// one batch buffered, so a result of any size streams in memory bounded by the batch size.
#pragma once

#include <asio.hpp>
#include <asio/experimental/concurrent_channel.hpp>

#include <atomic>
#include <memory>
#include <optional>

#include "core/local_pool.hpp"

namespace dbpool {

class ResultStream : public std::enable_shared_from_this<ResultStream> {
 public:
  /// Starts the statement on a borrowed connection; batches of about `batch_rows` rows.
  static std::shared_ptr<ResultStream> Start(std::shared_ptr<LocalPool> pool, std::string sql,
                                             Params params, int64_t batch_rows);
  ~ResultStream();

  /// The next batch (with the schema), or nullopt at the end. A result without rows yields
  /// one empty batch first, so the caller always sees the schema. Throws the query's error.
  asio::awaitable<std::optional<QueryResult>> Next();

  /// Stops early: the statement is ended on the server and the connection goes back clean.
  /// Safe to call at any time, more than once, from any thread.
  void Close();

 private:
  struct Item;
  class Sink;
  using Channel = asio::experimental::concurrent_channel<void(asio::error_code, std::shared_ptr<Item>)>;

  ResultStream(std::shared_ptr<LocalPool> pool, int64_t batch_rows);
  asio::awaitable<void> Produce(std::string sql, Params params);
  /// Hands `item` to the consumer; false once the stream is closed.
  asio::awaitable<bool> Send(std::shared_ptr<Item> item);

  std::shared_ptr<LocalPool> pool_;
  const int64_t batch_rows_;
  Channel channel_;
  CancelTokenPtr cancel_ = std::make_shared<CancelToken>();
  std::atomic<bool> closed_{false};
  arrow::Schema schema_;
  bool delivered_any_ = false;
  bool finished_ = false;
};

}  // namespace dbpool
