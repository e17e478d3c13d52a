// RedisPipeline: FIFO reply matching, the reader and writer coroutines, cancellation of
// one call without disturbing the others, failure of every call when the stream breaks.
#include "drivers/redis/redis_pipeline.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace dbpool::redis {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
// A connection that once read a huge reply gives the memory back when nothing is owed.
constexpr size_t kKeepBuffer = 1024 * 1024;

}  // namespace

std::shared_ptr<PendingCall> ReplyQueue::Deliver(Reply reply) {
  if (calls_.empty()) throw ProtocolError("a reply arrived that no command was waiting for");
  PendingCall& call = *calls_.front();
  if (!call.abandoned) call.replies.push_back(std::move(reply));
  if (++call.received < call.expected) return nullptr;
  std::shared_ptr<PendingCall> finished = std::move(calls_.front());
  calls_.pop_front();
  finished->done = true;
  return finished;
}

std::vector<std::shared_ptr<PendingCall>> ReplyQueue::FailAll(const DbError& error) {
  std::vector<std::shared_ptr<PendingCall>> failed(calls_.begin(), calls_.end());
  calls_.clear();
  for (auto& call : failed) {
    call->error = error;
    call->done = true;
  }
  return failed;
}

RedisPipeline::RedisPipeline(const asio::any_io_executor& executor, std::string endpoint)
    : strand_(asio::make_strand(executor)), endpoint_(std::move(endpoint)), transport_(strand_) {}

void RedisPipeline::Start() {
  {
    std::lock_guard lock(mutex_);
    fd_ = transport_.socket().native_handle();
    started_ = true;
  }
  asio::co_spawn(strand_, ReadLoop(shared_from_this()), asio::detached);
}

void RedisPipeline::Wake(const std::vector<std::shared_ptr<PendingCall>>& calls) {
  for (const auto& call : calls) call->signal.try_send(asio::error_code{}, 0);
}

