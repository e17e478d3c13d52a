// InfluxConnection: requests, response decoding, error classification and bulk writes.
#include "drivers/influxdb/influx_connection.hpp"

#include <charconv>
#include <cmath>
#include <optional>

#include "arrow/utf8.hpp"
#include "drivers/influxdb/influx_line_protocol.hpp"

namespace dbpool::influxdb {
namespace {

constexpr size_t kMaxErrorText = 2048;

}  // namespace

struct InfluxConnection::Call {
  HttpRequest request;
  CancelToken* cancel = nullptr;
  ResultDecoder* decoder = nullptr;  // null: the body is not a query result
  BatchSink* sink = nullptr;         // streaming consumer; null: collect into result
  QueryResult* result = nullptr;
  bool stopped = false;              // the sink asked to stop
  std::exception_ptr error;
};

InfluxConnection::InfluxConnection(Runtime& runtime, InfluxOptions options)
    : runtime_(runtime),
      options_(std::move(options)),
      client_(runtime.executor(), options_.http) {
  where_ = "InfluxDB " + options_.Endpoint();
  if (!options_.database.empty()) where_ += " (database '" + options_.database + "')";
}

HttpRequest InfluxConnection::QueryRequest(const std::string& sql, const Params& params,
                                           int64_t chunk_size) const {
  HttpRequest request;
  std::string query = "epoch=ns&chunked=true&chunk_size=" + std::to_string(chunk_size);
  if (!options_.database.empty()) query += "&db=" + UrlEncode(options_.database);
  if (!options_.retention_policy.empty()) query += "&rp=" + UrlEncode(options_.retention_policy);
  std::string statement = "q=" + UrlEncode(sql);
  if (!params.empty()) statement += "&params=" + UrlEncode(ParamsJson(params));
  request.accept = "application/x-msgpack";
  if (IsReadOnly(sql)) {
    request.url = options_.BaseUrl() + "/query?" + query + "&" + statement;
  } else {
    request.url = options_.BaseUrl() + "/query?" + query;
    request.post = true;
    request.content_type = "application/x-www-form-urlencoded";
    request.body = std::move(statement);
  }
  return request;
}

asio::awaitable<void> InfluxConnection::RunOnStrand(InfluxConnection* self, Call* call) {
  try {
    co_await self->Run(*call);
  } catch (...) {
    call->error = std::current_exception();
  }
}

asio::awaitable<void> InfluxConnection::Run(Call& call) {
  client_.Start(call.request);
  std::optional<CancelScope> scope;
  if (call.cancel) scope.emplace(*call.cancel, client_.Canceller());
  bool decode = call.decoder != nullptr;
  bool checked = false;
  bool schema_sent = false;
  std::string text;  // an error body, kept for the message
  auto deliver = [&](std::vector<RecordBatch> batches) -> asio::awaitable<void> {
    if (call.sink == nullptr) {
      for (auto& batch : batches) call.result->batches.push_back(std::move(batch));
      co_return;
    }
    if (batches.empty()) co_return;
    if (!schema_sent) {
      schema_sent = true;
      co_await call.sink->OnSchema(call.decoder->schema());
    }
    for (auto& batch : batches) {
      bool more = co_await call.sink->OnBatch(std::move(batch));
      if (!more) {
        call.stopped = true;
        client_.Abort();
        co_return;
      }
    }
  };
  try {
    while (true) {
      bool more = co_await client_.Wait();
      std::string& body = client_.body();
      if (decode && !checked && (!body.empty() || !more)) {
        checked = true;
        long status = client_.status();
        if (status < 200 || status >= 300 ||
            client_.content_type().find("msgpack") == std::string::npos) {
          decode = false;
        }
      }
      if (decode) {
        size_t used = call.decoder->Feed(body.data(), body.size(), !more);
        body.erase(0, used);
        if (!call.decoder->error().empty()) {
          client_.Abort();
          throw DbError(ErrorKind::kQuery, where_ + ": " + call.decoder->error());
        }
        co_await deliver(call.decoder->TakeBatches());
        if (call.stopped) co_return;
      } else {
        if (text.size() < kMaxErrorText) text.append(body, 0, kMaxErrorText - text.size());
        body.clear();
      }
      client_.Resume();
      if (!more) break;
    }
  } catch (...) {
    client_.Abort();  // a decoding error mid-response: stop the transfer, stay usable
    throw;
  }
  const HttpOutcome& outcome = client_.outcome();
  if (outcome.cancelled) {
    if (call.stopped) co_return;
    throw DbError(ErrorKind::kCancelled, where_ + ": cancelled");
  }
  if (outcome.curl_code != 0 || outcome.status < 200 || outcome.status >= 300) {
    std::string server = client_.influx_error();
    if (server.empty() && client_.content_type().find("msgpack") != std::string::npos) {
      // {"error": "..."} as MessagePack (401 has no X-Influxdb-Error header).
      try {
        ResultDecoder error_body(0);
        error_body.Feed(text.data(), text.size(), true);
        server = error_body.error();
      } catch (...) {
      }
    } else if (server.empty()) {
      server = text;
    }
    if (!arrow::IsValidUtf8(server.data(), server.size())) {
      for (char& c : server) {
        if (static_cast<unsigned char>(c) >= 0x80) c = '?';
      }
    }
    throw Failure(server);
  }
  if (call.decoder) {
    if (!decode) {
      throw DbError(ErrorKind::kConnection,
                    where_ + ": the server answered with Content-Type '" + client_.content_type() +
                        "' instead of MessagePack (InfluxDB 1.4 or later is needed)");
    }
    call.decoder->Finish();
    if (call.sink == nullptr) call.result->schema = call.decoder->schema();
    co_await deliver(call.decoder->TakeBatches());
    if (call.sink && !schema_sent && !call.stopped) co_await call.sink->OnSchema(call.decoder->schema());
  }
}

DbError InfluxConnection::Failure(const std::string& server_error) const {
  const HttpOutcome& outcome = client_.outcome();
  if (outcome.curl_code != 0) {
    return DbError(ErrorKind::kConnection, where_ + ": " + outcome.curl_error);
  }
  std::string text = server_error;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  std::string message = where_ + ": HTTP " + std::to_string(outcome.status) +
                        (text.empty() ? "" : ": " + text);
  if (outcome.status == 401) {
    return DbError(ErrorKind::kConnection, message + " (check username/password or token)",
                   {}, outcome.status);
  }
  if (outcome.status >= 400 && outcome.status < 600) {
    return DbError(ErrorKind::kQuery, message, {}, outcome.status);
  }
  return DbError(ErrorKind::kConnection, message, {}, outcome.status);
}

asio::awaitable<QueryResult> InfluxConnection::Query(std::string sql, Params params,
                                                     CancelTokenPtr cancel) {
  QueryResult result;
  ResultDecoder decoder(0);
  Call call;
  call.request = QueryRequest(sql, params, options_.chunk_size);
  call.cancel = cancel.get();
  call.decoder = &decoder;
  call.result = &result;
  co_await asio::co_spawn(client_.strand(), RunOnStrand(this, &call), asio::use_awaitable);
  if (call.error) std::rethrow_exception(call.error);
  if (!decoder.has_series() && !IsReadOnly(sql)) {
    // CREATE/DROP/DELETE...: no rows, a count of 0 (InfluxQL reports none). A SELECT or
    // SHOW without series stays a (zero-column, zero-row) result.
    result.schema.clear();
    result.batches.clear();
    result.rows_affected = 0;
  }
  co_return result;
}

asio::awaitable<int64_t> InfluxConnection::Execute(std::string sql, Params params,
                                                   CancelTokenPtr cancel) {
  co_await Query(std::move(sql), std::move(params), std::move(cancel));
  co_return 0;
}

asio::awaitable<void> InfluxConnection::QueryStream(std::string sql, Params params,
                                                    CancelTokenPtr cancel, BatchSink& sink,
                                                    int64_t batch_rows) {
  if (batch_rows < 1) batch_rows = 1;
  ResultDecoder decoder(batch_rows);
  Call call;
  call.request = QueryRequest(sql, params, batch_rows);
  call.cancel = cancel.get();
  call.decoder = &decoder;
  call.sink = &sink;
  co_await asio::co_spawn(client_.strand(), RunOnStrand(this, &call), asio::use_awaitable);
  if (call.error) std::rethrow_exception(call.error);
}

asio::awaitable<int64_t> InfluxConnection::BulkInsert(std::string target,
                                                      std::shared_ptr<arrow::ImportedTable> table,
                                                      BulkInsertOptions options,
                                                      CancelTokenPtr cancel) {
  if (options.batch_rows < 1) {
    throw DbError(ErrorKind::kConfig, "bulk_insert: batch_rows must be at least 1");
  }
  if (options_.database.empty()) {
    throw DbError(ErrorKind::kConfig, "bulk_insert: the pool has no database (influxdb://host:8086/<db>)");
  }
  LineWriter writer(target, *table, options);
  std::string url = options_.BaseUrl() + "/write?precision=ns&db=" + UrlEncode(options_.database);
  if (!options_.retention_policy.empty()) url += "&rp=" + UrlEncode(options_.retention_policy);
  int64_t written = 0;
  int64_t index = 0;
  Call call;
  call.request.url = url;
  call.request.post = true;
  call.request.content_type = "text/plain; charset=utf-8";
  call.cancel = cancel.get();
  int64_t in_body = 0;
  auto flush = [&]() -> asio::awaitable<void> {
    co_await asio::co_spawn(client_.strand(), RunOnStrand(this, &call), asio::use_awaitable);
    if (call.error) {
      std::exception_ptr error = std::exchange(call.error, nullptr);
      try {
        std::rethrow_exception(error);
      } catch (const DbError& e) {
        if (e.kind() == ErrorKind::kCancelled || e.kind() == ErrorKind::kConnection) throw;
        throw DbError(e.kind(), "bulk_insert: rows " + std::to_string(index - in_body) + ".." +
                                    std::to_string(index - 1) + ": " + e.message(),
                      e.sqlstate(), e.vendor_code());
      }
    }
    written += in_body;
    in_body = 0;
    call.request.body.clear();
  };
  for (size_t b = 0; b < table->num_batches(); ++b) {
    for (int64_t r = 0; r < table->batch_rows(b); ++r) {
      writer.Row(b, r, index, call.request.body);
      ++index;
      ++in_body;
      if (in_body >= options.batch_rows) co_await flush();
    }
  }
  if (in_body > 0) co_await flush();
  co_return written;
}

asio::awaitable<void> InfluxConnection::Open() {
  co_await Ping();
  if (options_.http.username.empty() && options_.http.password.empty() && options_.http.token.empty()) {
    co_return;
  }
  // /ping needs no credentials: one cheap query proves they are accepted.
  ResultDecoder decoder(0);
  QueryResult result;
  Call call;
  call.request = QueryRequest("SHOW DATABASES", {}, options_.chunk_size);
  call.request.timeout = options_.http.connect_timeout;
  call.decoder = &decoder;
  call.result = &result;
  co_await asio::co_spawn(client_.strand(), RunOnStrand(this, &call), asio::use_awaitable);
  if (call.error) std::rethrow_exception(call.error);
}

asio::awaitable<void> InfluxConnection::Ping() {
  Call call;
  call.request.url = options_.BaseUrl() + "/ping";
  call.request.timeout = options_.http.connect_timeout;
  co_await asio::co_spawn(client_.strand(), RunOnStrand(this, &call), asio::use_awaitable);
  if (call.error) {
    try {
      std::rethrow_exception(call.error);
    } catch (const DbError& e) {
      throw DbError(ErrorKind::kConnection, e.message(), {}, e.vendor_code());
    }
  }
}

asio::awaitable<void> InfluxConnection::Begin() {
  throw DbError(ErrorKind::kQuery, "InfluxDB has no transactions");
  co_return;
}

asio::awaitable<void> InfluxConnection::Commit() {
  throw DbError(ErrorKind::kQuery, "InfluxDB has no transactions");
  co_return;
}

asio::awaitable<void> InfluxConnection::Rollback() {
  throw DbError(ErrorKind::kQuery, "InfluxDB has no transactions");
  co_return;
}

}  // namespace dbpool::influxdb
