// Intervals as PostgreSQL keeps them, (months, days, microseconds), in an Arrow struct, and
// their narrowing to Duration(us) when no value has months (TYPES.md: interval).
#pragma once

#include <cstdint>

#include "dbpool/arrow_c.hpp"
#include "dbpool/arrow_types.hpp"

namespace dbpool::arrow {

/// Microseconds in a day of an interval narrowed to Duration (a day counts 86,400 s).
inline constexpr int64_t kIntervalDayMicros = int64_t{86400} * 1000000;

/// Struct{months: Int32, days: Int32, microseconds: Int64}: the three fields of an
/// interval, exactly, none folded into another. Build it with a StructBuilder whose
/// children are an Int32Builder, an Int32Builder and an Int64Builder.
DataType IntervalStructType();

/// Index of the first non-null value of `array` (an IntervalStructType array made by the
/// builders) that Duration(us) cannot hold exactly: months != 0, or days * 86,400 s +
/// microseconds outside int64. -1 when every value fits.
int64_t FirstNonDuration(const ArrowArray& array);

/// Replaces `array` (an IntervalStructType array made by the builders in which every value
/// fits, see FirstNonDuration) by the Duration(us) array of the same values, days counted
/// as 86,400 s. In place: the microseconds buffer becomes the values, the struct's
/// validity stays; nothing is copied.
void NarrowToDuration(ArrowArray* array);

}  // namespace dbpool::arrow
