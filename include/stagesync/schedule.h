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
  // `tz_offset_minutes` east of UTC (Asia/Shanghai = 480; see transform::TimeZoneOffsetMinutes).
  // `jitter_ms` (>= 0) shifts every tick later by that much; callers get it from JitterMs.
  // InvalidArgument naming the problem ("minute field '61': out of range 0-59"); the caller
  // adds the JSON path. A cron expression that can never fire (e.g. "0 0 31 2 *") is rejected.
  static Result<Schedule> Parse(std::string_view text, int tz_offset_minutes = 0,
                                int64_t jitter_ms = 0);

  // The first tick strictly after `after_ms` (Unix ms, UTC).
  int64_t Next(int64_t after_ms) const;

  // Catch-up once: whether a pipeline whose last successful run started at `last_ms` (nullopt:
  // never ran) is due at `now_ms`, i.e. a tick fell in (last_ms, now_ms]. Missed ticks are
  // never counted: one run catches up all of them.
  bool Due(std::optional<int64_t> last_ms, int64_t now_ms) const;

  // The nominal time between ticks (for @every, d; for cron, the shortest gap between two
  // ticks over a year) — for display and for capping backoff.
  int64_t PeriodMs() const { return period_ms_; }
  const std::string& text() const { return text_; }

 private:
  // implementation-defined members (bitsets per field, the interval, the offsets)
  std::string text_;
  int64_t period_ms_ = 0;
};

// A deterministic jitter in [0, min(jitter_s, period) * 1000) for a pipeline: the same
// pipeline name always gets the same value (a hash of it), so pipelines sharing a
// connection are spread out and a restart keeps each pipeline's ticks.
int64_t JitterMs(std::string_view pipeline, int64_t jitter_s, int64_t period_ms);

}  // namespace stagesync::schedule
