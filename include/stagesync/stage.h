// StagingLog: the RocksDB store between sources and sinks. Records are keyed by (pipeline,
// source id) with a content hash; a new or changed record gets a change-log entry that each
// sink drains through its own cursor. The key layout is in doc/stage-format.md.
// Thread-safe: one StagingLog may be shared by the fetcher and appliers of one process. One
// state dir is opened read-write by one process at a time (an flock on STAGESYNC_LOCK, taken
// before RocksDB opens anything, then RocksDB's own LOCK).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "stagesync/clock.h"
#include "stagesync/fetch_failure.h"
#include "stagesync/hash.h"
#include "stagesync/status.h"

namespace stagesync::stage {

struct StageOptions {
  bool read_only = false;
  // fsync every commit. Default: true. Only benchmarks turn it off, to compare with db_bench.
  bool sync = true;
  // Stamps quarantine entries and a new state dir's identity. Default: the real clock.
  Clock* clock = Clock::Real();
};

// A record as the source delivers it.
struct IncomingRecord {
  std::string source_id;
  Hash128 hash;     // content hash of the canonical form (hash_exclude applied)
  std::string raw;  // canonical JSON of the whole record
  bool deleted = false;
};

struct StagedRecord {
  std::string source_id;
  Hash128 hash;
  uint64_t seq = 0;
  int64_t fetched_at_ms = 0;
  bool deleted = false;
  std::string raw;
};

// The default of a pipeline's `history_versions`.
inline constexpr uint32_t kDefaultHistoryVersions = 10;

// One field of a record that differs from the record's previous version. `path` names it from
// the top: members joined by '.', array items as [i] ("FUseOrgId.FNumber", "items[2].qty").
struct FieldChange {
  std::string path;
  std::string op;        // "added" | "removed" | "changed"
  std::string old_json;  // the old value as JSON; "" when added
  std::string new_json;  // the new value as JSON; "" when removed
};

// One version of a record in its bounded history (doc/stage-format.md, "Record history").
struct RecordVersion {
  uint64_t seq = 0;  // the seq the version was staged under
  int64_t staged_at_ms = 0;
  Hash128 hash;
  // "created": first staged (no diff: the record as staged is its content);
  // "changed": `changes` lists each field that differs from the previous version;
  // "deleted": a tombstone (gone at the source); "restored": staged again after a tombstone.
  std::string kind;
  std::vector<FieldChange> changes;
};

// One atomic staging write: a page of records plus whatever bookkeeping advances with them.
struct PageCommit {
  std::vector<IncomingRecord> records;
  // Versions of each record kept in its history (the pipeline's `history_versions`): a new or
  // changed record adds one in the same write and the oldest beyond this many are deleted.
  // 0: no history is written (entries already kept stay until the record changes with it on).
  uint32_t history_versions = kDefaultHistoryVersions;
  std::optional<int64_t> watermark;          // set with the last page of a window
  std::vector<std::string> open_ids_add;     // not final at the source: re-fetch next time
  std::vector<std::string> open_ids_remove;  // became final
  std::vector<FetchFailure> failures;
  std::vector<std::string> failures_cleared;  // earlier failures that now read cleanly
  // Source state (as GetState/PutState) written in the same atomic batch as the page, e.g. a
  // position inside a window; nullopt deletes the entry.
  std::vector<std::pair<std::string, std::optional<std::string>>> state;
};

struct CommitStats {
  int64_t unchanged = 0;
  int64_t added = 0;
  int64_t changed = 0;
};

struct ChangeEntry {
  uint64_t seq = 0;
  std::string source_id;
};

struct QuarantineEntry {
  std::string pipeline;
  std::string stage;  // "fetch" or the sink's name
  std::string source_id;
  std::string error;
  std::string payload;
  int64_t at_ms = 0;
};

struct PipelineSummary {
  std::string pipeline;
  int64_t records = 0;
  int64_t deleted = 0;
  uint64_t last_seq = 0;
  std::optional<int64_t> watermark_ms;
  int64_t open_ids = 0;
  int64_t quarantined = 0;
  struct Sink {
    std::string name;
    uint64_t cursor = 0;
    int64_t pending = 0;
    int64_t outcomes = 0;      // HTTP sinks: records created at the target
    int64_t open_intents = 0;  // HTTP sinks: creates whose outcome is not known yet
  };
  std::vector<Sink> sinks;
};

// One run of a pipeline by the agent, kept in staging (the newest 1000 per pipeline).
struct RunRecord {
  int64_t id = 0;  // 1, 2, ... per pipeline; given by AppendRun
  int64_t started_ms = 0;
  int64_t ended_ms = 0;
  std::string outcome;      // "ok" | "partial" | "failed" | "stopped" | "skipped"
  std::string detail_json;  // a JSON object the agent writes (fetch/apply summaries, errors)
};

class StagingLog {
 public:
  virtual ~StagingLog() = default;

