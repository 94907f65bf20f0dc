#include "agent/agent.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <limits>
#include <set>

#include "connectors/common/api_endpoint.h"
#include "connectors/common/client.h"
#include "connectors/connector.h"
#include "obs/redact.h"
#include "stagesync/apply.h"
#include "stagesync/fetch.h"
#include "stagesync/json.h"
#include "stagesync/transform.h"

namespace stagesync::agent {

namespace {

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
constexpr obs::LogLevel kWarning = obs::LogLevel::kWarning;
constexpr obs::LogLevel kError = obs::LogLevel::kError;

std::string IsoTime(int64_t ms) {
  if (ms <= 0 || ms == kNever) return "-";
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string ErrorJson(const std::string& message) {
  return "{\"error\":" + json::Quote(message) + "}";
}

}  // namespace

Agent::Agent(std::shared_ptr<const config::Config> cfg, std::unique_ptr<stage::StagingLog> log,
             Runtime* rt, AgentOptions opts)
    : cfg_(std::move(cfg)),
      log_(std::move(log)),
      rt_(rt),
      opts_(std::move(opts)),
      clock_(opts_.clock != nullptr ? opts_.clock : Clock::Real()) {
  if (!opts_.log) {
    opts_.log = [](const std::string& line) {
      std::fprintf(stderr, "stagesync: %s\n", line.c_str());
    };
  }
  started_ms_ = Now();
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& p : cfg_->pipelines) {
    auto st = std::make_shared<PipelineState>();
    Status s = InitPipeline(cfg_, p, st.get());
    if (!s.ok()) Log("pipeline " + p.name + ": " + s.message(), obs::For(p.name), kError);
    pipelines_[p.name] = std::move(st);
  }
}

Agent::~Agent() {
  Stop();
  std::unique_lock<std::mutex> lock(mu_);
  stop_tasks_ = true;
  ReapThreadsLocked(true);
}

void Agent::Log(const std::string& line, const obs::LogFields& fields, obs::LogLevel level) {
  if (opts_.log_event) {
    opts_.log_event(level, line, fields);
  } else {
    opts_.log(obs::Redact(line));
  }
}

int64_t Agent::Now() { return clock_->NowMillis(); }

int64_t Agent::BackoffMs(int failures) const {
  const int64_t base = cfg_->agent.backoff_base_s * 1000;
  const int64_t cap = cfg_->agent.backoff_max_s * 1000;
  int64_t wait = base;
  for (int i = 1; i < failures && wait < cap; ++i) wait *= 2;
  return std::min(wait, cap);
}

Status Agent::InitPipeline(const std::shared_ptr<const config::Config>& cfg,
                           const config::PipelineConfig& p, PipelineState* st) {
  st->name = p.name;
  st->cfg = cfg;
  st->p = &p;
  st->sched.reset();
  for (const auto& s : p.sinks) st->sinks[s.name];  // keeps the state of sinks that stay
  for (auto it = st->sinks.begin(); it != st->sinks.end();) {
    bool kept = std::any_of(p.sinks.begin(), p.sinks.end(),
                            [&](const config::SinkConfig& s) { return s.name == it->first; });
    it = kept || it->second.running ? std::next(it) : st->sinks.erase(it);
  }
  if (!st->last_success_ms && st->runs_started == 0) {
    // The run history says when the pipeline last ran: a restart catches up once.
    auto runs = log_->Runs(p.name, 1000);
    if (runs.ok()) {
      for (const stage::RunRecord& r : *runs) {
        st->last_run_id = std::max(st->last_run_id, r.id);
        if (st->last_start_ms == 0) {
          st->last_start_ms = r.started_ms;
          st->last_end_ms = r.ended_ms;
          st->last_outcome = r.outcome;
        }
        if (r.outcome == "ok" || r.outcome == "partial") {
          st->last_success_ms = r.started_ms;
          break;
        }
      }
    }
    // Metrics know the last success from before this process too (a stale-pipeline alert
    // must fire for a pipeline failing since the restart).
    if (st->last_success_ms) {
      rt_->telemetry()->PipelineSuccess(p.name, *st->last_success_ms / 1000);
    }
  }
  const int64_t now = Now();
  if (p.schedule.empty()) {
    st->due_ms = kNever;  // on demand only
    return Status::Ok();
  }
  SS_ASSIGN_OR_RETURN(int tz, transform::TimeZoneOffsetMinutes(p.time_zone));
  SS_ASSIGN_OR_RETURN(schedule::Schedule plain, schedule::Schedule::Parse(p.schedule, tz));
  const int64_t jitter = schedule::JitterMs(p.name, p.schedule_jitter_s, plain.PeriodMs());
  SS_ASSIGN_OR_RETURN(schedule::Schedule sched, schedule::Schedule::Parse(p.schedule, tz, jitter));
  st->sched = sched;
  st->due_ms = sched.Due(st->last_success_ms, now) ? now : sched.Next(now);
  if (st->backoff_until_ms > now) st->due_ms = st->backoff_until_ms;
  return Status::Ok();
}

int Agent::ActivePipelinesLocked() const {
  int n = 0;
  for (const auto& [name, st] : pipelines_) n += st->tasks > 0;
  return n;
}

std::optional<int64_t> Agent::QuotaSpentUntil(const config::Config& cfg, const std::string& conn) {
  const config::ConnectionConfig* c = cfg.FindConnection(conn);
  if (c == nullptr) return std::nullopt;
  auto client = rt_->connections().Get(*c);
  if (!client.ok() || (*client)->endpoint() == nullptr) return std::nullopt;
  const connectors::DailyQuota* q = (*client)->endpoint()->quota();
  if (q == nullptr) return std::nullopt;
  return q->SpentUntilMs();
}

bool Agent::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    loop_at_us_ = Clock::Real()->MonotonicMicros();
    const int64_t now = Now();
    std::vector<std::shared_ptr<PipelineState>> due;
    for (auto& [name, st] : pipelines_) {
      if (!st->removed && !st->paused && !st->fetching && st->due_ms <= now) due.push_back(st);
    }
    std::sort(due.begin(), due.end(),
              [](const auto& a, const auto& b) { return a->due_ms < b->due_ms; });
    for (const auto& st : due) {
      if (auto until = QuotaSpentUntil(*st->cfg, st->p->source.connection)) {
        std::string why = fmt::format("daily_quota of connection {} spent; waiting until {}",
                                      st->p->source.connection, IsoTime(*until));
        if (st->waiting != why) Log("pipeline " + st->name + ": " + why, obs::For(st->name));
        st->waiting = why;
        st->due_ms = std::max(*until, now + 1000);
        continue;
      }
      if (st->tasks == 0 && ActivePipelinesLocked() >= cfg_->agent.max_parallel_pipelines) {
        st->waiting = fmt::format("waiting for a free slot (max_parallel_pipelines {})",
                                  cfg_->agent.max_parallel_pipelines);
        continue;  // stays due: starts when a slot frees, oldest due first
      }
      st->waiting.clear();
      const char* trigger = st->runs_started > 0     ? "schedule"
                            : st->last_success_ms    ? "catch-up"
                            : st->last_start_ms == 0 ? "first run"
                                                     : "schedule";
      StartRunLocked(st, trigger);
    }
    // A sink backing off is retried on its own when its wait is over, without a fetch.
    for (auto& [name, st] : pipelines_) {
      if (st->removed || st->paused || st->fetching) continue;
      for (auto& [sname, ss] : st->sinks) {
        if (ss.failures > 0 && !ss.running && ss.backoff_until_ms <= now) {
          ss.backoff_until_ms = kNever;  // until the retry below settles it
          st->tasks++;
          st->runs_started++;
          auto done = std::make_shared<std::atomic<bool>>(false);
          workers_.push_back({std::thread([this, st = st, cfg = st->cfg, p = st->p, sink = sname,
                                           done, start = now, id = ++st->last_run_id] {
                                RunPipeline(st, cfg, p, "retry sink " + sink, start, id);
                                done->store(true);
                                cv_.notify_all();
                              }),
                              done});
        }
      }
    }
    ReapThreadsLocked(false);
    for (auto it = pipelines_.begin(); it != pipelines_.end();) {
      it = it->second->removed && it->second->tasks == 0 ? pipelines_.erase(it) : std::next(it);
    }
    cv_.wait_for(lock, std::chrono::milliseconds(opts_.poll_ms));
  }
  // Graceful stop: nothing new starts; fetches end after their committed page, applies after
  // their committed batch, vendor calls are not retried.
  stop_tasks_ = true;
  rt_->RequestStop();
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(cfg_->agent.shutdown_grace_s);
  auto busy = [&] {
    for (const auto& w : workers_) {
      if (!w.done->load()) return true;
    }
    return false;
  };
  while (busy() && std::chrono::steady_clock::now() < deadline) {
    cv_.wait_for(lock, std::chrono::milliseconds(50));
  }
  if (busy()) return false;
  ReapThreadsLocked(true);
  return true;
}

