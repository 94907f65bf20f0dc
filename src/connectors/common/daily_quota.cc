#include "connectors/common/daily_quota.h"

#include <fmt/format.h>

#include <ctime>

#include "stagesync/json.h"
#include "stagesync/transform.h"

namespace stagesync::connectors {

namespace {

constexpr int64_t kDayMs = 86400000;
constexpr std::string_view kSpent = " requests spent; resumes at ";

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// "2026-12-01" for a day counted since 1970-01-01.
std::string DateText(int64_t day) {
  const std::time_t t = static_cast<std::time_t>(day * 86400);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

}  // namespace

config::OptionTable<QuotaOptions> QuotaOptionTable() {
  using O = QuotaOptions;
  return config::OptionTable<O>()
      .Int("daily_quota", &O::daily_quota, 0, 0, 100000000,
           "requests per day the vendor allows this app, retries and logins included; when spent, "
           "calls fail at once until quota_time_zone's next midnight; 0 = no quota")
      .Custom("quota_time_zone", config::OptionType::kString, false, "Asia/Shanghai",
              "where daily_quota's day rolls over at midnight (a zone name or +08:00)",
              [](const config::OptionReader& r, O* o) -> Status {
                o->time_zone = r.String("quota_time_zone", "Asia/Shanghai");
                auto offset = transform::TimeZoneOffsetMinutes(o->time_zone);
                if (!offset.ok()) {
                  return InvalidArgument(r.PathOf("quota_time_zone") + ": " +
                                         offset.status().message());
                }
                o->tz_offset_minutes = *offset;
                return Status::Ok();
              });
}

DailyQuota::DailyQuota(std::string connection, int64_t limit, int tz_offset_minutes, Clock* clock,
                       Load load, Save save)
    : connection_(std::move(connection)),
      limit_(limit),
      tz_offset_minutes_(tz_offset_minutes),
      clock_(clock),
      save_(std::move(save)) {
  day_ = LocalDay(clock_->NowMillis());
  auto stored = load();
  if (!stored.ok()) {
    load_error_ = stored.status().WithContext("connection " + connection_ + ": daily_quota count");
    return;
  }
  if (stored->empty()) return;
  auto v = json::Parse(*stored);
  const json::Value* day = v.ok() ? v->Find("day") : nullptr;
  const json::Value* used = v.ok() ? v->Find("used") : nullptr;
  int64_t n = 0;
  if (day == nullptr || used == nullptr || !used->AsInt64(&n)) {
    load_error_ =
        DataLoss("connection " + connection_ + ": stored daily_quota count unreadable: " + *stored);
    return;
  }
  // A count of an earlier day is spent time: today starts from zero.
  if (day->text() == DateText(day_)) used_ = n;
}

int64_t DailyQuota::LocalDay(int64_t ms) const {
  return FloorDiv(ms + int64_t{tz_offset_minutes_} * 60000, kDayMs);
}

int64_t DailyQuota::DayStartMs(int64_t day) const {
  return day * kDayMs - int64_t{tz_offset_minutes_} * 60000;
}

std::string DailyQuota::ResumeText(int64_t day) const {
  const int off = tz_offset_minutes_ < 0 ? -tz_offset_minutes_ : tz_offset_minutes_;
  return fmt::format("{}T00:00{}{:02}:{:02}", DateText(day), tz_offset_minutes_ < 0 ? '-' : '+',
                     off / 60, off % 60);
}

Status DailyQuota::Take() {
  const int64_t now = clock_->NowMillis();
  std::lock_guard<std::mutex> lock(mu_);
  if (!load_error_.ok()) return load_error_;
  const int64_t today = LocalDay(now);
  if (today != day_) {
    day_ = today;
    used_ = 0;
  }
  if (used_ >= limit_) {
    return Status(StatusCode::kResourceExhausted,
                  fmt::format("connection {}: daily_quota of {}{}{}", connection_, limit_, kSpent,
                              ResumeText(today + 1)))
        .set_retry_after_ms(DayStartMs(today + 1) - now);
  }
  // Stored before the request goes out: a crash after sending never gives a request back.
  const std::string value =
      "{\"day\":\"" + DateText(day_) + "\",\"used\":" + std::to_string(used_ + 1) + "}";
  Status saved = save_(value);
  if (!saved.ok()) return saved.WithContext("connection " + connection_ + ": daily_quota count");
  ++used_;
  return Status::Ok();
}

std::optional<int64_t> DailyQuota::SpentUntilMs() const {
  const int64_t today = LocalDay(clock_->NowMillis());
  std::lock_guard<std::mutex> lock(mu_);
  if (day_ != today || used_ < limit_) return std::nullopt;
  return DayStartMs(today + 1);
}

int64_t DailyQuota::remaining() const {
  const int64_t today = LocalDay(clock_->NowMillis());
  std::lock_guard<std::mutex> lock(mu_);
  if (day_ != today) return limit_;
  return used_ >= limit_ ? 0 : limit_ - used_;
}

bool IsDailyQuotaSpent(const Status& s) {
  return s.code() == StatusCode::kResourceExhausted &&
         s.message().find(": daily_quota of ") != std::string::npos &&
         s.message().find(kSpent) != std::string::npos;
}

}  // namespace stagesync::connectors
