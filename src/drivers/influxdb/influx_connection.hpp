// InfluxConnection: one InfluxDB HTTP API v1 client (/query, /write, /ping) on the event
// loop; InfluxQL results as Arrow, bulk_insert as line protocol.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "drivers/driver.hpp"
#include "drivers/influxdb/influx_decoder.hpp"
#include "drivers/influxdb/influx_http.hpp"

namespace dbpool::influxdb {

/// Per-pool settings of InfluxDB connections (from the URL and the pool's options).
struct InfluxOptions {
  bool tls = false;          ///< influxdbs:// or option ssl=true
  std::string host;
  uint16_t port = 8086;
  std::string database;      ///< the URL path; sent as db= with every query and write
  std::string retention_policy;  ///< option retention_policy: rp= for queries and writes
  int64_t chunk_size = 10000;    ///< option chunk_size: rows per chunk of a query response
  HttpSettings http;

  /// Reads `config` (db_type "influxdb" or "influxdbs"; options token, ssl, ssl_verify,
  /// ssl_ca_certs, retention_policy, chunk_size, request_timeout). Throws DbError(kConfig)
  /// naming the field for anything invalid or unknown.
  static InfluxOptions From(const ConnectionConfig& config);
  /// "host:port" for messages.
  std::string Endpoint() const;
  /// "http(s)://host:port".
  std::string BaseUrl() const;
};

class InfluxConnection final : public Connection {
 public:
  InfluxConnection(Runtime& runtime, InfluxOptions options);

  /// Checks the server answers /ping and, when credentials are set, that they are accepted
  /// (SHOW DATABASES); throws DbError(kConnection).
  asio::awaitable<void> Open();

  /// InfluxQL with params bound through the API's `params` ($name, or $1.. for positional
  /// parameters). SELECT and SHOW go as GET, anything else as POST.
  asio::awaitable<QueryResult> Query(std::string sql, Params params, CancelTokenPtr cancel) override;
  /// Returns 0 (InfluxQL reports no row counts).
  asio::awaitable<int64_t> Execute(std::string sql, Params params, CancelTokenPtr cancel) override;
  /// Decodes the chunked response chunk by chunk (chunk_size = batch_rows).
  asio::awaitable<void> QueryStream(std::string sql, Params params, CancelTokenPtr cancel,
                                    BatchSink& sink, int64_t batch_rows) override;

  bool SupportsBulkInsert() const override { return true; }
  /// Line protocol through POST /write?precision=ns, options.batch_rows points a request.
  asio::awaitable<int64_t> BulkInsert(std::string target,
                                      std::shared_ptr<arrow::ImportedTable> table,
                                      BulkInsertOptions options, CancelTokenPtr cancel) override;

  /// InfluxDB has no transactions: these throw DbError(kQuery).
  asio::awaitable<void> Begin() override;
  asio::awaitable<void> Commit() override;
  asio::awaitable<void> Rollback() override;
  /// GET /ping (204 or 200).
  asio::awaitable<void> Ping() override;

  bool IsBroken() const override { return broken_; }
  bool InTransaction() const override { return false; }

 private:
  struct Call;
  /// The body of every request, run on the client's strand.
  static asio::awaitable<void> RunOnStrand(InfluxConnection* self, Call* call);
  asio::awaitable<void> Run(Call& call);
  /// The DbError for a finished transfer that failed (status, curl error, server text).
  DbError Failure(const std::string& server_error) const;
  HttpRequest QueryRequest(const std::string& sql, const Params& params, int64_t chunk_size) const;

  Runtime& runtime_;
  InfluxOptions options_;
  std::string where_;  // "InfluxDB host:port (database 'x')" for messages
  HttpClient client_;
  bool broken_ = false;
};

/// True for statements that only read (SELECT without INTO, SHOW, EXPLAIN): sent as GET.
bool IsReadOnly(std::string_view sql);
/// `text` percent-encoded for a URL query or form body (RFC 3986 unreserved kept).
std::string UrlEncode(std::string_view text);
/// The `params` JSON object for InfluxQL bound parameters; throws DbError(kDataConversion)
/// for NULL or bytes, naming the parameter.
std::string ParamsJson(const Params& params);

}  // namespace dbpool::influxdb