void Agent::Stop() {
  stopping_ = true;
  cv_.notify_all();
}

void Agent::ReapThreadsLocked(bool all) {
  std::vector<std::thread> finished;
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (all || it->done->load()) {
      finished.push_back(std::move(it->thread));
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
  if (finished.empty()) return;
  // Joining needs the lock released: a worker takes it to record its end.
  mu_.unlock();
  for (std::thread& t : finished) {
    if (t.joinable()) t.join();
  }
  mu_.lock();
}

void Agent::StartRunLocked(const std::shared_ptr<PipelineState>& st, const std::string& trigger) {
  const int64_t start = Now();
  st->fetching = true;
  st->tasks++;
  st->runs_started++;
  st->last_start_ms = start;
  auto done = std::make_shared<std::atomic<bool>>(false);
  // The run's id is reserved now so every line of the run carries it (AppendRun keeps it).
  const int64_t id = ++st->last_run_id;
  workers_.push_back({std::thread([this, st, cfg = st->cfg, p = st->p, trigger, start, done, id] {
                        RunPipeline(st, cfg, p, trigger, start, id);
                        done->store(true);
                        cv_.notify_all();
                      }),
                      done});
}

std::string Agent::SinkTask(const std::shared_ptr<PipelineState>& st,
                            const std::shared_ptr<const config::Config>& cfg,
                            const config::PipelineConfig* p, const config::SinkConfig& s,
                            int64_t run_id, bool* ok) {
  const obs::LogFields fields = obs::For(p->name, s.name, run_id);
  apply::ApplyOptions ao;
  ao.stop = &stop_tasks_;
  ao.on_notice = [this, p, &s, &fields](const std::string& m) {
    Log("pipeline " + p->name + ", sink " + s.name + ": " + m, fields, obs::LogLevel::kNotice);
  };
  ao.on_applied = obs::DriftFeed(&drift_, *p, s, [this] { return Now(); });
  auto r = apply::RunApply(*cfg, *p, s, log_.get(), *rt_, ao);
  {
    int64_t missing = 0;  // the drift gauge follows the tracker after every apply
    for (const auto& d : drift_.Active(p->name)) missing += d.sink == s.name ? 1 : 0;
    rt_->telemetry()->Drift(p->name, s.name, missing);
  }
  std::lock_guard<std::mutex> lock(mu_);
  SinkState& ss = st->sinks[s.name];
  ss.running = false;
  st->tasks--;
  cv_.notify_all();
  if (r.ok() || r.status().code() == StatusCode::kCancelled) {
    *ok = true;
    ss.failures = 0;
    ss.backoff_until_ms = 0;
    ss.last_error.clear();
    if (!r.ok()) return "{\"stopped\":true}";
    ss.last_summary = apply::SummaryJson(*r);
    rt_->telemetry()->SinkSuccess(p->name, s.name, Now() / 1000);
    if (r->quarantined > 0) {
      Log(fmt::format("pipeline {}, sink {}: {} record(s) quarantined", p->name, s.name,
                      r->quarantined),
          fields, kWarning);
    }
    return ss.last_summary;
  }
  *ok = false;
  ss.failures++;
  int64_t wait = BackoffMs(ss.failures);
  if (connectors::IsDailyQuotaSpent(r.status())) {
    // A spent quota comes back at midnight, not after a backoff.
    if (auto until = QuotaSpentUntil(*cfg, s.connection)) wait = std::max(wait, *until - Now());
  }
  ss.backoff_until_ms = Now() + wait;
  ss.last_error = r.status().message();
  Log(fmt::format("pipeline {}, sink {}: apply failed ({} in a row), retrying in {} s: {}", p->name,
                  s.name, ss.failures, wait / 1000, ss.last_error),
      fields, kError);
  return ErrorJson(ss.last_error);
}

void Agent::RunPipeline(std::shared_ptr<PipelineState> st,
                        std::shared_ptr<const config::Config> cfg, const config::PipelineConfig* p,
                        std::string trigger, int64_t run_start, int64_t run_id) {
  const obs::LogFields fields = obs::For(p->name, "", run_id);
  const std::string kRetrySink = "retry sink ";
  const bool sink_only = trigger.rfind(kRetrySink, 0) == 0;
  bool fetch_ok = true;
  bool stopped = false;
  std::string fetch_json = "null";
  if (!sink_only) {
    Log(fmt::format("pipeline {}: run started ({})", p->name, trigger), fields);
    fetch::FetchOptions fo;
    fo.stop = &stop_tasks_;
    fo.on_failure = [this, p, &fields](const stage::FetchFailure& f) {
      obs::LogFields with_id = fields;
      with_id.extra.emplace_back("source_id", f.source_id);
      Log("pipeline " + p->name + ": quarantined: " + f.error, with_id, kWarning);
    };
    const int64_t fetch_start = Now();
    auto fr = fetch::RunFetch(*cfg, *p, log_.get(), *rt_, fo);
    std::string err;
    if (fr.ok()) {
      stopped = fr->stopped;
      fetch_json = "\"result\":" + fetch::SummaryJson(*fr);
    } else {
      stopped = fr.status().code() == StatusCode::kCancelled;
      fetch_ok = stopped;
      err = fr.status().message();
      fetch_json = "\"error\":" + json::Quote(err);
    }
    fetch_json =
        fmt::format("{{\"started_ms\":{},\"ended_ms\":{},{}}}", fetch_start, Now(), fetch_json);
    std::lock_guard<std::mutex> lock(mu_);
    st->fetching = false;
    st->last_fetch = fetch_json;
    const int64_t now = Now();
    if (fetch_ok && !stopped) {
      st->failures = 0;
      st->backoff_until_ms = 0;
      st->last_error.clear();
      st->last_success_ms = run_start;
      rt_->telemetry()->PipelineSuccess(p->name, run_start / 1000);
      // A run that outlasted its interval is followed at once by one more, never overlapped.
      st->due_ms = st->sched ? st->sched->Next(run_start) : kNever;
    } else if (!stopped) {
      st->failures++;
      st->last_error = err;
      int64_t until = now + BackoffMs(st->failures);
      if (auto q = QuotaSpentUntil(*cfg, p->source.connection)) {
        until = std::max(until, *q);
        st->waiting = fmt::format("daily_quota of connection {} spent; waiting until {}",
                                  p->source.connection, IsoTime(*q));
      }
      st->backoff_until_ms = until;
      st->due_ms = st->sched ? until : kNever;
      Log(fmt::format("pipeline {}: fetch failed ({} in a row), next try {}: {}", p->name,
                      st->failures, IsoTime(until), err),
          fields, kError);
    }
    cv_.notify_all();
  }

  // Every sink that is free and not backing off applies on its own thread (staged changes are
  // applied even when the fetch failed: the pages it committed are there).
  std::vector<const config::SinkConfig*> started;
  std::map<std::string, std::string> sink_json;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t now = Now();
    for (const auto& s : p->sinks) {
      if (sink_only && trigger != kRetrySink + s.name) continue;
      SinkState& ss = st->sinks[s.name];
      if (stop_tasks_) {
        sink_json[s.name] = "{\"skipped\":\"stopping\"}";
      } else if (ss.running) {
        sink_json[s.name] = "{\"skipped\":\"still applying\"}";
      } else if (!sink_only && ss.backoff_until_ms > now) {
        sink_json[s.name] =
            "{\"skipped\":" + json::Quote("backing off until " + IsoTime(ss.backoff_until_ms)) +
            "}";
      } else {
        ss.running = true;
        st->tasks++;
        started.push_back(&s);
      }
    }
  }
  std::vector<std::thread> threads;
  std::vector<std::string> results(started.size());
  std::vector<char> oks(started.size(), 0);
  for (size_t i = 0; i < started.size(); ++i) {
    threads.emplace_back([&, i] {
      bool ok = false;
      results[i] = SinkTask(st, cfg, p, *started[i], run_id, &ok);
      oks[i] = ok;
    });
  }
  bool sinks_ok = true;
  for (size_t i = 0; i < threads.size(); ++i) {
    threads[i].join();
    sink_json[started[i]->name] = results[i];
    sinks_ok = sinks_ok && oks[i];
  }
  stopped = stopped || stop_tasks_;

  stage::RunRecord run;
  run.id = run_id;
  run.started_ms = run_start;
  run.ended_ms = Now();
  run.outcome = stopped ? "stopped" : !fetch_ok ? "failed" : !sinks_ok ? "partial" : "ok";
  if (sink_only && !stopped) run.outcome = sinks_ok ? "ok" : "failed";
  std::string sinks_text;
  for (const auto& [name, j] : sink_json) {
    sinks_text += (sinks_text.empty() ? "" : ",") + json::Quote(name) + ":" + j;
  }
  run.detail_json = "{\"trigger\":" + json::Quote(trigger) + ",\"fetch\":" + fetch_json +
                    ",\"sinks\":{" + sinks_text + "}}";
  if (!(sink_only && stopped)) {
    Status s = log_->AppendRun(p->name, &run);
    if (!s.ok()) {
      Log("pipeline " + p->name + ": run history not written: " + s.message(), fields, kError);
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  st->tasks--;
  if (!sink_only) {
    st->last_end_ms = run.ended_ms;
    st->last_outcome = run.outcome;
    obs::LogFields done = fields;
    done.run_id = run.id;
    done.extra.emplace_back("outcome", run.outcome);
    rt_->telemetry()->RunFinished(p->name, static_cast<double>(run.ended_ms - run_start) / 1000.0,
                                  run.outcome);
    Log(fmt::format("pipeline {}: run {} {} in {:.1f} s", p->name, run.id, run.outcome,
                    static_cast<double>(run.ended_ms - run_start) / 1000.0),
        done,
        run.outcome == "failed"    ? kError
        : run.outcome == "partial" ? kWarning
                                   : obs::LogLevel::kInfo);
  }
  cv_.notify_all();
}

std::string Agent::StateName(const PipelineState& st) const {
  if (st.paused) return "paused";
  if (st.fetching) return "running";
  for (const auto& [n, ss] : st.sinks) {
    if (ss.running) return "running";
  }
  if (!st.waiting.empty() && st.waiting.rfind("daily_quota", 0) == 0) return "waiting";
  if (st.failures > 0) return "failing";
  for (const auto& [n, ss] : st.sinks) {
    if (ss.failures > 0) return "failing";
  }
  return "idle";
}

std::string Agent::PipelineJsonLocked(const PipelineState& st) {
  auto ms = [](int64_t v) {
    return v <= 0 || v == kNever ? std::string("null") : std::to_string(v);
  };
  auto str = [](const std::string& v) { return v.empty() ? std::string("null") : json::Quote(v); };
  std::string sinks;
  for (const auto& s : st.p->sinks) {
    const SinkState& ss = st.sinks.at(s.name);
    std::string state = ss.running ? "running" : ss.failures > 0 ? "failing" : "idle";
    sinks += fmt::format(
        "{}{{\"name\":{},\"state\":\"{}\",\"failures\":{},\"backoff_until_ms\":{},"
        "\"last_error\":{},\"last_apply\":{}}}",
        sinks.empty() ? "" : ",", json::Quote(s.name), state, ss.failures, ms(ss.backoff_until_ms),
        str(ss.last_error), ss.last_summary.empty() ? "null" : ss.last_summary);
  }
  std::string json = fmt::format(
      "{{\"name\":{},\"state\":\"{}\",\"schedule\":{},\"time_zone\":{},\"paused\":{},"
      "\"last_run\":{{\"started_ms\":{},\"finished_ms\":{},\"outcome\":{}}},"
      "\"last_success_ms\":{},\"next_run\":{},\"backoff\":{{\"failures\":{},\"until_ms\":{}}},"
      "\"last_error\":{},\"waiting\":{},\"last_fetch\":{},\"sinks\":[{}]}}",
      json::Quote(st.name), StateName(st), str(st.p->schedule), json::Quote(st.p->time_zone),
      st.paused ? "true" : "false", ms(st.last_start_ms), ms(st.last_end_ms), str(st.last_outcome),
      ms(st.last_success_ms.value_or(0)), st.paused || st.fetching ? "null" : ms(st.due_ms),
      st.failures, ms(st.backoff_until_ms), str(st.last_error), str(st.waiting),
      st.last_fetch.empty() ? "null" : st.last_fetch, sinks);
  json.pop_back();  // the closing brace
  return json + ",\"drift\":" + drift_.Json(st.name) + "}";
}

// Adds each sink's pending count (read from staging outside the agent's lock: it scans).
static std::string WithPending(std::string pipeline_json, stage::StagingLog* log,
                               const std::string& pipeline) {
  auto sum = log->Summary(pipeline);
  if (!sum.ok()) return pipeline_json;
  std::string pending;
  for (const auto& s : sum->sinks) {
    pending += (pending.empty() ? "" : ",") + json::Quote(s.name) + ":" + std::to_string(s.pending);
  }
  pipeline_json.pop_back();  // the closing brace
  return pipeline_json + fmt::format(",\"records\":{},\"quarantined\":{},\"pending\":{{{}}}}}",
                                     sum->records, sum->quarantined, pending);
}

std::string Agent::PipelinesJson() {
  std::vector<std::pair<std::string, std::string>> items;
  std::string agent;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, st] : pipelines_) {
      if (!st->removed) items.emplace_back(name, PipelineJsonLocked(*st));
    }
    agent = fmt::format(
        "{{\"now_ms\":{},\"started_ms\":{},\"config\":{},\"stopping\":{},\"reloads\":{},"
        "\"reload_error\":{},\"active_pipelines\":{},\"max_parallel_pipelines\":{}}}",
        Now(), started_ms_, json::Quote(cfg_->file), stopping_ ? "true" : "false", reloads_,
        reload_error_.empty() ? "null" : json::Quote(reload_error_), ActivePipelinesLocked(),
        cfg_->agent.max_parallel_pipelines);
  }
  std::string out = "{\"agent\":" + agent + ",\"pipelines\":[";
  for (size_t i = 0; i < items.size(); ++i) {
    out += (i ? "," : "") + WithPending(std::move(items[i].second), log_.get(), items[i].first);
  }
  // Each vendor connection's requests, from the telemetry (the status page shows them).
  std::string conns;
  for (const ConnectionStats& c : rt_->telemetry()->Connections()) {
    conns += fmt::format(
        "{}{{\"name\":{},\"requests\":{},\"throttled\":{},\"errors\":{},"
        "\"requests_per_min\":{},\"quota_remaining\":{}}}",
        conns.empty() ? "" : ",", json::Quote(c.name), c.requests, c.throttled, c.errors,
        c.requests_per_min, c.quota_remaining ? std::to_string(*c.quota_remaining) : "null");
  }
  return out + "],\"connections\":[" + conns + "]}";
}

