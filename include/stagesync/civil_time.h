// Civil dates and fixed-offset time zones, without the C library's zone functions (not
// thread-safe, and not needed: stagesync supports fixed offsets only, its vendors all running on
// China time, which has no DST). Shared by the transform filters, the pipeline schedules and the
// config check. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

#include "stagesync/status.h"

namespace stagesync {

// Offset of a supported time zone name ("Asia/Shanghai", "UTC", "+08:00", ...), in minutes east
// of UTC. InvalidArgument naming the zone and what is supported otherwise.
Result<int> TimeZoneOffsetMinutes(std::string_view name);

// Days since 1970-01-01 of a proleptic Gregorian date, and back (Howard Hinnant's algorithms,
// exact for every int64 year that does not overflow). REQUIRES: 1 <= m <= 12, 1 <= d <= 31.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);
void CivilFromDays(int64_t days, int64_t* y, unsigned* m, unsigned* d);

bool IsLeapYear(int64_t y);
unsigned DaysInMonth(int64_t y, unsigned m);  // REQUIRES: 1 <= m <= 12

// 0 = Sunday ... 6 = Saturday (1970-01-01 was a Thursday).
inline unsigned WeekdayFromDays(int64_t days) {
  const int64_t r = (days + 4) % 7;
  return static_cast<unsigned>(r < 0 ? r + 7 : r);
}

}  // namespace stagesync
