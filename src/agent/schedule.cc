#include "stagesync/schedule.h"

#include <algorithm>
#include <bit>
#include <cctype>
#include <limits>
#include <string>
#include <vector>

#include "stagesync/civil_time.h"
#include "stagesync/hash.h"

// Why Next always terminates quickly: the proleptic Gregorian calendar repeats every 400 years
// (146097 days, exactly 20871 weeks), so dates, months and weekdays in any 400-year window are
// those of every other. Parse rejects an expression unless some day of such a window matches,
// so from any day a matching one lies at most 4800 months ahead; NextMatchingDay walks whole
// months (a bit mask per month), never minutes, and stops after 4801 of them.

namespace stagesync::schedule {

namespace {

constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kDayMinutes = 1440;
constexpr int kCycleMonths = 400 * 12;
constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

struct FieldSpec {
  const char* name;
  int lo, hi;
  int star_hi;               // `*` covers lo..star_hi (day-of-week: 0-6, though 7 is accepted)
  const char* const* names;  // three-letter names of lo, lo+1, ... (nullptr: numbers only)
  int names_count;
};

constexpr const char* kMonthNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                       "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr const char* kDayNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

constexpr FieldSpec kFields[5] = {
    {"minute", 0, 59, 59, nullptr, 0},       {"hour", 0, 23, 23, nullptr, 0},
    {"day-of-month", 1, 31, 31, nullptr, 0}, {"month", 1, 12, 12, kMonthNames, 12},
    {"day-of-week", 0, 7, 6, kDayNames, 7},
};

// Parses one cron field ("*/5", "1,15", "MON-FRI", "8-20/2", "5/15") into a bit set. `*star`:
// whether the field starts with `*` (Vixie cron's test for an unrestricted day field).
class FieldParser {
 public:
  FieldParser(const FieldSpec& spec, std::string_view field) : spec_(spec), field_(field) {}