Result<std::string> Agent::PipelineJson(const std::string& pipeline, int limit) {
  std::string one;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pipelines_.find(pipeline);
    if (it == pipelines_.end() || it->second->removed) {
      return NotFound("no pipeline named '" + pipeline + "'");
    }
    one = PipelineJsonLocked(*it->second);
  }
  one = WithPending(std::move(one), log_.get(), pipeline);
  SS_ASSIGN_OR_RETURN(auto runs, log_->Runs(pipeline, static_cast<size_t>(std::max(limit, 0))));
  std::string list;
  for (const auto& r : runs) {
    list += fmt::format(
        "{}{{\"id\":{},\"started_ms\":{},\"ended_ms\":{},\"outcome\":{},\"detail\":{}}}",
        list.empty() ? "" : ",", r.id, r.started_ms, r.ended_ms, json::Quote(r.outcome),
        r.detail_json.empty() ? "null" : r.detail_json);
  }
  one.pop_back();
  return one + ",\"runs\":[" + list + "]}";
}

Result<std::string> Agent::RunNow(const std::string& pipeline) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pipelines_.find(pipeline);
  if (it == pipelines_.end() || it->second->removed) {
    return NotFound("no pipeline named '" + pipeline + "'");
  }
  auto& st = it->second;
  if (stopping_) return FailedPrecondition("the agent is shutting down");
  if (st->paused)
    return FailedPrecondition("pipeline " + pipeline + " is paused (resume it first)");
  if (st->fetching) return std::string("{\"started\":false,\"reason\":\"already running\"}");
  StartRunLocked(st, "api");
  return fmt::format("{{\"started\":true,\"pipeline\":{}}}", json::Quote(pipeline));
}

