#include "obs/alerts.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "stagesync/json.h"

namespace stagesync::obs {

namespace {

constexpr int64_t kHourMs = 3600 * 1000;
// The state key listing a pipeline's drift conditions (their keys carry sink and reference,
// so a restart could not otherwise find the ones to resolve).
constexpr const char* kDriftIndex = "alert:drift-index";

int64_t IntAt(const json::Value* obj, std::string_view key, int64_t def = 0) {
  if (obj == nullptr) return def;
  const json::Value* v = obj->Find(key);
  int64_t n = def;
  if (v == nullptr || !v->AsInt64(&n)) return def;
  return n;
}

std::string TextAt(const json::Value* obj, std::string_view key) {
  if (obj == nullptr) return "";
  const json::Value* v = obj->Find(key);
  return v != nullptr && v->is_string() ? v->text() : "";
}

// Errors can be long (an API answer); a message carries its start.
std::string Short(const std::string& s, size_t n = 300) {
  return s.size() <= n ? s : s.substr(0, n) + "...";
}

std::string Num(int64_t n) { return std::to_string(n); }

}  // namespace

std::string Alerter::State::ToJson() const {
  return fmt::format(
      R"({{"active":{},"notified":{},"since_ms":{},"last_fired_ms":{},"baseline":{}}})",
      active ? "true" : "false", notified ? "true" : "false", since_ms, last_fired_ms, baseline);
}

Alerter::State Alerter::State::FromJson(const std::string& s) {
  State st;
  auto v = json::Parse(s);
  if (!v.ok() || !v->is_object()) return st;
  const json::Value* a = v->Find("active");
  const json::Value* n = v->Find("notified");
  st.active = a != nullptr && a->is_bool() && a->bool_value();
  st.notified = n != nullptr && n->is_bool() && n->bool_value();
  st.since_ms = IntAt(&*v, "since_ms");
  st.last_fired_ms = IntAt(&*v, "last_fired_ms");
  st.baseline = IntAt(&*v, "baseline", -1);
  return st;
}

Alerter::Alerter(config::AlertsConfig cfg, agent::AgentControl* control, stage::StagingLog* log,
                 AlertDelivery* delivery, AlerterOptions opts)
    : cfg_(std::move(cfg)),
      control_(control),
      log_(log),
      delivery_(delivery),
      opts_(std::move(opts)),
      clock_(opts_.clock != nullptr ? opts_.clock : Clock::Real()) {}

Alerter::~Alerter() { Stop(); }

void Alerter::Start() {
  std::lock_guard<std::mutex> guard(run_mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(run_mu_);
    while (!stop_) {
      lock.unlock();
      Status s = EvaluateOnce();
      if (!s.ok()) Log("alerts: " + s.message());
      lock.lock();
      run_cv_.wait_for(lock, std::chrono::seconds(cfg_.check_interval_s), [&] { return stop_; });
    }
  });
}

void Alerter::Stop() {
  {
    std::lock_guard<std::mutex> lock(run_mu_);
    stop_ = true;
  }
  run_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Alerter::Counts Alerter::counts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_;
}

void Alerter::Log(const std::string& line) const {
  if (opts_.log) opts_.log(line);
}

Alerter::State& Alerter::Load(const std::string& pipeline, const std::string& key) {
  auto it = states_.find({pipeline, key});
  if (it != states_.end()) return it->second;
  State st;
  if (log_ != nullptr) {
    auto stored = log_->GetState(pipeline, "alert:" + key);
    if (stored.ok() && !stored->empty()) st = State::FromJson(*stored);
  }
  return states_.emplace(std::make_pair(pipeline, key), st).first->second;
}

void Alerter::Save(const std::string& pipeline, const std::string& key, const State& st) {
  if (log_ == nullptr) return;
  Status s = log_->PutState(pipeline, "alert:" + key, st.ToJson());
  if (!s.ok())
    Log("alerts: cannot store the state of " + pipeline + " " + key + ": " + s.message());
}

bool Alerter::TakeHourSlot(int64_t now_ms) {
  while (!sent_ms_.empty() && now_ms - sent_ms_.front() >= kHourMs) sent_ms_.pop_front();
  if (static_cast<int64_t>(sent_ms_.size()) >= cfg_.max_per_hour) return false;
  sent_ms_.push_back(now_ms);
  return true;
}