  // Opens the staging database in `dir`, creating it (and the dir, mode 0700) only when the dir
  // is new or empty; files are created 0600. Fails with:
  //   AlreadyExists       another process holds the dir (nothing of its files is touched);
  //   FailedPrecondition  the dir holds database files or an identity file but no CURRENT, or
  //                       foreign files only (the message says how to recover); nothing is
  //                       created;
  //   ResourceExhausted   no space left on the state dir's device.
  // A dir without an identity file (STAGESYNC_ID) gets one with a fresh instance id. A
  // read-write open drops group and other bits from the process umask.
  static Result<std::unique_ptr<StagingLog>> Open(const std::string& dir,
                                                  const StageOptions& opts = {});

  // The state dir's instance id (from STAGESYNC_ID): it tells this staging apart from a rebuilt
  // or foreign one. Empty only for a read-only open of a dir without an identity file.
  virtual const std::string& InstanceId() const = 0;

  // Makes sure each named sink has a cursor (new sinks start at 0).
  virtual Status RegisterSinks(const std::string& pipeline,
                               const std::vector<std::string>& sinks) = 0;

  // Writes one page atomically: unchanged records (same hash) write nothing; new and changed
  // ones get a fresh sequence number and a change-log entry (replacing the record's older
  // pending entry, so versions coalesce). The watermark and open-id changes go in the same
  // write. On failure nothing of the page is written.
  virtual Result<CommitStats> CommitPage(const std::string& pipeline, const PageCommit& page,
                                         int64_t now_ms) = 0;

  virtual Result<std::optional<int64_t>> Watermark(const std::string& pipeline) = 0;
  virtual Result<std::vector<std::string>> OpenIds(const std::string& pipeline) = 0;
  // Ids with a fetch failure on record (re-fetched every time until clean).
  virtual Result<std::vector<std::string>> FailedIds(const std::string& pipeline) = 0;
  virtual Result<std::optional<StagedRecord>> Get(const std::string& pipeline,
                                                  const std::string& source_id) = 0;
  // The record's kept versions, oldest first (empty when none: history off, a record not
  // changed since history began, or a staging dir from before it).
  virtual Result<std::vector<RecordVersion>> History(const std::string& pipeline,
                                                     const std::string& source_id) = 0;

  // Change-log entries with seq > after_seq, in sequence order, at most `limit`.
  virtual Result<std::vector<ChangeEntry>> ReadChanges(const std::string& pipeline,
                                                       uint64_t after_seq, size_t limit) = 0;
  virtual Result<uint64_t> Cursor(const std::string& pipeline, const std::string& sink) = 0;
  // Moves a sink's cursor forward (never back) and trims entries every sink has passed.
  virtual Status AdvanceCursor(const std::string& pipeline, const std::string& sink,
                               uint64_t seq) = 0;

