// Conversions between Python objects and engine values (parameters in, results out).
#pragma once

#include <nanobind/nanobind.h>

#include "python/completion.hpp"

namespace dbpool::python {

namespace nb = nanobind;

/// list/tuple -> positional, dict -> named; items: None, bool, int, float, str, bytes-like.
/// Raises TypeError naming the parameter for anything else (the Python layer converts
/// dates, decimals and UUIDs to text before calling).
Params ToParams(nb::handle params);

/// (kind, message, sqlstate, vendor_code, pool_id, text) for db_pool.errors.from_engine.
/// Text from a server need not be valid UTF-8: invalid bytes become U+FFFD rather than a
/// UnicodeDecodeError, which inside the loop's drain callback would strand every waiter.
nb::object ErrorTuple(const ErrorInfo& info);

/// Turns a completion payload into the Python value the awaiting future receives.
nb::object ToPython(Payload&& payload);

}  // namespace dbpool::python
