// Notifier (eventfd + queue) and conversion of exceptions into ErrorInfo.
#include "python/completion.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace dbpool::python {

ErrorInfo ErrorInfo::FromCurrentException(std::exception_ptr error) {
  ErrorInfo info;
  try {
    std::rethrow_exception(error);
  } catch (const DbError& e) {
    info.kind = ErrorKindName(e.kind());
    info.message = e.message();
    info.sqlstate = e.sqlstate();
    info.vendor_code = e.vendor_code();
    info.pool_id = e.pool_id();
    info.text = e.what();
  } catch (const std::exception& e) {
    info.kind = "DbPoolError";
    info.message = e.what();
    info.text = e.what();
  } catch (...) {
    info.kind = "DbPoolError";
    info.message = info.text = "unknown engine error";
  }
  return info;
}

Notifier::Notifier() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (fd_ < 0) throw std::runtime_error(std::string("eventfd failed: ") + std::strerror(errno));
}

Notifier::~Notifier() { close(fd_); }

void Notifier::Push(Completion completion) {
  bool was_empty;
  {
    std::lock_guard lock(mutex_);
    was_empty = queue_.empty();
    queue_.push_back(std::move(completion));
  }
  if (was_empty) {
    uint64_t one = 1;
    // A full counter (EAGAIN) still leaves the fd readable, which is all we need.
    [[maybe_unused]] ssize_t n = write(fd_, &one, sizeof(one));
  }
}

std::vector<Completion> Notifier::Take() {
  uint64_t count;
  [[maybe_unused]] ssize_t n = read(fd_, &count, sizeof(count));  // clears the counter
  std::vector<Completion> taken;
  std::lock_guard lock(mutex_);
  taken.swap(queue_);
  return taken;
}

}  // namespace dbpool::python
