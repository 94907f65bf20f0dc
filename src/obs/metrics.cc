// Metric names follow the Prometheus conventions: the stagesync_ prefix, base units (seconds,
// bytes), _total on counters, and labels that are config names or small fixed vocabularies.
// Counters live in one registry for the process's life; the state gauges are built in a fresh
// registry per scrape, so a pipeline or sink removed by a reload disappears from the next one.
#include "obs/metrics.h"

#include <dirent.h>
#include <httplib.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>

#include "agent/control.h"
#include "connectors/common/api_endpoint.h"
#include "connectors/common/client.h"
#include "connectors/connector.h"
#include "stagesync/json.h"
#include "stagesync/stage.h"

namespace stagesync::obs {

namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;
using prometheus::Labels;
using prometheus::Registry;

// A run takes from under a second (nothing new) to an hour (a first full load).
const Histogram::BucketBoundaries kRunBuckets = {0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600};
// Vendor calls: tens of milliseconds when healthy, seconds when the vendor struggles.
const Histogram::BucketBoundaries kRequestBuckets = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                     1,    2.5,   5,    10,  30};

std::string S(std::string_view v) { return std::string(v); }

Family<Counter>& CounterFamily(Registry& r, const char* name, const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r);
}
Family<Gauge>& GaugeFamily(Registry& r, const char* name, const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r);
}
Family<Histogram>& HistogramFamily(Registry& r, const char* name, const char* help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(r);
}

