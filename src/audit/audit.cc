#include "audit/audit.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <set>

#include "audit/common.h"
#include "audit/http_audit.h"
#include "audit/values.h"
#include "connectors/connector.h"
#include "connectors/mysql/mysql_sink.h"
#include "stagesync/json.h"
#include "stagesync/sql.h"
#include "stagesync/stage.h"
#include "stagesync/transform.h"

namespace stagesync::audit {
namespace {

using Cell = std::optional<std::string>;
using Row = std::vector<Cell>;

std::string Show(const Cell& c) { return c ? *c : "NULL"; }

// The target table as the audit reads it.
struct Table {
  std::string name;
  std::vector<std::string> columns;  // the mapping's, in its order
  std::vector<std::string> types;    // DATA_TYPE per column
  size_t id = 0;                     // index of the id column
  std::vector<size_t> key;           // columns naming a row within a record (primary key)
};

Result<Table> DescribeTable(SqlConnection* conn, const std::string& table,
                            const std::vector<std::string>& columns, const std::string& id_column,
                            const std::string& path) {
  SS_RETURN_IF_ERROR(sink::mysql::CheckTable(conn, table, columns, path));
  Table t;
  t.name = table;
  t.columns = columns;
  SS_ASSIGN_OR_RETURN(SqlResult types,
                      conn->Query("SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS "
                                  "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = " +
                                  conn->Quote(table)));
  std::map<std::string, std::string> type_of;
  for (const auto& r : types.rows) type_of[r[0].value_or("")] = r[1].value_or("");
  SS_ASSIGN_OR_RETURN(SqlResult pk, conn->Query("SELECT COLUMN_NAME FROM "
                                                "information_schema.KEY_COLUMN_USAGE WHERE "
                                                "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = " +
                                                conn->Quote(table) +
                                                " AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY "
                                                "ORDINAL_POSITION"));
  std::set<std::string> pk_cols;
  for (const auto& r : pk.rows) pk_cols.insert(r[0].value_or(""));
  for (size_t i = 0; i < columns.size(); ++i) {
    t.types.push_back(type_of[columns[i]]);
    if (columns[i] == id_column) t.id = i;
    if (pk_cols.contains(columns[i]) && columns[i] != id_column) t.key.push_back(i);
  }
  return t;
}

// Reads the target's rows in source-id order (the staging key order: bytes), a page of ids
// at a time, inside the caller's snapshot transaction.
class TargetCursor {
 public:
  TargetCursor(SqlConnection* conn, const Table& t, std::string only_key, size_t page)
      : conn_(conn), t_(t), only_(std::move(only_key)), page_(page) {
    for (const auto& c : t_.columns) {
      if (!select_.empty()) select_ += ",";
      select_ += QuoteIdentifier(c);
    }
    // utf8mb4_bin orders by code point, which is the order of the UTF-8 bytes.
    k_ = "CAST(" + QuoteIdentifier(t_.columns[t_.id]) +
         " AS CHAR CHARACTER SET utf8mb4) COLLATE "
         "utf8mb4_bin";
  }

  // The next id's rows; false at the end.
  Result<bool> Next(std::string* id, std::vector<Row>* rows) {
    if (pos_ >= ids_.size()) {
      SS_RETURN_IF_ERROR(Fill());
      if (ids_.empty()) return false;
    }
    *id = ids_[pos_];
    *rows = std::move(rows_[ids_[pos_]]);
    ++pos_;
    return true;
  }

