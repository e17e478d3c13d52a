// The byte stream under a Redis connection: a TCP socket, optionally wrapped in TLS
// (rediss://) by Asio's OpenSSL stream. One object so the connection code has one read and
// one write path whichever it is.
#pragma once

#include <asio.hpp>
#include <asio/ssl.hpp>

#include <cstddef>
#include <memory>
#include <string>

namespace dbpool::redis {

/// TLS settings (from the pool's options: ssl_ca_certs, ssl_certfile, ssl_keyfile,
/// ssl_cert_reqs, ssl_check_hostname).
struct TlsSettings {
  bool enabled = false;
  std::string ca_file;    ///< PEM bundle to verify the server with; empty: system store
  std::string cert_file;  ///< client certificate chain (PEM), for tls-auth-clients yes
  std::string key_file;   ///< its private key (PEM)
  bool verify_peer = true;     ///< ssl_cert_reqs=required (default) / none
  bool check_hostname = true;  ///< the certificate must name the host (or IP) connected to
};

class Transport {
 public:
  explicit Transport(const asio::any_io_executor& executor) : socket_(executor) {}
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  /// The TCP socket (under TLS: the layer below it).
  asio::ip::tcp::socket& socket() { return socket_; }

  /// Prepares TLS on the connected socket (call before Handshake). Throws
  /// asio::system_error when a certificate/key file cannot be loaded.
  void EnableTls(const TlsSettings& settings, const std::string& host);
  bool tls() const { return tls_ != nullptr; }
  /// The TLS handshake (nothing without TLS); sets *ec on failure.
  asio::awaitable<void> Handshake(asio::error_code* ec);

  asio::awaitable<size_t> ReadSome(asio::mutable_buffer buffer, asio::error_code* ec);
  asio::awaitable<void> WriteAll(asio::const_buffer buffer, asio::error_code* ec);

  /// Closes the socket (no TLS close_notify: the peer sees the TCP close). Never throws.
  void Close();

 private:
  asio::ip::tcp::socket socket_;
  std::unique_ptr<asio::ssl::context> context_;
  std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket&>> tls_;
};

}  // namespace dbpool::redis
