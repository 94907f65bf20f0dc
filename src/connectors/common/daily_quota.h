// DailyQuota: the requests per day a vendor allows one app (a connection's `daily_quota`),
// counted across restarts. ApiEndpoint takes one before every attempt it sends; a spent quota
// fails the call at once (nothing sent, no backoff) and SpentUntilMs() tells the agent when to
// schedule the pipeline again: the next midnight in the quota's time zone, when the vendor's
// day rolls over. Thread-safe: one per connection, shared by every pipeline using it.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "stagesync/clock.h"
#include "stagesync/option_table.h"
#include "stagesync/status.h"

namespace stagesync::connectors {

struct QuotaOptions {
  int64_t daily_quota = 0;                  // requests per day; 0 = no quota
  std::string time_zone = "Asia/Shanghai";  // where the vendor's quota day starts at midnight
  int tz_offset_minutes = 480;              // of time_zone
};

// `daily_quota` and `quota_time_zone`, bound to QuotaOptions: one table every vendor
// connection includes, like RetryOptionTable.
config::OptionTable<QuotaOptions> QuotaOptionTable();

class DailyQuota {
 public:
  // The stored count ("" when none yet) and how to store a new one; `save` runs on every
  // Take, under the quota's lock, so counts are stored in order.
  using Load = std::function<Result<std::string>()>;
  using Save = std::function<Status(const std::string&)>;

  // Loads the stored count now; a load failure is returned by every Take.
  DailyQuota(std::string connection, int64_t limit, int tz_offset_minutes, Clock* clock, Load load,
             Save save);

  // Counts one request for the current quota day and stores the count. ResourceExhausted
  // "connection X: daily_quota of N requests spent; resumes at 2026-12-02T00:00+08:00" (with
  // retry_after_ms until then) when the day's requests are spent; a failed save is returned
  // and the request is not counted (the caller must not send it).
  Status Take();

  // The next local midnight (ms since the epoch) while today's quota is spent; nullopt otherwise.
  std::optional<int64_t> SpentUntilMs() const;
  // Requests left today.
  int64_t remaining() const;
  int64_t limit() const { return limit_; }

 private:
  int64_t LocalDay(int64_t ms) const;
  int64_t DayStartMs(int64_t day) const;
  std::string ResumeText(int64_t day) const;

  const std::string connection_;
  const int64_t limit_;
  const int tz_offset_minutes_;
  Clock* const clock_;
  const Save save_;
  Status load_error_;
  mutable std::mutex mu_;
  int64_t day_ = 0;   // the quota day (days since the epoch, local time) `used_` counts
  int64_t used_ = 0;  // requests taken on day_
};

// True for the status of a spent daily quota (not vendor throttling): the agent reschedules
// the pipeline at the quota's SpentUntilMs() instead of treating it as a failure.
bool IsDailyQuotaSpent(const Status& s);

}  // namespace stagesync::connectors
