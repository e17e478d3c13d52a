// CancelToken: lets a caller cancel one in-flight operation; the driver doing the work
// installs a handler (send PQcancel, sqlite3_interrupt...) for as long as it can act on it.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace dbpool {

class CancelToken {
 public:
  /// Where the caller started the operation ("app.py:42 in handler" for Python callers),
  /// for leak reports; set before the operation starts, read-only afterwards.
  std::string site;

  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

  /// Marks the operation cancelled and runs the installed handler, if any (once).
  void Cancel() {
    std::function<void()> handler;
    {
      std::lock_guard lock(mutex_);
      if (cancelled_.exchange(true)) return;
      handler = std::move(handler_);
      handler_ = nullptr;
    }
    if (handler) handler();
  }

  /// Installs `handler`; runs it at once if already cancelled. Replaces any previous one.
  void SetHandler(std::function<void()> handler) {
    {
      std::lock_guard lock(mutex_);
      if (!cancelled_.load()) {
        handler_ = std::move(handler);
        return;
      }
    }
    handler();
  }

  void ClearHandler() {
    std::lock_guard lock(mutex_);
    handler_ = nullptr;
  }

 private:
  std::atomic<bool> cancelled_{false};
  std::mutex mutex_;  // per operation, never shared between queries
  std::function<void()> handler_;
};

/// Clears the token's handler when leaving a scope (the driver can no longer act on it).
class CancelScope {
 public:
  CancelScope(CancelToken& token, std::function<void()> handler) : token_(token) {
    token_.SetHandler(std::move(handler));
  }
  ~CancelScope() { token_.ClearHandler(); }
  CancelScope(const CancelScope&) = delete;
  CancelScope& operator=(const CancelScope&) = delete;

 private:
  CancelToken& token_;
};

using CancelTokenPtr = std::shared_ptr<CancelToken>;

}  // namespace dbpool
