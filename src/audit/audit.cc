#include "audit/audit.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <set>

#include "audit/chain_check.h"
#include "audit/common.h"
#include "audit/http_audit.h"
#include "audit/mysql_target.h"
#include "audit/values.h"
#include "connectors/connector.h"
#include "connectors/mysql/mysql_sink.h"
#include "obs/log.h"
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
  std::vector<bool> write_time;      // per column: written with the time of the write
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

// A staging read's outcome, an error naming the state dir (a corrupt table file is found only
// when read, after the open succeeded).
Status InStaging(const Status& s, const std::string& dir) {
  return s.ok() ? s : s.WithContext("reading the staging log in " + dir);
}
template <typename T>
Result<T> InStaging(Result<T> r, const std::string& dir) {
  if (!r.ok()) return InStaging(r.status(), dir);
  return r;
}

// Reads the target's rows by its id column's index, inside the caller's snapshot transaction:
// point lookups for a page of staged ids (`WHERE id IN (...)`), and a keyset scan of the ids
// in the column's own order (`WHERE id > last ORDER BY id LIMIT n`) to find ids nothing
// staged. Neither sorts the table, and memory holds one page.
class TargetReader {
 public:
  TargetReader(SqlConnection* conn, const Table& t) : conn_(conn), t_(t) {
    for (const auto& c : t_.columns) {
      if (!select_.empty()) select_ += ",";
      select_ += QuoteIdentifier(c);
    }
    id_ = QuoteIdentifier(t_.columns[t_.id]);
    static const std::set<std::string> kIntegers = {"tinyint", "smallint", "mediumint", "int",
                                                    "bigint"};
    integer_ = kIntegers.contains(t_.types[t_.id]);
  }

  // The rows of `ids`, by id as the server prints it (the staged id's exact text; a row whose
  // id only compares equal, such as 7 for "007", is not theirs).
  Result<std::map<std::string, std::vector<Row>>> RowsOf(const std::vector<std::string>& ids) {
    std::map<std::string, std::vector<Row>> out;
    std::string list;
    for (const auto& id : ids) {
      if (integer_ && !IsInteger(id)) continue;  // no integer column holds it
      list += list.empty() ? "" : ",";
      list += integer_ ? id : conn_->Quote(id);
    }
    if (list.empty()) return out;
    SS_ASSIGN_OR_RETURN(SqlResult r,
                        conn_->Query(fmt::format("SELECT {} FROM {} WHERE {} IN ({})", select_,
                                                 QuoteIdentifier(t_.name), id_, list)));
    for (auto& row : r.rows) {
      std::string k = row[t_.id].value_or("");
      out[std::move(k)].push_back(std::move(row));
    }
    return out;
  }

  // The next page of distinct ids in the column's order; empty at the end.
  Result<std::vector<std::string>> NextIds(size_t page) {
    std::vector<std::string> ids;
    if (done_) return ids;
    const std::string where = started_ ? " WHERE " + id_ + " > " + Literal(last_) : "";
    SS_ASSIGN_OR_RETURN(SqlResult r, conn_->Query(fmt::format(
                                         "SELECT DISTINCT {0} FROM {1}{2} ORDER BY {0} LIMIT {3}",
                                         id_, QuoteIdentifier(t_.name), where, page)));
    for (auto& row : r.rows) ids.push_back(row[0].value_or(""));
    done_ = ids.size() < page;
    if (!ids.empty()) {
      last_ = ids.back();
      started_ = true;
    }
    return ids;
  }

  // How many distinct ids the table holds.
  Result<int64_t> CountIds() {
    SS_ASSIGN_OR_RETURN(SqlResult r, conn_->Query(fmt::format("SELECT COUNT(DISTINCT {}) FROM {}",
                                                              id_, QuoteIdentifier(t_.name))));
    return r.rows.empty() ? 0 : std::stoll(r.rows[0][0].value_or("0"));
  }

 private:
  static bool IsInteger(const std::string& s) {
    size_t i = !s.empty() && s[0] == '-';
    if (i == s.size() || s.size() > 21) return false;
    for (; i < s.size(); ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
    }
    return true;
  }
  std::string Literal(const std::string& v) {
    return integer_ && IsInteger(v) ? v : conn_->Quote(v);
  }

  SqlConnection* conn_;
  const Table& t_;
  std::string select_, id_, last_;
  bool integer_ = false, started_ = false, done_ = false;
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

  // The columns and values that pick out exactly row `r`; empty when the table has no key
  // columns besides the id and the record has several rows (they cannot be told apart).
  std::vector<std::pair<std::string, Cell>> RowWhere(const Row& r, bool several) const {
    if (several && t_.key.empty()) return {};
    std::vector<std::pair<std::string, Cell>> w = {{t_.columns[t_.id], r[t_.id]}};
    for (size_t i : t_.key) w.emplace_back(t_.columns[i], r[i]);
    return w;
  }

  void AddExtra(const std::string& id, const Row& r, std::string row, std::string why,
                bool several) {
    Add("extra", id, std::move(row), std::move(why));
    out_->back().row_key = RowWhere(r, several);
  }