void RedisPipeline::ShutdownSocketLocked() {
  // shutdown() is safe from any thread and wakes the pending read and write (EOF / EPIPE);
  // the descriptor itself is closed only on the strand, under this mutex.
  if (started_ && !socket_closed_ && fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

void RedisPipeline::Shutdown() {
  std::lock_guard lock(mutex_);
  if (!started_) {
    // Never started: no operation is pending on the socket (the connect is over).
    socket_closed_ = true;
    transport_.Close();
    return;
  }
  ShutdownSocketLocked();
}

std::vector<std::shared_ptr<PendingCall>> RedisPipeline::FailLocked(const DbError& error) {
  broken_.store(true, std::memory_order_release);
  if (!failure_) failure_ = error;
  ShutdownSocketLocked();
  return queue_.FailAll(*failure_);
}

DbError RedisPipeline::IoError(const asio::error_code& ec, const char* what) const {
  std::string reason;
  if (ec == asio::error::eof) {
    reason = "the server closed the connection";
  } else if (ec == asio::error::operation_aborted) {
    reason = "the connection was closed";
  } else {
    reason = ec.message();
  }
  if (!connected_) return DbError(ErrorKind::kConnection, "could not connect to " + endpoint_ + ": " + reason);
  return DbError(ErrorKind::kConnection,
                 "lost the connection to " + endpoint_ + " (" + what + "): " + reason);
}

asio::awaitable<bool> RedisPipeline::ReadReply(Reply* reply, asio::error_code* ec) {
  for (;;) {
    if (end_ > begin_) {
      bool done = false;
      size_t used = parser_.Feed(buffer_.data() + begin_, end_ - begin_, &done);
      begin_ += used;
      if (begin_ == end_) begin_ = end_ = 0;
      if (done) {
        *reply = parser_.Take();
        co_return true;
      }
    }
    // The parser needs more bytes than are buffered: make room, then read.
    if (begin_ > 0) {
      std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (end_ == 0 && buffer_.size() > kKeepBuffer) buffer_ = std::vector<char>();
    if (buffer_.size() - end_ < kReadChunk / 4) {
      buffer_.resize(std::max(buffer_.size() * 2, end_ + kReadChunk));
    }
    size_t n = co_await transport_.ReadSome(
        asio::buffer(buffer_.data() + end_, buffer_.size() - end_), ec);
    if (*ec) co_return false;
    end_ += n;
  }
}

asio::awaitable<void> RedisPipeline::ReadLoop(std::shared_ptr<RedisPipeline> self) {
  std::optional<DbError> failure;
  for (;;) {
    Reply reply;
    asio::error_code ec;
    try {
      if (!co_await self->ReadReply(&reply, &ec)) {
        failure = self->IoError(ec, "read");
        break;
      }
    } catch (const ProtocolError& e) {
      failure = DbError(ErrorKind::kConnection,
                        "protocol error on the connection to " + self->endpoint_ + ": " + e.what());
      break;
    }
    if (reply.type == ReplyType::kPush) continue;  // out-of-band, not a command's reply
    std::shared_ptr<PendingCall> finished;
    {
      std::lock_guard lock(self->mutex_);
      try {
        finished = self->queue_.Deliver(std::move(reply));
      } catch (const ProtocolError& e) {
        failure = DbError(ErrorKind::kConnection, "protocol error on the connection to " +
                                                      self->endpoint_ + ": " + e.what());
      }
    }
    if (failure) break;
    if (finished && !finished->abandoned) finished->signal.try_send(asio::error_code{}, 0);
  }
  std::vector<std::shared_ptr<PendingCall>> failed;
  {
    std::lock_guard lock(self->mutex_);
    failed = self->FailLocked(*failure);
    // The writer (also on this strand) sees the closed socket or the broken flag and stops.
    self->socket_closed_ = true;
    self->transport_.Close();
  }
  Wake(failed);
}

asio::awaitable<void> RedisPipeline::WriteLoop(std::shared_ptr<RedisPipeline> self) {
  for (;;) {
    {
      std::lock_guard lock(self->mutex_);
      self->sending_.clear();
      if (self->outgoing_.empty() || self->broken()) {
        self->writing_ = false;
        self->outgoing_.clear();
        co_return;
      }
      // Everything appended since the last write goes out in one write.
      self->sending_.swap(self->outgoing_);
    }
    asio::error_code ec;
    co_await self->transport_.WriteAll(asio::buffer(self->sending_), &ec);
    if (ec) {
      std::vector<std::shared_ptr<PendingCall>> failed;
      {
        std::lock_guard lock(self->mutex_);
        self->writing_ = false;
        self->outgoing_.clear();
        failed = self->FailLocked(self->IoError(ec, "write"));
      }
      Wake(failed);
      co_return;
    }
  }
}

asio::awaitable<std::vector<Reply>> RedisPipeline::Call(std::string request, size_t count,
                                                        CancelToken* cancel, OnCancel on_cancel) {
  if (cancel != nullptr && cancel->cancelled()) {
    throw DbError(ErrorKind::kCancelled, "command cancelled before it was sent");
  }
  auto call = std::make_shared<PendingCall>(strand_, count);
  bool spawn_writer = false;
  {
    std::lock_guard lock(mutex_);
    if (broken()) {
      throw failure_ ? *failure_
                     : DbError(ErrorKind::kConnection,
                               "the connection to " + endpoint_ + " is broken");
    }
    queue_.Push(call);
    outgoing_ += request;
    spawn_writer = !writing_;
    writing_ = true;
  }
  if (spawn_writer) asio::co_spawn(strand_, WriteLoop(shared_from_this()), asio::detached);

  std::optional<CancelScope> scope;
  if (cancel != nullptr) {
    std::weak_ptr<RedisPipeline> weak = weak_from_this();
    scope.emplace(*cancel, [weak, call, on_cancel] {
      auto self = weak.lock();
      if (!self) return;
      std::lock_guard lock(self->mutex_);
      if (call->done) return;
      if (on_cancel == OnCancel::kCloseConnection) {
        // The reader sees the shut socket and fails every call; this one says cancelled.
        call->cancel_closed = true;
        self->ShutdownSocketLocked();
      } else {
        call->abandoned = true;
        call->replies.clear();
        call->signal.try_send(asio::error_code{}, 0);
      }
    });
  }
  asio::error_code ec;  // operation_aborted when the wait itself is cancelled (query_timeout)
  co_await call->signal.async_receive(asio::redirect_error(asio::use_awaitable, ec));
  scope.reset();

  std::lock_guard lock(mutex_);
  if (call->cancel_closed) {
    throw DbError(ErrorKind::kCancelled,
                  "command cancelled: Redis cannot interrupt a running command, so the "
                  "connection to " + endpoint_ + " was closed");
  }
  if (call->done && !call->abandoned) {
    if (call->error) throw *call->error;
    co_return std::move(call->replies);
  }
  // Given up while the replies are still owed: the reader drops them when they come, so the
  // calls behind this one still get theirs.
  call->abandoned = true;
  call->replies.clear();
  throw DbError(ErrorKind::kCancelled, "command cancelled; its reply from " + endpoint_ +
                                           " will be read and dropped");
}

}  // namespace dbpool::redis
