// String/Binary (64-bit offsets) arrays -> Arrow's view layout (Utf8View / BinaryView), the
// layout Polars keeps strings in: a consumer given views takes them without converting, so
// no second copy of a result's strings is ever resident.
#pragma once

#include "dbpool/arrow_c.hpp"
#include "dbpool/arrow_types.hpp"

namespace dbpool::arrow {

/// The C Data format of `type` with every String/Binary (also inside lists and structs)
/// given as "vu"/"vz".
std::string ViewFormat(const DataType& type);

/// Replaces, in place, every String/Binary array of `array` (of type `type`; descends into
/// lists and structs) with the same values in the view layout. The data bytes are not
/// copied when the array came from a builder (they become the views' data buffer); the
/// 64-bit offsets are freed at once.
void ConvertToViews(const DataType& type, ArrowArray* array);

}  // namespace dbpool::arrow
