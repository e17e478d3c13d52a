// Stepper: the stepping thread and the bounded hand-over of staged chunks to the reader.
#include "drivers/sqlite/sqlite_stage.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "dbpool/error.hpp"
#include "drivers/sqlite/sqlite_error.hpp"

namespace dbpool::sqlite {
namespace {

// Chunks in flight: one being filled, one being converted, two of slack for uneven rows.
// Memory stays bounded however far the reader falls behind.
constexpr size_t kChunks = 4;
// A chunk also ends after this many bytes of text and blobs, so wide rows stay bounded.
constexpr size_t kChunkBytes = size_t{4} << 20;
// First arena of a chunk: enough for kChunkRows rows of a typical table's text.
constexpr size_t kInitialChunkBytes = size_t{256} << 10;

}  // namespace

Stepper::Stepper(sqlite3* db, sqlite3_stmt* stmt)
    : db_(db), stmt_(stmt), columns_(static_cast<size_t>(sqlite3_column_count(stmt))) {
  for (size_t k = 0; k < kChunks; ++k) {
    auto chunk = std::make_unique<StageChunk>();
    chunk->storage.resize(kChunkRows * columns_);
    chunk->slots.resize(kChunkRows * columns_);
    // Never null, so even an empty value points into the arena.
    chunk->bytes = std::make_unique<char[]>(kInitialChunkBytes);
    chunk->bytes_capacity = kInitialChunkBytes;
    free_.push_back(chunk.get());
    chunks_.push_back(std::move(chunk));
  }
  thread_ = std::thread([this] { Loop(); });
}

Stepper::~Stepper() {
  stop_.store(true, std::memory_order_relaxed);
  {
    std::lock_guard lock(mutex_);  // so the wait below cannot miss stop_
  }
  space_.notify_one();
  thread_.join();
}

const StageChunk* Stepper::Take() {
  std::unique_lock lock(mutex_);
  if (taken_ != nullptr) {
    free_.push_back(std::exchange(taken_, nullptr));
    space_.notify_one();
  }
  ready_.wait(lock, [this] { return !full_.empty() || finished_; });
  if (!full_.empty()) {
    taken_ = full_.front();
    full_.pop_front();
    return taken_;
  }
  if (error_) std::rethrow_exception(error_);
  return nullptr;
}

void Stepper::Loop() {
  try {
    for (;;) {
      StageChunk* chunk;
      {
        std::unique_lock lock(mutex_);
        space_.wait(lock, [this] { return !free_.empty() || stop_.load(); });
        if (stop_.load()) break;
        chunk = free_.back();
        free_.pop_back();
      }
      const bool more = Fill(*chunk);
      {
        std::lock_guard lock(mutex_);
        if (chunk->rows > 0) {
          full_.push_back(chunk);
        } else {
          free_.push_back(chunk);
        }
      }
      ready_.notify_one();
      if (!more) break;
    }
  } catch (...) {
    std::lock_guard lock(mutex_);
    error_ = std::current_exception();
  }
  {
    std::lock_guard lock(mutex_);
    finished_ = true;
  }
  ready_.notify_one();
}

bool Stepper::Fill(StageChunk& chunk) {
  chunk.rows = 0;
  chunk.bytes_used = 0;
  while (chunk.rows < kChunkRows && chunk.bytes_used < kChunkBytes) {
    if (stop_.load(std::memory_order_relaxed)) return false;
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_DONE) return false;
    if (rc != SQLITE_ROW) throw MakeError(db_, rc);
    const size_t base = static_cast<size_t>(chunk.rows) * columns_;
    for (size_t c = 0; c < columns_; ++c) {
      // Only what the row holds: the reader formats a number itself when it needs its text,
      // which keeps this thread (the slower of the two) to SQLite's own work and a copy.
      sqlite3_value* value = sqlite3_column_value(stmt_, static_cast<int>(c));
      const int storage = sqlite3_value_type(value);
      chunk.storage[base + c] = static_cast<uint8_t>(storage);
      StagedSlot& slot = chunk.slots[base + c];
      switch (storage) {
        case SQLITE_INTEGER: slot.integer = sqlite3_value_int64(value); break;
        case SQLITE_FLOAT: slot.real = sqlite3_value_double(value); break;
        case SQLITE_TEXT: {  // value_text before value_bytes, the conversion-safe order
          const unsigned char* text = sqlite3_value_text(value);
          AppendBytes(chunk, slot, text, text ? static_cast<size_t>(sqlite3_value_bytes(value)) : 0);
          break;
        }
        case SQLITE_BLOB: {
          const void* data = sqlite3_value_blob(value);
          AppendBytes(chunk, slot, data, static_cast<size_t>(sqlite3_value_bytes(value)));
          break;
        }
        default: break;  // NULL
      }
    }
    ++chunk.rows;
  }
  return true;
}

void Stepper::AppendBytes(StageChunk& chunk, StagedSlot& slot, const void* data, size_t size) {
  if (chunk.bytes_used + size > chunk.bytes_capacity) {
    // A chunk ends past kChunkBytes, so only a single row of more than 4 GiB gets here.
    if (chunk.bytes_used + size > std::numeric_limits<uint32_t>::max()) {
      throw DbError(ErrorKind::kDataConversion,
                    "a result row holds more than 4 GiB of text and blobs, more than the SQLite "
                    "reader can stage; select fewer or shorter columns");
    }
    const size_t capacity = std::max(chunk.bytes_capacity * 2, chunk.bytes_used + size);
    std::unique_ptr<char[]> grown(new char[capacity]);  // not zeroed: written before read
    if (chunk.bytes_used > 0) std::memcpy(grown.get(), chunk.bytes.get(), chunk.bytes_used);
    chunk.bytes = std::move(grown);
    chunk.bytes_capacity = capacity;
  }
  slot.offset = static_cast<uint32_t>(chunk.bytes_used);
  slot.size = static_cast<uint32_t>(size);
  if (size > 0) std::memcpy(chunk.bytes.get() + chunk.bytes_used, data, size);
  chunk.bytes_used += size;
}

}  // namespace dbpool::sqlite
