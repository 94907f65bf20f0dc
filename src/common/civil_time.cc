#include "stagesync/civil_time.h"

#include <string>
#include <utility>

namespace stagesync {

namespace {

bool TwoDigits(std::string_view s, size_t pos, int* out) {
  if (pos + 2 > s.size() || s[pos] < '0' || s[pos] > '9' || s[pos + 1] < '0' || s[pos + 1] > '9')
    return false;
  *out = (s[pos] - '0') * 10 + (s[pos + 1] - '0');
  return true;
}

}  // namespace

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t days, int64_t* y, unsigned* m, unsigned* d) {
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yy + (*m <= 2);
}

bool IsLeapYear(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned DaysInMonth(int64_t y, unsigned m) {
  static const unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeapYear(y) ? 29 : kDays[m - 1];
}

Result<int> TimeZoneOffsetMinutes(std::string_view name) {
  static const std::pair<const char*, int> kZones[] = {
      {"Asia/Shanghai", 480},  {"Asia/Chongqing", 480},
      {"Asia/Hong_Kong", 480}, {"Asia/Taipei", 480},
      {"Asia/Singapore", 480}, {"Asia/Tokyo", 540},
      {"Asia/Seoul", 540},     {"UTC", 0},
      {"Etc/UTC", 0},          {"GMT", 0}};
  for (const auto& [n, off] : kZones) {
    if (name == n) return off;
  }
  if (name.size() == 6 && (name[0] == '+' || name[0] == '-') && name[3] == ':') {
    int h, m;
    if (TwoDigits(name, 1, &h) && TwoDigits(name, 4, &m) && h <= 14 && m < 60) {
      return (name[0] == '-' ? -1 : 1) * (h * 60 + m);
    }
  }
  return InvalidArgument("unsupported time zone '" + std::string(name) +
                         "' (use Asia/Shanghai, UTC, or a fixed offset like +08:00)");
}

}  // namespace stagesync