  // Every pipeline with staged records, sinks or run history, sorted.
  virtual Result<std::vector<std::string>> Pipelines() = 0;
  virtual Result<PipelineSummary> Summary(const std::string& pipeline) = 0;
  // Calls fn for every staged record of the pipeline in key order; stops when fn returns false.
  virtual Status ScanRecords(const std::string& pipeline,
                             const std::function<bool(const StagedRecord&)>& fn) = 0;
  virtual Result<std::vector<QuarantineEntry>> Quarantined(const std::string& pipeline) = 0;

  // Small named state of a pipeline's components (a sink's applied mapping hash, a source's
  // rotated refresh token). Empty string when unset.
  virtual Result<std::string> GetState(const std::string& pipeline, const std::string& name) = 0;
  virtual Status PutState(const std::string& pipeline, const std::string& name,
                          const std::string& value) = 0;

  // ---- Run history (the agent's), bounded: the newest 1000 runs per pipeline ----
  // Gives `run` the pipeline's next id (previous + 1) and stores it (synced), deleting the
  // pipeline's runs older than the newest 1000 in the same write. InvalidArgument when
  // detail_json is not a JSON object ("" stores {}); nothing is written on failure.
  virtual Status AppendRun(const std::string& pipeline, RunRecord* run) = 0;
  // The pipeline's runs, newest first, at most `limit`.
  virtual Result<std::vector<RunRecord>> Runs(const std::string& pipeline, size_t limit) = 0;

  // ---- Daily quota counts, per connection (connectors/common/daily_quota.h) ----
  // The stored count (opaque to staging), "" when none.
  virtual Result<std::string> GetQuota(const std::string& connection) = 0;
  // Stores it, synced: a request counted is never given back by a crash.
  virtual Status PutQuota(const std::string& connection, const std::string& value) = 0;

  // ---- Intents and outcomes of sinks whose targets have no transactions (HTTP APIs) ----
  // An intent is recorded (synced) before a call that creates something at the target; the
  // outcome replaces it in one write once the answer (or a lookup at the target) is known.
  virtual Status PutIntents(const std::string& pipeline, const std::string& sink,
                            const std::vector<std::pair<std::string, std::string>>& id_values) = 0;
  virtual Result<std::vector<std::pair<std::string, std::string>>> Intents(
      const std::string& pipeline, const std::string& sink) = 0;
  // Deletes the intent (if any) and stores the outcome under the record's id, atomically; the
  // same write extends the sink's outcome chain (common/chain.h) by one link.
  virtual Status CompleteIntent(const std::string& pipeline, const std::string& sink,
                                const std::string& id, const std::string& outcome) = 0;
  // Calls fn with each stored link of the sink's outcome chain (chain::BatchLink::Serialize),
  // in order; stops when fn returns false.
  virtual Status ScanOutcomeChain(const std::string& pipeline, const std::string& sink,
                                  const std::function<bool(const std::string&)>& fn) = 0;
  // Deletes the intent: the target was asked and has nothing, so a new call is safe.
  virtual Status ClearIntent(const std::string& pipeline, const std::string& sink,
                             const std::string& id) = 0;
  // The stored outcome for a record (empty when none).
  virtual Result<std::string> Outcome(const std::string& pipeline, const std::string& sink,
                                      const std::string& id) = 0;
  virtual Result<std::vector<std::pair<std::string, std::string>>> Outcomes(
      const std::string& pipeline, const std::string& sink) = 0;

  // Parks records a sink could not apply, under stage = the sink's name.
  virtual Status PutQuarantine(const std::string& pipeline, const std::string& stage,
                               const std::vector<FetchFailure>& entries) = 0;
  // Puts quarantined records of `stage` (every sink stage when empty; one key when given) back
  // into the change log with a fresh sequence number. Returns how many were requeued.
  virtual Result<int64_t> Requeue(const std::string& pipeline, const std::string& stage,
                                  const std::string& key) = 0;

  // RocksDB's latest sequence number: it moves on every write, so tests use it to prove
  // that something wrote nothing.
  virtual uint64_t StoreSequence() = 0;
};

}  // namespace stagesync::stage
