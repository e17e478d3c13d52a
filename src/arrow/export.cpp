// RecordBatch/QueryResult ownership and export through the Arrow C Data (schema) and C Stream
// interfaces, with release callbacks that free everything the consumer did not move out.
#include <cerrno>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "arrow/string_view.hpp"
#include "dbpool/result.hpp"

namespace dbpool {
namespace {

using arrow::DataType;
using arrow::Field;

// private_data of an exported schema. The strings live here (not in the struct) so the
// consumer may move the ArrowSchema bitwise.
struct SchemaPrivate {
  std::string format;
  std::string name;
  std::string metadata;  // binary, see EncodeMetadata; unused when has_metadata is false
  bool has_metadata = false;
  std::vector<ArrowSchema> children;
  std::vector<ArrowSchema*> child_ptrs;

  ~SchemaPrivate() {
    for (ArrowSchema& child : children) {
      if (child.release != nullptr) child.release(&child);
    }
  }
};

void ReleaseSchema(ArrowSchema* schema) {
  delete static_cast<SchemaPrivate*>(schema->private_data);
  schema->release = nullptr;
  schema->private_data = nullptr;
}

void AppendInt32(std::string& out, int32_t value) {
  // The C Data interface encodes metadata lengths as native-endian int32.
  char bytes[sizeof(value)];
  std::memcpy(bytes, &value, sizeof(value));
  out.append(bytes, sizeof(value));
}

std::string EncodeMetadata(const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::string out;
  AppendInt32(out, static_cast<int32_t>(pairs.size()));
  for (const auto& [key, value] : pairs) {
    AppendInt32(out, static_cast<int32_t>(key.size()));
    out += key;
    AppendInt32(out, static_cast<int32_t>(value.size()));
    out += value;
  }
  return out;
}

void FillSchema(std::string format, std::string name,
                const std::vector<std::pair<std::string, std::string>>& metadata,
                int64_t flags, const std::vector<Field>& children, bool views,
                ArrowSchema* out);

void FillField(const Field& field, bool views, ArrowSchema* out) {
  FillSchema(views ? arrow::ViewFormat(field.type) : field.type.Format(), field.name,
             field.metadata, field.nullable ? ARROW_FLAG_NULLABLE : 0, field.type.children,
             views, out);
}

void FillSchema(std::string format, std::string name,
                const std::vector<std::pair<std::string, std::string>>& metadata,
                int64_t flags, const std::vector<Field>& children, bool views,
                ArrowSchema* out) {
  auto data = std::make_unique<SchemaPrivate>();
  data->format = std::move(format);
  data->name = std::move(name);
  if (!metadata.empty()) {
    data->metadata = EncodeMetadata(metadata);
    data->has_metadata = true;
  }
  data->children.resize(children.size());  // zeroed: release == nullptr until filled
  data->child_ptrs.resize(children.size());
  for (size_t i = 0; i < children.size(); ++i) {
    data->child_ptrs[i] = &data->children[i];
    FillField(children[i], views, &data->children[i]);
  }
  out->format = data->format.c_str();
  out->name = data->name.c_str();
  out->metadata = data->has_metadata ? data->metadata.data() : nullptr;
  out->flags = flags;
  out->n_children = static_cast<int64_t>(children.size());
  out->children = children.empty() ? nullptr : data->child_ptrs.data();
  out->dictionary = nullptr;
  out->release = &ReleaseSchema;
  out->private_data = data.release();
}

// private_data of an exported stream: the moved QueryResult and the consumer's position.
struct StreamPrivate {
  arrow::Schema schema;
  std::vector<RecordBatch> batches;  // batches already handed out are left released
  size_t next = 0;
  bool views = false;  // String/Binary go out in the view layout
  std::string last_error;
};

StreamPrivate* Private(ArrowArrayStream* stream) {
  return static_cast<StreamPrivate*>(stream->private_data);
}

int StreamGetSchema(ArrowArrayStream* stream, ArrowSchema* out) {
  // Exceptions must not cross the C boundary: report them as errno + get_last_error.
  StreamPrivate* data = Private(stream);
  try {
    FillSchema("+s", "", {}, 0, data->schema, data->views, out);
    return 0;
  } catch (const std::bad_alloc&) {
    data->last_error = "out of memory exporting the schema";
    return ENOMEM;
  } catch (const std::exception& e) {
    data->last_error = e.what();
    return EINVAL;
  }
}

int StreamGetNext(ArrowArrayStream* stream, ArrowArray* out) {
  StreamPrivate* data = Private(stream);
  if (data->next < data->batches.size()) {
    ArrowArray batch = data->batches[data->next++].Release();
    if (data->views) {
      // Converted one batch at a time, as the consumer asks for it: the offsets of the
      // batches already handed over are freed, the others are not yet doubled.
      try {
        for (int64_t i = 0; i < batch.n_children && i < static_cast<int64_t>(data->schema.size());
             ++i) {
          arrow::ConvertToViews(data->schema[i].type, batch.children[i]);
        }
      } catch (const std::bad_alloc&) {
        batch.release(&batch);
        data->last_error = "out of memory converting strings to views";
        return ENOMEM;
      }
    }
    *out = batch;
  } else {
    // End of stream: a released array.
    std::memset(out, 0, sizeof(*out));
    out->release = nullptr;
  }
  return 0;
}

const char* StreamGetLastError(ArrowArrayStream* stream) {
  StreamPrivate* data = Private(stream);
  return data->last_error.empty() ? nullptr : data->last_error.c_str();
}

void StreamRelease(ArrowArrayStream* stream) {
  // Deleting the private data destroys the RecordBatches not yet taken, releasing them.
  delete Private(stream);
  stream->release = nullptr;
  stream->private_data = nullptr;
}

}  // namespace

RecordBatch::RecordBatch(RecordBatch&& other) noexcept : array_(other.Release()) {}

RecordBatch& RecordBatch::operator=(RecordBatch&& other) noexcept {
  if (this != &other) {
    if (array_.release != nullptr) array_.release(&array_);
    array_ = other.Release();
  }
  return *this;
}

RecordBatch::~RecordBatch() {
  if (array_.release != nullptr) array_.release(&array_);
}

ArrowArray RecordBatch::Release() {
  // A moved struct is marked released in its old place, as the C Data interface requires.
  ArrowArray out = array_;
  array_ = ArrowArray{};
  return out;
}

int64_t QueryResult::num_rows() const {
  int64_t total = 0;
  for (const RecordBatch& batch : batches) total += batch.num_rows();
  return total;
}

void ExportSchema(const arrow::Schema& schema, ArrowSchema* out) {
  // The stream's schema is the struct type of its batches: "+s" with one child per field.
  FillSchema("+s", "", {}, 0, schema, false, out);
}

void ExportStream(QueryResult&& result, ArrowArrayStream* out, StringLayout strings) {
  auto data = std::make_unique<StreamPrivate>();
  data->views = strings == StringLayout::kView;
  data->schema = std::move(result.schema);
  data->batches = std::move(result.batches);
  out->get_schema = &StreamGetSchema;
  out->get_next = &StreamGetNext;
  out->get_last_error = &StreamGetLastError;
  out->release = &StreamRelease;
  out->private_data = data.release();
}

}  // namespace dbpool
