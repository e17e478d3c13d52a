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

/// Turns a completion payload into the Python value the awaiting future receives.
nb::object ToPython(Payload&& payload);

}  // namespace dbpool::python