 private:
  Status Fill() {
    ids_.clear();
    rows_.clear();
    pos_ = 0;
    if (done_) return Status::Ok();
    std::string where = only_.empty() ? "" : " WHERE " + k_ + " = " + conn_->Quote(only_);
    if (only_.empty() && started_) where = " WHERE " + k_ + " > " + conn_->Quote(last_);
    SS_ASSIGN_OR_RETURN(
        SqlResult ids,
        conn_->Query(fmt::format("SELECT DISTINCT {0} AS k FROM {1}{2} ORDER BY k LIMIT {3}", k_,
                                 QuoteIdentifier(t_.name), where, page_)));
    if (ids.rows.size() < page_ || !only_.empty()) done_ = true;
    if (ids.rows.empty()) return Status::Ok();
    const std::string first = ids.rows.front()[0].value_or("");
    last_ = ids.rows.back()[0].value_or("");
    started_ = true;
    SS_ASSIGN_OR_RETURN(
        SqlResult rows,
        conn_->Query(fmt::format("SELECT {0}, {1} AS k FROM {2} WHERE {1} BETWEEN {3} AND {4}",
                                 select_, k_, QuoteIdentifier(t_.name), conn_->Quote(first),
                                 conn_->Quote(last_))));
    for (auto& r : ids.rows) ids_.push_back(r[0].value_or(""));
    for (auto& r : rows.rows) {
      std::string k = r.back().value_or("");
      r.pop_back();
      rows_[k].push_back(std::move(r));
    }
    return Status::Ok();
  }

  SqlConnection* conn_;
  const Table& t_;
  std::string only_;
  size_t page_;
  std::string select_, k_, last_;
  bool started_ = false, done_ = false;
  std::vector<std::string> ids_;
  std::map<std::string, std::vector<Row>> rows_;
  size_t pos_ = 0;
};

class SinkAudit {
 public:
  SinkAudit(const Table& t, SinkReport* rep, std::vector<Finding>* out)
      : t_(t), rep_(rep), out_(out) {}

  void Add(std::string cls, const std::string& key, std::string row, std::string detail,
           std::vector<ColumnDiff> cols = {}) {
    Tally(rep_, out_, std::move(cls), key, std::move(row), std::move(detail), std::move(cols));
  }

  std::string RowKey(const Row& r) const {
    std::string k;
    for (size_t i : t_.key) {
      k += (k.empty() ? "" : ",") + t_.columns[i] + "=" + Show(r[i]);
    }
    return k;
  }

  // Rows with no staged record behind them.
  void Extra(const std::string& id, const std::vector<Row>& rows, const std::string& why) {
    for (const auto& r : rows) Add("extra", id, RowKey(r), why);
  }

  // A record whose target rows should be `want`.
  void Compare(const std::string& id, const std::vector<transform::MappedRow>& want,
               const std::vector<Row>& have) {
    if (want.empty()) {
      if (have.empty()) {
        Add("ok", id, "", "");
      } else {
        Extra(id, have, "the sink writes no row for this record now");
      }
      return;
    }
    if (have.empty()) {
      Add("missing", id, "", fmt::format("no row in {} for this applied record", t_.name));
      return;
    }
    // Rows pair by the primary key's other columns; a table without such columns pairs them
    // by position (the sink writes them in mapping order).
    const bool by_position = t_.key.empty() && (want.size() > 1 || have.size() > 1);
    auto key_of = [&](const Row& r, size_t i) {
      return by_position ? fmt::format("row {}", i + 1) : RowKey(r);
    };
    std::map<std::string, const Row*> by_key;
    for (size_t i = 0; i < have.size(); ++i) by_key[key_of(have[i], i)] = &have[i];
    bool clean = true;
    for (size_t i = 0; i < want.size(); ++i) {
      const auto& m = want[i];
      const std::string rk = key_of(m.cells, i);
      auto it = by_key.find(rk);
      if (it == by_key.end()) {
        Add("missing", id, rk,
            want.size() > 1 || !rk.empty()
                ? fmt::format("flattened row {} is not in {}", rk, t_.name)
                : fmt::format("no row in {}", t_.name));
        clean = false;
        continue;
      }
      std::vector<ColumnDiff> diffs;
      for (size_t c = 0; c < t_.columns.size(); ++c) {
        if (!SameValue(m.cells[c], (*it->second)[c], t_.types[c])) {
          diffs.push_back({t_.columns[c], m.cells[c], (*it->second)[c]});
        }
      }
      by_key.erase(it);
      if (!diffs.empty()) {
        std::string detail = DiffDetail(diffs);
        Add("drifted", id, rk, std::move(detail), std::move(diffs));
        clean = false;
      }
    }
    for (const auto& [rk, r] : by_key) {
      Add("extra", id, rk, "flattened row the staged record does not map to");
      clean = false;
    }
    if (clean) Add("ok", id, "", "");
  }

