#include "stagesync/schedule.h"

#include <gtest/gtest.h>
#include <time.h>

#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "agent/cron_oracle.h"

namespace stagesync::schedule {
namespace {

using testing::CronOracle;

constexpr int64_t kMin = 60'000;
constexpr int64_t kHour = 60 * kMin;
constexpr int64_t kDay = 24 * kHour;

// Unix ms of a UTC wall-clock time, through the C library (not the code under test).
int64_t Utc(int y, int mo, int d, int h = 0, int mi = 0) {
  struct tm tm = {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

Schedule MustParse(const std::string& text, int tz = 0, int64_t jitter = 0) {
  auto s = Schedule::Parse(text, tz, jitter);
  EXPECT_TRUE(s.ok()) << text << ": " << s.status().ToString();
  return s.ok() ? *s : *Schedule::Parse("* * * * *");
}

// The schedule's ticks in [from, to), by repeated Next.
std::vector<int64_t> Ticks(const Schedule& s, int64_t from, int64_t to) {
  std::vector<int64_t> out;
  for (int64_t t = s.Next(from - 1); t < to; t = s.Next(t)) out.push_back(t);
  return out;
}

const char* const kExpressions[] = {
    "* * * * *",       "*/5 8-20 * * 1-5",
    "0 0 1 * *",       "59 23 31 * *",
    "0 0 29 2 *",      "0 0 28-31 * *",
    "30 2 1,15 * MON",  // both day fields restricted: either matches
    "0 0 */2 * FRI",    // day-of-month starts with '*': both must match (Vixie)
    "0 9 1-7 * 1",     "5/15 * * JAN-MAR,DEC *",
    "0 0 * * 7",       "0 0 1 1 *",
    "*/7 */5 * * *",   "0 0 31 1,3 *",
    "0 0 * 2 6-7",     "15 10 * * sun,Wed",
    "0 12 13 * FRI",   "@hourly",
    "@daily",          "@weekly",
    "@monthly",        "@yearly",
};

struct Window {
  const char* what;
  int64_t from, to;
};

const std::vector<Window>& Windows() {
  static const std::vector<Window> w = {
      {"a week", Utc(2024, 3, 3), Utc(2024, 3, 10, 12)},
      {"Jan 31 -> Feb 1", Utc(2023, 1, 30, 12), Utc(2023, 2, 2)},
      {"Feb 28 -> Mar 1, non-leap", Utc(2023, 2, 27, 12), Utc(2023, 3, 2)},
      {"Feb 28 -> 29 -> Mar 1, leap", Utc(2024, 2, 27, 12), Utc(2024, 3, 2)},
      {"Feb 28 -> Mar 1, 2100 (not leap)", Utc(2100, 2, 27, 12), Utc(2100, 3, 2)},
      {"Feb 29 2000 (leap)", Utc(2000, 2, 27, 12), Utc(2000, 3, 2)},
      {"Dec 31 -> Jan 1", Utc(2023, 12, 30, 12), Utc(2024, 1, 2)},
  };
  return w;
}

TEST(ScheduleTest, CronTicksMatchBruteForce) {
  for (const char* expr : kExpressions) {
    auto oracle = CronOracle::Read(expr);
    ASSERT_TRUE(oracle.has_value()) << expr;
    for (int tz : {0, 480, -330}) {
      for (int64_t jitter : {int64_t{0}, int64_t{17'000}}) {
        Schedule s = MustParse(expr, tz, jitter);
        for (const Window& w : Windows()) {
          EXPECT_EQ(Ticks(s, w.from, w.to), oracle->Ticks(w.from, w.to, tz, jitter))
              << expr << " tz " << tz << " jitter " << jitter << " over " << w.what;
        }
      }
    }
  }
}

TEST(ScheduleTest, WindowsHoldTheMonthEndsTheyName) {
  // Guards the brute-force comparison above against windows in which nothing happens.
  auto s = MustParse("0 0 29 2 *");
  EXPECT_EQ(Ticks(s, Utc(2024, 2, 27, 12), Utc(2024, 3, 2)),
            std::vector<int64_t>{Utc(2024, 2, 29)});
  EXPECT_EQ(Ticks(s, Utc(2000, 2, 27, 12), Utc(2000, 3, 2)),
            std::vector<int64_t>{Utc(2000, 2, 29)});
  EXPECT_TRUE(Ticks(s, Utc(2023, 2, 27, 12), Utc(2023, 3, 2)).empty());
  EXPECT_TRUE(Ticks(s, Utc(2100, 2, 27, 12), Utc(2100, 3, 2)).empty());
  auto last = MustParse("59 23 31 * *");
  EXPECT_EQ(Ticks(last, Utc(2023, 12, 30, 12), Utc(2024, 1, 2)),
            std::vector<int64_t>{Utc(2023, 12, 31, 23, 59)});
  EXPECT_EQ(Ticks(MustParse("0 0 1 * *"), Utc(2023, 1, 30, 12), Utc(2023, 2, 2)),
            std::vector<int64_t>{Utc(2023, 2, 1)});
}

TEST(ScheduleTest, FarTicksAreFoundWithoutScanning) {
  auto s = MustParse("0 0 29 2 *");
  // 2100 is not a leap year: the tick after Feb 29 2096 is Feb 29 2104.
  EXPECT_EQ(s.Next(Utc(2096, 2, 29)), Utc(2104, 2, 29));
  EXPECT_EQ(s.PeriodMs(), 1461 * kDay);
  // Many far searches stay fast (each walks months, not minutes).
  int64_t t = Utc(1970, 1, 1);
  for (int i = 0; i < 2000; ++i) t = s.Next(t);
  EXPECT_GT(t, Utc(9000, 1, 1));
  EXPECT_EQ(s.Next(Schedule::kMaxTimeMs + 1), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(Schedule().Next(0), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(MustParse("0 0 1 1 *").Next(-1), 0);
  EXPECT_EQ(MustParse("0 0 1 1 *").Next(Utc(1969, 6, 1)), 0);
}

TEST(ScheduleTest, WeekdayWorkHoursInShanghai) {
  auto s = MustParse("*/5 8-20 * * 1-5", 480);
  // 2024-03-04 is a Monday; 08:00 in +08:00 is 00:00 UTC.
  EXPECT_EQ(s.Next(Utc(2024, 3, 3, 23, 59)), Utc(2024, 3, 4, 0, 0));
  EXPECT_EQ(s.Next(Utc(2024, 3, 4, 0, 0)), Utc(2024, 3, 4, 0, 5));
  EXPECT_EQ(s.Next(Utc(2024, 3, 4, 12, 54)), Utc(2024, 3, 4, 12, 55));  // 20:55 local
  EXPECT_EQ(s.Next(Utc(2024, 3, 4, 12, 55)), Utc(2024, 3, 5, 0, 0));    // Tuesday 08:00
  // Friday 20:55 local, then Monday 08:00 local.
  EXPECT_EQ(s.Next(Utc(2024, 3, 8, 12, 55)), Utc(2024, 3, 11, 0, 0));
  EXPECT_EQ(Ticks(s, Utc(2024, 3, 3), Utc(2024, 3, 10)).size(), 5u * 13 * 12);
  // In UTC the same text fires eight hours later.
  EXPECT_EQ(MustParse("*/5 8-20 * * 1-5").Next(Utc(2024, 3, 3, 23, 59)), Utc(2024, 3, 4, 8, 0));
}

TEST(ScheduleTest, DayOfMonthOrDayOfWeek) {
  // October 2024: the 13th is a Sunday; Fridays are the 4th, 11th, 18th and 25th.
  auto either = MustParse("0 0 13 * FRI");
  EXPECT_EQ(Ticks(either, Utc(2024, 10, 1), Utc(2024, 11, 1)),
            (std::vector<int64_t>{Utc(2024, 10, 4), Utc(2024, 10, 11), Utc(2024, 10, 13),
                                  Utc(2024, 10, 18), Utc(2024, 10, 25)}));
  // A day field starting with '*' is unrestricted in Vixie cron: both must match.
  auto both = MustParse("0 0 */2 * FRI");
  EXPECT_EQ(Ticks(both, Utc(2024, 10, 1), Utc(2024, 11, 1)),
            (std::vector<int64_t>{Utc(2024, 10, 11), Utc(2024, 10, 25)}));
  auto dow_only = MustParse("0 0 * * FRI");
  EXPECT_EQ(Ticks(dow_only, Utc(2024, 10, 1), Utc(2024, 11, 1)).size(), 4u);
}

TEST(ScheduleTest, NamesAndNumbersAreTheSame) {
  const int64_t from = Utc(2024, 1, 1), to = Utc(2024, 5, 1);
  auto numbers = Ticks(MustParse("0 6 * 1-3 1-5"), from, to);
  EXPECT_EQ(Ticks(MustParse("0 6 * jan-MAR Mon-fri"), from, to), numbers);
  EXPECT_EQ(Ticks(MustParse("0 6 * JAN,FEB,mar MON,TUE,WED,THU,FRI"), from, to), numbers);
  auto sundays = Ticks(MustParse("0 0 * * 0"), from, to);
  EXPECT_EQ(sundays.size(), 17u);
  EXPECT_EQ(Ticks(MustParse("0 0 * * 7"), from, to), sundays);
  EXPECT_EQ(Ticks(MustParse("0 0 * * SUN"), from, to), sundays);
  EXPECT_EQ(Ticks(MustParse("@weekly"), from, to), sundays);
  EXPECT_EQ(Ticks(MustParse("0 0 * * 5-7"), from, to), Ticks(MustParse("0 0 * * 0,5,6"), from, to));
  EXPECT_EQ(Ticks(MustParse("5/15 * * * *"), from, from + kHour),
            (std::vector<int64_t>{from + 5 * kMin, from + 20 * kMin, from + 35 * kMin,
                                  from + 50 * kMin}));
  EXPECT_EQ(Ticks(MustParse("8-20/4 * * * *"), from, from + kHour),
            (std::vector<int64_t>{from + 8 * kMin, from + 12 * kMin, from + 16 * kMin,
                                  from + 20 * kMin}));
  EXPECT_EQ(MustParse("  0 0 * * *\t").Next(from), from + kDay);
  EXPECT_EQ(MustParse("  0 0 * * *\t").text(), "  0 0 * * *\t");
}

TEST(ScheduleTest, EveryIsAlignedToTheEpoch) {
  auto s = MustParse("@every 90s");
  EXPECT_EQ(s.PeriodMs(), 90'000);
  EXPECT_EQ(s.Next(0), 90'000);
  EXPECT_EQ(s.Next(-1), 0);
  EXPECT_EQ(s.Next(89'999), 90'000);
  EXPECT_EQ(s.Next(90'000), 180'000);
  EXPECT_EQ(MustParse("@every 1h30m").PeriodMs(), 90 * kMin);
  EXPECT_EQ(MustParse("@every 2h").PeriodMs(), 2 * kHour);
  EXPECT_EQ(MustParse("@every 1h1m1s").PeriodMs(), kHour + kMin + 1000);
  EXPECT_EQ(MustParse("@every 744h").PeriodMs(), 31 * kDay);
  EXPECT_EQ(MustParse("@every 1s").PeriodMs(), 1000);
  // The zone does not move @every ticks (they are instants, not wall-clock times).
  EXPECT_EQ(MustParse("@every 10m", 480).Next(Utc(2024, 3, 4, 0, 1)), Utc(2024, 3, 4, 0, 10));
  // Restart-safe: a new parse gives the same ticks.
  EXPECT_EQ(MustParse("@every 7m").Next(Utc(2024, 3, 4, 0, 1)),
            MustParse("@every 7m").Next(Utc(2024, 3, 4, 0, 1)));
}

TEST(ScheduleTest, PeriodIsTheShortestGap) {
  EXPECT_EQ(MustParse("* * * * *").PeriodMs(), kMin);
  EXPECT_EQ(MustParse("*/5 8-20 * * 1-5").PeriodMs(), 5 * kMin);
  EXPECT_EQ(MustParse("0 0 * * *").PeriodMs(), kDay);
  EXPECT_EQ(MustParse("@hourly").PeriodMs(), kHour);
  EXPECT_EQ(MustParse("0 8,20 * * *").PeriodMs(), 12 * kHour);
  EXPECT_EQ(MustParse("0 2,22 * * *").PeriodMs(), 4 * kHour);  // 22:00 -> 02:00
  EXPECT_EQ(MustParse("50 23 * * *").PeriodMs(), kDay);
  EXPECT_EQ(MustParse("0 0 1 * *").PeriodMs(), 28 * kDay);   // Feb 1 -> Mar 1
  EXPECT_EQ(MustParse("0 0 31 * *").PeriodMs(), 31 * kDay);  // Jul 31 -> Aug 31
  EXPECT_EQ(MustParse("0 0 * * 1,3,5").PeriodMs(), 2 * kDay);
  EXPECT_EQ(MustParse("0 0 1 1 *").PeriodMs(), 365 * kDay);
  EXPECT_EQ(MustParse("0 0 */2 * *").PeriodMs(), kDay);  // Jan 31 -> Feb 1
  // Against ticks enumerated over three years.
  for (const char* expr : {"*/7 */5 * * *", "30 2 1,15 * MON", "0 0 28-31 * *", "0 9 1-7 * 1",
                           "0 0 */2 * FRI", "5/15 * * JAN-MAR,DEC *", "15 10 * * sun,Wed"}) {
    auto s = MustParse(expr);
    auto ticks = Ticks(s, Utc(2023, 1, 1), Utc(2026, 1, 1));
    int64_t gap = std::numeric_limits<int64_t>::max();
    for (size_t i = 1; i < ticks.size(); ++i) gap = std::min(gap, ticks[i] - ticks[i - 1]);
    EXPECT_EQ(s.PeriodMs(), gap) << expr;
  }
}

TEST(ScheduleTest, CatchUpOnceAfterAStop) {
  for (const char* expr : {"*/10 * * * *", "@every 10m"}) {
    auto s = MustParse(expr);
    const int64_t last = Utc(2024, 3, 1, 12, 0);  // the last run, on a tick
    EXPECT_TRUE(s.Due(std::nullopt, last));
    EXPECT_FALSE(s.Due(last, last + 9 * kMin));
    // Stopped for three days; restarted between two ticks.
    const int64_t restart = last + 3 * kDay + 3 * kMin;
    std::optional<int64_t> ran = last;
    int runs = 0;
    for (int64_t now = restart; now < restart + 7 * kMin; now += kMin) {
      if (s.Due(ran, now)) {
        ++runs;
        ran = now;
      }
    }
    EXPECT_EQ(runs, 1) << expr;
    EXPECT_EQ(*ran, restart);
    EXPECT_FALSE(s.Due(restart, restart + kMin));
    EXPECT_EQ(s.Next(restart), last + 3 * kDay + 10 * kMin);
    EXPECT_FALSE(s.Due(restart, last + 3 * kDay + 10 * kMin - 1));
    EXPECT_TRUE(s.Due(restart, last + 3 * kDay + 10 * kMin));
  }
}

TEST(ScheduleTest, JitterIsDeterministicBoundedAndPerName) {
  EXPECT_EQ(JitterMs("orders", 60, 10 * kMin), JitterMs("orders", 60, 10 * kMin));
  std::set<int64_t> seen;
  for (int i = 0; i < 50; ++i) {
    const std::string name = "pipeline-" + std::to_string(i);
    const int64_t j = JitterMs(name, 60, 10 * kMin);
    EXPECT_GE(j, 0);
    EXPECT_LT(j, 60'000);
    seen.insert(j);
    const int64_t capped = JitterMs(name, 86400, 10 * kMin);  // capped by the period
    EXPECT_GE(capped, 0);
    EXPECT_LT(capped, 10 * kMin);
    const int64_t huge = JitterMs(name, std::numeric_limits<int64_t>::max(), kHour);
    EXPECT_GE(huge, 0);
    EXPECT_LT(huge, kHour);
  }
  EXPECT_GT(seen.size(), 40u);  // names spread out
  EXPECT_NE(JitterMs("dingtalk-payment", 300, kHour), JitterMs("kuaimai-aftersale", 300, kHour));
  EXPECT_EQ(JitterMs("orders", 0, 10 * kMin), 0);
  EXPECT_EQ(JitterMs("orders", -5, 10 * kMin), 0);
  EXPECT_EQ(JitterMs("orders", 60, 0), 0);
}

TEST(ScheduleTest, JitterShiftsEveryTick) {
  const int64_t j = JitterMs("orders", 120, 10 * kMin);
  ASSERT_GT(j, 0);
  auto s = MustParse("@every 10m", 480, j);
  int64_t t = Utc(2024, 3, 1, 11, 59);
  for (int i = 0; i < 100; ++i) {
    const int64_t next = s.Next(t);
    EXPECT_EQ((next - j) % (10 * kMin), 0);
    EXPECT_GT(next, t);
    EXPECT_LE(next - t, 10 * kMin);
    t = next;
  }
  EXPECT_EQ(s.Next(Utc(2024, 3, 1, 12, 0)), Utc(2024, 3, 1, 12, 0) + j);
  EXPECT_EQ(s.Next(Utc(2024, 3, 1, 12, 0) + j), Utc(2024, 3, 1, 12, 10) + j);
  auto cron = MustParse("0 * * * *", 480, j);
  EXPECT_EQ(cron.Next(Utc(2024, 3, 1, 12, 0)), Utc(2024, 3, 1, 12, 0) + j);
  EXPECT_EQ(cron.Next(Utc(2024, 3, 1, 12, 0) + j), Utc(2024, 3, 1, 13, 0) + j);
}

TEST(ScheduleTest, RejectsWithTheFieldAndTheText) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "empty schedule"},
      {"* * * *",
       "expected 5 cron fields (minute hour day-of-month month day-of-week) or "
       "@every D, got 4 fields"},
      {"* * * * * *", "got 6 fields"},
      {"every day", "got 2 fields"},
      {"61 * * * *", "minute field '61': out of range 0-59"},
      {"0 25 * * *", "hour field '25': out of range 0-23"},
      {"0 1,25 * * *", "hour field '1,25': '25' out of range 0-23"},
      {"0 0 0 * *", "day-of-month field '0': out of range 1-31"},
      {"0 0 32 * *", "day-of-month field '32': out of range 1-31"},
      {"0 0 * 13 *", "month field '13': out of range 1-12"},
      {"0 0 * * 8", "day-of-week field '8': out of range 0-7"},
      {"0 0 * * 99999999999999999999", "out of range 0-7"},
      {"*/0 * * * *", "minute field '*/0': has step 0"},
      {"0 8-20/0 * * *", "hour field '8-20/0': has step 0"},
      {"0 20-8 * * *", "hour field '20-8': is a reversed range"},
      {"0 0 * * FRI-MON", "day-of-week field 'FRI-MON': is a reversed range"},
      {"5x * * * *", "minute field '5x': unexpected 'x'"},
      {"*5 * * * *", "minute field '*5': unexpected '5'"},
      {"1-2-3 * * * *", "minute field '1-2-3': unexpected '-3'"},
      {"*/5/2 * * * *", "minute field '*/5/2': unexpected '/2'"},
      {"*/ * * * *", "minute field '*/': needs a step after '/'"},
      {"1,,2 * * * *", "minute field '1,,2': has an empty list item"},
      {"1, * * * *", "minute field '1,': has an empty list item"},
      {"-5 * * * *", "minute field '-5': unexpected '-'"},
      {"0 0 * * MON-", "day-of-week field 'MON-': a number is missing"},
      {"JAN * * * *", "minute field 'JAN': is not a number"},
      {"0 0 * FOO *", "month field 'FOO': is not a number or a name (JAN-DEC)"},
      {"0 0 * * MONDAY", "day-of-week field 'MONDAY': is not a number or a name (SUN-SAT)"},
      {"0 0 30 2 *", "never fires: month field '2' has no day from day-of-month field '30'"},
      {"0 0 31 4,6,9,11 *",
       "never fires: month field '4,6,9,11' has no day from day-of-month field '31'"},
      {"0 0 31 APR,jun *", "never fires: month field 'APR,jun'"},
      {"0 0 30,31 2 *", "never fires"},
      {"@every", "'@every' needs a duration like 10m"},
      {"@every 0s", "@every: duration '0s' is under 1s"},
      {"@every 745h", "@every: duration '745h' is over 31 days (744h)"},
      {"@every 99999999999999999999h", "is over 31 days"},
      {"@every 10", "@every: bad duration '10' (use whole hours, minutes, seconds"},
      {"@every 500ms", "bad duration '500ms'"},
      {"@every 1.5h", "bad duration '1.5h'"},
      {"@every 1m1h", "bad duration '1m1h'"},
      {"@every 10m10m", "bad duration '10m10m'"},
      {"@every 10m junk", "bad duration '10m junk'"},
      {"@every -5m", "bad duration '-5m'"},
      {"@fortnightly", "unknown schedule '@fortnightly'"},
      {"@daily 0", "'@daily' takes no argument"},
  };
  for (const auto& [text, want] : cases) {
    auto s = Schedule::Parse(text, 480);
    ASSERT_FALSE(s.ok()) << "accepted: '" << text << "'";
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.status().message().find(want), std::string::npos)
        << "'" << text << "': got " << s.status().message() << "\nwant " << want;
  }
  EXPECT_EQ(Schedule::Parse("0 25 * * *").status().message(), "hour field '25': out of range 0-23");
  EXPECT_FALSE(Schedule::Parse("@hourly", 1440).ok());
  EXPECT_FALSE(Schedule::Parse("@hourly", 0, -1).ok());
  EXPECT_FALSE(Schedule::Parse("@hourly", 0, Schedule::kMaxJitterMs + 1).ok());
  // Valid in some years only, so accepted.
  EXPECT_TRUE(Schedule::Parse("0 0 29 2 *").ok());
  EXPECT_TRUE(Schedule::Parse("0 0 31 2,3 *").ok());
  EXPECT_TRUE(Schedule::Parse("0 0 30 2 MON").ok());  // either field: Mondays in February
}

}  // namespace
}  // namespace stagesync::schedule
