// Helpers for the SQLite driver tests: run coroutines to completion and read values back
// from the Arrow C Data arrays of a result.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "dbpool/result.hpp"
#include "drivers/sqlite/sqlite_driver.hpp"

namespace dbpool::sqlite::testing {

/// Runs `awaitable` on the runtime's event loop and waits for it (rethrowing its error).
template <typename T>
T Await(Runtime& runtime, asio::awaitable<T> awaitable) {
  return asio::co_spawn(runtime.executor(), std::move(awaitable), asio::use_future).get();
}

/// The error a callable throws, or a failed expectation when it throws none.
template <typename F>
DbError CatchDbError(F&& fn) {
  try {
    fn();
  } catch (const DbError& error) {
    return error;
  }
  ADD_FAILURE() << "expected a DbError";
  return DbError(ErrorKind::kInternal, "no error");
}

/// A driver with its own runtime, and shortcuts for the calls the tests repeat.
class SqliteFixture : public ::testing::Test {
 protected:
  std::unique_ptr<Connection> Connect(const std::string& database,
                                      std::map<std::string, std::string> options = {}) {
    ConnectionConfig config;
    config.db_type = "sqlite";
    config.database = database;
    config.options = std::move(options);
    return Await(runtime_, driver_->Connect(config));
  }
  QueryResult Query(Connection& c, const std::string& sql, Params params = {},
                    CancelTokenPtr cancel = nullptr) {
    return Await(runtime_, c.Query(sql, std::move(params), std::move(cancel)));
  }
  int64_t Execute(Connection& c, const std::string& sql, Params params = {}) {
    return Await(runtime_, c.Execute(sql, std::move(params), nullptr));
  }

  Runtime runtime_{1, 2};
  std::unique_ptr<SqliteDriver> driver_ = std::make_unique<SqliteDriver>(runtime_);
};

/// Column `c` of batch `b`.
inline const ArrowArray& Column(const QueryResult& result, size_t c, size_t b = 0) {
  return *result.batches.at(b).array().children[c];
}

inline bool IsNull(const ArrowArray& array, int64_t i) {
  const auto* validity = static_cast<const uint8_t*>(array.buffers[0]);
  if (validity == nullptr) return array.null_count == array.length && array.n_buffers == 0;
  const int64_t bit = array.offset + i;
  return (validity[bit / 8] & (1u << (bit % 8))) == 0;
}

/// A fixed-width value (int64, double, int32 days, __int128 decimal...).
template <typename T>
T Value(const ArrowArray& array, int64_t i) {
  T value;
  const auto* values = static_cast<const uint8_t*>(array.buffers[1]);
  std::memcpy(&value, values + (array.offset + i) * sizeof(T), sizeof(T));
  return value;
}

inline bool Bool(const ArrowArray& array, int64_t i) {
  const int64_t bit = array.offset + i;
  return (static_cast<const uint8_t*>(array.buffers[1])[bit / 8] >> (bit % 8)) & 1;
}

/// A String/Binary value (64-bit offsets).
inline std::string Bytes(const ArrowArray& array, int64_t i) {
  const auto* offsets = static_cast<const int64_t*>(array.buffers[1]) + array.offset;
  const auto* data = static_cast<const char*>(array.buffers[2]);
  return std::string(data + offsets[i], data + offsets[i + 1]);
}

/// The Arrow C Data format string of column `c`, as ExportSchema gives it.
inline std::string Format(const QueryResult& result, size_t c) {
  ArrowSchema schema{};
  ExportSchema(result.schema, &schema);
  std::string format = schema.children[c]->format;
  schema.release(&schema);
  return format;
}

}  // namespace dbpool::sqlite::testing