 private:
  const Table& t_;
  SinkReport* rep_;
  std::vector<Finding>* out_;
};

// The sink's ledger rows (source id -> content hash, mapping hash) in source-id order: the
// ledger's key is VARBINARY, so ORDER BY is the bytes' order, the staging key order.
class LedgerCursor {
 public:
  LedgerCursor(SqlConnection* conn, const std::string& pipeline, const std::string& sink,
               bool exists)
      : conn_(conn),
        key_(" WHERE pipeline = " + conn->Quote(pipeline) + " AND sink = " + conn->Quote(sink)),
        done_(!exists) {}

  struct Entry {
    std::string hash, mapping;
  };

  // The entry for `id`; ids must come in increasing order.
  Result<std::optional<Entry>> At(const std::string& id) {
    for (;;) {
      while (pos_ < page_.size() && page_[pos_].first < id) ++pos_;
      if (pos_ < page_.size()) {
        if (page_[pos_].first == id) return std::optional<Entry>(page_[pos_].second);
        return std::optional<Entry>();
      }
      if (done_) return std::optional<Entry>();
      SS_RETURN_IF_ERROR(Fill());
    }
  }

 private:
  static constexpr size_t kPage = 1000;

  Status Fill() {
    std::string where = key_;
    if (!page_.empty()) where += " AND source_id > " + conn_->Quote(page_.back().first);
    SS_ASSIGN_OR_RETURN(
        SqlResult r, conn_->Query(fmt::format("SELECT source_id, content_hash, mapping_hash FROM "
                                              "stagesync_ledger{} ORDER BY source_id LIMIT {}",
                                              where, kPage)));
    page_.clear();
    pos_ = 0;
    for (auto& row : r.rows) {
      page_.push_back({row[0].value_or(""), {row[1].value_or(""), row[2].value_or("")}});
    }
    if (page_.size() < kPage) done_ = true;
    return Status::Ok();
  }

