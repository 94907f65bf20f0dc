// Sink: the interface each target (MySQL; Kingdee and Yida later) implements so the applier
// can drain a pipeline's change log into it. A Sink object is used by one applier thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "stagesync/clock.h"
#include "stagesync/config.h"
#include "stagesync/http.h"
#include "stagesync/stage.h"
#include "stagesync/status.h"
#include "stagesync/transform.h"

namespace stagesync::sink {

struct BatchStats {
  int64_t applied = 0;  // records written to the target
  int64_t rows = 0;     // target rows written (flattened records give several)
  int64_t skipped = 0;  // already applied with this content and mapping (ledger)
  int64_t quarantined = 0;
  int64_t retries = 0;           // transient failures retried
  int64_t changes_reported = 0;  // later versions of records a target will not take again
  int64_t filtered = 0;          // the sink's `where` did not select them
  std::map<std::string, int64_t> rule_failures;  // "required:col" -> records quarantined
};

// Called with records that cannot be applied, BEFORE the batch commits, so a crash can never
// commit past a record without it being parked in quarantine.
using QuarantineFn = std::function<Status(const std::vector<stage::FetchFailure>&)>;

class Sink {
 public:
  virtual ~Sink() = default;
  // The highest sequence number the target itself says it has applied (0 if none). Entries up
  // to it were applied before a crash that lost the staging cursor update.
  virtual Result<uint64_t> TargetOffset() = 0;
  // Called before TargetOffset with the staging instance that drains into the sink (a stable
  // id of the state dir's pipeline) and its cursor, so a target that records who applied to it
  // can tell a rebuilt or foreign staging dir from its own. Default: ignored.
  virtual void SetStaging(const std::string& /*instance_id*/, uint64_t /*cursor*/) {}
  // Applies `records` (the newest version of each changed key, in sequence order) and records
  // `max_seq` as applied, atomically where the target allows it.
  virtual Status ApplyBatch(const std::vector<stage::StagedRecord>& records, uint64_t max_seq,
                            const QuarantineFn& quarantine, BatchStats* stats) = 0;
  // Optional: CPU-only work for a batch (e.g. mapping) that the applier runs on another thread
  // while the previous batch is being written. Must not touch the target. Thread-safe with
  // respect to one concurrent ApplyBatch.
  virtual void PrepareBatch(const std::vector<stage::StagedRecord>& /*records*/) {}
  // Batch sizing: rows per batch and raw bytes per batch.
  virtual size_t batch_records() const = 0;
  virtual size_t batch_bytes() const = 0;
  // Identifies the mapping the sink writes with; when it changes, every record of the
  // pipeline is applied again once. Empty when the sink has no mapping.
  virtual std::string MappingHash() const = 0;
};

}  // namespace stagesync::sink
