// HttpClient: HTTP requests through libcurl's multi-socket API, driven by the Asio event
// loop (curl says which sockets to watch and when its timer is due; Asio waits and calls
// curl_multi_socket_action). One transfer at a time per client; no thread per request.
#pragma once

#include <asio.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace dbpool::influxdb {

/// Settings fixed for a client's lifetime.
struct HttpSettings {
  std::string username;   ///< HTTP basic auth (InfluxDB 1.x user), empty = none
  std::string password;
  std::string token;      ///< "Authorization: Token <token>" (InfluxDB 2.x/3.x v1 API)
  bool verify_peer = true;  ///< TLS: check the certificate and host name
  std::string ca_file;      ///< TLS: CA bundle instead of the system one
  double connect_timeout = 10.0;  ///< seconds
  double request_timeout = 0;     ///< seconds for a whole transfer, 0 = none
};

/// One request.
struct HttpRequest {
  std::string url;           ///< full URL including the query string
  bool post = false;
  std::string body;          ///< POST body
  std::string content_type;  ///< of the POST body
  std::string accept;        ///< Accept header, empty = curl's default
  double timeout = 0;        ///< seconds for this transfer, 0 = HttpSettings::request_timeout
};

/// What a finished transfer gave.
struct HttpOutcome {
  int curl_code = 0;         ///< CURLcode; 0 = the HTTP exchange completed
  std::string curl_error;    ///< curl's message when curl_code != 0
  long status = 0;           ///< HTTP status
  bool cancelled = false;
};

class HttpClient {
 public:
  /// All of the client's work runs on a strand of `executor`.
  HttpClient(asio::any_io_executor executor, HttpSettings settings);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  /// The strand every call below must run on (co_spawn the caller onto it).
  const asio::strand<asio::any_io_executor>& strand() const;

  /// Starts `request` (which must outlive the transfer). Body bytes collect in body().
  void Start(const HttpRequest& request);
  /// Waits until body bytes arrived or the transfer ended; returns false once it ended
  /// (then outcome() is set; body() may still hold the last bytes).
  asio::awaitable<bool> Wait();
  /// Bytes received and not yet consumed; the caller erases what it used, then Resume().
  std::string& body();
  /// Lets a transfer paused because body() was full go on.
  void Resume();
  /// Aborts the transfer (curl_multi_remove_handle); Wait() then returns false with
  /// outcome().cancelled. Must run on the strand.
  void Abort();
  const HttpOutcome& outcome() const;
  /// The response's Content-Type ("" if none, or before the headers arrived).
  std::string content_type() const;
  /// The response's HTTP status (0 before the headers arrived).
  long status() const;
  /// The X-Influxdb-Error response header ("" if none): InfluxDB's error text.
  const std::string& influx_error() const;
  /// A function that aborts the transfer running now (not a later one), callable from any
  /// thread at any time, also after the client is gone (then it does nothing).
  std::function<void()> Canceller();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace dbpool::influxdb
