// Transport: plain TCP or TLS reads and writes as awaitables with error codes.
#include "drivers/redis/redis_transport.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace dbpool::redis {

void Transport::EnableTls(const TlsSettings& settings, const std::string& host) {
  context_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  context_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                        asio::ssl::context::no_tlsv1_1);
  if (settings.verify_peer) {
    if (settings.ca_file.empty()) {
      context_->set_default_verify_paths();
    } else {
      context_->load_verify_file(settings.ca_file);
    }
    context_->set_verify_mode(asio::ssl::verify_peer);
  } else {
    context_->set_verify_mode(asio::ssl::verify_none);
  }
  if (!settings.cert_file.empty()) context_->use_certificate_chain_file(settings.cert_file);
  if (!settings.key_file.empty()) context_->use_private_key_file(settings.key_file, asio::ssl::context::pem);

  tls_ = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket&>>(socket_, *context_);
  SSL* ssl = tls_->native_handle();
  asio::error_code ec;
  asio::ip::make_address(host, ec);
  const bool is_ip = !ec;
  // SNI only for names (RFC 6066 forbids IP literals there).
  if (!is_ip) SSL_set_tlsext_host_name(ssl, host.c_str());
  if (settings.verify_peer && settings.check_hostname) {
    // OpenSSL checks the name (or IP address) against the certificate during the handshake.
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (is_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
    } else {
      X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
    }
  }
}

asio::awaitable<void> Transport::Handshake(asio::error_code* ec) {
  if (!tls_) co_return;
  co_await tls_->async_handshake(asio::ssl::stream_base::client,
                                 asio::redirect_error(asio::use_awaitable, *ec));
}

asio::awaitable<size_t> Transport::ReadSome(asio::mutable_buffer buffer, asio::error_code* ec) {
  if (tls_) {
    co_return co_await tls_->async_read_some(buffer, asio::redirect_error(asio::use_awaitable, *ec));
  }
  co_return co_await socket_.async_read_some(buffer, asio::redirect_error(asio::use_awaitable, *ec));
}

asio::awaitable<void> Transport::WriteAll(asio::const_buffer buffer, asio::error_code* ec) {
  if (tls_) {
    co_await asio::async_write(*tls_, buffer, asio::redirect_error(asio::use_awaitable, *ec));
  } else {
    co_await asio::async_write(socket_, buffer, asio::redirect_error(asio::use_awaitable, *ec));
  }
}

void Transport::Close() {
  asio::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace dbpool::redis