void Alerter::Apply(const std::string& pipeline, const std::string& key,
                    const std::string& condition, const Finding& f, int64_t now_ms) {
  State& st = Load(pipeline, key);
  const std::string before = st.ToJson();
  auto send = [&](const char* status) {
    AlertMessage m;
    m.status = status;
    m.pipeline = pipeline;
    m.condition = condition;
    m.summary = f.summary;
    m.values = f.values;
    m.status_page = cfg_.status_page_url;
    if (std::string_view(status) == "resolved") {
      m.values.emplace_back("active_for_s", Num((now_ms - st.since_ms) / 1000));
    }
    Log(fmt::format("alert {}: pipeline {} {}: {}", status, pipeline, condition, f.summary));
    (void)delivery_->Enqueue(std::move(m));
  };
  if (f.active) {
    if (!st.active) {
      st.active = true;
      st.notified = false;
      st.since_ms = now_ms;
    }
    if (!st.notified) {
      const bool too_soon =
          st.last_fired_ms > 0 && now_ms - st.last_fired_ms < cfg_.min_interval_s * 1000;
      if (too_soon || !TakeHourSlot(now_ms)) {
        counts_.held_back++;
      } else {
        send("firing");
        st.notified = true;
        st.last_fired_ms = now_ms;
        counts_.firing_sent++;
      }
    }
  } else if (st.active) {
    if (!st.notified) {
      st.active = false;  // its firing was held back: nothing to resolve
    } else if (TakeHourSlot(now_ms)) {
      send("resolved");
      st.active = false;
      st.notified = false;
      counts_.resolved_sent++;
    } else {
      counts_.held_back++;  // stays active: the resolution goes out once the cap allows
    }
  }
  if (st.ToJson() != before) Save(pipeline, key, st);
}

