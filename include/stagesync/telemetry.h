// Telemetry: the events the engine reports for metrics (vendor requests, fetched and applied
// records, quarantine, runs, alerts, drift). The engine calls these hooks on its hot paths, so
// an implementation must be thread-safe and cheap (no I/O, no blocking); the default does
// nothing. The agent installs src/obs/metrics.h through Runtime::set_telemetry. Labels passed
// here are names from the config (pipeline, sink, connection, rule) or small fixed vocabularies
// (outcome, stage, endpoint path), never a record id or a secret.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace stagesync {

// One connection's request counts, as the agent's pipelines JSON shows them ("connections").
struct ConnectionStats {
  std::string name;
  int64_t requests = 0;         // HTTP requests sent since the agent started
  int64_t throttled = 0;        // answered with the vendor's throttling (429, flood guard)
  int64_t errors = 0;           // failed, timed out or outcome unknown
  double requests_per_min = 0;  // requests sent in the last 60 s
  std::optional<int64_t> quota_remaining;  // today's daily_quota left; nullopt without one
};

class Telemetry {
 public:
  virtual ~Telemetry() = default;

  // One HTTP request to a vendor: `endpoint` is the URL path (no host, no query), `outcome`
  // one of ok | throttled | error | timeout | unknown (a create whose result is not known).
  virtual void VendorRequest(std::string_view /*connection*/, std::string_view /*endpoint*/,
                             std::string_view /*outcome*/, double /*seconds*/) {}
  // Time a request waited for the connection's rate limiter.
  virtual void RateLimitWait(std::string_view /*connection*/, double /*seconds*/) {}
  // A client got a new token or session: a login or a refresh (on expiry or refusal), the
  // first one included.
  virtual void TokenRenewal(std::string_view /*connection*/) {}
  // Records a fetch staged, by outcome: new | changed | unchanged | failed.
  virtual void RecordsFetched(std::string_view /*pipeline*/, std::string_view /*outcome*/,
                              int64_t /*n*/) {}
  // Records applied to a sink and the target rows they became.
  virtual void Applied(std::string_view /*pipeline*/, std::string_view /*sink*/,
                       int64_t /*records*/, int64_t /*rows*/) {}
  // Records quarantined at `stage` ("fetch" or the sink's name).
  virtual void QuarantineEvent(std::string_view /*pipeline*/, std::string_view /*stage*/,
                               int64_t /*n*/) {}
  // A run of the agent ended: outcome ok | partial | failed | stopped.
  virtual void RunFinished(std::string_view /*pipeline*/, double /*seconds*/,
                           std::string_view /*outcome*/) {}
  // The pipeline's fetch succeeded (unix seconds of the run's start).
  virtual void PipelineSuccess(std::string_view /*pipeline*/, int64_t /*unix_seconds*/) {}
  // A sink's apply succeeded (unix seconds of its end).
  virtual void SinkSuccess(std::string_view /*pipeline*/, std::string_view /*sink*/,
                           int64_t /*unix_seconds*/) {}
  // Records a sink's rule (config `rules`) rejected.
  virtual void RuleFailure(std::string_view /*pipeline*/, std::string_view /*rule*/,
                           int64_t /*n*/) {}
  // An alert was delivered (ok) or given up on, per channel (dingtalk, webhook).
  virtual void AlertSent(std::string_view /*channel*/, bool /*ok*/) {}
  // Mapping references of a sink that stopped resolving (the drift detector's current count).
  virtual void Drift(std::string_view /*pipeline*/, std::string_view /*sink*/,
                     int64_t /*missing*/) {}

  // Per-connection request counts for the agent's API; empty when not counted.
  virtual std::vector<ConnectionStats> Connections() { return {}; }

  // The do-nothing instance (Runtime's default): never null, lives forever.
  static Telemetry* Null();
};

// Counts nothing: for one-shot commands and tests that do not look at metrics.
class NullTelemetry final : public Telemetry {};

inline Telemetry* Telemetry::Null() {
  static NullTelemetry instance;
  return &instance;
}

}  // namespace stagesync
