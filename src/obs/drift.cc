#include "obs/drift.h"

#include <fmt/format.h>

#include <utility>

#include "connectors/connector.h"
#include "stagesync/json.h"

namespace stagesync::obs {

DriftTracker::DriftTracker(DriftOptions opts) : opts_(opts) {}

void DriftTracker::Push(Ref* r, bool resolved) const {
  r->window.push_back(resolved);
  r->resolved += resolved;
  while (r->window.size() > opts_.window) {
    r->resolved -= r->window.front();
    r->window.pop_front();
  }
}

void DriftTracker::Observe(const std::string& pipeline, const std::string& sink,
                           std::string_view record_key, int64_t now_ms,
                           const std::vector<transform::RefUse>& uses) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& u : uses) {
    Ref& r = refs_[{pipeline, sink, u.reference}];
    if (!u.resolved) {
      if (r.streak == 0) {
        // The baseline is the window as it stood before this streak: a field that was often
        // absent (optional) or never present (a typo) does not qualify.
        const size_t n = r.window.size();
        r.baseline_ok =
            n >= opts_.min_records &&
            static_cast<double>(r.resolved) >= opts_.min_resolved_ratio * static_cast<double>(n);
        r.first_missing_key = std::string(record_key);
        r.first_missing_ms = now_ms;
      }
      ++r.streak;
      continue;
    }
    // Resolved again: the streak (drift or just an optional field left out) ends and joins the
    // window, so frequent gaps lower the baseline of the next streak.
    for (int64_t i = 0; i < r.streak && i < static_cast<int64_t>(opts_.window); ++i) {
      Push(&r, false);
    }
    Push(&r, true);
    r.streak = 0;
    r.baseline_ok = false;
    r.first_missing_key.clear();
    r.first_missing_ms = 0;
  }
}

void DriftTracker::SetMapping(const std::string& pipeline, const std::string& sink,
                              const std::string& hash) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string& known = mappings_[{pipeline, sink}];
  if (known == hash) return;
  known = hash;
  auto it = refs_.lower_bound({pipeline, sink, ""});
  while (it != refs_.end() && std::get<0>(it->first) == pipeline &&
         std::get<1>(it->first) == sink) {
    it = refs_.erase(it);
  }
}

void DriftTracker::ForgetPipeline(const std::string& pipeline) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = refs_.lower_bound({pipeline, "", ""});
  while (it != refs_.end() && std::get<0>(it->first) == pipeline) it = refs_.erase(it);
  auto m = mappings_.lower_bound({pipeline, ""});
  while (m != mappings_.end() && m->first.first == pipeline) m = mappings_.erase(m);
}

std::vector<Drift> DriftTracker::Active(const std::string& pipeline) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Drift> out;
  auto it = pipeline.empty() ? refs_.begin() : refs_.lower_bound({pipeline, "", ""});
  for (; it != refs_.end(); ++it) {
    const auto& [p, sink, reference] = it->first;
    if (!pipeline.empty() && p != pipeline) break;
    const Ref& r = it->second;
    if (!r.baseline_ok || r.streak < opts_.missing_streak) continue;
    out.push_back(Drift{p, sink, reference, r.first_missing_key, r.first_missing_ms, r.streak});
  }
  return out;
}

std::string DriftTracker::Json(const std::string& pipeline) const {
  std::string out = "[";
  for (const Drift& d : Active(pipeline)) {
    out += fmt::format(
        "{}{{\"sink\":{},\"reference\":{},\"first_missing_key\":{},\"first_missing_ms\":{},"
        "\"missing_streak\":{}}}",
        out.size() > 1 ? "," : "", json::Quote(d.sink), json::Quote(d.reference),
        json::Quote(d.first_missing_key), d.first_missing_ms, d.missing_streak);
  }
  return out + "]";
}

std::function<void(const std::vector<stage::StagedRecord>&)> DriftFeed(
    DriftTracker* tracker, const config::PipelineConfig& pipeline, const config::SinkConfig& sink,
    std::function<int64_t()> now_ms) {
  auto spec = connectors::SinkMapping(pipeline, sink);
  if (!spec.ok()) return {};
  auto compiled = transform::Mapping::Compile(*spec);
  if (!compiled.ok()) return {};
  auto mapping = std::make_shared<transform::Mapping>(std::move(compiled).value());
  tracker->SetMapping(pipeline.name, sink.name, mapping->hash());
  return [tracker, mapping, p = pipeline.name, s = sink.name,
          now_ms = std::move(now_ms)](const std::vector<stage::StagedRecord>& records) {
    const int64_t now = now_ms();
    // Variables are not references to the record; CURRENT_TIME is given so that expressions
    // using it evaluate as they did in the sink.
    const transform::Variables vars = {{"CURRENT_TIME", std::to_string(now / 1000)}};
    std::vector<transform::MappedRow> rows;
    std::vector<transform::RefUse> uses;
    for (const auto& r : records) {
      if (r.deleted) continue;
      auto v = json::Parse(r.raw);
      if (!v.ok()) continue;
      rows.clear();
      uses.clear();
      transform::MapVerdict verdict;
      // A failed mapping (quarantined by the sink) still tells which references resolved.
      (void)mapping->Map(*v, &rows, &verdict, &vars, &uses);
      tracker->Observe(p, s, r.source_id, now, uses);
    }
  };
}

}  // namespace stagesync::obs
