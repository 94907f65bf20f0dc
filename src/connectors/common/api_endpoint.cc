#include "connectors/common/api_endpoint.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

namespace stagesync::connectors {

namespace {

// The URL's path, the `endpoint` label of request metrics: no host, no query (tokens and
// record ids travel there, never in the label).
std::string_view EndpointPath(std::string_view url) {
  if (size_t scheme = url.find("://"); scheme != url.npos) {
    url.remove_prefix(scheme + 3);
    size_t slash = url.find('/');
    url = slash == url.npos ? std::string_view("/") : url.substr(slash);
  }
  return url.substr(0, url.find_first_of("?#"));
}

// The `outcome` label of one attempt (telemetry.h).
std::string_view AttemptOutcome(const Status& s, Delivery delivery) {
  switch (s.code()) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kResourceExhausted:
      return "throttled";
    case StatusCode::kDeadlineExceeded:
      return delivery == Delivery::kAtMostOnce ? "unknown" : "timeout";
    case StatusCode::kUnavailable:
    case StatusCode::kBadReply:
      return delivery == Delivery::kAtMostOnce ? "unknown" : "error";
    default:
      return "error";
  }
}

}  // namespace

ApiEndpoint::ApiEndpoint(EndpointOptions opts, HttpClient* http, Clock* clock)
    : opts_(std::move(opts)),
      http_(http),
      clock_(clock),
      limiter_(opts_.qps, clock),
      rand_(std::random_device{}()) {}

uint64_t ApiEndpoint::Rand() {
  std::lock_guard<std::mutex> lock(rand_mu_);
  return rand_();
}

Status ApiEndpoint::Pace() {
  if (quota_ != nullptr) SS_RETURN_IF_ERROR(quota_->Take());
  const int64_t wait_from = clock_->MonotonicMicros();
  limiter_.Acquire();
  telemetry_->RateLimitWait(connection_, (clock_->MonotonicMicros() - wait_from) / 1e6);
  return Status::Ok();
}

Status ApiEndpoint::Backoff(int64_t ms, const std::string& what) {
  if (stop_ == nullptr) {
    clock_->SleepForMicros(ms * 1000);
    return Status::Ok();
  }
  // Slices short enough that a stop is noticed within 200 ms of being asked for.
  constexpr int64_t kSliceMs = 200;
  for (int64_t left = ms; left > 0; left -= kSliceMs) {
    if (Stopping()) break;
    clock_->SleepForMicros(std::min(left, kSliceMs) * 1000);
  }
  if (Stopping()) return Cancelled(opts_.name + ": stopping: " + what + " not retried");
  return Status::Ok();
}

Result<json::Value> ParseBody(const HttpResponse& resp, const json::ParseOptions& opts) {
  auto v = json::Parse(resp.body, opts);
  if (v.ok()) return v;
  std::string_view b = resp.body;
  bool html = b.find("<html") != b.npos || b.find("<HTML") != b.npos ||
              b.find("<!DOCTYPE") != b.npos || b.find("<!doctype") != b.npos;
  if (html) {
    // Not the API answering: a gateway, WAF or flood guard (DingTalk's bans for minutes with
    // one). Back off and retry for the whole budget, like throttling.
    return Status(StatusCode::kResourceExhausted,
                  fmt::format("HTTP {}: an HTML page instead of JSON (a gateway or flood guard "
                              "answered)",
                              resp.status));
  }
  // Possibly cut in transit: retried a few times, then reported as a bad payload.
  return BadReply(fmt::format("HTTP {}: {}", resp.status, v.status().message()));
}

Status ClassifyHttpStatus(const HttpResponse& resp) {
  if (resp.status == 429) {
    Status s(StatusCode::kResourceExhausted, "HTTP 429");
    std::string_view ra = resp.Header("retry-after");
    if (!ra.empty()) s.set_retry_after_ms(std::atoll(std::string(ra).c_str()) * 1000);
    return s;
  }
  if (resp.status == 408 || resp.status >= 500) {
    return Unavailable(fmt::format("HTTP {}", resp.status));
  }
  return Status::Ok();
}

