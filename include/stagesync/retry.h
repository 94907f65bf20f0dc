// Retry: exponential backoff with jitter and a time budget, driven only by the Status code (see
// status.h). A call retries while its budget lasts, not for a fixed number of tries, so a storm
// of throttling that fails 40% of attempts slows a sync down instead of ending it. Stateless
// apart from the per-call attempt counter; thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "stagesync/clock.h"
#include "stagesync/status.h"

namespace stagesync {

struct RetryPolicy {
  // Sends per call, first included; 0 = as many as `budget_ms` allows. Default: 0.
  int max_attempts = 0;
  // How long one call may keep retrying, backoffs included, before it gives up. Default: 600 s
  // (DingTalk's per-IP flood guard bans for about 5 minutes).
  int64_t budget_ms = 600000;
  // Tries while the answer stays unreadable (BadReply) before it counts as a bad payload.
  // Default: 3.
  int max_garbled_attempts = 3;
  int64_t base_ms = 200;            // Default: 200 ms
  int64_t max_backoff_ms = 30000;   // Default: 30 s
  int64_t throttle_base_ms = 1000;  // Default: 1 s, for ResourceExhausted
};

// The backoff before retry number `attempt` (1 = first retry), with jitter over [cap/2, cap],
// never shorter than the server's Retry-After.
int64_t BackoffMillis(const RetryPolicy& p, int attempt, const Status& last, uint64_t rand);

// True when another try fits: `attempts` sends made so far, `elapsed_ms` since the first, and
// `next_wait_ms` the backoff before the next one.
bool RetryFits(const RetryPolicy& p, int attempts, int64_t elapsed_ms, int64_t next_wait_ms);

}  // namespace stagesync
