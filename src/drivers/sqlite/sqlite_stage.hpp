// Steps a SQLite statement on a thread of its own, copying each row's cells into reusable
// chunks, so that the reader converts one chunk into Arrow while SQLite produces the next.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace dbpool::sqlite {

/// One cell as sqlite3_step produced it: a number, or bytes in the chunk's arena.
struct StagedSlot {
  union {
    int64_t integer;
    double real;
  };
  uint32_t offset;  // text or blob: chunk bytes [offset, offset + size)
  uint32_t size;
};

/// A run of consecutive rows: row r's column c is at index r * columns + c.
struct StageChunk {
  int64_t rows = 0;
  std::vector<uint8_t> storage;  // storage classes: SQLITE_INTEGER, SQLITE_TEXT...
  std::vector<StagedSlot> slots;
  std::unique_ptr<char[]> bytes;  // the arena of text and blobs; bytes_used of bytes_capacity
  size_t bytes_used = 0;
  size_t bytes_capacity = 0;
};

/// Owns the stepping thread for one statement. The statement must not be touched by anyone
/// else until the Stepper is destroyed (which stops and joins the thread).
class Stepper {
 public:
  /// Rows per chunk: small enough to stay in cache between the two threads.
  static constexpr int64_t kChunkRows = 1024;

  Stepper(sqlite3* db, sqlite3_stmt* stmt);
  ~Stepper();
  Stepper(const Stepper&) = delete;
  Stepper& operator=(const Stepper&) = delete;

  /// The next chunk of rows (recycling the one taken before), or nullptr after the last;
  /// rethrows the statement's error (DbError) instead. Blocks until one is ready.
  const StageChunk* Take();

 private:
  void Loop();
  bool Fill(StageChunk& chunk);  // false once the statement is done (or stop_ is set)
  void AppendBytes(StageChunk& chunk, StagedSlot& slot, const void* data, size_t size);

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  const size_t columns_;

  std::mutex mutex_;
  std::condition_variable ready_;  // a chunk was filled, or the statement finished
  std::condition_variable space_;  // a chunk was given back, or stop_ was set
  std::vector<std::unique_ptr<StageChunk>> chunks_;
  std::deque<StageChunk*> full_;
  std::vector<StageChunk*> free_;
  StageChunk* taken_ = nullptr;
  bool finished_ = false;
  std::exception_ptr error_;
  std::atomic<bool> stop_{false};
  std::thread thread_;  // last: starts once everything above exists
};

}  // namespace dbpool::sqlite
