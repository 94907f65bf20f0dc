// ApiEndpoint: what every vendor connection shares — one rate limit (token bucket, `qps`), one
// retry policy, counters per outcome, and the loop that sends a request, classifies the answer
// with the vendor's own error table, refreshes credentials when the vendor says they expired,
// and backs off on throttling and transient failures. Thread-safe: one per connection, shared
// by every pipeline and sink using it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "connectors/common/daily_quota.h"
#include "stagesync/clock.h"
#include "stagesync/config.h"
#include "stagesync/http.h"
#include "stagesync/json.h"
#include "stagesync/option_table.h"
#include "stagesync/rate_limiter.h"
#include "stagesync/retry.h"
#include "stagesync/status.h"
#include "stagesync/telemetry.h"

namespace stagesync::connectors {

struct EndpointOptions {
  std::string name;  // connection name, for errors and metrics
  double qps = 10;
  RetryPolicy retry;
  QuotaOptions quota;  // Connections attaches a DailyQuota when quota.daily_quota > 0
  int max_reauth = 3;  // credential refreshes one call may do
};

// Counters per outcome (read by the metrics of a later issue).
struct EndpointCounters {
  std::atomic<int64_t> requests{0};
  std::atomic<int64_t> ok{0};
  std::atomic<int64_t> retried{0};
  std::atomic<int64_t> throttled{0};
  std::atomic<int64_t> reauth{0};
  std::atomic<int64_t> failed{0};
  std::atomic<int64_t> unknown_outcome{0};
};

// Turns one HTTP answer into the parsed body (ok) or a Status whose code decides what happens:
// Unauthenticated -> refresh and retry; ResourceExhausted/Unavailable/BadReply -> back off and
// retry; anything else -> give up.
using Classifier = std::function<Result<json::Value>(const HttpResponse&)>;

// How a request may be repeated.
enum class Delivery {
  kIdempotent,  // a read: the transport and the retry loop resend it freely
  kAtMostOnce,  // a create: sent once; an unknown outcome comes back for the caller to resolve
  kRepeatable,  // harmless to repeat (an update to the same values) but never replayed by the
                // transport behind our back: the retry loop resends it after an unknown outcome
};

class ApiEndpoint {
 public:
  ApiEndpoint(EndpointOptions opts, HttpClient* http, Clock* clock);

  // Sends `build()` (called again per attempt, so a refreshed token is used), classifies the
  // answer, and retries throttling and transient failures while the policy's time budget
  // lasts (backoff with jitter, Retry-After honoured). `reauth` is called on Unauthenticated. When
  // `idempotent` is false (a create), a transport error, timeout or 5xx is NOT retried: it
  // comes back as Unavailable/DeadlineExceeded and the caller must find out what happened;
  // the flag also goes into HttpRequest::idempotent, so the transport never resends it either.
  // Each attempt first takes one from the daily quota (if set): a spent quota returns its
  // ResourceExhausted at once, unsent and not retried. Once the stop flag (if set) is up, no
  // further attempt starts and no backoff sleeps: Cancelled comes back.
  Result<json::Value> Call(const std::function<Result<HttpRequest>()>& build,
                           const Classifier& classify, const std::function<Status()>& reauth,
                           const std::string& what, Delivery delivery);
  Result<json::Value> Call(const std::function<Result<HttpRequest>()>& build,
                           const Classifier& classify, const std::function<Status()>& reauth,
                           const std::string& what, bool idempotent = true) {
    return Call(build, classify, reauth, what,
                idempotent ? Delivery::kIdempotent : Delivery::kAtMostOnce);
  }

  // Paces one request outside Call (e.g. a login) and takes it from the daily quota; the
  // request must not be sent when this fails.
  Status Pace();

  // REQUIRES: called before the endpoint is shared (Connections does it when it builds the
  // client). `stop` must outlive the endpoint; null: calls are never cut short.
  void set_stop(const std::atomic<bool>* stop) { stop_ = stop; }
  // Where each request, limiter wait and credential refresh is reported, labelled with the
  // connection's name. REQUIRES: called before the endpoint is shared; `t` outlives it.
  void set_telemetry(Telemetry* t, std::string connection) {
    telemetry_ = t;
    connection_ = std::move(connection);
  }
  // The client got a new token or session (a login or a refresh, the first one included).
  void CountRenewal() { telemetry_->TokenRenewal(connection_); }
  // null: no quota.
  void set_quota(std::shared_ptr<DailyQuota> quota) { quota_ = std::move(quota); }
  DailyQuota* quota() { return quota_.get(); }
  HttpClient* http() { return http_; }
  Clock* clock() { return clock_; }
  const EndpointCounters& counters() const { return counters_; }
  const EndpointOptions& options() const { return opts_; }

 private:
  uint64_t Rand();
  bool Stopping() const { return stop_ != nullptr && stop_->load(); }
  // Sleeps `ms` in slices that watch the stop flag; Cancelled when it goes up.
  Status Backoff(int64_t ms, const std::string& what);

  const EndpointOptions opts_;
  HttpClient* const http_;
  Clock* const clock_;
  RateLimiter limiter_;
  EndpointCounters counters_;
  std::mutex rand_mu_;
  std::mt19937_64 rand_;
  const std::atomic<bool>* stop_ = nullptr;
  std::shared_ptr<DailyQuota> quota_;
  Telemetry* telemetry_ = Telemetry::Null();
  std::string connection_;
};

// The retry options every vendor connection takes (`retry_base_ms`, `retry_budget_s`,
// `max_attempts`), bound to its RetryPolicy: one table, so every client retries the same way.
// Each client sets `throttle_base_ms` from `base_ms` by its vendor's advice.
config::OptionTable<RetryPolicy> RetryOptionTable(int64_t base_ms = 200);

// Trims trailing slashes off a URL option and checks its scheme (the error names `base_url`).
Status CheckBaseUrl(const config::OptionReader& r, std::string* url);

// A vendor's message for an error text: at most 300 bytes, cut on a UTF-8 boundary, "..." added.
std::string ClipVendorText(std::string_view s);

// Parses a JSON body (a UTF-8 BOM is fine). An HTML page (gateway, flood guard) is
// ResourceExhausted, retried for the whole budget; other garbage is BadReply naming the HTTP
// status, retried a few times and then reported as a bad payload.
Result<json::Value> ParseBody(const HttpResponse& resp, const json::ParseOptions& opts = {});

// How a source parses a page of records: an unreadable record (invalid UTF-8, a lone
// surrogate, nesting too deep) becomes a json::Value::Invalid item for the source to
// quarantine, instead of failing the page on every run.
inline json::ParseOptions PageParseOptions() {
  json::ParseOptions o;
  o.isolate = json::Isolate::kArrayItems;
  return o;
}

// HTTP status alone: 429 -> ResourceExhausted (with Retry-After), 408/5xx -> Unavailable,
// else Ok (the vendor's body decides).
Status ClassifyHttpStatus(const HttpResponse& resp);

}  // namespace stagesync::connectors
