// Conversion of String/Binary arrays to the view layout at export time (see string_view.hpp).
#include "arrow/string_view.hpp"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "arrow/buffer.hpp"
#include "arrow/builder.hpp"

namespace dbpool::arrow {
namespace {

// A view: int32 length, then either the value inline (length <= 12) or a 4-byte prefix,
// the data buffer's index and the offset in it (both int32).
constexpr int64_t kInlineBytes = 12;
constexpr int64_t kViewBytes = 16;
// Offsets in a view are int32: a big data buffer is given as several buffers that point
// into it, this many bytes apart (values may run past a chunk's start into the next).
constexpr int64_t kChunkBytes = int64_t{1} << 30;

// private_data of a view array: owns the views, the validity bitmap, the data memory and
// the variadic sizes; `buffers` are what the consumer sees (data chunks point into `data`).
struct ViewPrivate {
  std::vector<const void*> buffers;
  std::vector<void*> owned;

  ~ViewPrivate() {
    for (void* memory : owned) Buffer::Free(memory);
  }
};

void ReleaseView(ArrowArray* array) {
  delete static_cast<ViewPrivate*>(array->private_data);
  array->release = nullptr;
  array->private_data = nullptr;
}

void* CopyOf(const void* bytes, int64_t size) {
  Buffer copy;
  copy.Append(bytes, size);
  copy.Reserve(1);  // a non-null pointer even for no bytes
  return copy.Release();
}

void ConvertStrings(ArrowArray* array) {
  const int64_t length = array->length;
  const int64_t offset = array->offset;
  const auto* offsets = static_cast<const int64_t*>(array->buffers[1]) + offset;
  const int64_t first = length > 0 ? offsets[0] : 0;
  const int64_t last = length > 0 ? offsets[length] : 0;
  const auto* bytes = static_cast<const uint8_t*>(array->buffers[2]);

  auto data = std::make_unique<ViewPrivate>();
  Buffer views;
  views.Reserve(length * kViewBytes + 1);
  uint8_t* out = views.data();
  bool any_long = false;
  for (int64_t i = 0; i < length; ++i) {
    const int64_t begin = offsets[i];
    const int32_t size = static_cast<int32_t>(offsets[i + 1] - begin);
    uint8_t* view = out + i * kViewBytes;
    std::memset(view, 0, kViewBytes);
    std::memcpy(view, &size, 4);
    if (size <= kInlineBytes) {
      if (size > 0) std::memcpy(view + 4, bytes + begin, static_cast<size_t>(size));
      continue;
    }
    any_long = true;
    const int64_t relative = begin - first;
    const int32_t index = static_cast<int32_t>(relative / kChunkBytes);
    const int32_t in_chunk = static_cast<int32_t>(relative % kChunkBytes);
    std::memcpy(view + 4, bytes + begin, 4);
    std::memcpy(view + 8, &index, 4);
    std::memcpy(view + 12, &in_chunk, 4);
  }
  views.Grow(length * kViewBytes);

  // Validity: moved out of a builder's array (offset 0), else rebuilt from bit `offset`.
  void* validity = nullptr;
  if (array->null_count != 0 && array->buffers[0] != nullptr) {
    validity = offset == 0 ? DetachBuffer(array, 0) : nullptr;
    if (validity == nullptr) {
      const auto* old_bits = static_cast<const uint8_t*>(array->buffers[0]);
      Buffer bits;
      bits.AppendZeros((length + 7) / 8 + 1);
      for (int64_t i = 0; i < length; ++i) {
        const int64_t at = offset + i;
        if (old_bits[at >> 3] & (1u << (at & 7))) {
          bits.data()[i >> 3] |= static_cast<uint8_t>(1u << (i & 7));
        }
      }
      validity = bits.Release();
    }
    data->owned.push_back(validity);
  }
  data->buffers.push_back(validity);
  uint8_t* view_memory = views.Release();
  data->owned.push_back(view_memory);
  data->buffers.push_back(view_memory);

  std::vector<int64_t> sizes;
  if (any_long) {
    const int64_t total = last - first;
    // The bytes the long values live in: moved out of a builder's array, else copied.
    uint8_t* memory = nullptr;
    int64_t shift = first;
    if (void* taken = DetachBuffer(array, 2)) {
      memory = static_cast<uint8_t*>(taken);
    } else {
      memory = static_cast<uint8_t*>(CopyOf(bytes + first, total));
      shift = 0;
    }
    data->owned.push_back(memory);
    for (int64_t start = 0; start < total; start += kChunkBytes) {
      data->buffers.push_back(memory + shift + start);
      sizes.push_back(total - start);
    }
  }
  Buffer sizes_buffer;
  sizes_buffer.Append(sizes.data(), static_cast<int64_t>(sizes.size() * sizeof(int64_t)));
  sizes_buffer.Reserve(1);
  uint8_t* sizes_memory = sizes_buffer.Release();
  data->owned.push_back(sizes_memory);
  data->buffers.push_back(sizes_memory);

  const int64_t null_count = array->null_count;
  array->release(array);  // frees the offsets (and whatever was not moved out)
  ArrowArray result{};
  result.length = length;
  result.null_count = null_count;
  result.offset = 0;
  result.n_buffers = static_cast<int64_t>(data->buffers.size());
  result.buffers = data->buffers.data();
  result.n_children = 0;
  result.children = nullptr;
  result.dictionary = nullptr;
  result.release = &ReleaseView;
  result.private_data = data.release();
  *array = result;
}

}  // namespace

std::string ViewFormat(const DataType& type) {
  switch (type.id) {
    case TypeId::kString: return "vu";
    case TypeId::kBinary: return "vz";
    default: return type.Format();
  }
}

void ConvertToViews(const DataType& type, ArrowArray* array) {
  switch (type.id) {
    case TypeId::kString:
    case TypeId::kBinary:
      if (array->release != nullptr) ConvertStrings(array);
      return;
    case TypeId::kList:
      if (array->n_children == 1) ConvertToViews(type.children[0].type, array->children[0]);
      return;
    case TypeId::kStruct:
      for (int64_t i = 0; i < array->n_children && i < static_cast<int64_t>(type.children.size());
           ++i) {
        ConvertToViews(type.children[i].type, array->children[i]);
      }
      return;
    default:
      return;
  }
}

}  // namespace dbpool::arrow