Status Alerter::EvaluateOnce() {
  auto parsed = json::Parse(control_->PipelinesJson());
  if (!parsed.ok()) return parsed.status().WithContext("alerts: agent state");
  const json::Value* list = parsed->Find("pipelines");
  if (list == nullptr || !list->is_array())
    return BadReply("alerts: agent state without pipelines");
  const int64_t started_ms = IntAt(parsed->Find("agent"), "started_ms");
  Status first_error;

  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = clock_->NowMillis();
  for (const json::Value& p : list->items()) {
    const std::string name = TextAt(&p, "name");
    if (name.empty()) continue;

    if (cfg_.failed_runs > 0) {
      // The run history survives a restart (the agent's in-memory count does not): without it
      // a restarted agent would resolve an alert that still holds.
      int64_t streak = IntAt(p.Find("backoff"), "failures");
      if (log_ != nullptr) {
        auto runs = log_->Runs(name, static_cast<size_t>(cfg_.failed_runs));
        if (runs.ok()) {
          int64_t n = 0;
          for (const auto& r : *runs) {
            if (r.outcome != "failed") break;
            ++n;
          }
          streak = std::max(streak, n);
        } else if (first_error.ok()) {
          first_error = runs.status();
        }
      }
      if (const json::Value* sinks = p.Find("sinks"); sinks != nullptr && sinks->is_array()) {
        for (const auto& s : sinks->items()) streak = std::max(streak, IntAt(&s, "failures"));
      }
      Finding f;
      f.active = streak >= cfg_.failed_runs;
      const std::string err = Short(TextAt(&p, "last_error"));
      f.summary = f.active ? fmt::format("{} consecutive failed runs (threshold {}){}{}", streak,
                                         cfg_.failed_runs, err.empty() ? "" : ": ", err)
                           : "runs succeed again";
      f.values = {{"consecutive_failures", Num(streak)}, {"threshold", Num(cfg_.failed_runs)}};
      if (f.active && !err.empty()) f.values.emplace_back("last_error", json::Quote(err));
      Apply(name, "failed_runs", "failed_runs", f, now);
    }

    auto fresh = cfg_.freshness_s_per_pipeline.find(name);
    const int64_t fresh_s =
        fresh != cfg_.freshness_s_per_pipeline.end() ? fresh->second : cfg_.freshness_s;
    if (fresh_s > 0) {
      int64_t last = IntAt(&p, "last_success_ms");
      if (last <= 0) last = started_ms > 0 ? started_ms : now;
      const int64_t age_s = std::max<int64_t>(0, (now - last) / 1000);
      Finding f;
      f.active = age_s > fresh_s;
      f.summary = f.active
                      ? fmt::format("last successful run {} s ago (threshold {} s)", age_s, fresh_s)
                      : fmt::format("fresh again: last successful run {} s ago", age_s);
      f.values = {{"age_s", Num(age_s)}, {"threshold_s", Num(fresh_s)}};
      Apply(name, "freshness", "freshness", f, now);
    }

    if (cfg_.quarantine_grew && p.Find("quarantined") != nullptr) {
      const int64_t q = IntAt(&p, "quarantined");
      State& st = Load(name, "quarantine_grew");
      if (st.baseline < 0 || (!st.active && q < st.baseline)) {
        // First sight (what was there before alerts were on is not news), or records requeued:
        // growth is counted from here.
        st.baseline = q;
        Save(name, "quarantine_grew", st);
      }
      Finding f;
      f.active = q > st.baseline;
      f.summary = f.active ? fmt::format("quarantine grew from {} to {} record(s)", st.baseline, q)
                           : fmt::format("quarantine back to {} record(s)", q);
      f.values = {{"quarantined", Num(q)}, {"baseline", Num(st.baseline)}};
      Apply(name, "quarantine_grew", "quarantine_grew", f, now);
    }

    if (cfg_.intent_open_s > 0 && log_ != nullptr) {
      int64_t open = 0, oldest_ms = 0;
      std::string oldest_sink, oldest_id;
      if (const json::Value* sinks = p.Find("sinks"); sinks != nullptr && sinks->is_array()) {
        for (const auto& s : sinks->items()) {
          const std::string sink = TextAt(&s, "name");
          auto intents = log_->Intents(name, sink);
          if (!intents.ok()) {
            if (first_error.ok()) first_error = intents.status();
            continue;
          }
          for (const auto& [id, value] : *intents) {
            auto v = json::Parse(value);
            const int64_t at = v.ok() ? IntAt(&*v, "at_ms") : 0;
            if (at <= 0) continue;
            if (now - at > cfg_.intent_open_s * 1000) ++open;
            if (oldest_ms == 0 || at < oldest_ms) {
              oldest_ms = at;
              oldest_sink = sink;
              oldest_id = id;
            }
          }
        }
      }
      const int64_t age_s = oldest_ms > 0 ? (now - oldest_ms) / 1000 : 0;
      Finding f;
      f.active = open > 0;
      f.summary = f.active ? fmt::format(
                                 "{} intent(s) open longer than {} s; the oldest ({} s, "
                                 "sink {}, record {}) may have created a duplicate or "
                                 "nothing: run `stagesync resolve`",
                                 open, cfg_.intent_open_s, age_s, oldest_sink, oldest_id)
                           : "no intent open too long";
      f.values = {{"open_too_long", Num(open)},
                  {"oldest_age_s", Num(age_s)},
                  {"threshold_s", Num(cfg_.intent_open_s)}};
      Apply(name, "intent_open", "intent_open", f, now);
    }

    if (cfg_.quota) {
      const std::string waiting = TextAt(&p, "waiting");
      Finding f;
      f.active = waiting.rfind("daily_quota", 0) == 0;
      f.summary = f.active ? waiting : "daily quota available again";
      Apply(name, "quota", "quota", f, now);
    }

    if (cfg_.drift) {
      // One condition per (sink, reference): each drifting reference is its own message.
      std::set<std::string> seen;
      std::set<std::string> index;
      std::string stored_index;
      if (log_ != nullptr) {
        auto s = log_->GetState(name, kDriftIndex);
        if (s.ok()) stored_index = *s;
      }
      if (auto v = json::Parse(stored_index.empty() ? "[]" : stored_index);
          v.ok() && v->is_array()) {
        for (const auto& k : v->items()) index.insert(k.text());
      }
      for (const auto& [key, st] : states_) {
        if (key.first == name && key.second.rfind("drift:", 0) == 0 && st.active) {
          index.insert(key.second);
        }
      }
      if (const json::Value* drift = p.Find("drift"); drift != nullptr && drift->is_array()) {
        for (const auto& d : drift->items()) {
          const std::string sink = TextAt(&d, "sink");
          const std::string ref = TextAt(&d, "reference");
          if (ref.empty()) continue;
          const std::string key = "drift:" + sink + ":" + ref;
          seen.insert(key);
          index.insert(key);
          const std::string record = TextAt(&d, "first_missing_key");
          const int64_t streak = IntAt(&d, "missing_streak");
          Finding f;
          f.active = true;
          f.summary = fmt::format(
              "mapping reference {} of sink {} stopped resolving at record {} ({} record(s) "
              "in a row without it): a renamed form label or a dropped vendor field?",
              ref, sink, record, streak);
          f.values = {{"sink", json::Quote(sink)},
                      {"reference", json::Quote(ref)},
                      {"first_missing_key", json::Quote(record)},
                      {"missing_streak", Num(streak)}};
          Apply(name, key, "drift", f, now);
        }
      }
      std::set<std::string> still;
      for (const std::string& key : index) {
        if (seen.count(key) == 0) {
          const std::string rest = key.substr(6);
          Finding f;
          f.active = false;
          f.summary = "mapping reference resolves again: " + rest;
          const size_t colon = rest.find(':');
          f.values = {
              {"sink", json::Quote(rest.substr(0, colon))},
              {"reference",
               json::Quote(colon == std::string::npos ? std::string() : rest.substr(colon + 1))}};
          Apply(name, key, "drift", f, now);
        }
        if (Load(name, key).active) still.insert(key);
      }
      std::string out = "[";
      for (const auto& k : still) out += (out.size() > 1 ? "," : "") + json::Quote(k);
      out += "]";
      if (log_ != nullptr && out != (stored_index.empty() ? "[]" : stored_index)) {
        Status s = log_->PutState(name, kDriftIndex, out);
        if (!s.ok() && first_error.ok()) first_error = s;
      }
    }
  }
  return first_error;
}

}  // namespace stagesync::obs
