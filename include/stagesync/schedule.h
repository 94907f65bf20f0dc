// Schedule: when a pipeline runs. A schedule is a set of instants ("ticks") in UTC computed
// from the pipeline's `schedule` text in its `time_zone` plus a deterministic per-pipeline
// jitter; the agent asks for the first tick after a time. Forms:
//   "@every 90s" / "@every 10m" / "@every 2h" / "@every 1h30m"   every d, ticks aligned to the
//                                        Unix epoch (restart-safe: the same ticks every start)
//   "@hourly" = "0 * * * *", "@daily" (= "@midnight") = "0 0 * * *"
//   "m h dom mon dow"   5-field cron: numbers, `*`, ranges `a-b`, steps `*/n` and `a-b/n`,
//                       lists `a,b`; month and weekday names (JAN, MON-FRI); dow 0 or 7 is
//                       Sunday; when both dom and dow are restricted a day matching either runs
//                       (Vixie cron).
// Immutable and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "stagesync/status.h"

namespace stagesync::schedule {

class Schedule {
 public:
  // A default-constructed Schedule has no ticks (Next returns INT64_MAX); use Parse.
  // `tz_offset_minutes` east of UTC (Asia/Shanghai = 480; see transform::TimeZoneOffsetMinutes).
  // `jitter_ms` (0..kMaxJitterMs) shifts every tick later by that much; callers get it from
  // JitterMs. A `tz_offset_minutes` of a day or more is refused.
  // InvalidArgument naming the problem ("minute field '61': out of range 0-59"); the caller
  // adds the JSON path. A cron expression that can never fire (e.g. "0 0 31 2 *") is rejected.
  static Result<Schedule> Parse(std::string_view text, int tz_offset_minutes = 0,
                                int64_t jitter_ms = 0);

  // The first tick strictly after `after_ms` (Unix ms, UTC). Times are meaningful within
  // +-kMaxTimeMs (about year 33658 / -29719): an earlier `after_ms` counts as -kMaxTimeMs, a
  // later one has no next tick (INT64_MAX). Never more than about 5000 steps, whatever the
  // expression: see schedule.cc.
  int64_t Next(int64_t after_ms) const;
  static constexpr int64_t kMaxTimeMs = 1'000'000'000'000'000;
  // Parse's bounds on `jitter_ms` and the @every duration.
  static constexpr int64_t kMaxJitterMs = int64_t{366} * 86'400'000;
  static constexpr int64_t kMaxEveryMs = int64_t{31} * 86'400'000;

  // Catch-up once: whether a pipeline whose last successful run started at `last_ms` (nullopt:
  // never ran) is due at `now_ms`, i.e. a tick fell in (last_ms, now_ms]. Missed ticks are
  // never counted: one run catches up all of them.
  bool Due(std::optional<int64_t> last_ms, int64_t now_ms) const;

  // The nominal time between ticks (for @every, d; for cron, the shortest gap between two
  // consecutive ticks, exact over the whole 400-year Gregorian cycle) — for display and for
  // capping backoff.
  int64_t PeriodMs() const { return period_ms_; }
  const std::string& text() const { return text_; }

 private:
  Status ParseCron(std::string_view text);
  // The first local day >= `day` (days since 1970-01-01 in the zone) whose date matches the
  // day-of-month, month and day-of-week fields; INT64_MAX when none within 400 years + a month
  // (impossible once Parse accepted the expression: the calendar repeats every 400 years).
  int64_t NextMatchingDay(int64_t day) const;
  // Bits 1..31: the days of a month whose 1st falls on weekday `first_weekday` (0 = Sunday)
  // that match the day fields; the caller masks off days past the month's end.
  uint32_t DayMask(unsigned first_weekday) const { return day_masks_[first_weekday]; }
  // The first minute of the day >= `minute_of_day` that matches the hour and minute fields.
  int FirstMinuteFrom(int minute_of_day) const;
  int64_t CronPeriodMs() const;

  std::string text_;
  int64_t period_ms_ = 0;
  int64_t every_ms_ = 0;  // > 0: an @every schedule; 0: cron
  int64_t offset_ms_ = 0;
  int64_t jitter_ms_ = 0;
  // Cron fields as bitsets: bit v set when value v matches (day-of-week 7 folded onto 0).
  uint64_t minutes_ = 0;
  uint32_t hours_ = 0;
  uint32_t doms_ = 0;
  uint32_t months_ = 0;
  uint32_t dows_ = 0;
  // The day-of-month and day-of-week fields combined per weekday of the month's 1st.
  uint32_t day_masks_[7] = {};
};

// A deterministic jitter in [0, min(jitter_s, period) * 1000) for a pipeline: the same
// pipeline name always gets the same value (a hash of it), so pipelines sharing a
// connection are spread out and a restart keeps each pipeline's ticks.
int64_t JitterMs(std::string_view pipeline, int64_t jitter_s, int64_t period_ms);

}  // namespace stagesync::schedule
