#include "vendor/api_endpoint.h"

#include <fmt/format.h>

#include <cstdlib>

namespace stagesync::vendor {

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

Result<json::Value> ParseBody(const HttpResponse& resp) {
  auto v = json::Parse(resp.body);
  if (v.ok()) return v;
  std::string_view b = resp.body;
  bool html = b.find("<html") != b.npos || b.find("<HTML") != b.npos ||
              b.find("<!DOCTYPE") != b.npos || b.find("<!doctype") != b.npos;
  return DataLoss(fmt::format("HTTP {}: {}", resp.status,
                              html ? "an HTML page instead of JSON" : v.status().message()));
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
                                      const std::string& what, bool idempotent) {
  int reauths = 0;
  Status last;
  for (int attempt = 0; attempt < opts_.retry.max_attempts;) {
    if (attempt > 0 && last.code() != StatusCode::kUnauthenticated) {
      clock_->SleepForMicros(BackoffMillis(opts_.retry, attempt, last, Rand()) * 1000);
    }
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
    limiter_.Acquire();
    ++counters_.requests;
    auto resp = http_->Send(req);
    Result<json::Value> res = resp.ok() ? classify(*resp) : Result<json::Value>(resp.status());
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
      continue;  // a refresh does not use up a retry attempt
    }
    const bool transient = code == StatusCode::kUnavailable ||
                           code == StatusCode::kDeadlineExceeded || code == StatusCode::kDataLoss;
    if (!idempotent && transient) {
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
    ++counters_.retried;
    ++attempt;
  }
  ++counters_.failed;
  return last.WithContext(
      fmt::format("{} (gave up after {} attempts)", what, opts_.retry.max_attempts));
}

}  // namespace stagesync::vendor
