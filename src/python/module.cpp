// The nanobind module db_pool._core: one Bind call per bound class.
#include "common/diagnostics.hpp"
#include "python/bindings.hpp"
#include "runtime/runtime.hpp"

NB_MODULE(_core, m) {
  m.doc() = "db-pool engine (C++20): pools, drivers and Arrow results";
  dbpool::python::BindCompletion(m);
  dbpool::python::BindResult(m);
  dbpool::python::BindEngine(m);
  dbpool::python::BindDiagnostics(m);
  m.def(
      "shutdown",
      [] {
        nanobind::gil_scoped_release release;
        dbpool::SetWarningSink({});  // later warnings go to stderr, not to Python
        dbpool::Runtime::Global().Shutdown();
      },
      "Stops the engine's threads (registered with atexit by db_pool).");
}
