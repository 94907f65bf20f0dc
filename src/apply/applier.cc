#include <fmt/format.h>

#include "stagesync/apply.h"
#include "stagesync/crash_point.h"
#include "stagesync/json.h"

namespace stagesync::apply {

Result<ApplySummary> Drain(const std::string& pipeline, const std::string& sink_name,
                           sink::Sink* sink, stage::StagingLog* log, Clock* clock,
                           const ApplyOptions& opts) {
  const int64_t t0 = clock->MonotonicMicros();
  ApplySummary sum;
  sum.pipeline = pipeline;
  sum.sink = sink_name;
  SS_RETURN_IF_ERROR(log->RegisterSinks(pipeline, {sink_name}));
  SS_ASSIGN_OR_RETURN(uint64_t cursor, log->Cursor(pipeline, sink_name));
  // The target commits its offset with the rows; staging learns it afterwards. A crash in
  // between leaves the target ahead: catch the cursor up instead of writing again.
  SS_ASSIGN_OR_RETURN(uint64_t target, sink->TargetOffset());
  if (target > cursor) {
    auto skipped = log->ReadChanges(pipeline, cursor, SIZE_MAX);
    if (skipped.ok()) {
      for (const auto& e : *skipped) sum.recovered += e.seq <= target;
    }
    SS_RETURN_IF_ERROR(log->AdvanceCursor(pipeline, sink_name, target));
    cursor = target;
  }
  while (true) {
    SS_ASSIGN_OR_RETURN(auto entries, log->ReadChanges(pipeline, cursor, sink->batch_records()));
    if (entries.empty()) break;
    std::vector<stage::StagedRecord> records;
    records.reserve(entries.size());
    size_t bytes = 0;
    uint64_t max_seq = cursor;
    for (const auto& e : entries) {
      SS_ASSIGN_OR_RETURN(auto rec, log->Get(pipeline, e.source_id));
      max_seq = e.seq;
      ++sum.changes;
      // Superseded by a newer version (its own entry comes later) or gone: nothing to do.
      if (!rec.has_value() || rec->seq != e.seq) continue;
      bytes += rec->raw.size();
      records.push_back(std::move(*rec));
      if (bytes >= sink->batch_bytes()) break;
    }
    sink::BatchStats st;
    auto quarantine = [&](const std::vector<stage::FetchFailure>& bad) {
      return log->PutQuarantine(pipeline, sink_name, bad);
    };
    SS_RETURN_IF_ERROR(sink->ApplyBatch(records, max_seq, quarantine, &st));
    CrashPoint("apply.after_commit");
    SS_RETURN_IF_ERROR(log->AdvanceCursor(pipeline, sink_name, max_seq));
    cursor = max_seq;
    ++sum.batches;
    sum.applied += st.applied;
    sum.rows += st.rows;
    sum.skipped += st.skipped;
    sum.quarantined += st.quarantined;
    sum.retries += st.retries;
    if (opts.on_batch) opts.on_batch(sum);
  }
  sum.elapsed_ms = (clock->MonotonicMicros() - t0) / 1000;
  return sum;
}

Result<ApplySummary> RunApply(const config::Config& cfg, const config::PipelineConfig& pipeline,
                              const config::SinkConfig& sink_cfg, stage::StagingLog* log,
                              const sink::SinkDeps& deps, const ApplyOptions& opts) {
  SS_ASSIGN_OR_RETURN(auto sink, sink::MakeSink(cfg, pipeline, sink_cfg, deps));
  return Drain(pipeline.name, sink_cfg.name, sink.get(), log, deps.clock, opts);
}

std::string SummaryLine(const ApplySummary& s) {
  return fmt::format(
      "apply {}/{}: batches={} changes={} applied={} rows={} skipped={} quarantined={} "
      "retries={} recovered={} elapsed={:.3f}s",
      s.pipeline, s.sink, s.batches, s.changes, s.applied, s.rows, s.skipped, s.quarantined,
      s.retries, s.recovered, static_cast<double>(s.elapsed_ms) / 1000.0);
}

std::string SummaryJson(const ApplySummary& s) {
  return fmt::format(
      "{{\"command\":\"apply\",\"pipeline\":{},\"sink\":{},\"batches\":{},\"changes\":{},"
      "\"applied\":{},\"rows\":{},\"skipped\":{},\"quarantined\":{},\"retries\":{},"
      "\"recovered\":{},\"elapsed_ms\":{}}}",
      json::Quote(s.pipeline), json::Quote(s.sink), s.batches, s.changes, s.applied, s.rows,
      s.skipped, s.quarantined, s.retries, s.recovered, s.elapsed_ms);
}

}  // namespace stagesync::apply
