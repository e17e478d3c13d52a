// The process-wide warning sink (stderr until the Python module installs its logger).
#include "common/diagnostics.hpp"

#include <cstdio>
#include <memory>
#include <mutex>

namespace dbpool {
namespace {

std::mutex sink_mutex;
std::shared_ptr<const WarningSink> current_sink;

}  // namespace

void SetWarningSink(WarningSink sink) {
  std::shared_ptr<const WarningSink> next;
  if (sink) next = std::make_shared<const WarningSink>(std::move(sink));
  std::lock_guard lock(sink_mutex);
  current_sink = std::move(next);
}

void Warn(const std::string& pool_id, const std::string& message) {
  std::shared_ptr<const WarningSink> sink;
  {
    std::lock_guard lock(sink_mutex);
    sink = current_sink;
  }
  if (sink) {
    try {
      (*sink)(pool_id, message);
      return;
    } catch (...) {
      // fall through to stderr: a warning must never break the engine
    }
  }
  std::fprintf(stderr, "db_pool warning: pool '%s': %s\n", pool_id.c_str(), message.c_str());
}

}  // namespace dbpool
