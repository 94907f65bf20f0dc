// Apply: drains a pipeline's change log into one sink through the sink's own cursor, in
// sequence order and in batches, advancing the cursor only after the target committed.
// One apply per (pipeline, sink) at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "stagesync/config.h"
#include "stagesync/runtime.h"
#include "stagesync/sink.h"
#include "stagesync/stage.h"

namespace stagesync::apply {

struct ApplySummary {
  std::string pipeline;
  std::string sink;
  int64_t batches = 0;
  int64_t changes = 0;  // change-log entries drained
  int64_t applied = 0;
  int64_t rows = 0;
  int64_t skipped = 0;
  int64_t quarantined = 0;
  int64_t retries = 0;
  int64_t recovered = 0;         // entries the target had applied before a crash lost the cursor
  int64_t filtered = 0;          // not selected by the sink's where
  int64_t reapplied = 0;         // records applied again because the mapping changed
  int64_t changes_reported = 0;  // changes a target will not take (a bill already pushed)
  std::map<std::string, int64_t> rule_failures;  // per data-quality rule
  int64_t elapsed_ms = 0;
  bool stopped = false;  // ended early on ApplyOptions::stop, after a committed batch
};

struct ApplyOptions {
  std::function<void(const ApplySummary&)> on_batch;
  // Told once when a changed mapping makes the sink re-apply the whole pipeline.
  std::function<void(const std::string& message)> on_notice;
  // Checked between batches: once true, the drain ends after the batch being written commits.
  const std::atomic<bool>* stop = nullptr;
  // Told, on the applier thread, with the records of each change-log batch once it committed
  // (in sequence order, deleted ones included), e.g. for drift detection (src/obs/drift.h).
  // Not told about a mapping change's re-apply of old records. Default: none.
  std::function<void(const std::vector<stage::StagedRecord>&)> on_applied;
};

Result<ApplySummary> RunApply(const config::Config& cfg, const config::PipelineConfig& pipeline,
                              const config::SinkConfig& sink, stage::StagingLog* log, Runtime& rt,
                              const ApplyOptions& opts = {});

// Drains into an already-open sink (tests and benchmarks inject their own).
Result<ApplySummary> Drain(const std::string& pipeline, const std::string& sink_name,
                           sink::Sink* sink, stage::StagingLog* log, Clock* clock,
                           const ApplyOptions& opts = {});

std::string SummaryLine(const ApplySummary& s);
std::string SummaryJson(const ApplySummary& s);

}  // namespace stagesync::apply