Result<std::string> Agent::Pause(const std::string& pipeline) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pipelines_.find(pipeline);
  if (it == pipelines_.end() || it->second->removed) {
    return NotFound("no pipeline named '" + pipeline + "'");
  }
  if (!it->second->paused) Log("pipeline " + pipeline + ": paused", obs::For(pipeline));
  it->second->paused = true;
  return PipelineJsonLocked(*it->second);
}

Result<std::string> Agent::Resume(const std::string& pipeline) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pipelines_.find(pipeline);
  if (it == pipelines_.end() || it->second->removed) {
    return NotFound("no pipeline named '" + pipeline + "'");
  }
  if (it->second->paused) Log("pipeline " + pipeline + ": resumed", obs::For(pipeline));
  it->second->paused = false;
  cv_.notify_all();
  return PipelineJsonLocked(*it->second);
}

Result<std::string> Agent::Requeue(const std::string& pipeline, const std::string& sink,
                                   const std::string& key) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pipelines_.find(pipeline);
    if (it == pipelines_.end() || it->second->removed) {
      return NotFound("no pipeline named '" + pipeline + "'");
    }
    if (!sink.empty() && it->second->sinks.count(sink) == 0) {
      return NotFound("pipeline " + pipeline + " has no sink named '" + sink + "'");
    }
  }
  SS_ASSIGN_OR_RETURN(int64_t n, log_->Requeue(pipeline, sink, key));
  if (n > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pipelines_.find(pipeline);
    if (it != pipelines_.end() && !it->second->paused) {
      it->second->due_ms = std::min(it->second->due_ms, Now());  // apply them soon
      cv_.notify_all();
    }
  }
  Log(fmt::format("pipeline {}: {} quarantined record(s) requeued", pipeline, n),
      obs::For(pipeline, sink));
  return fmt::format("{{\"requeued\":{}}}", n);
}

