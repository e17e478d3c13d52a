// Parameter conversion (with the GIL) and result/payload conversion for futures.
#include "python/convert.hpp"

#include <nanobind/stl/string.h>

#include "python/bindings.hpp"

namespace dbpool::python {
namespace {

Value ToValue(nb::handle item, const std::string& where) {
  if (item.is_none()) return std::monostate{};
  if (PyBool_Check(item.ptr())) return item.ptr() == Py_True;
  if (PyLong_CheckExact(item.ptr()) || PyLong_Check(item.ptr())) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(item.ptr(), &overflow);
    if (overflow != 0) {
      throw nb::value_error(("parameter " + where + ": integer does not fit in 64 bits").c_str());
    }
    return static_cast<int64_t>(v);
  }
  if (PyFloat_Check(item.ptr())) return PyFloat_AS_DOUBLE(item.ptr());
  if (PyUnicode_Check(item.ptr())) {
    Py_ssize_t size = 0;
    const char* data = PyUnicode_AsUTF8AndSize(item.ptr(), &size);
    if (!data) throw nb::python_error();
    return std::string(data, static_cast<size_t>(size));
  }
  if (PyObject_CheckBuffer(item.ptr())) {
    Py_buffer view;
    if (PyObject_GetBuffer(item.ptr(), &view, PyBUF_CONTIG_RO) != 0) throw nb::python_error();
    Bytes bytes{std::string(static_cast<const char*>(view.buf), static_cast<size_t>(view.len))};
    PyBuffer_Release(&view);
    return bytes;
  }
  std::string type_name = nb::type_name(item.type()).c_str();
  throw nb::type_error(("parameter " + where + ": unsupported type " + type_name +
                        " (use None, bool, int, float, str, bytes, date/datetime, Decimal or UUID)")
                           .c_str());
}

}  // namespace

Params ToParams(nb::handle params) {
  Params out;
  if (params.is_none()) return out;
  if (PyDict_Check(params.ptr())) {
    PyObject* key;
    PyObject* value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(params.ptr(), &pos, &key, &value)) {
      if (!PyUnicode_Check(key)) throw nb::type_error("parameter names must be str");
      std::string name = nb::cast<std::string>(nb::handle(key));
      out.values.push_back(ToValue(value, "'" + name + "'"));
      out.names.push_back(std::move(name));
    }
    return out;
  }
  if (PyList_Check(params.ptr()) || PyTuple_Check(params.ptr())) {
    nb::sequence seq = nb::borrow<nb::sequence>(params);
    size_t n = nb::len(seq);
    out.values.reserve(n);
    for (size_t i = 0; i < n; ++i) out.values.push_back(ToValue(seq[i], std::to_string(i + 1)));
    return out;
  }
  throw nb::type_error("params must be a list, a tuple or a dict");
}

namespace {

nb::object LenientText(const std::string& text) {
  return nb::steal(PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()),
                                        "replace"));
}

}  // namespace

nb::object ErrorTuple(const ErrorInfo& info) {
  return nb::make_tuple(LenientText(info.kind), LenientText(info.message),
                        LenientText(info.sqlstate), info.vendor_code, LenientText(info.pool_id),
                        LenientText(info.text));
}

nb::object ToPython(Payload&& payload) {
  return std::visit(
      [](auto&& value) -> nb::object {
        using T = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return nb::none();
        } else if constexpr (std::is_same_v<T, int64_t>) {
          return nb::int_(value);
        } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
          nb::list list;
          for (int64_t v : value) list.append(nb::int_(v));
          return list;
        } else if constexpr (std::is_same_v<T, QueryResult>) {
          return nb::cast(ArrowResult(std::move(value)));
        } else if constexpr (std::is_same_v<T, std::vector<QueryResult>>) {
          nb::list list;
          for (auto& r : value) list.append(nb::cast(ArrowResult(std::move(r))));
          return list;
        } else if constexpr (std::is_same_v<T, std::shared_ptr<TransactionSession>>) {
          return nb::cast(Transaction{std::move(value)});
        } else if constexpr (std::is_same_v<T, std::shared_ptr<ResultStream>>) {
          return nb::cast(Stream(std::move(value)));
        } else {
          return ErrorTuple(value);
        }
      },
      std::move(payload));
}

}  // namespace dbpool::python