// Process metrics from /proc/self (prometheus-cpp has no process collector). Fields of
// /proc/self/stat after the command name: utime is the 14th, stime 15th, starttime 22nd field.
void AddProcessMetrics(Registry& r) {
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  std::ifstream stat_in("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_in)), std::istreambuf_iterator<char>());
  const size_t paren = stat.rfind(')');
  if (paren != std::string::npos && ticks > 0) {
    std::istringstream fields(stat.substr(paren + 2));
    std::vector<std::string> f{std::istream_iterator<std::string>(fields),
                               std::istream_iterator<std::string>()};
    // f[0] is field 3 (state): field k is f[k - 3].
    if (f.size() > 19) {
      const double cpu = (std::stod(f[11]) + std::stod(f[12])) / ticks;
      CounterFamily(r, "process_cpu_seconds_total", "User and system CPU time spent in seconds.")
          .Add({})
          .Increment(cpu);
      std::ifstream sys("/proc/stat");
      std::string key;
      double btime = 0;
      while (sys >> key) {
        if (key == "btime") {
          sys >> btime;
          break;
        }
      }
      if (btime > 0) {
        GaugeFamily(r, "process_start_time_seconds",
                    "Start time of the process since unix epoch in seconds.")
            .Add({})
            .Set(btime + std::stod(f[19]) / ticks);
      }
    }
  }
  std::ifstream statm("/proc/self/statm");
  double size_pages = 0, resident_pages = 0;
  if (statm >> size_pages >> resident_pages) {
    GaugeFamily(r, "process_resident_memory_bytes", "Resident memory size in bytes.")
        .Add({})
        .Set(resident_pages * page);
    GaugeFamily(r, "process_virtual_memory_bytes", "Virtual memory size in bytes.")
        .Add({})
        .Set(size_pages * page);
  }
  if (DIR* d = ::opendir("/proc/self/fd")) {
    int64_t n = 0;
    while (const dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
    ::closedir(d);
    GaugeFamily(r, "process_open_fds", "Number of open file descriptors.")
        .Add({})
        .Set(static_cast<double>(std::max<int64_t>(n - 1, 0)));  // less opendir's own
  }
}

// Each pipeline's state as one series per possible state (1 for the current one), so alert
// rules can say `stagesync_pipeline_state{state="failing"} == 1`; consecutive failures of the
// fetch and of each sink.
void AddAgentState(const std::string& pipelines_json, Registry& r) {
  auto v = json::Parse(pipelines_json);
  const json::Value* list = v.ok() ? v->Find("pipelines") : nullptr;
  if (list == nullptr) return;
  auto& state = GaugeFamily(r, "stagesync_pipeline_state",
                            "1 for the pipeline's current state (idle, running, failing, paused, "
                            "waiting), 0 for the others.");
  auto& paused = GaugeFamily(r, "stagesync_pipeline_paused", "1 while the pipeline is paused.");
  auto& fetch_failures = GaugeFamily(r, "stagesync_pipeline_consecutive_failures",
                                     "Failed fetches in a row (0 after a success).");
  auto& sink_failures = GaugeFamily(r, "stagesync_sink_consecutive_failures",
                                    "Failed applies of the sink in a row (0 after a success).");
  auto text = [](const json::Value* o, const char* key) {
    const json::Value* x = o != nullptr ? o->Find(key) : nullptr;
    return x != nullptr ? x->text() : std::string();
  };
  auto number = [](const json::Value* o, const char* key) {
    const json::Value* x = o != nullptr ? o->Find(key) : nullptr;
    int64_t n = 0;
    return x != nullptr && x->AsInt64(&n) ? static_cast<double>(n) : 0.0;
  };
  for (const json::Value& p : list->items()) {
    const std::string name = text(&p, "name");
    if (name.empty()) continue;
    const std::string current = text(&p, "state");
    for (const char* s : {"idle", "running", "failing", "paused", "waiting"}) {
      state.Add({{"pipeline", name}, {"state", s}}).Set(current == s ? 1 : 0);
    }
    const json::Value* is_paused = p.Find("paused");
    paused.Add({{"pipeline", name}})
        .Set(is_paused != nullptr && is_paused->is_bool() && is_paused->bool_value() ? 1 : 0);
    fetch_failures.Add({{"pipeline", name}}).Set(number(p.Find("backoff"), "failures"));
    if (const json::Value* sinks = p.Find("sinks")) {
      for (const json::Value& s : sinks->items()) {
        sink_failures.Add({{"pipeline", name}, {"sink", text(&s, "name")}})
            .Set(number(&s, "failures"));
      }
    }
  }
}

}  // namespace

struct Metrics::Families {
  Registry reg;
  Family<Counter>& fetched = CounterFamily(
      reg, "stagesync_records_fetched_total",
      "Records fetched from the source, by outcome (new, changed, unchanged, failed).");
  Family<Counter>& applied =
      CounterFamily(reg, "stagesync_applied_records_total", "Staged records applied to a sink.");
  Family<Counter>& rows =
      CounterFamily(reg, "stagesync_applied_rows_total", "Target rows written by a sink.");
  Family<Counter>& quarantine_events =
      CounterFamily(reg, "stagesync_quarantine_events_total",
                    "Records quarantined, by stage (fetch or the sink's name).");
  Family<Counter>& runs =
      CounterFamily(reg, "stagesync_runs_total",
                    "Pipeline runs ended, by outcome (ok, partial, failed, stopped).");
  Family<Histogram>& run_seconds = HistogramFamily(
      reg, "stagesync_run_duration_seconds", "Duration of pipeline runs (fetch and applies).");
  Family<Gauge>& last_success =
      GaugeFamily(reg, "stagesync_last_success_timestamp_seconds",
                  "Start of the last run whose fetch succeeded (unix seconds).");
  Family<Gauge>& sink_last_success =
      GaugeFamily(reg, "stagesync_sink_last_success_timestamp_seconds",
                  "End of the sink's last successful apply (unix seconds).");
  Family<Counter>& requests =
      CounterFamily(reg, "stagesync_vendor_requests_total",
                    "HTTP requests to vendors, by outcome (ok, throttled, error, timeout, "
                    "unknown).");
  Family<Histogram>& request_seconds = HistogramFamily(
      reg, "stagesync_vendor_request_duration_seconds", "Latency of HTTP requests to vendors.");
  Family<Counter>& limiter_wait =
      CounterFamily(reg, "stagesync_rate_limit_wait_seconds_total",
                    "Time requests waited for the connection's rate limiter.");
  Family<Counter>& renewals =
      CounterFamily(reg, "stagesync_token_renewals_total",
                    "Tokens or sessions renewed after the vendor refused the old one.");
  Family<Counter>& rule_failures = CounterFamily(reg, "stagesync_rule_failures_total",
                                                 "Records rejected by a sink's data-quality rule.");
  Family<Counter>& alerts = CounterFamily(reg, "stagesync_alerts_sent_total",
                                          "Alert deliveries by channel and outcome (ok, failed).");
  Family<Gauge>& drift =
      GaugeFamily(reg, "stagesync_drift_missing_references",
                  "Mapping references of a sink that stopped resolving (drift).");
};

Metrics::Metrics() : f_(std::make_unique<Families>()) {}
Metrics::~Metrics() = default;

void Metrics::AttachState(Runtime* rt, stage::StagingLog* log) {
  rt_ = rt;
  log_ = log;
}

int64_t Metrics::NowMillis() const {
  return (rt_ != nullptr ? rt_->clock() : Clock::Real())->NowMillis();
}

void Metrics::VendorRequest(std::string_view connection, std::string_view endpoint,
                            std::string_view outcome, double seconds) {
  f_->requests
      .Add({{"connection", S(connection)}, {"endpoint", S(endpoint)}, {"outcome", S(outcome)}})
      .Increment();
  f_->request_seconds
      .Add({{"connection", S(connection)}, {"endpoint", S(endpoint)}}, kRequestBuckets)
      .Observe(seconds);
  const int64_t sec = NowMillis() / 1000;
  std::lock_guard<std::mutex> lock(conn_mu_);
  auto it = conns_.find(connection);
  if (it == conns_.end()) it = conns_.emplace(S(connection), ConnectionCounts{}).first;
  ConnectionCounts& c = it->second;
  ++c.requests;
  c.throttled += outcome == "throttled";
  c.errors += outcome == "error" || outcome == "timeout" || outcome == "unknown";
  const size_t slot = static_cast<size_t>(sec % 60);
  if (c.second_of[slot] != sec) {
    c.second_of[slot] = sec;
    c.per_second[slot] = 0;
  }
  ++c.per_second[slot];
}

void Metrics::RateLimitWait(std::string_view connection, double seconds) {
  f_->limiter_wait.Add({{"connection", S(connection)}}).Increment(std::max(seconds, 0.0));
}

void Metrics::TokenRenewal(std::string_view connection) {
  f_->renewals.Add({{"connection", S(connection)}}).Increment();
}

void Metrics::RecordsFetched(std::string_view pipeline, std::string_view outcome, int64_t n) {
  f_->fetched.Add({{"pipeline", S(pipeline)}, {"outcome", S(outcome)}})
      .Increment(static_cast<double>(std::max<int64_t>(n, 0)));
}

void Metrics::Applied(std::string_view pipeline, std::string_view sink, int64_t records,
                      int64_t rows) {
  const Labels l{{"pipeline", S(pipeline)}, {"sink", S(sink)}};
  f_->applied.Add(l).Increment(static_cast<double>(std::max<int64_t>(records, 0)));
  f_->rows.Add(l).Increment(static_cast<double>(std::max<int64_t>(rows, 0)));
}

void Metrics::QuarantineEvent(std::string_view pipeline, std::string_view stage, int64_t n) {
  f_->quarantine_events.Add({{"pipeline", S(pipeline)}, {"stage", S(stage)}})
      .Increment(static_cast<double>(std::max<int64_t>(n, 0)));
}

void Metrics::RunFinished(std::string_view pipeline, double seconds, std::string_view outcome) {
  f_->runs.Add({{"pipeline", S(pipeline)}, {"outcome", S(outcome)}}).Increment();
  f_->run_seconds.Add({{"pipeline", S(pipeline)}}, kRunBuckets).Observe(seconds);
}

void Metrics::PipelineSuccess(std::string_view pipeline, int64_t unix_seconds) {
  f_->last_success.Add({{"pipeline", S(pipeline)}}).Set(static_cast<double>(unix_seconds));
}

void Metrics::SinkSuccess(std::string_view pipeline, std::string_view sink, int64_t unix_seconds) {
  f_->sink_last_success.Add({{"pipeline", S(pipeline)}, {"sink", S(sink)}})
      .Set(static_cast<double>(unix_seconds));
}

void Metrics::RuleFailure(std::string_view pipeline, std::string_view rule, int64_t n) {
  f_->rule_failures.Add({{"pipeline", S(pipeline)}, {"rule", S(rule)}})
      .Increment(static_cast<double>(std::max<int64_t>(n, 0)));
}

void Metrics::AlertSent(std::string_view channel, bool ok) {
  f_->alerts.Add({{"channel", S(channel)}, {"outcome", ok ? "ok" : "failed"}}).Increment();
}

void Metrics::Drift(std::string_view pipeline, std::string_view sink, int64_t missing) {
  f_->drift.Add({{"pipeline", S(pipeline)}, {"sink", S(sink)}}).Set(static_cast<double>(missing));
}

std::vector<ConnectionStats> Metrics::Connections() {
  std::map<std::string, ConnectionStats> out;
  if (rt_ != nullptr) {
    // Every vendor connection built so far, also those that sent nothing yet.
    for (const auto& [name, client] : rt_->connections().All()) {
      connectors::ApiEndpoint* ep = client != nullptr ? client->endpoint() : nullptr;
      if (ep == nullptr) continue;
      ConnectionStats& c = out[name];
      c.name = name;
      if (ep->quota() != nullptr) c.quota_remaining = ep->quota()->remaining();
    }
  }
  const int64_t sec = NowMillis() / 1000;
  std::lock_guard<std::mutex> lock(conn_mu_);
  for (const auto& [name, counts] : conns_) {
    ConnectionStats& c = out[name];
    c.name = name;
    c.requests = counts.requests;
    c.throttled = counts.throttled;
    c.errors = counts.errors;
    int64_t last_minute = 0;
    for (size_t i = 0; i < 60; ++i) {
      if (sec - counts.second_of[i] < 60) last_minute += counts.per_second[i];
    }
    c.requests_per_min = static_cast<double>(last_minute);
  }
  std::vector<ConnectionStats> list;
  for (auto& [name, c] : out) list.push_back(std::move(c));
  return list;
}

std::string Metrics::Scrape() {
  Registry state;
  GaugeFamily(state, "stagesync_up", "1 while the agent serves metrics.").Add({}).Set(1);
  const int64_t now_ms = NowMillis();
  if (log_ != nullptr) {
    auto& staged = GaugeFamily(state, "stagesync_staged_records",
                               "Records in staging (tombstones of deleted records included).");
    auto& pending = GaugeFamily(state, "stagesync_pending_changes",
                                "Staged changes the sink has not applied yet.");
    auto& pending_age =
        GaugeFamily(state, "stagesync_oldest_pending_age_seconds",
                    "Age of the oldest change the sink has not applied (0 when none).");
    auto& watermark_age =
        GaugeFamily(state, "stagesync_watermark_age_seconds",
                    "How far the pipeline's fetch watermark lags behind now (freshness).");
    auto& quarantined = GaugeFamily(state, "stagesync_quarantined_records",
                                    "Records in quarantine now, by stage (fetch or the sink).");
    auto& intents = GaugeFamily(state, "stagesync_open_intents",
                                "Creates at an HTTP target whose outcome is not known yet.");
    auto& intent_age = GaugeFamily(state, "stagesync_oldest_open_intent_age_seconds",
                                   "Age of the sink's oldest open intent (0 when none).");
    auto age_s = [now_ms](int64_t at_ms) {
      return static_cast<double>(std::max<int64_t>(now_ms - at_ms, 0)) / 1000.0;
    };
    auto pipelines = log_->Pipelines();
    for (const std::string& p : pipelines.ok() ? *pipelines : std::vector<std::string>{}) {
      auto sum = log_->Summary(p);
      if (!sum.ok()) continue;
      staged.Add({{"pipeline", p}}).Set(static_cast<double>(sum->records));
      if (sum->watermark_ms) {
        watermark_age.Add({{"pipeline", p}}).Set(age_s(*sum->watermark_ms));
      }
      std::map<std::string, int64_t> by_stage{{"fetch", 0}};
      for (const auto& s : sum->sinks) by_stage[s.name] = 0;
      if (auto q = log_->Quarantined(p); q.ok()) {
        for (const auto& e : *q) ++by_stage[e.stage];
      }
      for (const auto& [stage, n] : by_stage) {
        quarantined.Add({{"pipeline", p}, {"stage", stage}}).Set(static_cast<double>(n));
      }
      for (const auto& s : sum->sinks) {
        const Labels l{{"pipeline", p}, {"sink", s.name}};
        pending.Add(l).Set(static_cast<double>(s.pending));
        // The first change past the cursor is the oldest unapplied one; its record's fetch
        // time (of a newer version when it was superseded) is when it became pending.
        double oldest = 0;
        if (s.pending > 0) {
          auto first = log_->ReadChanges(p, s.cursor, 1);
          if (first.ok() && !first->empty()) {
            auto rec = log_->Get(p, (*first)[0].source_id);
            if (rec.ok() && rec->has_value()) oldest = age_s((*rec)->fetched_at_ms);
          }
        }
        pending_age.Add(l).Set(oldest);
        intents.Add(l).Set(static_cast<double>(s.open_intents));
        double intent_oldest = 0;
        if (s.open_intents > 0) {
          if (auto open = log_->Intents(p, s.name); open.ok()) {
            for (const auto& [id, value] : *open) {
              auto v = json::Parse(value);
              const json::Value* at = v.ok() ? v->Find("at_ms") : nullptr;
              int64_t at_ms = 0;
              if (at != nullptr && at->AsInt64(&at_ms)) {
                intent_oldest = std::max(intent_oldest, age_s(at_ms));
              }
            }
          }
        }
        intent_age.Add(l).Set(intent_oldest);
      }
    }
  }
  auto& quota = GaugeFamily(state, "stagesync_quota_remaining",
                            "Requests left in the connection's daily_quota today.");
  for (const ConnectionStats& c : Connections()) {
    if (c.quota_remaining) {
      quota.Add({{"connection", c.name}}).Set(static_cast<double>(*c.quota_remaining));
    }
  }
  if (agent_ != nullptr) AddAgentState(agent_->PipelinesJson(), state);
  AddProcessMetrics(state);

  std::vector<prometheus::MetricFamily> families = f_->reg.Collect();
  std::vector<prometheus::MetricFamily> more = state.Collect();
  families.insert(families.end(), std::make_move_iterator(more.begin()),
                  std::make_move_iterator(more.end()));
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

void ServeMetrics(httplib::Server& http, Metrics* m) {
  http.Get("/metrics", [m](const httplib::Request&, httplib::Response& res) {
    res.set_content(m->Scrape(), kMetricsContentType);
  });
}

}  // namespace stagesync::obs
