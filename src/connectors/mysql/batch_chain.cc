#include "connectors/mysql/batch_chain.h"

#include <fmt/format.h>

namespace stagesync::sink::mysql {
namespace {

constexpr const char* kBatchesDdl =
    "CREATE TABLE IF NOT EXISTS stagesync_batches ("
    " pipeline VARCHAR(64) NOT NULL, sink VARCHAR(64) NOT NULL,"
    " batch_no BIGINT UNSIGNED NOT NULL, kind VARCHAR(16) NOT NULL,"
    " first_seq BIGINT UNSIGNED NOT NULL, last_seq BIGINT UNSIGNED NOT NULL,"
    " records BIGINT UNSIGNED NOT NULL, records_digest CHAR(64) NOT NULL,"
    " ledger_digest CHAR(64) NOT NULL, prev_digest CHAR(64) NOT NULL,"
    " committed_at DATETIME(3) NOT NULL, digest CHAR(64) NOT NULL,"
    " PRIMARY KEY (pipeline, sink, batch_no)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";

constexpr size_t kPage = 5000;

std::string SinkWhere(SqlConnection* conn, const std::string& pipeline, const std::string& sink) {
  return " WHERE pipeline = " + conn->Quote(pipeline) + " AND sink = " + conn->Quote(sink);
}

uint64_t U64(const std::optional<std::string>& c) { return c ? std::stoull(*c) : 0; }

}  // namespace

Status EnsureBatchesTable(SqlConnection* conn) { return conn->Execute(kBatchesDdl); }

Result<bool> HasBatchesTable(SqlConnection* conn) {
  SS_ASSIGN_OR_RETURN(
      SqlResult r, conn->Query("SELECT COUNT(*) FROM information_schema.TABLES WHERE "
                               "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'stagesync_batches'"));
  return !r.rows.empty() && r.rows[0][0] && *r.rows[0][0] != "0";
}

Result<chain::LedgerDigest> ScanLedgerDigest(SqlConnection* conn, const std::string& pipeline,
                                             const std::string& sink) {
  chain::LedgerDigest d;
  std::string after;
  bool more = true;
  while (more) {
    std::string where = SinkWhere(conn, pipeline, sink);
    if (!after.empty()) where += " AND source_id > " + conn->Quote(after);
    SS_ASSIGN_OR_RETURN(SqlResult r,
                        conn->Query(fmt::format("SELECT source_id, content_hash, mapping_hash FROM "
                                                "stagesync_ledger{} ORDER BY source_id LIMIT {}",
                                                where, kPage)));
    for (const auto& row : r.rows) {
      d.Add({row[0].value_or(""), row[1].value_or(""), row[2].value_or("")});
    }
    more = r.rows.size() == kPage;
    if (!r.rows.empty()) after = r.rows.back()[0].value_or("");
  }
  return d;
}

Status ScanLinks(SqlConnection* conn, const std::string& pipeline, const std::string& sink,
                 const std::function<bool(const chain::BatchLink&)>& fn) {
  uint64_t after = 0;
  bool first = true;
  for (;;) {
    std::string where = SinkWhere(conn, pipeline, sink);
    if (!first) where += fmt::format(" AND batch_no > {}", after);
    SS_ASSIGN_OR_RETURN(
        SqlResult r,
        conn->Query(fmt::format(
            "SELECT batch_no, kind, first_seq, last_seq, records, records_digest, ledger_digest, "
            "prev_digest, DATE_FORMAT(committed_at, '%Y-%m-%d %H:%i:%s.%f'), digest FROM "
            "stagesync_batches{} ORDER BY batch_no LIMIT {}",
            where, kPage)));
    for (const auto& row : r.rows) {
      chain::BatchLink l;
      l.pipeline = pipeline;
      l.sink = sink;
      l.batch_no = U64(row[0]);
      l.kind = row[1].value_or("");
      l.first_seq = U64(row[2]);
      l.last_seq = U64(row[3]);
      l.records = U64(row[4]);
      l.records_digest = row[5].value_or("");
      l.ledger_digest = row[6].value_or("");
      l.prev_digest = row[7].value_or("");
      // %f gives microseconds; the link was stored (and digested) with milliseconds.
      l.committed_at = row[8].value_or("");
      if (l.committed_at.size() > 23) l.committed_at.resize(23);
      l.digest = row[9].value_or("");
      if (!fn(l)) return Status::Ok();
      after = l.batch_no;
    }
    first = false;
    if (r.rows.size() < kPage) return Status::Ok();
  }
}

Status AppendLink(SqlConnection* conn, const std::string& pipeline, const std::string& sink,
                  const std::string& kind, const std::vector<chain::LedgerTuple>& removed,
                  const std::vector<chain::LedgerTuple>& added, uint64_t first_seq,
                  uint64_t last_seq, Clock* clock) {
  SS_ASSIGN_OR_RETURN(
      SqlResult head,
      conn->Query("SELECT batch_no, digest, ledger_digest FROM stagesync_batches" +
                  SinkWhere(conn, pipeline, sink) + " ORDER BY batch_no DESC LIMIT 1"));
  chain::BatchLink l;
  l.pipeline = pipeline;
  l.sink = sink;
  l.kind = kind;
  l.first_seq = first_seq;
  l.last_seq = last_seq;
  l.records = added.size() + (added.empty() ? removed.size() : 0);
  std::vector<chain::LedgerTuple> digested = added.empty() ? removed : added;
  l.records_digest = chain::RecordsDigest(std::move(digested));
  chain::LedgerDigest ledger;
  bool removed_applied = false;  // the digest already reflects this batch
  if (head.rows.empty()) {
    // The chain starts here: the ledger already holds this batch's writes.
    l.batch_no = 1;
    l.prev_digest = chain::kGenesisDigest;
    SS_ASSIGN_OR_RETURN(ledger, ScanLedgerDigest(conn, pipeline, sink));
  } else {
    l.batch_no = U64(head.rows[0][0]) + 1;
    l.prev_digest = head.rows[0][1].value_or("");
    if (!ledger.FromHex(head.rows[0][2].value_or(""))) {
      // The head was edited by hand. Applying goes on (the audit names the broken link); the
      // digest is taken afresh from the ledger, which already holds this batch's writes.
      SS_ASSIGN_OR_RETURN(ledger, ScanLedgerDigest(conn, pipeline, sink));
      removed_applied = true;
    }
    if (!removed_applied) {
      for (const auto& t : removed) ledger.Remove(t);
      for (const auto& t : added) ledger.Add(t);
    }
  }
  l.ledger_digest = ledger.Hex();
  l.committed_at = chain::UtcMillis(clock->NowMicros());
  l.digest = l.Compute();
  return conn->Execute(fmt::format(
      "INSERT INTO stagesync_batches (pipeline, sink, batch_no, kind, first_seq, last_seq, "
      "records, records_digest, ledger_digest, prev_digest, committed_at, digest) VALUES "
      "({},{},{},{},{},{},{},'{}','{}','{}','{}','{}')",
      conn->Quote(pipeline), conn->Quote(sink), l.batch_no, conn->Quote(kind), l.first_seq,
      l.last_seq, l.records, l.records_digest, l.ledger_digest, l.prev_digest, l.committed_at,
      l.digest));
}

}  // namespace stagesync::sink::mysql