  Status Parse(uint64_t* bits, bool* star) {
    *bits = 0;
    *star = !field_.empty() && field_[0] == '*';
    size_t start = 0;
    while (true) {
      size_t comma = field_.find(',', start);
      std::string_view item = field_.substr(
          start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
      SS_RETURN_IF_ERROR(ParseItem(item, bits));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    return Status::Ok();
  }

 private:
  Status Error(std::string_view token, const std::string& problem) const {
    std::string m = std::string(spec_.name) + " field '" + std::string(field_) + "': ";
    if (token != field_) m += "'" + std::string(token) + "' ";
    return InvalidArgument(m + problem);
  }
  std::string Range() const { return std::to_string(spec_.lo) + "-" + std::to_string(spec_.hi); }

  // A number or (month, day-of-week) a name at item[*pos].
  Status ParseValue(std::string_view item, size_t* pos, int* out) const {
    size_t p = *pos;
    if (p < item.size() && item[p] >= '0' && item[p] <= '9') {
      int64_t v = 0;
      while (p < item.size() && item[p] >= '0' && item[p] <= '9') {
        if (v < 1'000'000) v = v * 10 + (item[p] - '0');
        ++p;
      }
      std::string_view num = item.substr(*pos, p - *pos);
      if (v < spec_.lo || v > spec_.hi) return Error(num, "out of range " + Range());
      *out = static_cast<int>(v);
      *pos = p;
      return Status::Ok();
    }
    while (p < item.size() && std::isalpha(static_cast<unsigned char>(item[p]))) ++p;
    std::string_view word = item.substr(*pos, p - *pos);
    if (word.empty()) {
      if (*pos >= item.size()) return Error(item, "a number is missing");
      return Error(item, "unexpected '" + std::string(item.substr(*pos, 1)) + "'");
    }
    for (int i = 0; i < spec_.names_count; ++i) {
      const char* n = spec_.names[i];
      if (word.size() == 3 && std::toupper(static_cast<unsigned char>(word[0])) == n[0] &&
          std::toupper(static_cast<unsigned char>(word[1])) == n[1] &&
          std::toupper(static_cast<unsigned char>(word[2])) == n[2]) {
        *out = spec_.lo + i;
        *pos = p;
        return Status::Ok();
      }
    }
    if (spec_.names == nullptr) return Error(word, "is not a number");
    return Error(word, std::string("is not a number or a name (") + spec_.names[0] + "-" +
                           spec_.names[spec_.names_count - 1] + ")");
  }

  Status ParseItem(std::string_view item, uint64_t* bits) const {
    if (item.empty()) return Error(field_, "has an empty list item");
    size_t pos = 0;
    int lo, hi;
    if (item[0] == '*') {
      lo = spec_.lo;
      hi = spec_.star_hi;
      pos = 1;
    } else {
      SS_RETURN_IF_ERROR(ParseValue(item, &pos, &lo));
      hi = lo;
      if (pos < item.size() && item[pos] == '-') {
        ++pos;
        SS_RETURN_IF_ERROR(ParseValue(item, &pos, &hi));
        if (hi < lo) return Error(item, "is a reversed range");
      } else if (pos < item.size() && item[pos] == '/') {
        hi = spec_.star_hi;  // "5/15" is "5-59/15"
      }
    }
    int step = 1;
    if (pos < item.size() && item[pos] == '/') {
      size_t p = ++pos;
      int64_t v = 0;
      while (p < item.size() && item[p] >= '0' && item[p] <= '9') {
        if (v < 1'000'000) v = v * 10 + (item[p] - '0');
        ++p;
      }
      if (p == pos) return Error(item, "needs a step after '/'");
      if (v == 0) return Error(item, "has step 0");
      step = static_cast<int>(std::min<int64_t>(v, 1'000'000));
      pos = p;
    }
    if (pos != item.size()) {
      return Error(item, "unexpected '" + std::string(item.substr(pos)) + "'");
    }
    for (int v = lo; v <= hi; v += step) *bits |= uint64_t{1} << v;
    return Status::Ok();
  }

  const FieldSpec& spec_;
  std::string_view field_;
};

// The smallest distance between two set bits, or 0 with fewer than two.
int MinGap(uint64_t x) {
  for (int k = 1; k < 64; ++k) {
    if (x & (x >> k)) return k;
  }
  return 0;
}

// Go-style duration of h, m and s units, in that order, each at most once: "90s", "1h30m".
Result<int64_t> ParseDuration(std::string_view d) {
  const std::string bad = "@every: bad duration '" + std::string(d) +
                          "' (use whole hours, minutes, seconds: 90s, 10m, 2h, 1h30m)";
  if (d.empty()) return InvalidArgument("'@every' needs a duration like 10m");
  static constexpr struct {
    char unit;
    int64_t ms;
  } kUnits[] = {{'h', 3'600'000}, {'m', 60'000}, {'s', 1'000}};
  size_t pos = 0, next_unit = 0;
  int64_t total = 0;
  while (pos < d.size()) {
    size_t p = pos;
    int64_t v = 0;
    while (p < d.size() && d[p] >= '0' && d[p] <= '9') {
      if (v < 10'000'000'000) v = v * 10 + (d[p] - '0');  // large enough to fail the maximum
      ++p;
    }
    if (p == pos || p == d.size()) return InvalidArgument(bad);
    size_t u = next_unit;
    while (u < 3 && kUnits[u].unit != d[p]) ++u;
    if (u == 3) return InvalidArgument(bad);
    total += v * kUnits[u].ms;  // <= 1e10 * 3.6e6 per unit: no overflow
    next_unit = u + 1;
    pos = p + 1;
  }
  if (total < 1000) return InvalidArgument("@every: duration '" + std::string(d) + "' is under 1s");
  if (total > Schedule::kMaxEveryMs) {
    return InvalidArgument("@every: duration '" + std::string(d) + "' is over 31 days (744h)");
  }
  return total;
}

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

}  // namespace

Result<Schedule> Schedule::Parse(std::string_view text, int tz_offset_minutes, int64_t jitter_ms) {
  if (tz_offset_minutes <= -1440 || tz_offset_minutes >= 1440) {
    return InvalidArgument("time zone offset " + std::to_string(tz_offset_minutes) +
                           " minutes is a day or more");
  }
  if (jitter_ms < 0 || jitter_ms > kMaxJitterMs) {
    return InvalidArgument("jitter " + std::to_string(jitter_ms) + " ms is out of range");
  }
  Schedule s;
  s.text_ = std::string(text);
  s.offset_ms_ = int64_t{tz_offset_minutes} * kMinuteMs;
  s.jitter_ms_ = jitter_ms;
  std::string_view t = text;
  while (!t.empty() && IsSpace(t.front())) t.remove_prefix(1);
  while (!t.empty() && IsSpace(t.back())) t.remove_suffix(1);
  if (t.empty()) {
    return InvalidArgument(
        "empty schedule (use 5 cron fields like \"*/5 * * * *\" or \"@every 10m\")");
  }
  if (t[0] != '@') {
    SS_RETURN_IF_ERROR(s.ParseCron(t));
    return s;
  }
  size_t end = 0;
  while (end < t.size() && !IsSpace(t[end])) ++end;
  std::string_view word = t.substr(0, end), rest = t.substr(end);
  while (!rest.empty() && IsSpace(rest.front())) rest.remove_prefix(1);
  if (word == "@every") {
    SS_ASSIGN_OR_RETURN(s.every_ms_, ParseDuration(rest));
    s.period_ms_ = s.every_ms_;
    return s;
  }
  static constexpr struct {
    std::string_view alias, cron;
  } kAliases[] = {{"@hourly", "0 * * * *"},  {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
                  {"@weekly", "0 0 * * 0"},  {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"},
                  {"@annually", "0 0 1 1 *"}};
  for (const auto& a : kAliases) {
    if (word != a.alias) continue;
    if (!rest.empty()) return InvalidArgument("'" + std::string(word) + "' takes no argument");
    SS_RETURN_IF_ERROR(s.ParseCron(a.cron));
    return s;
  }
  return InvalidArgument("unknown schedule '" + std::string(word) +
                         "' (use @every D, @hourly, @daily, @midnight, @weekly, @monthly, "
                         "@yearly or 5 cron fields)");
}

Status Schedule::ParseCron(std::string_view text) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && IsSpace(text[i])) ++i;
    size_t start = i;
    while (i < text.size() && !IsSpace(text[i])) ++i;
    if (i > start) fields.push_back(text.substr(start, i - start));
  }
  if (fields.size() != 5) {
    return InvalidArgument("expected 5 cron fields (minute hour day-of-month month day-of-week)" +
                           std::string(" or @every D, got ") + std::to_string(fields.size()) +
                           (fields.size() == 1 ? " field" : " fields"));
  }
  uint64_t bits[5];
  bool star[5];
  for (int f = 0; f < 5; ++f) {
    SS_RETURN_IF_ERROR(FieldParser(kFields[f], fields[f]).Parse(&bits[f], &star[f]));
  }
  minutes_ = bits[0];
  hours_ = static_cast<uint32_t>(bits[1]);
  doms_ = static_cast<uint32_t>(bits[2]);
  months_ = static_cast<uint32_t>(bits[3]);
  dows_ = static_cast<uint32_t>((bits[4] | (bits[4] >> 7)) & 0x7f);  // 7 is Sunday
  // Vixie cron: when both day fields are restricted (neither starts with `*`), a day matching
  // either runs; otherwise it must match both (a `*` field matching every day, or its steps).
  const bool either = !star[2] && !star[4];
  for (unsigned w0 = 0; w0 < 7; ++w0) {
    uint32_t by_dow = 0;
    for (unsigned d = 1; d <= 31; ++d) {
      if (dows_ & (1u << ((w0 + d - 1) % 7))) by_dow |= 1u << d;
    }
    day_masks_[w0] = either ? (doms_ | by_dow) : (doms_ & by_dow);
  }
  // Decided by a search over one whole 400-year cycle (see the top), not by reasoning; the only
  // way not to fire is a day-of-month no chosen month has (a `*`-led day-of-month includes the
  // 1st, and every date falls on every weekday within a cycle), hence the message.
  if (NextMatchingDay(0) == kNever) {
    return InvalidArgument("never fires: month field '" + std::string(fields[3]) +
                           "' has no day from day-of-month field '" + std::string(fields[2]) + "'");
  }
  period_ms_ = CronPeriodMs();
  return Status::Ok();
}

int64_t Schedule::NextMatchingDay(int64_t day) const {
  int64_t y;
  unsigned m, d;
  CivilFromDays(day, &y, &m, &d);
  int64_t first = day - (d - 1);  // the 1st of the month
  unsigned w0 = WeekdayFromDays(first);
  for (int i = 0; i <= kCycleMonths; ++i) {
    const unsigned dim = DaysInMonth(y, m);
    if (months_ & (1u << m)) {
      // Days d..dim of this month.
      uint32_t mask = DayMask(w0) & ((uint32_t{2} << dim) - 1) & ~((uint32_t{1} << d) - 1);
      if (mask != 0) return first + std::countr_zero(mask) - 1;
    }
    first += dim;
    w0 = (w0 + dim) % 7;
    d = 1;
    if (++m == 13) {
      m = 1;
      ++y;
    }
  }
  return kNever;
}

int Schedule::FirstMinuteFrom(int minute_of_day) const {
  int h = minute_of_day / 60, mi = minute_of_day % 60;
  if (hours_ & (1u << h)) {
    const uint64_t later = minutes_ >> mi;
    if (later != 0) return h * 60 + mi + std::countr_zero(later);
  }
  const uint32_t later_hours = h + 1 < 24 ? hours_ >> (h + 1) : 0;
  if (later_hours == 0) return -1;
  return (h + 1 + std::countr_zero(later_hours)) * 60 + std::countr_zero(minutes_);
}

int64_t Schedule::CronPeriodMs() const {
  const int first_m = std::countr_zero(minutes_), last_m = 63 - std::countl_zero(minutes_);
  const int first_h = std::countr_zero(hours_), last_h = 31 - std::countl_zero(hours_);
  int64_t best = kNever;
  if (int g = MinGap(minutes_)) best = g;
  if (int g = MinGap(hours_)) best = std::min<int64_t>(best, g * 60 - last_m + first_m);
  // The shortest gap between consecutive matching days: month by month from the first matching
  // month through the same month one 400-year cycle later, so every gap of the cycle (the one
  // across its end too) is seen; stops early at one day.
  int64_t gap_days = kNever, prev_last = kNever;
  int64_t y = 2000, first = DaysFromCivil(2000, 1, 1);
  unsigned m = 1, w0 = WeekdayFromDays(first);
  int first_match = 2 * kCycleMonths;  // a bound: Parse made sure some month matches
  for (int i = 0; i <= first_match + kCycleMonths && gap_days > 1; ++i) {
    const unsigned dim = DaysInMonth(y, m);
    if (months_ & (1u << m)) {
      const uint32_t mask = DayMask(w0) & ((uint32_t{2} << dim) - 1);
      if (mask != 0) {
        first_match = std::min(first_match, i);
        const int64_t lo = first + std::countr_zero(mask) - 1;
        const int64_t hi = first + (31 - std::countl_zero(mask)) - 1;
        if (prev_last != kNever) gap_days = std::min(gap_days, lo - prev_last);
        if (int g = MinGap(mask)) gap_days = std::min<int64_t>(gap_days, g);
        prev_last = hi;
      }
    }
    first += dim;
    w0 = (w0 + dim) % 7;
    if (++m == 13) {
      m = 1;
      ++y;
    }
  }
  best = std::min(best, gap_days * kDayMinutes - (last_h * 60 + last_m) + (first_h * 60 + first_m));
  return best * kMinuteMs;
}

int64_t Schedule::Next(int64_t after_ms) const {
  if (after_ms > kMaxTimeMs) return kNever;
  after_ms = std::max(after_ms, -kMaxTimeMs);
  if (every_ms_ > 0) {
    return (FloorDiv(after_ms - jitter_ms_, every_ms_) + 1) * every_ms_ + jitter_ms_;
  }
  // Minutes of local wall-clock time (as if UTC): the first whole minute strictly after.
  const int64_t minute = FloorDiv(after_ms - jitter_ms_ + offset_ms_, kMinuteMs) + 1;
  int64_t day = FloorDiv(minute, kDayMinutes);
  int64_t match = NextMatchingDay(day);
  int at = match == day ? FirstMinuteFrom(static_cast<int>(minute - day * kDayMinutes)) : -1;
  if (at < 0) {
    if (match == day) match = NextMatchingDay(day + 1);
    if (match == kNever) return kNever;  // unreachable for a parsed schedule (see the top)
    at = FirstMinuteFrom(0);
  }
  return (match * kDayMinutes + at) * kMinuteMs - offset_ms_ + jitter_ms_;
}

bool Schedule::Due(std::optional<int64_t> last_ms, int64_t now_ms) const {
  return !last_ms.has_value() || Next(*last_ms) <= now_ms;
}

int64_t JitterMs(std::string_view pipeline, int64_t jitter_s, int64_t period_ms) {
  if (jitter_s <= 0 || period_ms <= 0) return 0;
  const int64_t cap = jitter_s >= kNever / 1000 ? kNever : jitter_s * 1000;
  const uint64_t bound = static_cast<uint64_t>(std::min(cap, period_ms));
  return static_cast<int64_t>(HashBytes(pipeline).low % bound);
}

}  // namespace stagesync::schedule