Result<json::Value> ApiEndpoint::Call(const std::function<Result<HttpRequest>()>& build,
                                      const Classifier& classify,
                                      const std::function<Status()>& reauth,
                                      const std::string& what, Delivery delivery) {
  const bool idempotent = delivery == Delivery::kIdempotent;
  const int64_t start_us = clock_->MonotonicMicros();
  int reauths = 0;  // in a row: a refreshed credential refused again is a real refusal
  int sends = 0;
  int retries = 0;
  int garbled = 0;
  Status last;
  for (;;) {
    // Only between attempts: an attempt already sent is always finished.
    if (Stopping()) return Cancelled(opts_.name + ": stopping: " + what + " not retried");
    if (last.code() == StatusCode::kUnauthenticated) {
      ++counters_.reauth;
      Status rs = reauth ? reauth() : last;
      if (!rs.ok()) {
        ++counters_.failed;
        return rs.WithContext(what);
      }
    }
    SS_ASSIGN_OR_RETURN(HttpRequest req, build());
    req.idempotent = idempotent;  // a create is never resent by the transport either
    if (quota_ != nullptr) {
      // Spent: the agent reschedules at the next quota day; waiting here would take hours.
      Status taken = quota_->Take();
      if (!taken.ok()) return taken.WithContext(what);
    }
    const int64_t wait_from = clock_->MonotonicMicros();
    limiter_.Acquire();
    const int64_t sent_at = clock_->MonotonicMicros();
    telemetry_->RateLimitWait(connection_, (sent_at - wait_from) / 1e6);
    ++counters_.requests;
    ++sends;
    auto resp = http_->Send(req);
    Result<json::Value> res = resp.ok() ? classify(*resp) : Result<json::Value>(resp.status());
    telemetry_->VendorRequest(connection_, EndpointPath(req.url),
                              AttemptOutcome(res.status(), delivery),
                              (clock_->MonotonicMicros() - sent_at) / 1e6);
    if (res.ok()) {
      ++counters_.ok;
      return res;
    }
    last = res.status();
    const StatusCode code = last.code();
    if (code == StatusCode::kUnauthenticated) {
      if (++reauths > opts_.max_reauth) {
        ++counters_.failed;
        return last.WithContext(what + ": credentials refused again after refreshing");
      }
      continue;  // a refresh does not use up a retry
    }
    reauths = 0;
    const bool transient = code == StatusCode::kUnavailable ||
                           code == StatusCode::kDeadlineExceeded || code == StatusCode::kBadReply;
    if (delivery == Delivery::kAtMostOnce && transient) {
      // The request may have been carried out: the caller must ask the target.
      ++counters_.unknown_outcome;
      return last.WithContext(what + ": outcome unknown");
    }
    if (code == StatusCode::kResourceExhausted) {
      ++counters_.throttled;
    } else if (!transient) {
      ++counters_.failed;
      return last.WithContext(what);
    }
    // A garbled body may be a cut connection (transient) or a payload that is bad every time
    // (one broken record): a few tries tell them apart; the caller parks the latter.
    if (code == StatusCode::kBadReply && ++garbled >= opts_.retry.max_garbled_attempts) {
      ++counters_.failed;
      return last.WithContext(fmt::format("{} (garbled {} times in a row)", what, garbled));
    }
    if (code != StatusCode::kBadReply) garbled = 0;
    const int64_t wait_ms = BackoffMillis(opts_.retry, ++retries, last, Rand());
    const int64_t elapsed_ms = (clock_->MonotonicMicros() - start_us) / 1000;
    if (!RetryFits(opts_.retry, sends, elapsed_ms, wait_ms)) {
      ++counters_.failed;
      return last.WithContext(fmt::format("{} (gave up after {} attempts in {:.1f} s)", what, sends,
                                          static_cast<double>(elapsed_ms) / 1000));
    }
    ++counters_.retried;
    SS_RETURN_IF_ERROR(Backoff(wait_ms, what));
  }
}

std::string ClipVendorText(std::string_view s) {
  size_t n = 300;
  if (s.size() <= n) return std::string(s);
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n)) + "...";
}

config::OptionTable<RetryPolicy> RetryOptionTable(int64_t base_ms) {
  return config::OptionTable<RetryPolicy>()
      .Int("retry_base_ms", &RetryPolicy::base_ms, base_ms, 1, 60000,
           "first backoff (ms); throttling backs off from a multiple of it")
      .Int("retry_budget_s", &RetryPolicy::budget_ms, 600, 0, 604800,
           "how long one call keeps retrying throttling and transient failures", 1000)
      .Int("max_attempts", &RetryPolicy::max_attempts, 0, 0, 1000000,
           "cap on tries per call, first included; 0 = bounded by retry_budget_s only");
}

Status CheckBaseUrl(const config::OptionReader& r, std::string* url) {
  while (!url->empty() && url->back() == '/') url->pop_back();
  if (url->rfind("http://", 0) != 0 && url->rfind("https://", 0) != 0) {
    return InvalidArgument(r.PathOf("base_url") + ": must start with http:// or https://");
  }
  return Status::Ok();
}

}  // namespace stagesync::connectors