bool Agent::Ready(std::string* why) {
  if (stopping_) {
    *why = "shutting down";
    return false;
  }
  if (log_ == nullptr) {
    *why = "staging is not open";
    return false;
  }
  return true;
}

void Agent::ReloadFailed(const Status& why) {
  std::lock_guard<std::mutex> lock(mu_);
  reload_error_ = why.message();
  Log("reload refused, the running config stays: " + why.message(), {}, kError);
}

Status Agent::Reload(std::shared_ptr<const config::Config> cfg) {
  auto fail = [&](Status s) {
    ReloadFailed(s);
    return s;
  };
  if (cfg->state_dir != cfg_->state_dir) {
    return fail(FailedPrecondition("state_dir: cannot change while the agent runs (restart it)"));
  }
  if (Status v = connectors::CheckAll(*cfg); !v.ok()) return fail(v);
  std::lock_guard<std::mutex> lock(mu_);
  if (cfg->agent.listen != cfg_->agent.listen || cfg->agent.token != cfg_->agent.token) {
    Log("reload: agent.listen and agent.token take effect on the next start");
  }
  std::set<std::string> names;
  int added = 0, changed = 0, removed = 0;
  for (const auto& p : cfg->pipelines) {
    names.insert(p.name);
    auto it = pipelines_.find(p.name);
    if (it == pipelines_.end() || it->second->removed) {
      auto st = std::make_shared<PipelineState>();
      if (it != pipelines_.end()) st = it->second;  // removed, tasks still running: revived
      st->removed = false;
      Status s = InitPipeline(cfg, p, st.get());
      if (!s.ok()) Log("pipeline " + p.name + ": " + s.message(), obs::For(p.name), kError);
      pipelines_[p.name] = st;
      ++added;
      continue;
    }
    PipelineState& st = *it->second;
    const bool same_schedule = st.p->schedule == p.schedule && st.p->time_zone == p.time_zone &&
                               st.p->schedule_jitter_s == p.schedule_jitter_s;
    const int64_t due = st.due_ms;
    Status s = InitPipeline(cfg, p, &st);
    if (!s.ok()) Log("pipeline " + p.name + ": " + s.message(), obs::For(p.name), kError);
    if (same_schedule) st.due_ms = due;  // an unchanged schedule keeps its next run
    ++changed;
  }
  for (auto& [name, st] : pipelines_) {
    if (!names.count(name) && !st->removed) {
      st->removed = true;  // in-flight work finishes; nothing new starts
      // A pipeline added back later starts without drift history.
      drift_.ForgetPipeline(name);
      ++removed;
    }
  }
  cfg_ = std::move(cfg);
  reload_error_.clear();
  ++reloads_;
  Log(fmt::format("config reloaded: {} pipeline(s) added, {} kept, {} removed", added, changed,
                  removed));
  cv_.notify_all();
  return Status::Ok();
}

std::string Agent::StatusLine() {
  std::lock_guard<std::mutex> lock(mu_);
  int running = 0, failing = 0, paused = 0, total = 0;
  for (const auto& [name, st] : pipelines_) {
    if (st->removed) continue;
    ++total;
    std::string s = StateName(*st);
    running += s == "running";
    failing += s == "failing";
    paused += s == "paused";
  }
  return fmt::format("{} pipelines: {} running, {} failing, {} paused", total, running, failing,
                     paused);
}

}  // namespace stagesync::agent
