// A record's trail (`stagesync-audit --key ID`, issue 13 part 4): every version kept in
// staging's per-record history with its field-level changes, what each sink applied (MySQL:
// the stagesync_ledger row; HTTP sinks: the outcome or open intent in staging), each sink's
// cursor against the record's seq, and a MySQL target's current rows. Read-only, like the
// audit: each target is read in one consistent snapshot taken before staging is read, so a
// version applied meanwhile shows as applied-later, never as missing. Secrets never appear
// (connection options are not printed; the tool redacts its streams).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "stagesync/config.h"
#include "stagesync/stage.h"
#include "stagesync/status.h"

namespace stagesync::audit {

struct SinkTrail {
  std::string sink;
  std::string type;
  uint64_t cursor = 0;
  bool cursor_passed = false;  // cursor >= the record's current seq
  // What the sink holds as applied (MySQL: its ledger row; HTTP sinks: its outcome).
  bool has_applied = false;
  std::string applied_hash;     // content hash (hex)
  std::string applied_mapping;  // mapping hash
  uint64_t applied_seq = 0;     // MySQL ledger: the seq applied (0 unknown)
  std::string applied_at;       // MySQL ledger's applied_at, "" when the table has none
  std::string target_id;        // HTTP sinks: the target's id / bill number
  bool applied_deleted = false;
  // The kept version whose content hash the sink applied (the newest such); nullopt when none
  // of the kept versions matches (applied before history began, or not applied).
  std::optional<uint64_t> applied_version_seq;
  std::string open_intent;  // HTTP sinks: an open create's JSON (payload left out)
  // MySQL sinks: the target table and its current rows for the id, in mapping column order.
  std::string table;
  std::vector<std::string> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;
  std::string note;  // why something could not be read (no ledger table, ...)
};

struct RecordTrail {
  std::string pipeline;
  std::string key;
  std::optional<stage::StagedRecord> current;  // nullopt: not staged in this pipeline
  std::vector<stage::RecordVersion> versions;  // oldest first
  int64_t history_versions = 0;                // the pipeline's setting
  std::vector<SinkTrail> sinks;
};

// The trail of opts.key in opts.pipeline (every pipeline when empty; only those where the key
// is staged, or the named one even if not) and opts.sink (every sink when empty). Errors name
// an unknown pipeline, an unreadable staging dir or an unreachable target.
Result<std::vector<RecordTrail>> Trail(const config::Config& cfg, const AuditOptions& opts);

// For a terminal: each version with its changes, then each sink.
std::string FormatTrailText(const std::vector<RecordTrail>& t);
// JSON lines: one {"trail":{...}} per pipeline.
std::string FormatTrailJson(const std::vector<RecordTrail>& t);

}  // namespace stagesync::audit
