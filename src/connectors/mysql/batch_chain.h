// The batch chain of a MySQL sink (common/chain.h), kept in the target's
// `stagesync_batches` table beside the ledger and written in the batch's own transaction, so a
// committed batch always has its link and a rolled-back one never does.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/chain.h"
#include "stagesync/clock.h"
#include "stagesync/sql.h"
#include "stagesync/status.h"

namespace stagesync::sink::mysql {

// CREATE TABLE IF NOT EXISTS: targets from before the chain get it on the sink's next open,
// and their chain starts with the first batch after that.
Status EnsureBatchesTable(SqlConnection* conn);

// Appends the link of a batch that replaced `removed` with `added` in the sink's ledger.
// Call inside the batch's transaction, after its ledger writes, with the sink's offsets row
// locked (links of one sink never race). Without a previous link the ledger digest is taken
// by a scan of the ledger as it stands (the chain's start).
Status AppendLink(SqlConnection* conn, const std::string& pipeline, const std::string& sink,
                  const std::string& kind, const std::vector<chain::LedgerTuple>& removed,
                  const std::vector<chain::LedgerTuple>& added, uint64_t first_seq,
                  uint64_t last_seq, Clock* clock);

// The digest of the sink's ledger as it stands (one keyset scan).
Result<chain::LedgerDigest> ScanLedgerDigest(SqlConnection* conn, const std::string& pipeline,
                                             const std::string& sink);

// Calls fn for each link of the sink in batch order, a page at a time; stops when fn says so.
Status ScanLinks(SqlConnection* conn, const std::string& pipeline, const std::string& sink,
                 const std::function<bool(const chain::BatchLink&)>& fn);

// True when the target has a stagesync_batches table.
Result<bool> HasBatchesTable(SqlConnection* conn);

}  // namespace stagesync::sink::mysql
