// Audit (issue 13): compares what each sink's target holds with what the staged records map to
// under the sink's current mapping, read-only. Staging is opened read-only (works beside a
// running agent). A MySQL target is read in one consistent-snapshot transaction, its rows
// merged with the staged records in source-id order a page of ids at a time, so memory stays
// bounded by the page, not the table. HTTP targets (Kingdee Push, Yida) are asked per record
// through their connector's read-only hooks (http_audit.h).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "stagesync/config.h"
#include "stagesync/status.h"

namespace stagesync::audit {

struct AuditOptions {
  std::string pipeline;         // "" = every pipeline
  std::string sink;             // "" = every sink
  std::string format = "text";  // text | json | html
  std::string key;              // "" = every record; else one source id
  size_t page_ids = 500;        // target ids read per query
  // Told how far a sink's audit has come (staged records read so far), every few thousand
  // records and once at each sink's end; the tool shows it on a terminal.
  std::function<void(const std::string& pipeline, const std::string& sink, int64_t records)>
      progress;
};

struct ColumnDiff {
  std::string column;
  std::optional<std::string> mapped;  // nullopt = NULL
  std::optional<std::string> target;
};

// Classes: ok, missing, drifted, extra, duplicate (HTTP sinks: the record created more than
// once, e.g. a payment bill pushed twice), ledger_mismatch, chain_broken, pending, quarantined.
struct Finding {
  std::string pipeline;
  std::string sink;
  std::string cls;
  std::string key;     // the source id
  std::string row;     // a flattened child row's key columns ("" for the record as a whole)
  std::string detail;  // one line for a person
  std::vector<ColumnDiff> columns;
  // extra rows of a MySQL table: the columns (the id column and the primary key's others) and
  // values that pick out exactly this row, for --repair --delete-extra; empty when no key can.
  std::vector<std::pair<std::string, std::optional<std::string>>> row_key;
};

struct SinkReport {
  std::string pipeline;
  std::string sink;
  std::string type;
  bool audited = false;  // set once the sink's audit completed
  std::string table;     // the table, or what an HTTP sink creates ("AP_PAYBILL bill")
  std::string target;    // for a person: "table t", "AP_PAYBILL bill"
  std::map<std::string, int64_t> counts;  // class -> records (or child rows for extra/missing)
  // The sink's batch chain (common/chain.h) as verified: links read, the newest
  // one, and a note for a person (no chain yet, where it starts, where it broke).
  uint64_t chain_links = 0;
  uint64_t chain_head_no = 0;
  std::string chain_head;     // digest of the newest link; "" without a chain
  std::string chain_head_at;  // its committed_at (UTC)
  std::string chain_note;
  // Where the audit read: the staging instance and the sink's position in it (the cursor, or
  // the target's offset when that is behind: records past it count as pending).
  std::string staging_instance;
  uint64_t snapshot_seq = 0;
  // Columns written with the time of the write ({{CURRENT_TIME}}): not compared.
  std::vector<std::string> uncompared;
};

// missing, drifted, extra, duplicate, ledger_mismatch and chain_broken.
bool IsDiscrepancy(const std::string& cls);

struct AuditReport {
  std::string started_at;  // UTC, ISO 8601 with ms
  std::string scope;       // what was audited, for a person ("pipeline P, every sink")
  std::string state_dir;
  std::vector<SinkReport> sinks;
  std::vector<Finding> findings;  // every finding but ok and pending
  // missing, drifted, duplicate and extra findings (quarantined ones are listed, known to the
  // operator already, and not counted: like pending they do not make the exit code 1).
  int64_t discrepancy_count() const;
  bool discrepancies() const;
};

// Runs the audit. Errors (exit 2 of the tool) name what could not be audited: an unknown
// pipeline or sink, a missing or unreadable staging dir, an unreachable target.
Result<AuditReport> Run(const config::Config& cfg, const AuditOptions& opts);

// The text summary (counts per class per sink, the first 20 findings).
std::string FormatText(const AuditReport& r);
// JSON lines: one finding each, then {"summary":...}.
std::string FormatJsonLines(const AuditReport& r);
// A self-contained HTML page (no outside assets) to archive: scope, time, snapshot position,
// counts, every finding, each sink's chain head.
std::string FormatHtml(const AuditReport& r);

}  // namespace stagesync::audit
