#include <fmt/format.h>

#include <future>

#include "connectors/connector.h"
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
  // The state dir's identity (STAGESYNC_ID): targets that record who applied to them use it
  // to tell a rebuilt or second staging dir from their own.
  sink->SetStaging(log->InstanceId(), cursor);
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
  auto add = [&](const sink::BatchStats& st) {
    ++sum.batches;
    sum.applied += st.applied;
    sum.rows += st.rows;
    sum.skipped += st.skipped;
    sum.quarantined += st.quarantined;
    sum.retries += st.retries;
    sum.filtered += st.filtered;
    sum.changes_reported += st.changes_reported;
    for (const auto& [rule, n] : st.rule_failures) sum.rule_failures[rule] += n;
    if (opts.on_batch) opts.on_batch(sum);
  };
  auto quarantine = [&](const std::vector<stage::FetchFailure>& bad) {
    return log->PutQuarantine(pipeline, sink_name, bad);
  };

  // The target's rows depend on the mapping: when it changed (or the sink is new to a
  // pipeline whose change log was already trimmed), apply every record staged so far once
  // more. The ledger skips what is already applied under this mapping, so a crash part-way
  // just resumes. Newer records come through the change log below.
  const std::string state_key = "mapping:" + sink_name;
  SS_ASSIGN_OR_RETURN(std::string applied_mapping, log->GetState(pipeline, state_key));
  const std::string mapping = sink->MappingHash();
  if (applied_mapping != mapping) {
    SS_ASSIGN_OR_RETURN(auto summary, log->Summary(pipeline));
    const bool fresh = applied_mapping.empty() && cursor == 0;
    SS_ASSIGN_OR_RETURN(auto first, log->ReadChanges(pipeline, 0, 1));
    const bool trimmed = !first.empty() ? first[0].seq > 1 : summary.last_seq > 0;
    if (!fresh || trimmed) {
      if (opts.on_notice) {
        opts.on_notice(fmt::format(
            "pipeline {}, sink {}: mapping {} -> {}: re-applying all {} staged records once",
            pipeline, sink_name, applied_mapping.empty() ? "(none)" : applied_mapping, mapping,
            summary.records));
      }
      std::vector<stage::StagedRecord> batch;
      size_t bytes = 0;
      Status inner;
      auto flush = [&]() -> Status {
        if (batch.empty()) return Status::Ok();
        sink::BatchStats st;
        SS_RETURN_IF_ERROR(sink->ApplyBatch(batch, cursor, quarantine, &st));
        sum.reapplied += st.applied;
        add(st);
        batch.clear();
        bytes = 0;
        return Status::Ok();
      };
      SS_RETURN_IF_ERROR(log->ScanRecords(pipeline, [&](const stage::StagedRecord& r) {
        if (r.seq > cursor) return true;  // pending in the change log
        if (opts.stop != nullptr && opts.stop->load()) {
          // The mapping hash is stored only after the last record: the next start re-applies.
          inner = Cancelled(
              fmt::format("apply {}/{}: stopping during a re-apply", pipeline, sink_name));
          return false;
        }
        bytes += r.raw.size();
        batch.push_back(r);
        if (batch.size() >= sink->batch_records() || bytes >= sink->batch_bytes()) {
          inner = flush();
          if (!inner.ok()) return false;
        }
        return true;
      }));
      SS_RETURN_IF_ERROR(inner);
      SS_RETURN_IF_ERROR(flush());
    }
    SS_RETURN_IF_ERROR(log->PutState(pipeline, state_key, mapping));
  }

  // Batches are read and mapped one ahead, on a second thread, while the current one is
  // written: the target's write and the CPU work overlap. Commits stay strictly in order.
  struct Batch {
    std::vector<stage::StagedRecord> records;
    uint64_t max_seq = 0;
    int64_t changes = 0;
  };
  auto load = [&](uint64_t from) -> Result<Batch> {
    Batch b;
    b.max_seq = from;
    SS_ASSIGN_OR_RETURN(auto entries, log->ReadChanges(pipeline, from, sink->batch_records()));
    size_t bytes = 0;
    for (const auto& e : entries) {
      SS_ASSIGN_OR_RETURN(auto rec, log->Get(pipeline, e.source_id));
      b.max_seq = e.seq;
      ++b.changes;
      // Superseded by a newer version (its own entry comes later) or gone: nothing to do.
      if (!rec.has_value() || rec->seq != e.seq) continue;
      bytes += rec->raw.size();
      b.records.push_back(std::move(*rec));
      if (bytes >= sink->batch_bytes()) break;
    }
    sink->PrepareBatch(b.records);
    return b;
  };
  SS_ASSIGN_OR_RETURN(Batch cur, load(cursor));
  while (cur.changes > 0) {
    std::future<Result<Batch>> next =
        std::async(std::launch::async, [&load, from = cur.max_seq] { return load(from); });
    sink::BatchStats st;
    Status applied = sink->ApplyBatch(cur.records, cur.max_seq, quarantine, &st);
    if (applied.ok()) {
      CrashPoint("apply.after_commit");
      applied = log->AdvanceCursor(pipeline, sink_name, cur.max_seq);
    }
    Result<Batch> following = next.get();  // always joined before leaving
    SS_RETURN_IF_ERROR(applied);
    cursor = cur.max_seq;
    sum.changes += cur.changes;
    add(st);
    if (opts.on_applied) opts.on_applied(cur.records);
    if (!following.ok()) return following.status();
    cur = std::move(following).value();
    if (opts.stop != nullptr && opts.stop->load() && cur.changes > 0) {
      sum.stopped = true;
      break;
    }
  }
  sum.elapsed_ms = (clock->MonotonicMicros() - t0) / 1000;
  return sum;
}

