// HttpClient: libcurl multi-socket transfers on Asio (stream_descriptor::async_wait for the
// sockets curl names, a steady_timer for curl's timeouts), everything on one strand.
#include "drivers/influxdb/influx_http.hpp"

#include <curl/curl.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string_view>

#include "dbpool/error.hpp"

namespace dbpool::influxdb {
namespace {

// Body bytes buffered before the transfer is paused (backpressure for streamed results).
constexpr size_t kHighWater = 8 << 20;

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

// Shared with the Asio handlers, which may still be queued when the client is destroyed.
struct HttpClient::Impl : std::enable_shared_from_this<HttpClient::Impl> {
  struct Watch {
    explicit Watch(const asio::strand<asio::any_io_executor>& strand, int fd) : sd(strand, fd) {}
    asio::posix::stream_descriptor sd;
    int what = 0;  // CURL_POLL_IN / OUT / INOUT
    bool reading = false;
    bool writing = false;
    bool removed = false;
  };

  Impl(asio::any_io_executor executor, HttpSettings s)
      : strand(asio::make_strand(executor)), timer(strand), wake(strand), settings(std::move(s)) {
    GlobalInit();
    multi = curl_multi_init();
    easy = curl_easy_init();
    if (!multi || !easy) throw DbError(ErrorKind::kInternal, "InfluxDB: curl initialisation failed");
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &Impl::OnSocket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &Impl::OnTimer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
    wake.expires_at(asio::steady_timer::time_point::max());
  }

  ~Impl() {
    if (active) curl_multi_remove_handle(multi, easy);
    for (auto& [fd, watch] : watches) ReleaseWatch(*watch);
    if (headers) curl_slist_free_all(headers);
    curl_easy_cleanup(easy);
    curl_multi_cleanup(multi);
  }

  static void ReleaseWatch(Watch& watch) {
    watch.removed = true;
    asio::error_code ignored;
    watch.sd.cancel(ignored);
    (void)watch.sd.release();  // curl owns (and closes) the socket
  }

  static int OnSocket(CURL*, curl_socket_t fd, int what, void* userp, void*) {
    auto* self = static_cast<Impl*>(userp);
    if (what == CURL_POLL_REMOVE) {
      auto it = self->watches.find(fd);
      if (it != self->watches.end()) {
        ReleaseWatch(*it->second);
        self->watches.erase(it);
      }
      return 0;
    }
    auto& watch = self->watches[fd];
    if (!watch) watch = std::make_shared<Watch>(self->strand, fd);
    watch->what = what;
    self->Arm(watch);
    return 0;
  }

  static int OnTimer(CURLM*, long timeout_ms, void* userp) {
    auto* self = static_cast<Impl*>(userp);
    ++self->timer_generation;
    if (timeout_ms < 0) {
      self->timer.cancel();
      return 0;
    }
    self->timer.expires_after(std::chrono::milliseconds(timeout_ms));
    uint64_t generation = self->timer_generation;
    self->timer.async_wait([weak = self->weak_from_this(), generation](asio::error_code ec) {
      auto impl = weak.lock();
      if (ec || !impl || generation != impl->timer_generation) return;
      impl->Action(CURL_SOCKET_TIMEOUT, 0);
    });
    return 0;
  }

  void Arm(const std::shared_ptr<Watch>& watch) {
    if ((watch->what & CURL_POLL_IN) && !watch->reading) {
      watch->reading = true;
      watch->sd.async_wait(asio::posix::stream_descriptor::wait_read,
                           [weak = weak_from_this(), watch](asio::error_code ec) {
                             watch->reading = false;
                             auto impl = weak.lock();
                             if (ec || !impl || watch->removed || !(watch->what & CURL_POLL_IN)) return;
                             impl->Action(watch->sd.native_handle(), CURL_CSELECT_IN);
                             if (!watch->removed) impl->Arm(watch);
                           });
    }
    if ((watch->what & CURL_POLL_OUT) && !watch->writing) {
      watch->writing = true;
      watch->sd.async_wait(asio::posix::stream_descriptor::wait_write,
                           [weak = weak_from_this(), watch](asio::error_code ec) {
                             watch->writing = false;
                             auto impl = weak.lock();
                             if (ec || !impl || watch->removed || !(watch->what & CURL_POLL_OUT)) return;
                             impl->Action(watch->sd.native_handle(), CURL_CSELECT_OUT);
                             if (!watch->removed) impl->Arm(watch);
                           });
    }
  }

  void Action(curl_socket_t fd, int events) {
    int running = 0;
    curl_multi_socket_action(multi, fd, events, &running);
    CURLMsg* msg;
    int left = 0;
    while ((msg = curl_multi_info_read(multi, &left)) != nullptr) {
      if (msg->msg != CURLMSG_DONE || msg->easy_handle != easy) continue;
      Complete(msg->data.result);
    }
  }

  void Complete(CURLcode code) {
    if (!active) return;
    outcome.curl_code = code;
    if (code != CURLE_OK) outcome.curl_error = error_buffer[0] ? error_buffer : curl_easy_strerror(code);
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &outcome.status);
    char* type = nullptr;
    if (curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK && type) content_type = type;
    curl_multi_remove_handle(multi, easy);
    active = false;
    Signal();
  }

  static size_t OnWrite(char* data, size_t size, size_t count, void* userp) {
    auto* self = static_cast<Impl*>(userp);
    size_t n = size * count;
    if (self->body.size() >= kHighWater) {
      self->paused = true;
      return CURL_WRITEFUNC_PAUSE;  // curl keeps these bytes and hands them over on resume
    }
    self->body.append(data, n);
    self->Signal();
    return n;
  }

