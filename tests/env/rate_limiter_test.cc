#include "stagesync/rate_limiter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <thread>
#include <vector>

#include "stagesync/http.h"
#include "stagesync/retry.h"
#include "testing/fake_clock.h"

namespace stagesync {
namespace {

TEST(RateLimiterTest, PacesCallsToTheLimit) {
  testing::FakeClock clock;
  RateLimiter limiter(10, &clock, 0.0);
  int64_t t0 = clock.MonotonicMicros();
  for (int i = 0; i < 51; ++i) limiter.Acquire();
  // 51 calls at 10/s: the first is free, the other 50 take 5 s.
  EXPECT_EQ(clock.MonotonicMicros() - t0, 5000000);
}

TEST(RateLimiterTest, SharedAcrossThreadsNeverExceedsTheLimitInAnySecond) {
  RateLimiter limiter(50, Clock::Real());
  std::vector<int64_t> stamps;
  std::mutex mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        limiter.Acquire();
        const int64_t now = Clock::Real()->MonotonicMicros();
        std::lock_guard<std::mutex> lock(mu);
        stamps.push_back(now);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::sort(stamps.begin(), stamps.end());
  size_t worst = 0;
  // Windows of 0.95 s: a thread the loaded machine wakes up to 50 ms late must not look like a
  // burst (at 50/s a window that short holds 48 grants; a limiter allowing 55/s gives 52).
  for (size_t i = 0, j = 0; i < stamps.size(); ++i) {
    while (stamps[i] - stamps[j] >= 950000) ++j;
    worst = std::max(worst, i - j + 1);
  }
  EXPECT_LE(worst, 50u);
  EXPECT_GE(stamps.back() - stamps.front(), 1500000);  // 80 calls at 50/s take > 1.5 s
}

TEST(RetryTest, BackoffGrowsAndHonoursRetryAfter) {
  RetryPolicy p;
  Status unavailable = Unavailable("x");
  EXPECT_LE(BackoffMillis(p, 1, unavailable, 12345), 200);
  EXPECT_GE(BackoffMillis(p, 1, unavailable, 12345), 100);
  EXPECT_GE(BackoffMillis(p, 4, unavailable, 0), 800);
  EXPECT_LE(BackoffMillis(p, 30, unavailable, ~0ull), p.max_backoff_ms);
  Status throttled(StatusCode::kResourceExhausted, "t");
  EXPECT_GE(BackoffMillis(p, 1, throttled, 0), 500);
  throttled.set_retry_after_ms(7000);
  EXPECT_EQ(BackoffMillis(p, 1, throttled, 0), 7000);
}

TEST(RedactTest, SecretsInUrlsAreRedacted) {
  EXPECT_EQ(RedactUrl("http://h/x?access_token=abc123&cursor=2"),
            "http://h/x?access_token=***&cursor=2");
  EXPECT_EQ(RedactUrl("http://h/gettoken?appkey=k&appsecret=zzz"),
            "http://h/gettoken?appkey=k&appsecret=***");
  EXPECT_EQ(RedactUrl("http://h/r?sign=AB&session=S&method=m"),
            "http://h/r?sign=***&session=***&method=m");
}

}  // namespace
}  // namespace stagesync
