// Calendar arithmetic for Arrow's temporal types: a proleptic Gregorian date as days since
// 1970-01-01 (date32), shared by the drivers that decode dates from fields or text.
#pragma once

#include <cstdint>

namespace dbpool::arrow {

/// Days from 1970-01-01 to year-month-day (H. Hinnant's days_from_civil,
/// http://howardhinnant.github.io/date_algorithms.html); month 1-12, day 1-31, any year.
constexpr int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day) {
  year -= month <= 2;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(year - era * 400);
  const unsigned doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

static_assert(DaysFromCivil(1970, 1, 1) == 0);
static_assert(DaysFromCivil(2000, 3, 1) == 11017);

}  // namespace dbpool::arrow
