#include "audit/chain_check.h"

#include <fmt/format.h>

#include <functional>

#include "connectors/mysql/batch_chain.h"

namespace stagesync::audit {
namespace {

using LinkFn = std::function<bool(const chain::BatchLink&)>;

// `scan` gives the links in order; `covered` the digest of what the chain covers now, named
// `what` in the finding.
Status VerifyLinks(const std::function<Status(const LinkFn&)>& scan,
                   const std::function<Result<chain::LedgerDigest>()>& covered,
                   const std::string& what, SinkReport* rep, std::vector<Finding>* out) {
  auto broken = [&](std::string detail) {
    ++rep->counts["chain_broken"];
    out->push_back({rep->pipeline, rep->sink, "chain_broken", "", "", std::move(detail), {}, {}});
  };
  uint64_t expect = 1;
  std::string prev = chain::kGenesisDigest;
  bool reported = false;
  chain::BatchLink head;
  SS_RETURN_IF_ERROR(scan([&](const chain::BatchLink& l) {
    ++rep->chain_links;
    if (!reported) {
      std::string why;
      if (l.batch_no != expect) {
        why = fmt::format("link {} is missing (the chain goes from {} to {}): links were deleted",
                          expect, expect - 1, l.batch_no);
      } else if (l.prev_digest != prev) {
        why = fmt::format(
            "link {} (committed {}) does not name link {}'s digest as its previous one: the "
            "chain was edited",
            l.batch_no, l.committed_at, l.batch_no - 1);
      } else if (l.Compute() != l.digest) {
        why = fmt::format("link {} (committed {}) was edited: its fields no longer give its digest",
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
    rep->chain_note = "no link yet: the chain starts with the sink's next write";
    return Status::Ok();
  }
  rep->chain_head_no = head.batch_no;
  rep->chain_head = head.digest;
  rep->chain_head_at = head.committed_at;
  chain::LedgerDigest want;
  if (!want.FromHex(head.ledger_digest)) {
    if (!reported) broken(fmt::format("link {} has a malformed digest", head.batch_no));
    return Status::Ok();
  }
  SS_ASSIGN_OR_RETURN(chain::LedgerDigest have, covered());
  if (!(have == want)) {
    broken(fmt::format(
        "{} no longer sums to the digest the chain's head (link {}, committed {}) recorded: an "
        "entry was edited, added or removed outside the agent since",
        what, head.batch_no, head.committed_at));
  }
  return Status::Ok();
}

}  // namespace

Status VerifyMySqlChain(SqlConnection* db, SinkReport* rep, std::vector<Finding>* out) {
  SS_ASSIGN_OR_RETURN(bool has_table, sink::mysql::HasBatchesTable(db));
  if (!has_table) {
    rep->chain_note = "no stagesync_batches table yet: the chain starts with the sink's next batch";
    return Status::Ok();
  }
  Status st = VerifyLinks(
      [&](const LinkFn& fn) { return sink::mysql::ScanLinks(db, rep->pipeline, rep->sink, fn); },
      [&]() { return sink::mysql::ScanLedgerDigest(db, rep->pipeline, rep->sink); },
      "stagesync_ledger (ledger_mismatch findings name the records where staging can tell)", rep,
      out);
  if (rep->chain_links == 0) {
    rep->chain_note =
        "no batch applied since the chain table was made: the chain starts with "
        "the sink's next batch";
  }
  return st;
}

Status VerifyOutcomeChain(stage::StagingLog* log, SinkReport* rep, std::vector<Finding>* out) {
  Status bad_link;
  return VerifyLinks(
      [&](const LinkFn& fn) -> Status {
        SS_RETURN_IF_ERROR(
            log->ScanOutcomeChain(rep->pipeline, rep->sink, [&](const std::string& text) {
              chain::BatchLink l;
              if (!chain::BatchLink::Parse(text, &l)) {
                // Unreadable: counts as edited (its digest cannot match).
                l.digest = "unreadable";
              }
              l.pipeline = rep->pipeline;
              l.sink = rep->sink;
              return fn(l);
            }));
        return Status::Ok();
      },
      [&]() -> Result<chain::LedgerDigest> {
        chain::LedgerDigest d;
        SS_ASSIGN_OR_RETURN(auto all, log->Outcomes(rep->pipeline, rep->sink));
        for (const auto& [id, v] : all) d.Add(chain::OutcomeTuple(id, v));
        return d;
      },
      "the sink's outcomes in staging", rep, out);
}

}  // namespace stagesync::audit
