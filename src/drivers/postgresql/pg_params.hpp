// dbpool::Params -> the parallel arrays PQsendQueryParams takes (types, values, lengths,
// formats): typed binary for bool/int64/double/bytes, untyped text for strings.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "dbpool/value.hpp"

namespace dbpool::pg {

/// The libpq view of a parameter list. Points into the Params it was built from (strings
/// and bytes are not copied), so that Params must outlive the PQsendQueryParams call.
class PgParams {
 public:
  /// Throws DbError(kConfig) for named parameters (PostgreSQL only has $1..$n), more than
  /// 65535 parameters (the protocol's limit) or a string holding a NUL byte (text
  /// parameters are NUL-terminated; pass Bytes for binary data).
  explicit PgParams(const Params& params);
  PgParams(const PgParams&) = delete;
  PgParams& operator=(const PgParams&) = delete;

  int count() const { return static_cast<int>(types_.size()); }
  const unsigned int* types() const { return types_.empty() ? nullptr : types_.data(); }
  const char* const* values() const { return values_.empty() ? nullptr : values_.data(); }
  const int* lengths() const { return lengths_.empty() ? nullptr : lengths_.data(); }
  const int* formats() const { return formats_.empty() ? nullptr : formats_.data(); }

 private:
  std::vector<unsigned int> types_;
  std::vector<const char*> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
  // Big-endian encodings of the fixed-width values; sized up front, so never reallocated
  // after values_ points into it.
  std::vector<std::array<char, 8>> scratch_;
};

}  // namespace dbpool::pg
