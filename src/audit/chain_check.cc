#include "audit/chain_check.h"

#include <fmt/format.h>

#include "connectors/mysql/batch_chain.h"

namespace stagesync::audit {

Status VerifyMySqlChain(SqlConnection* db, SinkReport* rep, std::vector<Finding>* out) {
  auto broken = [&](std::string detail) {
    ++rep->counts["chain_broken"];
    out->push_back({rep->pipeline, rep->sink, "chain_broken", "", "", std::move(detail), {}, {}});
  };
  SS_ASSIGN_OR_RETURN(bool has_table, sink::mysql::HasBatchesTable(db));
  if (!has_table) {
    rep->chain_note = "no stagesync_batches table yet: the chain starts with the sink's next batch";
    return Status::Ok();
  }
  uint64_t expect = 1;
  std::string prev = sink::kGenesisDigest;
  bool reported = false;
  sink::BatchLink head;
  SS_RETURN_IF_ERROR(
      sink::mysql::ScanLinks(db, rep->pipeline, rep->sink, [&](const sink::BatchLink& l) {
        ++rep->chain_links;
        if (!reported) {
          std::string why;
          if (l.batch_no != expect) {
            why = fmt::format(
                "link {} is missing (the chain goes from {} to {}): rows were deleted from "
                "stagesync_batches",
                expect, expect - 1, l.batch_no);
          } else if (l.prev_digest != prev) {
            why = fmt::format(
                "link {} (committed {}) does not name link {}'s digest as its previous one: "
                "the chain was edited",
                l.batch_no, l.committed_at, l.batch_no - 1);
          } else if (l.Compute() != l.digest) {
            why = fmt::format(
                "link {} (committed {}) was edited: its fields no longer give its digest",
                l.batch_no, l.committed_at);
          }
          if (!why.empty()) {
            broken("first broken link: " + why);
            reported = true;
          }
        }
        expect = l.batch_no + 1;
        prev = l.digest;
        head = l;
        return true;
      }));
  if (rep->chain_links == 0) {
    rep->chain_note =
        "no batch applied since the chain table was made: the chain starts with "
        "the sink's next batch";
    return Status::Ok();
  }
  rep->chain_head_no = head.batch_no;
  rep->chain_head = head.digest;
  rep->chain_head_at = head.committed_at;
  sink::LedgerDigest want;
  if (!want.FromHex(head.ledger_digest)) {
    if (!reported) broken(fmt::format("link {} has a malformed ledger digest", head.batch_no));
    return Status::Ok();
  }
  SS_ASSIGN_OR_RETURN(sink::LedgerDigest have,
                      sink::mysql::ScanLedgerDigest(db, rep->pipeline, rep->sink));
  if (!(have == want)) {
    broken(fmt::format(
        "stagesync_ledger no longer sums to the digest the chain's head (link {}, committed {}) "
        "recorded: a ledger row of this sink was edited, added or removed outside the agent "
        "since (ledger_mismatch findings name the records where staging can tell)",
        head.batch_no, head.committed_at));
  }
  return Status::Ok();
}

}  // namespace stagesync::audit
