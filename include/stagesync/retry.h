// Retry: exponential backoff with full jitter, driven only by the Status code (see status.h).
// Stateless apart from the per-call attempt counter; thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "stagesync/clock.h"
#include "stagesync/status.h"

namespace stagesync {

struct RetryPolicy {
  int max_attempts = 8;             // Default: 8 (first try included)
  int64_t base_ms = 200;            // Default: 200 ms
  int64_t max_backoff_ms = 30000;   // Default: 30 s
  int64_t throttle_base_ms = 1000;  // Default: 1 s, for ResourceExhausted
};

// The backoff before attempt number `attempt` (1 = first retry), with full jitter.
int64_t BackoffMillis(const RetryPolicy& p, int attempt, const Status& last, uint64_t rand);

}  // namespace stagesync
