// Metrics: the agent's Prometheus metrics (issue 12 item 1), served as GET /metrics on the
// agent's own control listener (same bearer-token auth). Counters and histograms are fed by the
// engine through the Telemetry hooks; state-like gauges (staged and pending records, ages,
// quarantine, open intents, quota left, process RSS/CPU/fds) are read at scrape time from
// staging, the Runtime's connections and /proc/self, so they are never stale. Built on
// prometheus-cpp's core Registry and TextSerializer (only metrics.cc includes it).
// Thread-safety: every hook and Scrape may be called from any thread, concurrently.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "stagesync/runtime.h"
#include "stagesync/telemetry.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace stagesync::stage {
class StagingLog;
}  // namespace stagesync::stage

namespace stagesync::agent {
class AgentControl;
}  // namespace stagesync::agent

namespace stagesync::obs {

// The exposition format's content type (Prometheus text format 0.0.4).
inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

class Metrics final : public Telemetry {
 public:
  Metrics();
  ~Metrics() override;
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Where scrape-time gauges come from: the Runtime (clock, connections and their daily
  // quotas) and the staging log. Either may be null (those gauges are then left out). Both
  // must outlive every Scrape. REQUIRES: called before the first Scrape (not thread-safe with it).
  void AttachState(Runtime* rt, stage::StagingLog* log);
  // The agent whose pipelines JSON (AgentControl::PipelinesJson) gives each pipeline's state
  // (idle, running, failing, paused, waiting) and consecutive failures; null: left out. Same
  // REQUIRES as AttachState.
  void AttachAgent(agent::AgentControl* agent) { agent_ = agent; }

  // Telemetry.
  void VendorRequest(std::string_view connection, std::string_view endpoint,
                     std::string_view outcome, double seconds) override;
  void RateLimitWait(std::string_view connection, double seconds) override;
  void TokenRenewal(std::string_view connection) override;
  void RecordsFetched(std::string_view pipeline, std::string_view outcome, int64_t n) override;
  void Applied(std::string_view pipeline, std::string_view sink, int64_t records,
               int64_t rows) override;
  void QuarantineEvent(std::string_view pipeline, std::string_view stage, int64_t n) override;
  void RunFinished(std::string_view pipeline, double seconds, std::string_view outcome) override;
  void PipelineSuccess(std::string_view pipeline, int64_t unix_seconds) override;
  void SinkSuccess(std::string_view pipeline, std::string_view sink, int64_t unix_seconds) override;
  void RuleFailure(std::string_view pipeline, std::string_view rule, int64_t n) override;
  void AlertSent(std::string_view channel, bool ok) override;
  void Drift(std::string_view pipeline, std::string_view sink, int64_t missing) override;
  std::vector<ConnectionStats> Connections() override;

  // Every metric in the Prometheus text format. A staging read that fails leaves that
  // pipeline's state gauges out of this scrape (the counters are always there).
  std::string Scrape();

 private:
  struct Families;  // the prometheus-cpp registry and metric families (metrics.cc)
  // Requests per connection for Connections(): totals and a 60 s ring of per-second counts.
  struct ConnectionCounts {
    int64_t requests = 0;
    int64_t throttled = 0;
    int64_t errors = 0;
    std::array<int64_t, 60> per_second{};
    std::array<int64_t, 60> second_of{};
  };
  int64_t NowMillis() const;

  std::unique_ptr<Families> f_;
  Runtime* rt_ = nullptr;
  stage::StagingLog* log_ = nullptr;
  agent::AgentControl* agent_ = nullptr;
  std::mutex conn_mu_;
  std::map<std::string, ConnectionCounts, std::less<>> conns_;
};

// Adds GET /metrics (Scrape, kMetricsContentType) to `http`; the server's own pre-routing
// handler authenticates it like every other route. `m` must outlive the server's serving.
void ServeMetrics(httplib::Server& http, Metrics* m);

}  // namespace stagesync::obs
