// Engine, Operation, Transaction and Notifier bindings: every call converts its arguments
// with the GIL, then starts a coroutine on the engine without it and returns at once.
#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <atomic>
#include <utility>

#include "common/diagnostics.hpp"
#include "core/local_pool.hpp"
#include "core/resilience/pool_group.hpp"
#include "python/bindings.hpp"
#include "python/convert.hpp"

namespace dbpool::python {
namespace {

std::atomic<uint64_t> next_operation_id{1};

// The caller's site for the next operation started on this thread (set by the Python
// layer just before it, only while some pool has leak detection on).
thread_local std::string next_call_site;

template <typename T>
struct Delivery {
  std::shared_ptr<Notifier> notifier;
  uint64_t id;
  void operator()(std::exception_ptr error, T value) {
    if (error) {
      notifier->Push({id, ErrorInfo::FromCurrentException(error)});
    } else {
      notifier->Push({id, Payload(std::move(value))});
    }
  }
};

template <>
struct Delivery<void> {
  std::shared_ptr<Notifier> notifier;
  uint64_t id;
  void operator()(std::exception_ptr error) {
    if (error) {
      notifier->Push({id, ErrorInfo::FromCurrentException(error)});
    } else {
      notifier->Push({id, std::monostate{}});
    }
  }
};

PoolConfig ToConfig(const std::map<std::string, std::string>& values,
                    const std::optional<std::string>& env_prefix) {
  if (!env_prefix) return PoolConfig::FromMap(values);
  // Environment first, explicit values on top.
  PoolConfig::FromEnv(*env_prefix);  // fails naming the variables when none is set
  std::map<std::string, std::string> merged = PoolConfig::EnvValues(*env_prefix);
  for (const auto& [k, v] : values) merged[k] = v;
  return PoolConfig::FromMap(merged);
}

nb::dict StatusDict(const PoolStatus& s, const std::string& redacted_url) {
  nb::dict d;
  d["pool_id"] = s.pool_id;
  d["db_type"] = s.db_type;
  d["url"] = redacted_url;
  d["size"] = s.size;
  d["idle"] = s.idle;
  d["in_use"] = s.in_use;
  d["waiting"] = s.waiting;
  d["pending"] = s.pending;
  d["shared"] = s.shared;
  d["shared_calls"] = s.shared_calls;
  d["min_connections"] = s.min_connections;
  d["max_connections"] = s.max_connections;
  d["closed"] = s.closed;
  d["connections_opened"] = s.connections_opened;
  d["connections_closed"] = s.connections_closed;
  d["health"] = s.health;
  d["consecutive_failures"] = s.consecutive_failures;
  d["last_error"] = s.last_error;
  d["seconds_since_check"] = s.seconds_since_check;
  d["connect_attempts"] = s.connect_attempts;
  d["leaks_reported"] = s.leaks_reported;
  d["circuit_breaker"] = s.circuit_breaker;
  return d;
}

nb::dict GroupDict(const GroupStatus& s) {
  nb::dict d;
  d["pool_id"] = s.group_id;
  d["strategy"] = s.strategy;
  d["algorithm"] = s.algorithm;
  d["state"] = s.state;
  // "healthy" while some member is up, like a pool's health for callers that only read it.
  d["health"] = s.state == "down" ? "unhealthy" : "healthy";
  d["read_only_mode"] = s.read_only_mode;
  d["ban_time"] = s.ban_time;
  nb::list members;
  for (const auto& m : s.members) {
    nb::dict md;
    md["pool_id"] = m.pool_id;
    md["role"] = m.role;
    md["state"] = m.state;
    md["health"] = m.health;
    md["calls"] = m.calls;
    md["failures"] = m.failures;
    md["bans"] = m.bans;
    md["in_flight"] = m.in_flight;
    md["weight"] = m.weight;
    md["seconds_banned"] = m.seconds_banned;
    members.append(md);
  }
  d["members"] = members;
  return d;
}

std::vector<std::string> ToStrings(nb::handle sqls) {
  if (PyUnicode_Check(sqls.ptr())) throw nb::type_error("sqls must be a list of str, not a str");
  std::vector<std::string> out;
  for (nb::handle item : sqls) {
    if (!PyUnicode_Check(item.ptr())) throw nb::type_error("every statement in sqls must be a str");
    out.push_back(nb::cast<std::string>(item));
  }
  return out;
}

// Items are (sql, params-or-None) pairs; the Python layer builds them.
std::vector<Statement> ToStatements(nb::handle items) {
  std::vector<Statement> out;
  for (nb::handle item : items) {
    if (!PyTuple_Check(item.ptr()) || PyTuple_GET_SIZE(item.ptr()) != 2) {
      throw nb::type_error("every statement must be a (sql, params) pair");
    }
    nb::tuple pair = nb::borrow<nb::tuple>(item);
    out.push_back({nb::cast<std::string>(pair[0]), ToParams(pair[1])});
  }
  return out;
}

// Reads every batch of an object with __arrow_c_stream__ (a polars DataFrame) while the
// GIL is held: the producer may be Python code. Zero-copy: the buffers stay the producer's
// until the table is destroyed.
std::shared_ptr<arrow::ImportedTable> ImportTable(nb::handle frame) {
  if (!nb::hasattr(frame, "__arrow_c_stream__")) {
    throw nb::type_error("bulk_insert: the data must have __arrow_c_stream__ (a polars DataFrame)");
  }
  nb::object capsule = frame.attr("__arrow_c_stream__")();
  auto* stream = static_cast<ArrowArrayStream*>(PyCapsule_GetPointer(capsule.ptr(), "arrow_array_stream"));
  if (stream == nullptr) throw nb::python_error();
  if (stream->release == nullptr) throw nb::value_error("bulk_insert: the Arrow stream was already consumed");
  // Move the stream out of the capsule (the capsule's destructor then sees it released).
  ArrowArrayStream owned = *stream;
  stream->release = nullptr;
  return arrow::ImportedTable::FromStream(&owned);
}

}  // namespace

template <typename T>
Operation Start(std::shared_ptr<Notifier> notifier, CancelTokenPtr token, asio::awaitable<T> work) {
  uint64_t id = next_operation_id.fetch_add(1, std::memory_order_relaxed);
  if (!next_call_site.empty()) token->site = std::exchange(next_call_site, {});
  {
    nb::gil_scoped_release release;
    asio::co_spawn(Runtime::Global().executor(), std::move(work),
                   Delivery<T>{std::move(notifier), id});
  }
  return Operation(id, std::move(token));
}

void Operation::Cancel() {
  nb::gil_scoped_release release;
  token_->Cancel();
}

void BindDiagnostics(nb::module_& m) {
  m.def("set_call_site", [](std::string site) { next_call_site = std::move(site); },
        "Names the caller's site (file:line in function) for the next operation started on "
        "this thread; leak reports show it.");
  // Engine warnings go to logging.getLogger("db_pool"). The sink takes the GIL on an
  // engine thread (never while holding a pool lock: pools post their warnings) and is
  // removed by shutdown(), before the interpreter goes away.
  SetWarningSink([](const std::string& pool_id, const std::string& message) {
    if (!Py_IsInitialized()) return;
    nb::gil_scoped_acquire gil;
    try {
      nb::module_::import_("logging").attr("getLogger")("db_pool").attr("warning")(
          "pool '%s': %s", pool_id, message);
    } catch (nb::python_error& error) {
      error.discard_as_unraisable("db_pool warning sink");
    }
  });
}

void BindCompletion(nb::module_& m) {
  nb::class_<Notifier>(m, "Notifier", "Completion queue of one asyncio loop (an eventfd).")
      .def(nb::new_([] { return std::make_shared<Notifier>(); }))
      .def("fileno", &Notifier::fileno)
      .def("pending", &Notifier::Pending, "Completions queued and not yet drained.")
      .def(
          "drain",
          [](Notifier& n) {
            std::vector<Completion> done;
            {
              nb::gil_scoped_release release;
              done = n.Take();
            }
            nb::list out;
            for (auto& c : done) {
              bool ok = !std::holds_alternative<ErrorInfo>(c.payload);
              nb::object value;
              try {
                value = ToPython(std::move(c.payload));
              } catch (nb::python_error& e) {
                // One value that cannot become a Python object fails its own future only;
                // raising here would lose every other completion of the batch.
                ErrorInfo info;
                info.kind = "DataConversionError";
                info.message = info.text = std::string("result conversion failed: ") + e.what();
                ok = false;
                value = ErrorTuple(info);
              }
              out.append(nb::make_tuple(c.operation_id, ok, value));
            }
            return out;
          },
          "Returns [(operation_id, ok, value_or_error_tuple), ...] for every finished operation.");

  nb::class_<Operation>(m, "Operation")
      .def_prop_ro("id", &Operation::id)
      .def("cancel", &Operation::Cancel);
}

void BindEngine(nb::module_& m) {
  nb::class_<Transaction>(m, "Transaction")
      .def("query",
           [](Transaction& t, std::shared_ptr<Notifier> n, std::string sql, nb::handle params) {
             auto token = std::make_shared<CancelToken>();
             Params p = ToParams(params);
             return Start(n, token, t.session->Query(std::move(sql), std::move(p), token));
           },
           nb::arg("notifier"), nb::arg("sql"), nb::arg("params").none())
      .def("execute",
           [](Transaction& t, std::shared_ptr<Notifier> n, std::string sql, nb::handle params) {
             auto token = std::make_shared<CancelToken>();
             Params p = ToParams(params);
             return Start(n, token, t.session->Execute(std::move(sql), std::move(p), token));
           },
           nb::arg("notifier"), nb::arg("sql"), nb::arg("params").none())
      .def("commit", [](Transaction& t, std::shared_ptr<Notifier> n) {
        return Start(n, std::make_shared<CancelToken>(), t.session->Commit());
      })
      .def("rollback", [](Transaction& t, std::shared_ptr<Notifier> n) {
        return Start(n, std::make_shared<CancelToken>(), t.session->Rollback());
      })
      .def_prop_ro("finished", [](Transaction& t) { return t.session->finished(); });

  nb::class_<Stream>(m, "Stream", "A streamed query; next() gives batches, close() stops it.")
      .def("next",
           [](Stream& s, std::shared_ptr<Notifier> n) {
             auto stream = s.get();
             // Adapts optional<QueryResult> to a payload: a result, or None at the end.
             auto next = [](std::shared_ptr<ResultStream> stream) -> asio::awaitable<Payload> {
               auto batch = co_await stream->Next();
               if (!batch) co_return Payload{std::monostate{}};
               co_return Payload{std::move(*batch)};
             };
             return Start(n, std::make_shared<CancelToken>(), next(std::move(stream)));
           })
      .def("close", [](Stream& s) {
        nb::gil_scoped_release release;
        s.Close();
      });

  nb::class_<Engine>(m, "Engine", "A registry of pools (one per DatabasePool).")
      .def(nb::init<>())
      .def("create_pool",
           [](Engine& e, std::shared_ptr<Notifier> n, std::string pool_id,
              std::map<std::string, std::string> values, std::optional<std::string> env_prefix) {
             PoolConfig config;
             try {
               config = ToConfig(values, env_prefix);
             } catch (const DbError& err) {
               // Config errors are delivered like any other failure, naming the pool.
               auto token = std::make_shared<CancelToken>();
               DbError tagged = err.WithPool(pool_id);
               return Start(n, token, [](DbError error) -> asio::awaitable<void> {
                 throw error;
                 co_return;
               }(tagged));
             }
             return Start(n, std::make_shared<CancelToken>(),
                          e.manager().CreatePool(std::move(pool_id), std::move(config)));
           },
           nb::arg("notifier"), nb::arg("pool_id"), nb::arg("values"), nb::arg("env_prefix").none())
      .def("remove_pool",
           [](Engine& e, std::shared_ptr<Notifier> n, std::string pool_id, double timeout) {
             return Start(n, std::make_shared<CancelToken>(),
                          e.manager().RemovePool(std::move(pool_id), timeout));
           })
      .def("close",
           [](Engine& e, std::shared_ptr<Notifier> n, double timeout) {
             return Start(n, std::make_shared<CancelToken>(), e.manager().Close(timeout));
           })
      .def("query",
           [](Engine& e, std::shared_ptr<Notifier> n, const std::string& pool_id,
              std::string sql, nb::handle params) {
             auto pool = e.manager().Resolve(pool_id);
             auto token = std::make_shared<CancelToken>();
             Params p = ToParams(params);
             return Start(n, token, RunQuery(std::move(pool), std::move(sql), std::move(p), token));
           },
           nb::arg("notifier"), nb::arg("pool_id"), nb::arg("sql"), nb::arg("params").none())
      .def("execute",
           [](Engine& e, std::shared_ptr<Notifier> n, const std::string& pool_id,
              std::string sql, nb::handle params, bool idempotent) {
             auto pool = e.manager().Resolve(pool_id);
             auto token = std::make_shared<CancelToken>();
             Params p = ToParams(params);
             return Start(n, token, RunExecute(std::move(pool), std::move(sql), std::move(p), token, idempotent));
           },
           nb::arg("notifier"), nb::arg("pool_id"), nb::arg("sql"), nb::arg("params").none(),
           nb::arg("idempotent") = false)
      .def("execute_batch",
           [](Engine& e, std::shared_ptr<Notifier> n, const std::string& pool_id, nb::handle sqls,
              bool idempotent) {
             auto pool = e.manager().Resolve(pool_id);
             auto token = std::make_shared<CancelToken>();
             return Start(n, token, RunBatch(std::move(pool), ToStatements(sqls), token, idempotent));
           },
           nb::arg("notifier"), nb::arg("pool_id"), nb::arg("sqls"), nb::arg("idempotent") = false)
      .def("execute_transaction",
           [](Engine& e, std::shared_ptr<Notifier> n, const std::string& pool_id, nb::handle sqls,
              bool idempotent) {
             auto pool = e.manager().Resolve(pool_id);
             auto token = std::make_shared<CancelToken>();
             return Start(n, token, RunTransaction(std::move(pool), ToStrings(sqls), token, idempotent));
           },
           nb::arg("notifier"), nb::arg("pool_id"), nb::arg("sqls"), nb::arg("idempotent") = false)
      .def("stream",
           [](Engine& e, std::shared_ptr<Notifier> n, const std::string& pool_id, std::string sql,
              nb::handle params, int64_t batch_rows) {
             auto pool = e.manager().Resolve(pool_id);
             Params p = ToParams(params);
             auto start = [](Target target, std::string sql, Params p,
                             int64_t rows) -> asio::awaitable<std::shared_ptr<ResultStream>> {
               co_return StartStream(target, std::move(sql), std::move(p), rows);
             };
             return Start(n, std::make_shared<CancelToken>(),
                          start(std::move(pool), std::move(sql), std::move(p), batch_rows));
           },
           nb::arg("notifier"), nb::arg("pool_id"), nb::arg("sql"), nb::arg("params").none(),
           nb::arg("batch_rows"))
      .def("bulk_insert",
           [](Engine& e, std::shared_ptr<Notifier> n, const std::string& pool_id, std::string target,
              nb::handle frame, std::vector<std::string> tag_columns, std::string time_column,
              int64_t batch_rows) {
             auto pool = e.manager().Resolve(pool_id);
             auto token = std::make_shared<CancelToken>();
             std::shared_ptr<arrow::ImportedTable> table;
             try {
               table = ImportTable(frame);
             } catch (const DbError& err) {
               DbError tagged = err.WithPool(pool_id);
               return Start(n, token, [](DbError error) -> asio::awaitable<int64_t> {
                 throw error;
                 co_return 0;
               }(tagged));
             }
             BulkInsertOptions options{std::move(tag_columns), std::move(time_column), batch_rows};
             return Start(n, token, RunBulkInsert(std::move(pool), std::move(target), std::move(table),
                                                  std::move(options), token));
           },
           nb::arg("notifier"), nb::arg("pool_id"), nb::arg("target"), nb::arg("frame"),
           nb::arg("tag_columns"), nb::arg("time_column"), nb::arg("batch_rows"))
      .def("begin",
           [](Engine& e, std::shared_ptr<Notifier> n, const std::string& pool_id) {
             auto pool = e.manager().Resolve(pool_id);
             auto token = std::make_shared<CancelToken>();
             return Start(n, token, TransactionSession::Begin(std::move(pool), token));
           })
      .def("create_group",
           [](Engine& e, std::string group_id, std::map<std::string, std::string> values) {
             GroupConfig config;
             try {
               config = GroupConfig::FromMap(values);
             } catch (const DbError& err) {
               throw err.WithPool(group_id);
             }
             e.manager().CreateGroup(std::move(group_id), std::move(config));
           },
           nb::arg("group_id"), nb::arg("values"),
           "Registers a pool group over existing pools (no I/O; raises EngineError).")
      .def("status",
           [](Engine& e, const std::string& pool_id) {
             auto group = e.manager().FindGroup(pool_id);
             nb::dict d;
             std::shared_ptr<LocalPool> pool;
             try {
               pool = e.manager().Get(pool_id);
             } catch (const DbError&) {
               if (!group) throw;
             }
             if (pool) d = StatusDict(pool->Status(), pool->config().connection.Redacted());
             if (group) {
               nb::dict g = GroupDict(group->Status());
               if (!pool) return g;  // a group of its own (create_group)
               d["failover"] = g;    // Failover on this pool
             }
             return d;
           })
      .def("list_pools", [](Engine& e) { return e.manager().ListPools(); });

  // Engine errors raised synchronously (unknown pool id...) arrive as _core.EngineError
  // with the same fields as a failed completion; the Python layer maps both.
  // Leaked on purpose: a static nb::object would be decref'd after the interpreter is gone.
  static PyObject* engine_error = PyErr_NewException("db_pool._core.EngineError", nullptr, nullptr);
  m.attr("EngineError") = nb::handle(engine_error);
  nb::register_exception_translator(
      [](const std::exception_ptr& p, void*) {
        try {
          std::rethrow_exception(p);
        } catch (const DbError& e) {
          ErrorInfo info = ErrorInfo::FromCurrentException(p);
          PyErr_SetObject(engine_error, ErrorTuple(info).ptr());
        }
      });
}

}  // namespace dbpool::python
