// MessagePack decoding (https://github.com/msgpack/msgpack/blob/master/spec.md).
#include "drivers/influxdb/influx_msgpack.hpp"

#include <cstring>
#include <string>

#include "dbpool/error.hpp"

namespace dbpool::influxdb {
namespace {

[[noreturn]] void Malformed(const std::string& what) {
  throw DbError(ErrorKind::kConnection, "InfluxDB: malformed MessagePack response: " + what);
}

}  // namespace

const unsigned char* MsgReader::Take(size_t n) {
  if (static_cast<size_t>(end_ - p_) < n) throw Incomplete{};
  auto* out = reinterpret_cast<const unsigned char*>(p_);
  p_ += n;
  return out;
}

template <typename T>
T MsgReader::Big() {
  const unsigned char* b = Take(sizeof(T));
  T v = 0;
  for (size_t k = 0; k < sizeof(T); ++k) v = static_cast<T>((v << 8) | b[k]);
  return v;
}

MsgValue MsgReader::Next() {
  MsgValue v;
  uint8_t tag = *Take(1);
  auto str = [&](MsgKind kind, size_t n) {
    v.kind = kind;
    v.s = std::string_view(reinterpret_cast<const char*>(Take(n)), n);
  };
  auto container = [&](MsgKind kind, uint64_t n) {
    v.kind = kind;
    v.u = n;
  };
  if (tag <= 0x7f) {
    v.kind = MsgKind::kInt;
    v.i = tag;
  } else if (tag >= 0xe0) {
    v.kind = MsgKind::kInt;
    v.i = static_cast<int8_t>(tag);
  } else if ((tag & 0xf0) == 0x80) {
    container(MsgKind::kMap, tag & 0x0f);
  } else if ((tag & 0xf0) == 0x90) {
    container(MsgKind::kArray, tag & 0x0f);
  } else if ((tag & 0xe0) == 0xa0) {
    str(MsgKind::kString, tag & 0x1f);
  } else {
    switch (tag) {
      case 0xc0: v.kind = MsgKind::kNil; break;
      case 0xc2: v.kind = MsgKind::kBool; v.b = false; break;
      case 0xc3: v.kind = MsgKind::kBool; v.b = true; break;
      case 0xc4: str(MsgKind::kBinary, Big<uint8_t>()); break;
      case 0xc5: str(MsgKind::kBinary, Big<uint16_t>()); break;
      case 0xc6: str(MsgKind::kBinary, Big<uint32_t>()); break;
      case 0xc7: { size_t n = Big<uint8_t>(); Take(1); str(MsgKind::kExt, n); break; }
      case 0xc8: { size_t n = Big<uint16_t>(); Take(1); str(MsgKind::kExt, n); break; }
      case 0xc9: { size_t n = Big<uint32_t>(); Take(1); str(MsgKind::kExt, n); break; }
      case 0xca: {
        uint32_t bits = Big<uint32_t>();
        float f;
        std::memcpy(&f, &bits, 4);
        v.kind = MsgKind::kFloat;
        v.f = f;
        break;
      }
      case 0xcb: {
        uint64_t bits = Big<uint64_t>();
        std::memcpy(&v.f, &bits, 8);
        v.kind = MsgKind::kFloat;
        break;
      }
      case 0xcc: v.kind = MsgKind::kInt; v.i = Big<uint8_t>(); break;
      case 0xcd: v.kind = MsgKind::kInt; v.i = Big<uint16_t>(); break;
      case 0xce: v.kind = MsgKind::kInt; v.i = Big<uint32_t>(); break;
      case 0xcf: {
        uint64_t u = Big<uint64_t>();
        if (u <= static_cast<uint64_t>(INT64_MAX)) {
          v.kind = MsgKind::kInt;
          v.i = static_cast<int64_t>(u);
        } else {
          v.kind = MsgKind::kUInt;
          v.u = u;
        }
        break;
      }
      case 0xd0: v.kind = MsgKind::kInt; v.i = static_cast<int8_t>(Big<uint8_t>()); break;
      case 0xd1: v.kind = MsgKind::kInt; v.i = static_cast<int16_t>(Big<uint16_t>()); break;
      case 0xd2: v.kind = MsgKind::kInt; v.i = static_cast<int32_t>(Big<uint32_t>()); break;
      case 0xd3: v.kind = MsgKind::kInt; v.i = static_cast<int64_t>(Big<uint64_t>()); break;
      case 0xd4: Take(1); str(MsgKind::kExt, 1); break;
      case 0xd5: Take(1); str(MsgKind::kExt, 2); break;
      case 0xd6: Take(1); str(MsgKind::kExt, 4); break;
      case 0xd7: Take(1); str(MsgKind::kExt, 8); break;
      case 0xd8: Take(1); str(MsgKind::kExt, 16); break;
      case 0xd9: str(MsgKind::kString, Big<uint8_t>()); break;
      case 0xda: str(MsgKind::kString, Big<uint16_t>()); break;
      case 0xdb: str(MsgKind::kString, Big<uint32_t>()); break;
      case 0xdc: container(MsgKind::kArray, Big<uint16_t>()); break;
      case 0xdd: container(MsgKind::kArray, Big<uint32_t>()); break;
      case 0xde: container(MsgKind::kMap, Big<uint16_t>()); break;
      case 0xdf: container(MsgKind::kMap, Big<uint32_t>()); break;
      default: Malformed("unknown type byte 0x" + std::to_string(tag));
    }
  }
  return v;
}

void MsgReader::Skip() {
  // Iterative: a count of values still to skip, so deep nesting cannot overflow the stack.
  uint64_t pending = 1;
  while (pending > 0) {
    --pending;
    MsgValue v = Next();
    if (v.kind == MsgKind::kArray) pending += v.u;
    if (v.kind == MsgKind::kMap) pending += 2 * v.u;
  }
}

std::string_view MsgReader::String(const char* what) {
  MsgValue v = Next();
  if (v.kind != MsgKind::kString) Malformed(std::string(what) + " is not a string");
  return v.s;
}

uint64_t MsgReader::ArrayHeader(const char* what) {
  MsgValue v = Next();
  if (v.kind == MsgKind::kNil) return 0;
  if (v.kind != MsgKind::kArray) Malformed(std::string(what) + " is not an array");
  return v.u;
}

uint64_t MsgReader::MapHeader(const char* what) {
  MsgValue v = Next();
  if (v.kind == MsgKind::kNil) return 0;
  if (v.kind != MsgKind::kMap) Malformed(std::string(what) + " is not a map");
  return v.u;
}

}  // namespace dbpool::influxdb
