// Verifies a sink's chain (common/chain.h) inside the audit's snapshot: every link recomputes
// to its digest and names the previous one, numbers run without gaps, and what the chain
// covers (a MySQL sink's ledger, an HTTP sink's outcomes in staging) sums to the head's
// digest. The first broken link (and a covered set that no longer matches the head) becomes a
// `chain_broken` finding; the head goes into the sink's report.
#pragma once

#include <vector>

#include "audit/audit.h"
#include "stagesync/sql.h"
#include "stagesync/stage.h"

namespace stagesync::audit {

// A MySQL sink: stagesync_batches against stagesync_ledger, in the caller's transaction.
Status VerifyMySqlChain(SqlConnection* db, SinkReport* rep, std::vector<Finding>* out);

// An HTTP sink: its outcome chain against its outcomes, both in staging.
Status VerifyOutcomeChain(stage::StagingLog* log, SinkReport* rep, std::vector<Finding>* out);

}  // namespace stagesync::audit
