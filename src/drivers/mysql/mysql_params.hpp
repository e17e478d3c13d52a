// Bound parameters (`?` placeholders) -> MYSQL_BIND for the binary protocol: integers,
// doubles and booleans travel as binary numbers, text and bytes as they are.
#pragma once

#include <mysql.h>

#include <cstdint>
#include <vector>

#include "dbpool/value.hpp"

namespace dbpool::mysql {

class BoundParams {
 public:
  /// Binds `params` (which must outlive this object: strings are not copied). Throws
  /// DbError(kConfig) for named parameters, which MySQL does not have.
  explicit BoundParams(const Params& params);
  BoundParams(const BoundParams&) = delete;
  BoundParams& operator=(const BoundParams&) = delete;

  unsigned long count() const { return static_cast<unsigned long>(binds_.size()); }
  MYSQL_BIND* binds() { return binds_.empty() ? nullptr : binds_.data(); }

 private:
  std::vector<MYSQL_BIND> binds_;
  std::vector<int64_t> integers_;  // one slot per parameter (stable addresses)
  std::vector<double> doubles_;
  std::vector<signed char> booleans_;
};

}  // namespace dbpool::mysql
