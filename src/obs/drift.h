// Drift detection: a mapping reference ({{label}}, {path}) that used to resolve in most records
// and then stops resolving (a DingTalk form label renamed, a vendor field dropped) leaves a
// column silently NULL: the commonest way an integration rots unnoticed. DriftTracker keeps, per
// (pipeline, sink, reference), a sliding window of recent outcomes and reports the reference
// while it is missing in a run of consecutive records after a mostly-resolving window.
// Thresholds and false positives: doc/drift.md. Thread-safe (one mutex, a leaf lock).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "stagesync/config.h"
#include "stagesync/stage.h"
#include "stagesync/transform.h"

namespace stagesync::obs {

struct DriftOptions {
  // Outcomes remembered per reference (the baseline is read from them). Default: 100.
  size_t window = 100;
  // Outcomes the window must hold before a missing streak can be drift. Default: 20.
  size_t min_records = 20;
  // Share of the window (before the streak) that must have resolved. Default: 0.8.
  double min_resolved_ratio = 0.8;
  // Consecutive records missing the reference that make it drift. Default: 5.
  int missing_streak = 5;
};

// One reference in drift: missing since `first_missing_key` (the record's source id), seen at
// `first_missing_ms` (epoch ms), in `missing_streak` consecutive records so far.
struct Drift {
  std::string pipeline;
  std::string sink;
  std::string reference;  // as written without filters: "{{form:实际付款金额}}"
  std::string first_missing_key;
  int64_t first_missing_ms = 0;
  int64_t missing_streak = 0;
};

class DriftTracker {
 public:
  explicit DriftTracker(DriftOptions opts = {});

  // Records one mapped record's references. A reference the record did not evaluate (an IF
  // branch not taken, a sink's where said no) records nothing.
  void Observe(const std::string& pipeline, const std::string& sink, std::string_view record_key,
               int64_t now_ms, const std::vector<transform::RefUse>& uses);
  // Forgets a sink's references when its mapping hash differs from the last one given: a
  // changed mapping (the operator fixed the label) starts from a clean slate.
  void SetMapping(const std::string& pipeline, const std::string& sink, const std::string& hash);
  // Forgets a pipeline (removed by a reload).
  void ForgetPipeline(const std::string& pipeline);

  // References in drift, ordered by pipeline, sink, reference; every pipeline when empty.
  std::vector<Drift> Active(const std::string& pipeline = {}) const;
  // Active(pipeline) as the agent's JSON array: [{"sink","reference","first_missing_key",
  // "first_missing_ms","missing_streak"}], "[]" when none.
  std::string Json(const std::string& pipeline) const;

 private:
  struct Ref {
    std::deque<bool> window;   // most recent last; outcomes before the current streak
    size_t resolved = 0;       // true entries in window
    int64_t streak = 0;        // consecutive missing outcomes, not in window
    bool baseline_ok = false;  // the window qualified when the streak began
    std::string first_missing_key;
    int64_t first_missing_ms = 0;
  };
  void Push(Ref* r, bool resolved) const;

  const DriftOptions opts_;
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, std::string>, Ref> refs_;
  std::map<std::pair<std::string, std::string>, std::string> mappings_;
};

// The ApplyOptions::on_applied observer for one sink: maps each applied record again with
// reference collection on and feeds `tracker` (keyed by the record's source id, time from
// `now_ms`). An empty function when the sink has no mapping or it does not compile (the apply
// reports that itself). Costs one extra mapping per applied record, on the applier thread.
std::function<void(const std::vector<stage::StagedRecord>&)> DriftFeed(
    DriftTracker* tracker, const config::PipelineConfig& pipeline, const config::SinkConfig& sink,
    std::function<int64_t()> now_ms);

}  // namespace stagesync::obs
