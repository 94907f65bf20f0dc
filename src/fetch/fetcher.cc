// The fetcher: runs a source into the staging log page by page and, for sources that scan
// their whole record set (source/complete_scan.h, `deletes: "sweep"`), tombstones the staged
// records a complete scan did not deliver. One fetch per pipeline at a time.
#include <fmt/format.h>

#include <algorithm>
#include <unordered_set>

#include "connectors/common/complete_scan.h"
#include "connectors/connector.h"
#include "stagesync/crash_point.h"
#include "stagesync/fetch.h"
#include "stagesync/hash.h"
#include "stagesync/json.h"

namespace stagesync::fetch {

namespace {

class StagingPageSink final : public source::PageSink {
 public:
  StagingPageSink(const config::PipelineConfig& p, stage::StagingLog* log, Clock* clock,
                  FetchSummary* summary, const FetchOptions& opts)
      : p_(p), log_(log), clock_(clock), summary_(summary), opts_(opts) {}

  // From now on, remember the id of every record and failure written (for a sweep).
  void TrackIds() { track_ = true; }
  const std::unordered_set<std::string>& seen() const { return seen_; }

  Status Write(source::SourcePage page) override { return Commit(std::move(page), true); }

  // `fetched`: the records came from the source (a sweep's tombstones did not).
  Status Commit(source::SourcePage page, bool fetched) {
    if (track_) {
      for (const auto& r : page.records) seen_.insert(r.id);
      for (const auto& f : page.failures) seen_.insert(f.source_id);
    }
    stage::PageCommit commit;
    commit.history_versions = static_cast<uint32_t>(p_.history_versions);
    commit.records.reserve(page.records.size());
    std::string canonical;
    for (auto& r : page.records) {
      stage::IncomingRecord in;
      in.source_id = std::move(r.id);
      in.deleted = r.deleted;
      canonical.clear();
      json::CanonicalTo(r.value, &canonical);
      if (p_.hash_exclude.empty()) {
        in.hash = HashBytes(canonical);
      } else {
        std::string hashed;
        json::CanonicalTo(r.value, &hashed, p_.hash_exclude);
        in.hash = HashBytes(hashed);
      }
      in.raw = canonical;
      commit.records.push_back(std::move(in));
    }
    commit.watermark = page.watermark;
    commit.open_ids_add = std::move(page.open_ids_add);
    commit.open_ids_remove = std::move(page.open_ids_remove);
    commit.failures = std::move(page.failures);
    commit.failures_cleared = std::move(page.failures_cleared);
    for (auto& [name, value] : page.state) commit.state.emplace_back("source:" + name, value);
    CrashPoint("fetch.before_commit");
    SS_ASSIGN_OR_RETURN(stage::CommitStats st,
                        log_->CommitPage(p_.name, commit, clock_->NowMillis()));
    CrashPoint("fetch.after_commit");
    ++summary_->pages;
    if (page.ends_window) ++summary_->windows;
    if (fetched) summary_->fetched += static_cast<int64_t>(commit.records.size());
    summary_->unchanged += st.unchanged;
    summary_->added += st.added;
    summary_->changed += st.changed;
    summary_->failed += static_cast<int64_t>(commit.failures.size());
    if (commit.watermark) summary_->watermark_ms = commit.watermark;
    if (opts_.on_failure) {
      for (const auto& f : commit.failures) opts_.on_failure(f);
    }
    if (opts_.on_page) opts_.on_page(*summary_);
    if (opts_.stop != nullptr && opts_.stop->load()) {
      summary_->stopped = true;
      return Cancelled(
          fmt::format("fetch {}: stopping after page {} (committed)", p_.name, summary_->pages));
    }
    return Status::Ok();
  }

