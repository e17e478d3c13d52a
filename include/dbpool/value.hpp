// Bound parameter values: what a caller may pass for $1 / ? / :name placeholders.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace dbpool {

/// Raw bytes (bound as bytea / BLOB), distinct from text.
struct Bytes {
  std::string data;
  bool operator==(const Bytes&) const = default;
};

/// NULL, bool, 64-bit integer, double, text (UTF-8; the database infers its type, so dates,
/// decimals, UUIDs and JSON are passed as their text form), bytes.
using Value = std::variant<std::monostate, bool, int64_t, double, std::string, Bytes>;

/// Positional parameters, or named ones when `names` is non-empty (same size as values).
struct Params {
  std::vector<Value> values;
  std::vector<std::string> names;

  bool empty() const { return values.empty(); }
  size_t size() const { return values.size(); }
};

}  // namespace dbpool
