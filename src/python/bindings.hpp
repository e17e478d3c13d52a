// The C++ classes the _core module exposes, and one Bind function per bound class.
#pragma once

#include <nanobind/nanobind.h>

#include <memory>
#include <optional>

#include "dbpool/pool_manager.hpp"
#include "python/completion.hpp"

namespace dbpool::python {

namespace nb = nanobind;

/// A query result handed to Python; exposes __arrow_c_stream__ (consumed once).
class ArrowResult {
 public:
  explicit ArrowResult(QueryResult result) : result_(std::move(result)) {}
  // Move-only: the batches are owned once (nanobind checks copyability by trait).
  ArrowResult(ArrowResult&&) = default;
  ArrowResult& operator=(ArrowResult&&) = default;
  ArrowResult(const ArrowResult&) = delete;
  ArrowResult& operator=(const ArrowResult&) = delete;
  int64_t num_rows() const { return result_ ? result_->num_rows() : rows_; }
  int64_t rows_affected() const { return rows_affected_ >= 0 ? rows_affected_ : (result_ ? result_->rows_affected : -1); }
  /// Moves the batches into a C stream inside a PyCapsule named "arrow_array_stream".
  nb::object ArrowCStream(nb::handle requested_schema);
  nb::list column_names() const;
  /// Strings/binaries go out as Utf8View/BinaryView, which Polars takes without a copy.
  void UseStringViews() { string_views_ = true; }

 private:
  std::optional<QueryResult> result_;
  bool string_views_ = false;
  int64_t rows_ = 0;
  int64_t rows_affected_ = -1;
};

/// Handle of one running operation: its id (key of the awaiting future) and a cancel switch.
class Operation {
 public:
  Operation(uint64_t id, CancelTokenPtr token) : id_(id), token_(std::move(token)) {}
  uint64_t id() const { return id_; }
  /// Cancels the operation (the query is cancelled on the server); the future still
  /// receives a completion when the engine has finished.
  void Cancel();

 private:
  uint64_t id_;
  CancelTokenPtr token_;
};

/// An open transaction (pool.transaction()).
struct Transaction {
  std::shared_ptr<TransactionSession> session;
};

/// A streamed query (pool.stream()); closing it (or dropping it) ends the statement and
/// returns the connection.
class Stream {
 public:
  explicit Stream(std::shared_ptr<ResultStream> stream) : stream_(std::move(stream)) {}
  Stream(Stream&& other) noexcept : stream_(std::move(other.stream_)) {}
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  Stream& operator=(Stream&&) = delete;
  ~Stream() { Close(); }
  void Close() {
    if (stream_) stream_->Close();
  }
  const std::shared_ptr<ResultStream>& get() const { return stream_; }

 private:
  std::shared_ptr<ResultStream> stream_;
};

/// The engine as Python sees it: a PoolManager whose operations complete on a Notifier.
class Engine {
 public:
  Engine() = default;
  PoolManager& manager() { return manager_; }

 private:
  PoolManager manager_;
};

/// Starts `work` on the engine; its result or error is pushed to `notifier` under a new
/// operation id. The GIL is released while starting it.
template <typename T>
Operation Start(std::shared_ptr<Notifier> notifier, CancelTokenPtr token, asio::awaitable<T> work);

void BindCompletion(nb::module_& m);
void BindResult(nb::module_& m);
void BindEngine(nb::module_& m);
/// set_call_site and the warning sink that forwards engine warnings to logging.
void BindDiagnostics(nb::module_& m);

}  // namespace dbpool::python
