// stagesync-audit --repair: puts what an audit found wrong back through the normal applier,
// so each repaired record is rewritten exactly once, with the sink's usual crash safety.
//
// For every missing, drifted or ledger_mismatch record of a MySQL sink:
//   1. staging: the record goes back into the change log with a fresh sequence (through the
//      quarantine's requeue, so it is the newest staged version that gets applied);
//   2. target, one transaction under the sink's offsets-row lock: its ledger row is marked
//      `mapping_hash = 'repair'` (a hash no sink writes), so the applier rewrites its rows
//      instead of skipping them as already applied, and the chain gets a `repair` link.
// Staging goes first: a crash between the two leaves a requeued record the applier skips as
// applied (still drifted, found again by the next audit), never a ledger that promises a
// rewrite nothing will do. `extra` rows are deleted only with --delete-extra, in the same
// transaction, each one logged. Kingdee bills and Yida instances are never touched: a
// duplicate is for a person to void. Staging is opened read-write, so the agent must be
// stopped for a repair (the error says so).
#pragma once

#include <string>
#include <vector>

#include "audit/audit.h"
#include "stagesync/config.h"
#include "stagesync/status.h"

namespace stagesync::audit {

struct RepairOptions {
  bool delete_extra = false;
};

struct RepairResult {
  int64_t requeued = 0;          // records put back into the change log
  int64_t ledger_marked = 0;     // ledger rows marked for rewrite
  int64_t extra_deleted = 0;     // target rows deleted (--delete-extra)
  int64_t left_alone = 0;        // findings a repair does not touch (duplicates, HTTP sinks, ...)
  std::vector<std::string> log;  // one line per action, for the operator
};

Result<RepairResult> Repair(const config::Config& cfg, const AuditReport& report,
                            const RepairOptions& opts);

}  // namespace stagesync::audit
