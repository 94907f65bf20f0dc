#include "stagesync/retry.h"

#include <algorithm>

namespace stagesync {

int64_t BackoffMillis(const RetryPolicy& p, int attempt, const Status& last, uint64_t rand) {
  int64_t base = last.code() == StatusCode::kResourceExhausted ? p.throttle_base_ms : p.base_ms;
  int shift = std::clamp(attempt - 1, 0, 20);
  int64_t cap = std::min(p.max_backoff_ms, base << shift);
  // Jitter over [cap/2, cap]: spreads retries but keeps a floor so a throttled API gets real
  // rest.
  int64_t half = cap / 2;
  int64_t wait = half + static_cast<int64_t>(rand % static_cast<uint64_t>(half + 1));
  return std::max(wait, last.retry_after_ms());
}

bool RetryFits(const RetryPolicy& p, int attempts, int64_t elapsed_ms, int64_t next_wait_ms) {
  if (p.max_attempts > 0 && attempts >= p.max_attempts) return false;
  return elapsed_ms + next_wait_ms <= p.budget_ms;
}

}  // namespace stagesync
