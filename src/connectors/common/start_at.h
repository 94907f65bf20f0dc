// StartAt: where a windowed source's first fetch begins. By default `initial_lookback_days`
// back from now; `start_at` ("2024-01-01 00:00:00" in the pipeline's time zone, or with a zone
// such as "2024-01-01T00:00:00+08:00") backfills a known range from an absolute time instead.
// Only the first fetch (no watermark yet) reads it. Used by the DingTalk and Kuaimai sources.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "stagesync/config.h"
#include "stagesync/transform.h"

namespace stagesync::source {

// The `start_at` option as epoch milliseconds (nullopt when not given). InvalidArgument naming
// the option when it is not a date-time, or when `initial_lookback_days` is given too.
inline Result<std::optional<int64_t>> ReadStartAt(const config::OptionReader& r,
                                                  const std::string& time_zone) {
  const json::Value* v = r.Get("start_at");
  if (v == nullptr) return std::optional<int64_t>();
  if (r.Get("initial_lookback_days") != nullptr) {
    return InvalidArgument(r.PathOf("start_at") +
                           ": give either start_at or initial_lookback_days, not both");
  }
  const std::string text = v->is_string() ? v->text() : "";
  if (text.size() < 10 || text[4] != '-') {
    return InvalidArgument(r.PathOf("start_at") +
                           ": must be a date-time like \"2024-01-01 00:00:00\"");
  }
  json::Value rec = json::Value::Object();
  rec.Add("v", json::Value::String(text));
  auto ms = transform::EvaluateOnce("{v|timestamp_ms}", rec, {}, time_zone, r.PathOf("start_at"));
  if (!ms.ok()) return ms.status();
  int64_t out = 0;
  if (!ms->has_value() || !json::Value::Number(**ms).AsInt64(&out)) {
    return InvalidArgument(r.PathOf("start_at") + ": not a date-time");
  }
  return std::optional<int64_t>(out);
}

// The `start_at` entry of a windowed source's option table: fills `start_at_ms` from the
// option, in the options' `time_zone`.
inline constexpr std::string_view kStartAtHelp =
    "first fetch starts at this date-time instead (\"2024-01-01 00:00:00\", pipeline's zone)";
template <class O>
Status ReadStartAtOption(const config::OptionReader& r, O* o) {
  SS_ASSIGN_OR_RETURN(o->start_at_ms, ReadStartAt(r, o->time_zone));
  return Status::Ok();
}

}  // namespace stagesync::source