 private:
  const config::PipelineConfig& p_;
  stage::StagingLog* log_;
  Clock* clock_;
  FetchSummary* summary_;
  const FetchOptions& opts_;
  bool track_ = false;
  std::unordered_set<std::string> seen_;
};

constexpr size_t kSweepPageRecords = 500;

// After a complete scan: every live staged record the scan did not deliver, and the source
// confirms gone when asked by key, becomes a tombstone. Like the DingTalk source's tombstones it
// carries an empty object: its content hash then differs from the live version's, which sinks
// whose ledgers compare content hashes need to see a change. Tombstones are committed in pages
// like any other change; a crash part-way leaves some written and the next complete scan sweeps
// the rest.
Status Sweep(const config::PipelineConfig& p, stage::StagingLog* log,
             source::CompleteScanSource* scan, StagingPageSink* sink) {
  const auto& seen = sink->seen();
  std::vector<std::string> gone;
  int64_t live = 0;
  SS_RETURN_IF_ERROR(log->ScanRecords(p.name, [&](const stage::StagedRecord& r) {
    if (r.deleted) return true;
    ++live;
    if (!seen.contains(r.source_id)) gone.push_back(r.source_id);
    return true;
  }));
  if (gone.empty()) return Status::Ok();
  SS_ASSIGN_OR_RETURN(std::vector<std::string> present, scan->StillPresent(gone));
  if (!present.empty()) {
    std::unordered_set<std::string> keep(present.begin(), present.end());
    std::erase_if(gone, [&](const std::string& id) { return keep.contains(id); });
  }
  const double fraction = scan->SweepMaxFraction();
  if (gone.size() > source::CompleteScanSource::kSweepGuardMinimum &&
      static_cast<double>(gone.size()) > fraction * static_cast<double>(live)) {
    return FailedPrecondition(fmt::format(
        "pipeline {}: the sweep would delete {} of {} staged records, more than "
        "sweep_max_fraction {}; nothing was deleted (check the source's filter, or raise "
        "sweep_max_fraction if this is real)",
        p.name, gone.size(), live, fraction));
  }
  for (size_t i = 0; i < gone.size(); i += kSweepPageRecords) {
    source::SourcePage page;
    for (size_t k = i; k < std::min(gone.size(), i + kSweepPageRecords); ++k) {
      page.records.push_back({gone[k], json::Value::Object(), true});
    }
    SS_RETURN_IF_ERROR(sink->Commit(std::move(page), false));
  }
  return Status::Ok();
}

}  // namespace

Result<FetchSummary> RunFetch(const config::Config& cfg, const config::PipelineConfig& pipeline,
                              stage::StagingLog* log, Runtime& rt, const FetchOptions& opts) {
  const int64_t t0 = rt.clock()->MonotonicMicros();
  FetchSummary summary;
  summary.pipeline = pipeline.name;
  std::vector<std::string> sinks;
  for (const auto& s : pipeline.sinks) sinks.push_back(s.name);
  SS_RETURN_IF_ERROR(log->RegisterSinks(pipeline.name, sinks));
  source::SourceState store;
  store.get = [log, &pipeline](const std::string& name) {
    return log->GetState(pipeline.name, "source:" + name);
  };
  store.put = [log, &pipeline](const std::string& name, const std::string& value) {
    return log->PutState(pipeline.name, "source:" + name, value);
  };
  SS_ASSIGN_OR_RETURN(auto src, connectors::MakeSource(cfg, pipeline, rt, std::move(store)));
  source::FetchState state;
  SS_ASSIGN_OR_RETURN(state.watermark_ms, log->Watermark(pipeline.name));
  SS_ASSIGN_OR_RETURN(state.open_ids, log->OpenIds(pipeline.name));
  SS_ASSIGN_OR_RETURN(state.failed_ids, log->FailedIds(pipeline.name));
  summary.watermark_ms = state.watermark_ms;
  // Reports each page's counts to the telemetry as it commits (on_page sees running totals).
  FetchOptions o = opts;
  o.on_page = [tel = rt.telemetry(), &pipeline, prev = FetchSummary(),
               user = opts.on_page](const FetchSummary& s) mutable {
    tel->RecordsFetched(pipeline.name, "new", s.added - prev.added);
    tel->RecordsFetched(pipeline.name, "changed", s.changed - prev.changed);
    tel->RecordsFetched(pipeline.name, "unchanged", s.unchanged - prev.unchanged);
    tel->RecordsFetched(pipeline.name, "failed", s.failed - prev.failed);
    if (s.failed > prev.failed)
      tel->QuarantineEvent(pipeline.name, "fetch", s.failed - prev.failed);
    prev = s;
    if (user) user(s);
  };
  StagingPageSink sink(pipeline, log, rt.clock(), &summary, o);
  auto* scan = dynamic_cast<source::CompleteScanSource*>(src.get());
  if (scan != nullptr && scan->SweepEnabled()) sink.TrackIds();
  Status s = src->Fetch(state, &sink);
  if (s.ok() && scan != nullptr && scan->SweepEnabled() && scan->LastFetchWasCompleteScan()) {
    s = Sweep(pipeline, log, scan, &sink);
  }
  summary.elapsed_ms = (rt.clock()->MonotonicMicros() - t0) / 1000;
  if (summary.stopped) return summary;  // a graceful stop is not a failure
  if (!s.ok()) return s;
  return summary;
}

std::string SummaryLine(const FetchSummary& s) {
  return fmt::format(
      "fetch {}: windows={} pages={} fetched={} unchanged={} new={} changed={} failed={} "
      "elapsed={:.3f}s",
      s.pipeline, s.windows, s.pages, s.fetched, s.unchanged, s.added, s.changed, s.failed,
      static_cast<double>(s.elapsed_ms) / 1000.0);
}

std::string SummaryJson(const FetchSummary& s) {
  return fmt::format(
      "{{\"command\":\"fetch\",\"pipeline\":{},\"windows\":{},\"pages\":{},\"fetched\":{},"
      "\"unchanged\":{},\"new\":{},\"changed\":{},\"failed\":{},\"elapsed_ms\":{},"
      "\"watermark_ms\":{}}}",
      json::Quote(s.pipeline), s.windows, s.pages, s.fetched, s.unchanged, s.added, s.changed,
      s.failed, s.elapsed_ms, s.watermark_ms ? std::to_string(*s.watermark_ms) : "null");
}

}  // namespace stagesync::fetch
