// libFuzzer target: any text as a pipeline schedule must parse or fail cleanly; an accepted one
// must give ticks strictly later than the time asked about, in order, at least PeriodMs apart,
// and the same ticks as a naive minute-by-minute reading (tests/agent/cron_oracle.h).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "agent/cron_oracle.h"
#include "stagesync/schedule.h"

namespace {

using stagesync::schedule::Schedule;
using stagesync::schedule::testing::CronOracle;

constexpr int64_t kMin = 60'000;

[[noreturn]] void Fail(const std::string& text, int64_t t, const char* what, int64_t got) {
  std::fprintf(stderr, "schedule '%s': at t=%lld: %s (got %lld)\n", text.c_str(),
               static_cast<long long>(t), what, static_cast<long long>(got));
  std::abort();
}

void Check(const Schedule& s, const std::string& text, int tz, int64_t jitter) {
  const bool every = text.find("@every") != std::string::npos;
  auto oracle = CronOracle::Read(text);
  if (!every && !oracle) Fail(text, 0, "accepted, but the oracle cannot read it", 0);
  if (s.PeriodMs() <= 0) Fail(text, 0, "period not positive", s.PeriodMs());
  // 1570, 1970, Feb 29 2000, 2024, Mar 1 2100 (not leap), the last ms of 9999.
  static const int64_t kTimes[] = {-12'622'780'800'000, 0,
                                   951'782'400'000,     1'709'251'199'999,
                                   4'107'542'400'000,   253'402'300'799'999};
  for (int64_t t : kTimes) {
    const int64_t n = s.Next(t);
    if (n <= t) Fail(text, t, "Next(t) <= t", n);
    if (s.Next(n - 1) != n) Fail(text, t, "a tick between t and Next(t)", s.Next(n - 1));
    const int64_t n2 = s.Next(n);
    if (n2 <= n) Fail(text, t, "Next not increasing", n2);
    if (n2 - n < s.PeriodMs()) Fail(text, t, "two ticks closer than PeriodMs", n2 - n);
    if (!s.Due(t, n) || s.Due(t, n - 1)) Fail(text, t, "Due disagrees with Next", n);
    if (every) {
      if ((n - jitter) % s.PeriodMs() != 0 || n - t > s.PeriodMs())
        Fail(text, t, "@every tick off the grid", n);
      continue;
    }
    if ((n - jitter) % kMin != 0) Fail(text, t, "cron tick not on a minute", n);
    const int64_t minute = (n - jitter) / kMin;
    if (!oracle->Matches(minute, tz)) Fail(text, t, "the oracle does not match Next(t)", n);
    // No minute the oracle matches in the first and the last four hours of (t, n).
    for (int64_t m = (t - jitter) / kMin - 1, i = 0; i < 240 && m < minute; ++m, ++i) {
      if (m * kMin + jitter > t && oracle->Matches(m, tz)) {
        Fail(text, t, "the oracle matches a minute before Next(t)", m * kMin + jitter);
      }
    }
    for (int64_t m = minute - 1, i = 0; i < 240 && m * kMin + jitter > t; --m, ++i) {
      if (oracle->Matches(m, tz)) {
        Fail(text, t, "the oracle matches a minute before Next(t)", m * kMin + jitter);
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 256) return 0;
  const std::string text(reinterpret_cast<const char*>(data), size);
  static const struct {
    int tz;
    int64_t jitter;
  } kZones[] = {{0, 0}, {-330, 59'999}, {480, 3'600'000}};
  for (const auto& z : kZones) {
    auto s = Schedule::Parse(text, z.tz, z.jitter);
    if (!s.ok()) {
      if (s.status().message().empty()) std::abort();
      return 0;
    }
    Check(*s, text, z.tz, z.jitter);
  }
  return 0;
}