  SqlConnection* conn_;
  std::string key_;
  bool done_;
  std::vector<std::pair<std::string, Entry>> page_;
  size_t pos_ = 0;
};

Status AuditMySqlSink(const config::Config& cfg, const config::PipelineConfig& p,
                      const config::SinkConfig& s, const AuditOptions& opts, SinkReport* rep,
                      std::vector<Finding>* out) {
  const config::ConnectionConfig* cc = cfg.FindConnection(s.connection);
  if (cc == nullptr) return NotFound(s.path + ": unknown connection '" + s.connection + "'");
  SS_ASSIGN_OR_RETURN(SqlOptions sql, sink::mysql::ReadConnectionOptions(*cc));
  SS_ASSIGN_OR_RETURN(sink::mysql::MySqlSinkOptions so, sink::mysql::ReadSinkOptions(p, s));
  SS_ASSIGN_OR_RETURN(transform::Mapping mapping, transform::Mapping::Compile(so.mapping));
  rep->table = so.table;
  rep->target = "table " + so.table;
  auto conn = ConnectMySql(sql);
  if (!conn.ok()) {
    return conn.status().WithContext(
        fmt::format("pipeline {}, sink {}: cannot reach MySQL at {}", p.name, s.name,
                    sql.socket.empty() ? fmt::format("{}:{}", sql.host, sql.port) : sql.socket));
  }
  SqlConnection* db = conn->get();
  SS_ASSIGN_OR_RETURN(Table t,
                      DescribeTable(db, so.table, mapping.columns(), so.id_column, s.path));
  SS_ASSIGN_OR_RETURN(SqlResult has_ledger,
                      db->Query("SELECT COUNT(*) FROM information_schema.TABLES WHERE "
                                "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'stagesync_ledger'"));
  const bool ledger_exists = !has_ledger.rows.empty() && has_ledger.rows[0][0] != "0";
  // One snapshot of the target (rows, ledger, offset) taken BEFORE staging is read: staging is
  // then at least as new as the target, so a record applied meanwhile shows as staged but not
  // in the snapshot's ledger or past its offset (pending), never as an extra row.
  SS_RETURN_IF_ERROR(db->Execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"));
  SS_RETURN_IF_ERROR(db->Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT"));
  uint64_t target_seq = 0;
  std::string target_staging;
  bool has_offset = false;
  if (ledger_exists) {
    auto off = db->Query("SELECT applied_seq, staging_id FROM stagesync_offsets WHERE pipeline = " +
                         db->Quote(p.name) + " AND sink = " + db->Quote(s.name));
    if (off.ok() && !off->rows.empty() && off->rows[0][0]) {
      has_offset = true;
      target_seq = std::stoull(*off->rows[0][0]);
      target_staging = off->rows[0][1].value_or("");
    }
  }
  SS_ASSIGN_OR_RETURN(auto opened, OpenStaging(cfg));
  stage::StagingLog* log = opened.get();
  SS_ASSIGN_OR_RETURN(uint64_t cursor, log->Cursor(p.name, s.name));
  // The snapshot's offset bounds what it can hold when it is in this staging's numbering.
  if (has_offset && target_staging == log->InstanceId()) cursor = std::min(cursor, target_seq);
  const std::string target_hash = sink::mysql::TargetHash(mapping.hash(), sql, so);
  LedgerCursor ledger(db, p.name, s.name, ledger_exists);
  std::set<std::string> quarantined;
  SS_ASSIGN_OR_RETURN(auto q, log->Quarantined(p.name));
  for (const auto& e : q) {
    if (e.stage == s.name) quarantined.insert(e.source_id);
  }
  // Mapped as the sink maps them; CURRENT_TIME is the audit's now, as it is the batch's time.
  const transform::Variables vars = {
      {"CURRENT_TIME", std::to_string(Clock::Real()->NowMicros() / 1000000)}};

  SinkAudit audit(t, rep, out);
  TargetCursor target(db, t, opts.key, opts.page_ids);
  std::string tid;
  std::vector<Row> trows;
  SS_ASSIGN_OR_RETURN(bool have_t, target.Next(&tid, &trows));
  // The merge runs inside the staging scan (key order), pulling target ids as it goes: one
  // staged record and one page of target ids in memory.
  auto handle = [&](const stage::StagedRecord& rec) -> Status {
    while (have_t && tid < rec.source_id) {
      audit.Extra(tid, trows, "no staged record has this id");
      SS_ASSIGN_OR_RETURN(have_t, target.Next(&tid, &trows));
    }
    SS_ASSIGN_OR_RETURN(auto led, ledger.At(rec.source_id));
    std::vector<Row> mine;
    if (have_t && tid == rec.source_id) {
      mine = std::move(trows);
      SS_ASSIGN_OR_RETURN(have_t, target.Next(&tid, &trows));
    }
    if (quarantined.contains(rec.source_id)) {
      audit.Add("quarantined", rec.source_id, "",
                "parked by the sink (stagesync-dump --quarantine)");
    } else if (rec.seq > cursor) {
      audit.Add("pending", rec.source_id, "", "changed in staging, not applied yet");
    } else if (led && led->hash != rec.hash.ToHex()) {
      audit.Add("pending", rec.source_id, "", "the target's ledger holds an older version");
    } else if (led && led->mapping != target_hash) {
      audit.Add("pending", rec.source_id, "",
                "applied under another mapping or target: the sink rewrites it on its next run");
    } else if (rec.deleted) {
      audit.Compare(rec.source_id, {}, mine);
    } else {
      std::vector<transform::MappedRow> want;
      transform::MapVerdict verdict;
      auto v = json::Parse(rec.raw);
      Status ms = v.ok() ? mapping.Map(*v, &want, &verdict, &vars) : v.status();
      if (!ms.ok()) {
        audit.Add("drifted", rec.source_id, "",
                  "the current mapping cannot map this applied record: " + ms.message());
      } else if (verdict.filtered && so.on_unmatched == "keep") {
        audit.Add("ok", rec.source_id, "", "");  // its old rows may stay
      } else {
        audit.Compare(rec.source_id, want, mine);
      }
    }
    return Status::Ok();
  };
  SS_RETURN_IF_ERROR(EachStaged(log, p.name, opts.key, handle));
  while (have_t) {
    audit.Extra(tid, trows, "no staged record has this id");
    SS_ASSIGN_OR_RETURN(have_t, target.Next(&tid, &trows));
  }
  (void)db->Execute("ROLLBACK");
  rep->audited = true;
  return Status::Ok();
}

}  // namespace

int64_t AuditReport::discrepancy_count() const {
  int64_t n = 0;
  for (const auto& f : findings) {
    n += f.cls == "missing" || f.cls == "drifted" || f.cls == "duplicate" || f.cls == "extra";
  }
  return n;
}

bool AuditReport::discrepancies() const { return discrepancy_count() > 0; }

Result<AuditReport> Run(const config::Config& cfg, const AuditOptions& opts) {
  std::vector<const config::PipelineConfig*> pipelines;
  for (const auto& p : cfg.pipelines) {
    if (opts.pipeline.empty() || p.name == opts.pipeline) pipelines.push_back(&p);
  }
  if (pipelines.empty()) {
    std::string names;
    for (const auto& p : cfg.pipelines) names += (names.empty() ? "" : ", ") + p.name;
    return NotFound(fmt::format("unknown pipeline '{}' (the config has: {})", opts.pipeline,
                                names.empty() ? "none" : names));
  }
  if (!opts.sink.empty()) {
    bool found = false;
    for (const auto* p : pipelines) {
      for (const auto& s : p->sinks) found = found || s.name == opts.sink;
    }
    if (!found) return NotFound(fmt::format("unknown sink '{}'", opts.sink));
  }
  // Checked up front, so a missing or corrupt staging dir is named before any target is
  // contacted; each sink reopens it after taking its target snapshot.
  SS_RETURN_IF_ERROR(OpenStaging(cfg).status());
  AuditReport report;
  Runtime rt;  // HTTP sinks' clients (one session or token per connection)
  for (const auto* p : pipelines) {
    for (const auto& s : p->sinks) {
      if (!opts.sink.empty() && s.name != opts.sink) continue;
      SinkReport rep;
      rep.pipeline = p->name;
      rep.sink = s.name;
      rep.type = s.type;
      if (sink::mysql::IsMySqlSink(s)) {
        SS_RETURN_IF_ERROR(AuditMySqlSink(cfg, *p, s, opts, &rep, &report.findings));
      } else {
        // An HTTP sink: its connector builds the target the audit asks (read-only).
        auto target = connectors::MakeTarget(cfg, *p, s, rt);
        if (!target.ok()) {
          return target.status().WithContext(
              fmt::format("pipeline {}, sink {}: cannot audit", p->name, s.name));
        }
        SS_RETURN_IF_ERROR(AuditHttpSink(cfg, *p, s, target->get(), opts, &rep, &report.findings));
      }
      report.sinks.push_back(std::move(rep));
    }
  }
  return report;
}

}  // namespace stagesync::audit
