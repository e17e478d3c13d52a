// The nanobind module db_pool._core: one Bind call per bound class.
#include "python/bindings.hpp"

NB_MODULE(_core, m) {
  m.doc() = "db-pool engine (C++20): pools, drivers and Arrow results";
  dbpool::python::BindCompletion(m);
  dbpool::python::BindResult(m);
  dbpool::python::BindEngine(m);
}
