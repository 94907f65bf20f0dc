// Verifies a MySQL sink's batch chain (connectors/mysql/batch_chain.h) inside the audit's
// snapshot: every link recomputes to its digest and names the previous one, numbers run
// without gaps, and the sink's ledger sums to the head's ledger digest. The first broken link
// (and a ledger that no longer matches the head) becomes a `chain_broken` finding.
#pragma once

#include <vector>

#include "audit/audit.h"
#include "stagesync/sql.h"

namespace stagesync::audit {

Status VerifyMySqlChain(SqlConnection* db, SinkReport* rep, std::vector<Finding>* out);

}  // namespace stagesync::audit
