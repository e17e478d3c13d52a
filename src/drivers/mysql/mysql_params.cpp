// Parameter binding: one MYSQL_BIND per value, pointing at storage that lives as long as
// the BoundParams (numbers) or the Params (text, bytes).
#include "drivers/mysql/mysql_params.hpp"

#include <cstring>
#include <string>
#include <type_traits>

#include "dbpool/error.hpp"

namespace dbpool::mysql {

BoundParams::BoundParams(const Params& params) {
  if (!params.names.empty()) {
    throw DbError(ErrorKind::kConfig,
                  "params: MySQL has no named parameters; use ? placeholders and a list");
  }
  const size_t n = params.values.size();
  binds_.resize(n);
  integers_.resize(n);
  doubles_.resize(n);
  booleans_.resize(n);
  std::memset(binds_.data(), 0, n * sizeof(MYSQL_BIND));
  for (size_t i = 0; i < n; ++i) {
    MYSQL_BIND& b = binds_[i];
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::monostate>) {
            b.buffer_type = MYSQL_TYPE_NULL;
          } else if constexpr (std::is_same_v<T, bool>) {
            booleans_[i] = v ? 1 : 0;
            b.buffer_type = MYSQL_TYPE_TINY;
            b.buffer = &booleans_[i];
          } else if constexpr (std::is_same_v<T, int64_t>) {
            integers_[i] = v;
            b.buffer_type = MYSQL_TYPE_LONGLONG;
            b.buffer = &integers_[i];
          } else if constexpr (std::is_same_v<T, double>) {
            doubles_[i] = v;
            b.buffer_type = MYSQL_TYPE_DOUBLE;
            b.buffer = &doubles_[i];
          } else if constexpr (std::is_same_v<T, std::string>) {
            // A string in the connection character set (utf8mb4); the server converts it
            // to whatever the context needs (a date, a decimal, JSON...).
            b.buffer_type = MYSQL_TYPE_STRING;
            b.buffer = const_cast<char*>(v.data());
            b.buffer_length = static_cast<unsigned long>(v.size());
          } else {  // Bytes: a binary string (no character set conversion)
            b.buffer_type = MYSQL_TYPE_BLOB;
            b.buffer = const_cast<char*>(v.data.data());
            b.buffer_length = static_cast<unsigned long>(v.data.size());
          }
        },
        params.values[i]);
  }
}

}  // namespace dbpool::mysql
