// Parameter binding for PostgreSQL: which OID and wire format each Value kind is sent as.
#include "drivers/postgresql/pg_params.hpp"

#include <bit>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

#include "dbpool/error.hpp"

namespace dbpool::pg {
namespace {

// pg_type OIDs of the typed parameters.
constexpr unsigned int kUntypedOid = 0;  // the server infers the type from the context
constexpr unsigned int kBoolOid = 16;
constexpr unsigned int kByteaOid = 17;
constexpr unsigned int kInt8Oid = 20;
constexpr unsigned int kFloat8Oid = 701;
constexpr int kTextFormat = 0;
constexpr int kBinaryFormat = 1;
constexpr size_t kMaxParams = 65535;  // Bind messages count parameters in an int16

// Lengths travel as int32; PostgreSQL refuses values over 1 GB anyway.
void CheckLength(size_t size, size_t index) {
  if (size > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    throw DbError(ErrorKind::kConfig, "params: parameter $" + std::to_string(index + 1) +
                                          " is larger than 2 GB");
  }
}

}  // namespace

PgParams::PgParams(const Params& params) {
  if (!params.names.empty()) {
    throw DbError(ErrorKind::kConfig,
                  "params: PostgreSQL uses positional parameters $1..$n, not named ones (got '" +
                      params.names.front() + "')");
  }
  if (params.values.size() > kMaxParams) {
    throw DbError(ErrorKind::kConfig, "params: PostgreSQL accepts at most 65535 parameters, got " +
                                          std::to_string(params.values.size()));
  }
  const size_t n = params.values.size();
  types_.resize(n);
  values_.resize(n);
  lengths_.resize(n);
  formats_.resize(n);
  scratch_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    std::visit(
        [&](const auto& value) {
          using T = std::decay_t<decltype(value)>;
          char* slot = scratch_[i].data();
          if constexpr (std::is_same_v<T, std::monostate>) {
            // NULL: no value; untyped so that it fits any column.
            types_[i] = kUntypedOid;
            values_[i] = nullptr;
            lengths_[i] = 0;
            formats_[i] = kTextFormat;
          } else if constexpr (std::is_same_v<T, bool>) {
            slot[0] = value ? 1 : 0;
            types_[i] = kBoolOid;
            values_[i] = slot;
            lengths_[i] = 1;
            formats_[i] = kBinaryFormat;
          } else if constexpr (std::is_same_v<T, int64_t>) {
            uint64_t be = __builtin_bswap64(static_cast<uint64_t>(value));
            std::memcpy(slot, &be, 8);
            types_[i] = kInt8Oid;
            values_[i] = slot;
            lengths_[i] = 8;
            formats_[i] = kBinaryFormat;
          } else if constexpr (std::is_same_v<T, double>) {
            uint64_t be = __builtin_bswap64(std::bit_cast<uint64_t>(value));
            std::memcpy(slot, &be, 8);
            types_[i] = kFloat8Oid;
            values_[i] = slot;
            lengths_[i] = 8;
            formats_[i] = kBinaryFormat;
          } else if constexpr (std::is_same_v<T, std::string>) {
            // Untyped text, so that '2024-01-01' binds to a date column, '12.50' to numeric,
            // a UUID string to uuid: the server parses it with the column's input function.
            if (value.find('\0') != std::string::npos) {
              throw DbError(ErrorKind::kConfig,
                            "params: parameter $" + std::to_string(i + 1) +
                                " is text with a NUL byte, which PostgreSQL text cannot hold "
                                "(pass Bytes for binary data)");
            }
            CheckLength(value.size(), i);
            types_[i] = kUntypedOid;
            values_[i] = value.c_str();
            lengths_[i] = static_cast<int>(value.size());
            formats_[i] = kTextFormat;
          } else {
            static_assert(std::is_same_v<T, Bytes>);
            CheckLength(value.data.size(), i);
            types_[i] = kByteaOid;
            // A non-null pointer even for empty bytes: libpq sends NULL for a null pointer.
            values_[i] = value.data.empty() ? slot : value.data.data();
            lengths_[i] = static_cast<int>(value.data.size());
            formats_[i] = kBinaryFormat;
          }
        },
        params.values[i]);
  }
}

}  // namespace dbpool::pg
