// RateLimiter: a token bucket that paces calls to at most `qps` per second, shared by every
// thread using one connection. Thread-safe. Acquire() reserves the next free slot and sleeps
// on the injected clock until it comes, so callers are served in order and never in a burst
// above the limit.
#pragma once

#include <cstdint>
#include <mutex>

#include "stagesync/clock.h"

namespace stagesync {

class RateLimiter {
 public:
  // qps <= 0 means unlimited. `margin` stretches every interval a little so that network
  // jitter cannot push qps+1 requests into one second at the server. Default: 2%.
  RateLimiter(double qps, Clock* clock, double margin = 0.02);

  // Blocks until the caller may send one request.
  void Acquire();
  double qps() const { return qps_; }

 private:
  const double qps_;
  Clock* const clock_;
  const int64_t interval_us_;
  std::mutex mu_;
  int64_t next_free_us_ = 0;  // monotonic time of the next free slot
};

}  // namespace stagesync