  // Rows with no staged record behind them.
  void Extra(const std::string& id, const std::vector<Row>& rows, const std::string& why) {
    for (const auto& r : rows) AddExtra(id, r, RowKey(r), why, rows.size() > 1);
  }

  // A record whose target rows should be `want`: true when they are exactly that (nothing
  // recorded then; the caller decides), else the findings are recorded.
  bool Compare(const std::string& id, const std::vector<transform::MappedRow>& want,
               const std::vector<Row>& have) {
    if (want.empty()) {
      if (have.empty()) return true;
      Extra(id, have, "the sink writes no row for this record now");
      return false;
    }
    if (have.empty()) {
      Add("missing", id, "", fmt::format("no row in {} for this applied record", t_.name));
      return false;
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
        if (!t_.write_time[c] && !SameValue(m.cells[c], (*it->second)[c], t_.types[c])) {
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
      AddExtra(id, *r, rk, "flattened row the staged record does not map to", true);
      clean = false;
    }
    return clean;
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
  SS_ASSIGN_OR_RETURN(MySqlTarget mt, ConnectMySqlTarget(cfg, p, s));
  const SqlOptions& sql = mt.sql;
  const sink::mysql::MySqlSinkOptions& so = mt.sink;
  const transform::Mapping& mapping = mt.mapping;
  rep->table = so.table;
  rep->target = "table " + so.table;
  SqlConnection* db = mt.conn.get();
  SS_ASSIGN_OR_RETURN(Table t,
                      DescribeTable(db, so.table, mapping.columns(), so.id_column, s.path));
  t.write_time.assign(t.columns.size(), false);
  for (size_t i = 0; i < t.columns.size(); ++i) {
    for (const auto& [name, tmpl] : so.mapping.columns) {
      if (name == t.columns[i] && UsesWriteTime(tmpl)) {
        t.write_time[i] = true;
        rep->uncompared.push_back(name);
      }
    }
  }
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
  SS_ASSIGN_OR_RETURN(uint64_t cursor, InStaging(log->Cursor(p.name, s.name), cfg.state_dir));
  // The snapshot's offset bounds what it can hold when it is in this staging's numbering.
  if (has_offset && target_staging == log->InstanceId()) cursor = std::min(cursor, target_seq);
  rep->staging_instance = log->InstanceId();
  rep->snapshot_seq = cursor;
  const std::string target_hash = sink::mysql::TargetHash(mapping.hash(), sql, so);
  LedgerCursor ledger(db, p.name, s.name, ledger_exists);
  std::set<std::string> quarantined;
  SS_ASSIGN_OR_RETURN(auto q, InStaging(log->Quarantined(p.name), cfg.state_dir));
  for (const auto& e : q) {
    if (e.stage == s.name) quarantined.insert(e.source_id);
  }
  // Mapped as the sink maps them; CURRENT_TIME is the audit's now, as it is the batch's time.
  const transform::Variables vars = {
      {"CURRENT_TIME", std::to_string(Clock::Real()->NowMicros() / 1000000)}};

  SinkAudit audit(t, rep, out);
  TargetReader target(db, t);
  const size_t first_finding = out->size();
  const size_t page = std::max<size_t>(opts.page_ids, 1);
  int64_t seen = 0;
  auto handle = [&](const stage::StagedRecord& rec, std::vector<Row> mine) -> Status {
    if (opts.progress && ++seen % 5000 == 0) opts.progress(p.name, s.name, seen);
    SS_ASSIGN_OR_RETURN(auto led, ledger.At(rec.source_id));
    // The record mapped as the sink maps it now.
    std::vector<transform::MappedRow> want;
    transform::MapVerdict verdict;
    auto map_it = [&]() -> Status {
      auto v = json::Parse(rec.raw);
      return v.ok() ? mapping.Map(*v, &want, &verdict, &vars) : v.status();
    };
    // A version the where clause turned away leaves the rows (and ledger entry) of an earlier
    // one under on_unmatched: keep.
    auto kept_unmatched = [&]() {
      return map_it().ok() && verdict.filtered && so.on_unmatched == "keep";
    };
    if (quarantined.contains(rec.source_id)) {
      audit.Add("quarantined", rec.source_id, "",
                "parked by the sink (stagesync-dump --quarantine)");
    } else if (rec.seq > cursor) {
      audit.Add("pending", rec.source_id, "", "changed in staging, not applied yet");
    } else if (led && led->hash != rec.hash.ToHex()) {
      // The cursor has passed this version, so the target's ledger must name it.
      if (kept_unmatched()) {
        audit.Add("ok", rec.source_id, "", "");
      } else {
        audit.Add("ledger_mismatch", rec.source_id, "",
                  fmt::format("the ledger says content hash {} but the version applied (seq {}, "
                              "the sink's cursor is past it) is {}: the ledger row was edited, or "
                              "the target was written by something else",
                              led->hash, rec.seq, rec.hash.ToHex()));
      }
    } else if (led && led->mapping != target_hash) {
      audit.Add("pending", rec.source_id, "",
                "applied under another mapping or target: the sink rewrites it on its next run");
    } else if (rec.deleted) {
      if (audit.Compare(rec.source_id, {}, mine)) audit.Add("ok", rec.source_id, "", "");
    } else if (Status ms = map_it(); !ms.ok()) {
      audit.Add("drifted", rec.source_id, "",
                "the current mapping cannot map this applied record: " + ms.message());
    } else if (verdict.filtered && so.on_unmatched == "keep") {
      audit.Add("ok", rec.source_id, "", "");  // its old rows may stay
    } else if (audit.Compare(rec.source_id, want, mine)) {
      if (!led && !want.empty()) {
        audit.Add("ledger_mismatch", rec.source_id, "",
                  fmt::format("the row is in {} but the ledger has no entry for this applied "
                              "version (seq {}): the ledger row was deleted",
                              t.name, rec.seq));
      } else {
        audit.Add("ok", rec.source_id, "", "");
      }
    }
    return Status::Ok();
  };
  // Pass 1: the staged records in key order, a page at a time; each page's target rows are
  // read by point lookups on the id column's index.
  std::vector<stage::StagedRecord> staged;
  int64_t matched = 0;  // target ids that belong to a staged record
  auto flush = [&]() -> Status {
    std::vector<std::string> ids;
    ids.reserve(staged.size());
    for (const auto& rec : staged) ids.push_back(rec.source_id);
    SS_ASSIGN_OR_RETURN(auto rows, target.RowsOf(ids));
    for (const auto& rec : staged) {
      std::vector<Row> mine;
      if (auto it = rows.find(rec.source_id); it != rows.end()) {
        mine = std::move(it->second);
        ++matched;
      }
      SS_RETURN_IF_ERROR(handle(rec, std::move(mine)));
    }
    staged.clear();
    return Status::Ok();
  };
  auto extra = [&](const std::vector<std::string>& ids) -> Status {
    SS_ASSIGN_OR_RETURN(auto rows, target.RowsOf(ids));
    for (const auto& id : ids) {
      if (auto it = rows.find(id); it != rows.end()) {
        audit.Extra(id, it->second, "no staged record has this id");
      }
    }
    return Status::Ok();
  };
  if (!opts.key.empty()) {
    SS_ASSIGN_OR_RETURN(auto one, InStaging(log->Get(p.name, opts.key), cfg.state_dir));
    if (one) {
      staged.push_back(std::move(*one));
      SS_RETURN_IF_ERROR(flush());
    } else {
      SS_RETURN_IF_ERROR(extra({opts.key}));
    }
  } else {
    Status failed;
    SS_RETURN_IF_ERROR(InStaging(log->ScanRecords(p.name,
                                                  [&](const stage::StagedRecord& rec) {
                                                    staged.push_back(rec);
                                                    if (staged.size() >= page) failed = flush();
                                                    return failed.ok();
                                                  }),
                                 cfg.state_dir));
    SS_RETURN_IF_ERROR(failed);
    SS_RETURN_IF_ERROR(flush());
    // Pass 2: target ids with no staged record (extra). When every distinct id of the table was
    // matched above there are none; otherwise the ids are scanned in the column's own order
    // and each is looked up in staging (the same read-only view as pass 1).
    SS_ASSIGN_OR_RETURN(int64_t distinct, target.CountIds());
    for (bool more = distinct != matched; more;) {
      SS_ASSIGN_OR_RETURN(auto ids, target.NextIds(page));
      more = ids.size() == page;
      std::vector<std::string> unstaged;
      for (const auto& id : ids) {
        SS_ASSIGN_OR_RETURN(auto rec, InStaging(log->Get(p.name, id), cfg.state_dir));
        if (!rec) unstaged.push_back(id);
      }
      if (!unstaged.empty()) SS_RETURN_IF_ERROR(extra(unstaged));
    }
  }
  if (opts.progress) opts.progress(p.name, s.name, seen);
  // Findings in key order, as a merge would give them (extras come from the second pass).
  std::stable_sort(out->begin() + static_cast<std::ptrdiff_t>(first_finding), out->end(),
                   [](const Finding& a, const Finding& b) { return a.key < b.key; });
  // The chain and the ledger it covers, in the same snapshot as the rows.
  if (opts.key.empty()) SS_RETURN_IF_ERROR(VerifyMySqlChain(db, rep, out));
  (void)db->Execute("ROLLBACK");
  rep->audited = true;
  return Status::Ok();
}

}  // namespace

bool IsDiscrepancy(const std::string& cls) {
  return cls == "missing" || cls == "drifted" || cls == "extra" || cls == "duplicate" ||
         cls == "ledger_mismatch" || cls == "chain_broken";
}

int64_t AuditReport::discrepancy_count() const {
  int64_t n = 0;
  for (const auto& f : findings) n += IsDiscrepancy(f.cls);
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
  report.started_at = obs::IsoMillis(Clock::Real()->NowMillis());
  report.state_dir = cfg.state_dir;
  report.scope = fmt::format("{}, {}{}",
                             opts.pipeline.empty() ? "every pipeline" : "pipeline " + opts.pipeline,
                             opts.sink.empty() ? "every sink" : "sink " + opts.sink,
                             opts.key.empty() ? "" : ", record " + opts.key);
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
