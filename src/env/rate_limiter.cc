#include "stagesync/rate_limiter.h"

#include <algorithm>

namespace stagesync {

RateLimiter::RateLimiter(double qps, Clock* clock, double margin)
    : qps_(qps),
      clock_(clock),
      interval_us_(qps > 0 ? static_cast<int64_t>(1e6 / qps * (1.0 + margin)) : 0) {}

void RateLimiter::Acquire() {
  if (interval_us_ <= 0) return;
  int64_t wait_us;
  {
    std::lock_guard<std::mutex> lock(mu_);
    int64_t now = clock_->MonotonicMicros();
    int64_t slot = std::max(now, next_free_us_);
    next_free_us_ = slot + interval_us_;
    wait_us = slot - now;
  }
  if (wait_us > 0) clock_->SleepForMicros(wait_us);
}

}  // namespace stagesync