  static size_t OnHeader(char* data, size_t size, size_t count, void* userp) {
    auto* self = static_cast<Impl*>(userp);
    size_t n = size * count;
    std::string_view line(data, n);
    constexpr std::string_view kName = "x-influxdb-error:";
    if (line.size() > kName.size()) {
      bool match = true;
      for (size_t i = 0; i < kName.size() && match; ++i) {
        match = std::tolower(static_cast<unsigned char>(line[i])) == kName[i];
      }
      if (match) {
        line.remove_prefix(kName.size());
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
        while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
        self->influx_error = std::string(line);
      }
    }
    return n;
  }

  void Signal() {
    event = true;
    wake.cancel();
  }

  void Start(const HttpRequest& request) {
    curl_easy_reset(easy);  // keeps the connection cache, DNS cache and session IDs
    ++generation;
    body.clear();
    content_type.clear();
    influx_error.clear();
    outcome = HttpOutcome{};
    paused = false;
    event = false;
    error_buffer[0] = '\0';
    if (headers) curl_slist_free_all(headers);
    headers = nullptr;
    curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Impl::OnWrite);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &Impl::OnHeader);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, this);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(settings.connect_timeout * 1000));
    double timeout = request.timeout > 0 ? request.timeout : settings.request_timeout;
    if (timeout > 0) curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout * 1000));
    if (!settings.username.empty() || !settings.password.empty()) {
      curl_easy_setopt(easy, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
      curl_easy_setopt(easy, CURLOPT_USERNAME, settings.username.c_str());
      curl_easy_setopt(easy, CURLOPT_PASSWORD, settings.password.c_str());
    }
    if (!settings.token.empty()) {
      auth_header = "Authorization: Token " + settings.token;
      headers = curl_slist_append(headers, auth_header.c_str());
    }
    if (!settings.verify_peer) {
      curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (!settings.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, settings.ca_file.c_str());
    if (!request.accept.empty()) {
      accept_header = "Accept: " + request.accept;
      headers = curl_slist_append(headers, accept_header.c_str());
    }
    if (request.post) {
      content_header = "Content-Type: " + request.content_type;
      headers = curl_slist_append(headers, content_header.c_str());
      headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
      curl_easy_setopt(easy, CURLOPT_POST, 1L);
      curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    }
    if (headers) curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    active = true;
    CURLMcode rc = curl_multi_add_handle(multi, easy);
    if (rc != CURLM_OK) {
      active = false;
      outcome.curl_code = CURLE_FAILED_INIT;
      outcome.curl_error = curl_multi_strerror(rc);
      Signal();
    }
  }

  void Abort() {
    if (!active) return;
    curl_multi_remove_handle(multi, easy);  // closes the transfer's connection
    active = false;
    outcome.cancelled = true;
    Signal();
  }

  asio::strand<asio::any_io_executor> strand;
  asio::steady_timer timer;
  asio::steady_timer wake;  // cancelled to wake Wait()
  HttpSettings settings;
  CURLM* multi = nullptr;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string auth_header, accept_header, content_header;
  std::map<curl_socket_t, std::shared_ptr<Watch>> watches;
  uint64_t timer_generation = 0;
  std::string body;
  std::string content_type;
  std::string influx_error;
  uint64_t generation = 0;  // of the transfer; a late cancel of an earlier one is ignored
  HttpOutcome outcome;
  char error_buffer[CURL_ERROR_SIZE] = {};
  bool active = false;
  bool paused = false;
  bool event = false;
};

HttpClient::HttpClient(asio::any_io_executor executor, HttpSettings settings)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(settings))) {}

HttpClient::~HttpClient() {
  // Handlers hold weak references; the last owner (this, or a handler running right now on
  // the strand) tears curl down. Posting keeps that teardown on the strand.
  auto impl = std::move(impl_);
  asio::post(impl->strand, [impl]() mutable { impl.reset(); });
}

const asio::strand<asio::any_io_executor>& HttpClient::strand() const { return impl_->strand; }

void HttpClient::Start(const HttpRequest& request) { impl_->Start(request); }

asio::awaitable<bool> HttpClient::Wait() {
  Impl& impl = *impl_;
  while (!impl.event) {
    impl.wake.expires_at(asio::steady_timer::time_point::max());
    asio::error_code ec;
    co_await impl.wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  impl.event = false;
  co_return impl.active;
}

std::string& HttpClient::body() { return impl_->body; }

void HttpClient::Resume() {
  Impl& impl = *impl_;
  if (impl.paused && impl.active && impl.body.size() < kHighWater) {
    impl.paused = false;
    curl_easy_pause(impl.easy, CURLPAUSE_CONT);
  }
}

void HttpClient::Abort() { impl_->Abort(); }

const HttpOutcome& HttpClient::outcome() const { return impl_->outcome; }

std::string HttpClient::content_type() const {
  if (!impl_->content_type.empty()) return impl_->content_type;
  char* type = nullptr;
  if (curl_easy_getinfo(impl_->easy, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK && type) return type;
  return {};
}

long HttpClient::status() const {
  if (impl_->outcome.status != 0) return impl_->outcome.status;
  long status = 0;
  curl_easy_getinfo(impl_->easy, CURLINFO_RESPONSE_CODE, &status);
  return status;
}

const std::string& HttpClient::influx_error() const { return impl_->influx_error; }

std::function<void()> HttpClient::Canceller() {
  return [weak = std::weak_ptr<Impl>(impl_), generation = impl_->generation] {
    auto impl = weak.lock();
    if (!impl) return;
    asio::post(impl->strand, [weak, generation] {
      auto impl = weak.lock();
      if (impl && impl->generation == generation) impl->Abort();
    });
  };
}

}  // namespace dbpool::influxdb
