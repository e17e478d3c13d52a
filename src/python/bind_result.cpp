// ArrowResult: the Arrow PyCapsule interface (__arrow_c_stream__) over a QueryResult.
#include <nanobind/stl/string.h>

#include "python/bindings.hpp"

namespace dbpool::python {
namespace {

void ReleaseStreamCapsule(void* ptr) noexcept {
  auto* stream = static_cast<ArrowArrayStream*>(ptr);
  // A consumer that imported the stream set release to nullptr; otherwise free it here.
  if (stream->release) stream->release(stream);
  delete stream;
}

}  // namespace

nb::object ArrowResult::ArrowCStream(nb::handle requested_schema) {
  if (!result_) {
    throw nb::value_error(
        "this result was already consumed (its Arrow stream can be read once; keep the "
        "DataFrame instead)");
  }
  rows_ = result_->num_rows();
  rows_affected_ = result_->rows_affected;
  auto* stream = new ArrowArrayStream{};
  {
    nb::gil_scoped_release release;
    ExportStream(std::move(*result_), stream,
                 string_views_ ? StringLayout::kView : StringLayout::kOffsets);
  }
  result_.reset();
  return nb::capsule(stream, "arrow_array_stream", &ReleaseStreamCapsule);
}

nb::list ArrowResult::column_names() const {
  nb::list names;
  if (result_) {
    for (const auto& field : result_->schema) names.append(nb::str(field.name.c_str()));
  }
  return names;
}

void BindResult(nb::module_& m) {
  nb::class_<ArrowResult>(m, "ArrowResult",
                          "Rows of one statement as Arrow record batches owned by C++.")
      .def("__arrow_c_stream__", &ArrowResult::ArrowCStream,
           nb::arg("requested_schema") = nb::none(),
           "Exports the batches as an Arrow C stream (PyCapsule); can be called once.")
      .def(
          "use_string_views",
          [](nb::handle self) {
            nb::cast<ArrowResult&>(self).UseStringViews();
            return self;
          },
          "Makes the stream give strings and binaries in the view layout (Utf8View, "
          "BinaryView), the one Polars uses, so Polars imports them without a copy; "
          "returns the result itself.")
      .def_prop_ro("num_rows", &ArrowResult::num_rows)
      .def_prop_ro("rows_affected", &ArrowResult::rows_affected,
                   "Rows affected for a statement without a result set, else -1.")
      .def_prop_ro("column_names", &ArrowResult::column_names)
      .def("__repr__", [](const ArrowResult& r) {
        return "<ArrowResult rows=" + std::to_string(r.num_rows()) + ">";
      });
}

}  // namespace dbpool::python