Result<ApplySummary> RunApply(const config::Config& cfg, const config::PipelineConfig& pipeline,
                              const config::SinkConfig& sink_cfg, stage::StagingLog* log,
                              Runtime& rt, const ApplyOptions& opts) {
  SS_ASSIGN_OR_RETURN(auto sink, connectors::MakeSink(cfg, pipeline, sink_cfg, rt, log));
  ApplyOptions o = opts;
  if (!o.on_notice) o.on_notice = rt.notice();
  return Drain(pipeline.name, sink_cfg.name, sink.get(), log, rt.clock(), o);
}

std::string SummaryLine(const ApplySummary& s) {
  std::string rules;
  for (const auto& [rule, n] : s.rule_failures) rules += fmt::format(" rule[{}]={}", rule, n);
  return fmt::format(
      "apply {}/{}: batches={} changes={} applied={} rows={} skipped={} filtered={} "
      "quarantined={} reapplied={} changes_reported={} retries={} recovered={}{} "
      "elapsed={:.3f}s",
      s.pipeline, s.sink, s.batches, s.changes, s.applied, s.rows, s.skipped, s.filtered,
      s.quarantined, s.reapplied, s.changes_reported, s.retries, s.recovered, rules,
      static_cast<double>(s.elapsed_ms) / 1000.0);
}

std::string SummaryJson(const ApplySummary& s) {
  std::string rules;
  for (const auto& [rule, n] : s.rule_failures) {
    rules += (rules.empty() ? "" : ",") + json::Quote(rule) + ":" + std::to_string(n);
  }
  return fmt::format(
      "{{\"command\":\"apply\",\"pipeline\":{},\"sink\":{},\"batches\":{},\"changes\":{},"
      "\"applied\":{},\"rows\":{},\"skipped\":{},\"quarantined\":{},\"retries\":{},"
      "\"recovered\":{},\"filtered\":{},\"reapplied\":{},\"changes_reported\":{},"
      "\"rule_failures\":{{{}}},\"elapsed_ms\":{}}}",
      json::Quote(s.pipeline), json::Quote(s.sink), s.batches, s.changes, s.applied, s.rows,
      s.skipped, s.quarantined, s.retries, s.recovered, s.filtered, s.reapplied, s.changes_reported,
      rules, s.elapsed_ms);
}

}  // namespace stagesync::apply
