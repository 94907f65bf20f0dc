#include "connectors/mysql/mysql_sink.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <random>
#include <set>

#include "connectors/mysql/batch_chain.h"
#include "stagesync/crash_point.h"
#include "stagesync/hash.h"
#include "stagesync/json.h"
#include "stagesync/option_table.h"
#include "stagesync/retry.h"

namespace stagesync::sink::mysql {

namespace {

constexpr const char* kLedgerDdl =
    "CREATE TABLE IF NOT EXISTS stagesync_ledger ("
    " pipeline VARCHAR(64) NOT NULL, sink VARCHAR(64) NOT NULL,"
    " source_id VARBINARY(512) NOT NULL, content_hash CHAR(32) NOT NULL,"
    " mapping_hash CHAR(16) NOT NULL, seq BIGINT UNSIGNED NOT NULL,"
    " applied_at DATETIME(3) NOT NULL, PRIMARY KEY (pipeline, sink, source_id)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";
constexpr const char* kOffsetsDdl =
    "CREATE TABLE IF NOT EXISTS stagesync_offsets ("
    " pipeline VARCHAR(64) NOT NULL, sink VARCHAR(64) NOT NULL,"
    " applied_seq BIGINT UNSIGNED NOT NULL, updated_at DATETIME(3) NOT NULL,"
    " staging_id VARCHAR(64) NULL, from_seq BIGINT UNSIGNED NULL,"
    " PRIMARY KEY (pipeline, sink)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";
// The ledger's key holds a source id of at most this many bytes (VARBINARY(512)).
constexpr size_t kMaxSourceIdBytes = 512;
// A retry of a lost server is reported on the first retry and then this often.
constexpr int64_t kRetryReportEveryUs = 30 * 1000000;

// A record's id for messages: long ids are cut (the quarantine entry keeps the whole id).
std::string RecordName(const std::string& id) {
  if (id.size() <= 80) return id;
  return fmt::format("{}... ({} bytes)", id.substr(0, 64), id.size());
}

// Bytes of `v` once quoted for a statement (mysql_real_escape_string escapes these).
size_t QuotedBytes(const std::string& v) {
  size_t n = v.size() + 2;
  for (char ch : v) {
    n += ch == '\0' || ch == '\n' || ch == '\r' || ch == '\\' || ch == '\'' || ch == '"' ||
         ch == '\x1a';
  }
  return n;
}

bool Transient(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kAborted ||
         s.code() == StatusCode::kDeadlineExceeded;
}

}  // namespace

void AppendTsv(const transform::Cell& c, std::string* out) {
  if (!c) {
    out->append("\\N");
    return;
  }
  for (char ch : *c) {
    switch (ch) {
      case '\\':
        out->append("\\\\");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\0':
        out->append("\\0");
        break;
      default:
        out->push_back(ch);
    }
  }
}

const config::OptionTable<SqlOptions>& ConnectionTable() {
  using O = SqlOptions;
  static const config::OptionTable<O> kTable =
      config::OptionTable<O>()
          .Str("host", &O::host, "127.0.0.1", "server host")
          .Custom("port", config::OptionType::kInt, false, "3306", "server port",
                  [](const config::OptionReader& r, O* o) -> Status {
                    SS_ASSIGN_OR_RETURN(int64_t port, r.IntIn("port", 3306, 1, 65535));
                    o->port = static_cast<int>(port);
                    return Status::Ok();
                  })
          .Str("socket", &O::socket, "", "unix socket (instead of host/port)")
          .Required("user", &O::user, "user name")
          .Str("password", &O::password, "", "password; use ${ENV}")
          .Required("database", &O::database, "database (schema)")
          .OneOf("tls_mode", &O::tls_mode, "preferred",
                 {"disabled", "preferred", "required", "verify_identity"}, "TLS to the server")
          .Str("tls_ca", &O::tls_ca, "", "CA file for verify_identity")
          .Int("connect_timeout_s", &O::connect_timeout_s, 10, 1, 3600, "connect timeout");
  return kTable;
}

Result<SqlOptions> ReadConnectionOptions(const config::ConnectionConfig& c) {
  return ConnectionTable().Read(c.options, c.path);
}

// columns, and what hangs on them: flatten, flatten_empty, where, id_column.
Status ReadColumns(const config::OptionReader& r, MySqlSinkOptions* o) {
  for (const auto& [name, v] : r.Get("columns")->members()) {
    if (!v.is_string()) {
      return InvalidArgument(r.PathOf("columns") + "." + name + ": must be a template string");
    }
    o->mapping.columns.emplace_back(name, v.text());
  }
  if (o->mapping.columns.empty()) return InvalidArgument(r.PathOf("columns") + ": no columns");
  o->mapping.flatten = r.String("flatten");
  if (const std::string fe = r.String("flatten_empty", "null_row"); fe == "no_rows") {
    o->mapping.flatten_empty = transform::FlattenEmpty::kNoRows;
  } else if (fe != "null_row") {
    return InvalidArgument(r.PathOf("flatten_empty") + ": must be null_row or no_rows");
  }
  o->mapping.where = r.String("where");
  o->id_column = r.String("id_column", o->mapping.columns[0].first);
  for (const auto& c : o->mapping.columns) {
    if (c.first == o->id_column) return Status::Ok();
  }
  return InvalidArgument(r.PathOf("id_column") + ": not one of the mapped columns");
}

Status ReadRules(const json::Value& rules, const std::string& path,
                 std::map<std::string, transform::ColumnRule>* out) {
  static const std::vector<config::OptionSpec> kRuleTable = {
      {"required", config::OptionType::kBool, false, "false", "not NULL and not empty"},
      {"type", config::OptionType::kString, false, "",
       "int | decimal(P,S) | date | datetime | string(N)"},
      {"regex", config::OptionType::kString, false, "", "POSIX extended; whole value"},
      {"enum", config::OptionType::kStringList, false, "", "allowed values"},
      {"min", config::OptionType::kAny, false, "", "lowest allowed number"},
      {"max", config::OptionType::kAny, false, "", "highest allowed number"},
  };
  for (const auto& [col, spec] : rules.members()) {
    std::string cpath = path + "." + col;
    if (!spec.is_object()) return InvalidArgument(cpath + ": must be an object");
    config::OptionReader r(spec, cpath);
    SS_RETURN_IF_ERROR(r.Validate(kRuleTable));
    transform::ColumnRule rule;
    rule.required = r.Bool("required", false);
    rule.type = r.String("type");
    rule.regex = r.String("regex");
    rule.allowed = r.StringList("enum");
    for (const char* bound : {"min", "max"}) {
      if (const json::Value* b = r.Get(bound)) {
        if (!b->is_number() && !b->is_string()) {
          return InvalidArgument(r.PathOf(bound) + ": must be a number");
        }
        (std::string(bound) == "min" ? rule.min : rule.max) = b->text();
      }
    }
    (*out)[col] = std::move(rule);
  }
  return Status::Ok();
}

const config::OptionTable<MySqlSinkOptions>& SinkTable() {
  using O = MySqlSinkOptions;
  static const config::OptionTable<O> kTable =
      config::OptionTable<O>()
          .Required("table", &O::table, "target table (DDL in conf/sql/)")
          .Custom("columns", config::OptionType::kObject, true, "", "column -> template",
                  ReadColumns)
          .OneOf("write_mode", &O::write_mode, "upsert", {"upsert", "replace"},
                 "INSERT ... ON DUPLICATE KEY UPDATE, or REPLACE")
          .Custom("flatten", config::OptionType::kString, false, "",
                  "beatFlat: one row per element", nullptr)
          .Custom("flatten_empty", config::OptionType::kString, false, "null_row",
                  "a record whose flattened array is empty or absent: null_row (one row, element "
                  "columns NULL, {_row} 0) or no_rows (none; its earlier rows are removed)",
                  nullptr)
          .Custom("id_column", config::OptionType::kString, false, "(first column)",
                  "column holding the source id; children and deletions are found by it", nullptr)
          .Int("batch_rows", &O::batch_rows, 1000, 1, 100000, "records per transaction")
          .Int("batch_bytes", &O::batch_bytes, 4 << 20, 1024, int64_t{1} << 30,
               "raw bytes per transaction")
          .Int("retry_for_s", &O::retry_for_s, 600, 0, 7 * 86400,
               "how long a lost server or deadlock is retried before the apply fails")
          .Custom("where", config::OptionType::kString, false, "",
                  "expression selecting the records this sink receives", nullptr)
          .OneOf("on_unmatched", &O::on_unmatched, "delete", {"delete", "keep"},
                 "the rows of a record that stops matching `where`")
          .Custom("rules", config::OptionType::kObject, false, "{}",
                  "data-quality rules per column: required, type, regex, enum, min, max",
                  [](const config::OptionReader& r, O* o) -> Status {
                    const json::Value* rules = r.Get("rules");
                    if (rules == nullptr) return Status::Ok();
                    return ReadRules(*rules, r.PathOf("rules"), &o->mapping.rules);
                  });
  return kTable;
}

Result<MySqlSinkOptions> ReadSinkOptions(const config::PipelineConfig& p,
                                         const config::SinkConfig& s) {
  MySqlSinkOptions base;
  base.mapping.lookups = p.lookups;
  base.mapping.time_zone = p.time_zone;
  base.mapping.path = s.path;
  return SinkTable().Read(s.options, s.path, std::move(base));
}

Status EnsureBookkeepingTables(SqlConnection* conn) {
  SS_RETURN_IF_ERROR(conn->Execute(kLedgerDdl));
  SS_RETURN_IF_ERROR(conn->Execute(kOffsetsDdl));
  SS_RETURN_IF_ERROR(EnsureBatchesTable(conn));
  // Offsets tables from before the staging instance stamp get its columns.
  SS_ASSIGN_OR_RETURN(SqlResult cols,
                      conn->Query("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE "
                                  "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = "
                                  "'stagesync_offsets' AND COLUMN_NAME = 'staging_id'"));
  if (!cols.rows.empty() && cols.rows[0][0] && *cols.rows[0][0] == "0") {
    SS_RETURN_IF_ERROR(
        conn->Execute("ALTER TABLE stagesync_offsets ADD COLUMN staging_id VARCHAR(64) NULL, "
                      "ADD COLUMN from_seq BIGINT UNSIGNED NULL"));
  }
  return Status::Ok();
}

Status CheckTable(SqlConnection* conn, const std::string& table,
                  const std::vector<std::string>& columns, const std::string& path) {
  SS_ASSIGN_OR_RETURN(
      SqlResult res,
      conn->Query("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
                  "DATABASE() AND TABLE_NAME = " +
                  conn->Quote(table)));
  if (res.rows.empty()) {
    return FailedPrecondition(path + ".table: table '" + table +
                              "' does not exist in the target database (its DDL is in conf/sql/)");
  }
  std::set<std::string> have;
  for (const auto& row : res.rows) {
    if (row[0]) have.insert(*row[0]);
  }
  for (const auto& c : columns) {
    if (!have.count(c)) {
      return InvalidArgument(path + ".columns." + c + ": table '" + table + "' has no column '" +
                             c + "'");
    }
  }
  return Status::Ok();
}

std::string TargetHash(const std::string& mapping_hash, const SqlOptions& conn,
                       const MySqlSinkOptions& opts) {
  // Where the rows go is part of what the ledger and the staging state compare, so pointing
  // the sink at another server, database or table applies every record there once.
  const std::string where_to =
      fmt::format("mysql\n{}\n{}\n{}\n{}\n{}\n{}\n{}", conn.host, conn.port, conn.socket,
                  conn.database, opts.table, opts.id_column, opts.on_unmatched);
  return HashBytes(mapping_hash + "\n" + where_to).ToHex().substr(16);
}

struct MySqlSink::Prepared {
  const std::vector<stage::StagedRecord>* records;
  std::vector<std::vector<transform::MappedRow>> rows;  // per record
  std::vector<bool> applied;
  std::vector<bool> had_ledger;  // applied before: may have rows in the target
  std::vector<bool> remove;      // no longer matches `where`: its rows go
};

MySqlSink::MySqlSink(std::string pipeline, std::string sink_name, MySqlSinkOptions opts,
                     SqlOptions conn_opts, transform::Mapping mapping, Clock* clock)
    : pipeline_(std::move(pipeline)),
      sink_name_(std::move(sink_name)),
      opts_(std::move(opts)),
      conn_opts_(std::move(conn_opts)),
      mapping_(std::move(mapping)),
      clock_(clock) {
  std::string cols;
  std::string updates;
  for (const auto& c : mapping_.columns()) {
    if (!cols.empty()) cols += ",";
    cols += QuoteIdentifier(c);
    if (!updates.empty()) updates += ",";
    updates += QuoteIdentifier(c) + "=VALUES(" + QuoteIdentifier(c) + ")";
  }
  const bool replace = opts_.write_mode == "replace";
  insert_head_ = std::string(replace ? "REPLACE" : "INSERT") + " INTO " +
                 QuoteIdentifier(opts_.table) + " (" + cols + ") VALUES ";
  insert_tail_ = replace ? "" : " ON DUPLICATE KEY UPDATE " + updates;
  target_hash_ = TargetHash(mapping_.hash(), conn_opts_, opts_);
  load_data_sql_ = std::string("LOAD DATA LOCAL INFILE 'stagesync-stream' ") +
                   (replace ? "REPLACE " : "") + "INTO TABLE " + QuoteIdentifier(opts_.table) +
                   " CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' "
                   "LINES TERMINATED BY '\\n' (" +
                   cols + ")";
}

Result<std::unique_ptr<MySqlSink>> MySqlSink::Open(std::string pipeline, std::string sink_name,
                                                   MySqlSinkOptions opts, SqlOptions conn_opts,
                                                   Clock* clock, SqlConnector connect) {
  SS_ASSIGN_OR_RETURN(transform::Mapping mapping, transform::Mapping::Compile(opts.mapping));
  std::unique_ptr<MySqlSink> sink(new MySqlSink(std::move(pipeline), std::move(sink_name),
                                                std::move(opts), std::move(conn_opts),
                                                std::move(mapping), clock));
  if (connect) sink->connect_ = std::move(connect);
  SS_RETURN_IF_ERROR(sink->Reconnect());
  SS_RETURN_IF_ERROR(EnsureBookkeepingTables(sink->conn_.get()));
  SS_RETURN_IF_ERROR(CheckTable(sink->conn_.get(), sink->opts_.table, sink->mapping_.columns(),
                                sink->opts_.mapping.path));
  return sink;
}

Status MySqlSink::Reconnect() {
  if (conn_) return conn_->Reconnect();
  SS_ASSIGN_OR_RETURN(conn_, connect_(conn_opts_));
  SS_ASSIGN_OR_RETURN(SqlResult r, conn_->Query("SELECT @@max_allowed_packet"));
  if (!r.rows.empty() && r.rows[0][0]) {
    size_t packet = std::stoull(*r.rows[0][0]);
    max_packet_ = packet;
    // Stay well under the server's packet limit.
    max_statement_bytes_ =
        std::min(std::clamp<size_t>(packet / 4, 64 * 1024, 16u << 20), packet / 2);
  }
  return Status::Ok();
}

void MySqlSink::SetStaging(const std::string& instance_id, uint64_t cursor) {
  staging_id_ = instance_id;
  cursor_ = cursor;
}

void MySqlSink::Notice(const std::string& message) const {
  if (notice_) {
    notice_(message);
  } else {
    std::fprintf(stderr, "stagesync: notice: %s\n", message.c_str());
  }
}

Result<uint64_t> MySqlSink::TargetOffset() {
  SqlResult res;
  Status read = Retrying("reading the target's offset", nullptr, [&]() -> Status {
    SS_ASSIGN_OR_RETURN(
        res, conn_->Query("SELECT applied_seq, staging_id, from_seq FROM stagesync_offsets WHERE "
                          "pipeline = " +
                          conn_->Quote(pipeline_) + " AND sink = " + conn_->Quote(sink_name_)));
    return Status::Ok();
  });
  if (!read.ok())
    return read.WithContext(fmt::format("pipeline {}, sink {}", pipeline_, sink_name_));
  if (res.rows.empty() || !res.rows[0][0]) return uint64_t{0};
  const uint64_t applied = std::stoull(*res.rows[0][0]);
  const std::string who = res.rows[0][1].value_or("");
  if (staging_id_.empty() || who.empty()) return applied;  // written before instance stamps
  if (who != staging_id_) {
    // A rebuilt state dir, or a second agent applying to this target: its sequence numbers
    // mean nothing here. The ledger (read under the offsets row's lock) still keeps every
    // record written once.
    told_foreign_ = true;
    Notice(fmt::format(
        "pipeline {}, sink {}: the target was last applied by staging instance {}, not by this "
        "state dir (instance {}): a rebuilt state dir, or another agent applying to the same "
        "target. Its offset is ignored and the ledger decides what to write (nothing is written "
        "twice); run one agent per target",
        pipeline_, sink_name_, who, staging_id_));
    return uint64_t{0};
  }
  const uint64_t from = res.rows[0][2] ? std::stoull(*res.rows[0][2]) : 0;
  if (applied <= cursor_) return applied;
  if (from != cursor_) {
    told_foreign_ = true;
    Notice(fmt::format(
        "pipeline {}, sink {}: the target was applied up to seq {} (from {}) by a copy of this "
        "state dir (same staging instance {}), but this one stands at {}: a restored or copied "
        "state dir? Its offset is ignored; the ledger decides what to write (nothing is written "
        "twice); run one agent per target",
        pipeline_, sink_name_, applied, from, staging_id_, cursor_));
  }
  // Past our cursor: the batch that started here committed and the cursor update was lost (a
  // crash), or a copy of this state dir, whose numbering may differ from ours past the copy,
  // moved on. The numbers cannot tell which, so nothing is skipped on their word: the batch
  // is read again and the ledger skips what the target already holds.
  return cursor_;
}

transform::Variables MySqlSink::CurrentVariables() const {
  return {{"CURRENT_TIME", std::to_string(clock_->NowMicros() / 1000000)}};
}

Status MySqlSink::MapRecord(const stage::StagedRecord& r, std::vector<transform::MappedRow>* rows,
                            transform::MapVerdict* verdict,
                            const transform::Variables& vars) const {
  auto v = json::Parse(r.raw);
  if (!v.ok()) return v.status();
  return mapping_.Map(*v, rows, verdict, &vars);
}

void MySqlSink::PrepareBatch(const std::vector<stage::StagedRecord>& records) {
  if (records.empty()) return;
  auto pre = std::make_shared<PreMapped>();
  pre->rows.resize(records.size());
  pre->verdicts.resize(records.size());
  pre->status.resize(records.size());
  const transform::Variables vars = CurrentVariables();
  for (size_t i = 0; i < records.size(); ++i) {
    if (records[i].deleted) continue;
    pre->status[i] = MapRecord(records[i], &pre->rows[i], &pre->verdicts[i], vars);
  }
  std::lock_guard<std::mutex> lock(pre_mu_);
  pre_[records.front().seq] = std::move(pre);
}

Status MySqlSink::ApplyBatch(const std::vector<stage::StagedRecord>& records, uint64_t max_seq,
                             const QuarantineFn& quarantine, BatchStats* stats) {
  // Whatever happens, the mapping prepared for this batch is not needed again.
  struct Forget {
    MySqlSink* sink;
    uint64_t first;
    ~Forget() {
      std::lock_guard<std::mutex> lock(sink->pre_mu_);
      sink->pre_.erase(first);
    }
  } forget{this, records.empty() ? 0 : records.front().seq};
  BatchStats local;
  std::vector<stage::FetchFailure> bad;
  Status s = Retrying("applying a batch", &stats->retries, [&]() -> Status {
    bad.clear();
    local = BatchStats{};
    SS_RETURN_IF_ERROR(ApplyOnce(records, max_seq, &bad, &local));
    if (!bad.empty()) {
      // ApplyOnce left the transaction open: park the bad records first, then commit.
      Status q = quarantine(bad);
      if (!q.ok()) {
        (void)conn_->Execute("ROLLBACK");
        return q;
      }
    }
    CrashPoint("apply.before_commit");
    return conn_->Execute("COMMIT");
  });
  if (!s.ok()) {
    (void)conn_->Execute("ROLLBACK");
    return s.WithContext(fmt::format("pipeline {}, sink {}", pipeline_, sink_name_));
  }
  cursor_ = std::max(cursor_, max_seq);
  local.quarantined = static_cast<int64_t>(bad.size());
  stats->applied += local.applied;
  stats->rows += local.rows;
  stats->skipped += local.skipped;
  stats->quarantined += local.quarantined;
  stats->filtered += local.filtered;
  for (const auto& [rule, n] : local.rule_failures) stats->rule_failures[rule] += n;
  return s;
}

Status MySqlSink::Retrying(std::string_view what, int64_t* retries,
                           const std::function<Status()>& attempt) {
  const int64_t start_us = clock_->MonotonicMicros();
  const int64_t deadline_us = start_us + opts_.retry_for_s * 1000000;
  int64_t report_at_us = start_us;  // the first retry is reported at once
  std::mt19937_64 rng(std::random_device{}());
  RetryPolicy policy;
  policy.base_ms = 100;
  policy.max_backoff_ms = 5000;
  Status reconnect;
  for (int n = 1;; ++n) {
    Status s = attempt();
    if (s.ok() || !Transient(s)) return s;
    (void)conn_->Execute("ROLLBACK");
    // While the server is down the statement only says "not connected"; the reconnect's
    // error names the cause.
    const std::string cause =
        reconnect.ok() ? s.message() : s.message() + "; reconnecting: " + reconnect.message();
    const int64_t now_us = clock_->MonotonicMicros();
    const double elapsed_s = static_cast<double>(now_us - start_us) / 1e6;
    if (now_us > deadline_us) {
      Notice(fmt::format("pipeline {}, sink {}: giving up {} after {:.1f} s of retries", pipeline_,
                         sink_name_, what, elapsed_s));
      return Status(s.code(),
                    fmt::format("{}: gave up after {:.1f} s and {} attempts (retry_for_s {}): {}",
                                what, elapsed_s, n, opts_.retry_for_s, cause));
    }
    if (now_us >= report_at_us) {
      Notice(fmt::format(
          "pipeline {}, sink {}: {} failed, retrying for up to {} s ({:.1f} s so far): {}",
          pipeline_, sink_name_, what, opts_.retry_for_s, elapsed_s, cause));
      report_at_us = now_us + kRetryReportEveryUs;
    }
    if (retries != nullptr) ++*retries;
    clock_->SleepForMicros(BackoffMillis(policy, std::min(n, 8), s, rng()) * 1000);
    if (s.code() == StatusCode::kUnavailable) reconnect = Reconnect();
  }
}

Status MySqlSink::LockOffsets(uint64_t max_seq) {
  const std::string key =
      " WHERE pipeline = " + conn_->Quote(pipeline_) + " AND sink = " + conn_->Quote(sink_name_);
  SS_ASSIGN_OR_RETURN(
      SqlResult res,
      conn_->Query("SELECT applied_seq, staging_id FROM stagesync_offsets" + key + " FOR UPDATE"));
  if (res.rows.empty()) {
    // Gone since Open (or never made): create it in this transaction and lock it.
    SS_RETURN_IF_ERROR(conn_->Execute(
        "INSERT IGNORE INTO stagesync_offsets (pipeline, sink, applied_seq, updated_at) VALUES (" +
        conn_->Quote(pipeline_) + "," + conn_->Quote(sink_name_) + ",0,NOW(3))"));
    SS_ASSIGN_OR_RETURN(res, conn_->Query("SELECT applied_seq, staging_id FROM stagesync_offsets" +
                                          key + " FOR UPDATE"));
  }
  if (res.rows.empty() || staging_id_.empty() || told_foreign_) return Status::Ok();
  const std::string who = res.rows[0][1].value_or("");
  const uint64_t applied = res.rows[0][0] ? std::stoull(*res.rows[0][0]) : 0;
  // Our own offset past our cursor is another copy of this state dir at work, unless it is
  // this very batch, committed by an attempt whose reply was lost.
  if (!who.empty() && (who != staging_id_ || (applied > cursor_ && applied != max_seq))) {
    told_foreign_ = true;
    Notice(fmt::format(
        "pipeline {}, sink {}: another agent ({}) applied to this target while this one runs; "
        "batches take turns on the target's offsets row and the ledger keeps every record "
        "written once, but run one agent per target",
        pipeline_, sink_name_,
        who == staging_id_ ? "a copy of this state dir" : "staging instance " + who));
  }
  return Status::Ok();
}

Status MySqlSink::ApplyOnce(const std::vector<stage::StagedRecord>& records, uint64_t max_seq,
                            std::vector<stage::FetchFailure>* bad, BatchStats* stats) {
  Prepared prep;
  prep.records = &records;
  prep.rows.resize(records.size());
  prep.applied.assign(records.size(), false);
  prep.had_ledger.assign(records.size(), false);
  prep.remove.assign(records.size(), false);
  // The target is the arbiter between agents: the sink's offsets row is locked before the
  // ledger is read, so two appliers on one target take turns and the second sees what the
  // first committed.
  if (!offsets_row_ready_) {
    SS_RETURN_IF_ERROR(conn_->Execute(
        "INSERT IGNORE INTO stagesync_offsets (pipeline, sink, applied_seq, updated_at) VALUES (" +
        conn_->Quote(pipeline_) + "," + conn_->Quote(sink_name_) + ",0,NOW(3))"));
    offsets_row_ready_ = true;
  }
  SS_RETURN_IF_ERROR(conn_->Execute("START TRANSACTION"));
  SS_RETURN_IF_ERROR(LockOffsets(max_seq));
  std::map<std::string, std::pair<std::string, std::string>> ledger;  // id -> (hash, mapping)
  if (!records.empty()) {
    std::string in;
    for (const auto& r : records) {
      if (!in.empty()) in += ",";
      in += conn_->Quote(r.source_id);
    }
    SS_ASSIGN_OR_RETURN(
        SqlResult res,
        conn_->Query("SELECT source_id, content_hash, mapping_hash FROM stagesync_ledger WHERE "
                     "pipeline = " +
                     conn_->Quote(pipeline_) + " AND sink = " + conn_->Quote(sink_name_) +
                     " AND source_id IN (" + in + ")"));
    for (auto& row : res.rows) {
      if (row[0] && row[1] && row[2]) ledger[*row[0]] = {*row[1], *row[2]};
    }
  }
  std::vector<size_t> to_write;
  const transform::Variables vars = CurrentVariables();
  std::shared_ptr<const PreMapped> pre;
  if (!records.empty()) {
    std::lock_guard<std::mutex> lock(pre_mu_);
    auto it = pre_.find(records.front().seq);
    if (it != pre_.end() && it->second->rows.size() == records.size()) pre = it->second;
  }
  for (size_t i = 0; i < records.size(); ++i) {
    const auto& r = records[i];
    if (r.source_id.size() > kMaxSourceIdBytes) {
      bad->push_back(
          {r.source_id,
           fmt::format("pipeline {}, record {}: field source id: {} bytes, over the "
                       "{} bytes the ledger (stagesync_ledger.source_id) holds",
                       pipeline_, RecordName(r.source_id), r.source_id.size(), kMaxSourceIdBytes),
           r.raw.substr(0, 4096)});
      continue;
    }
    auto it = ledger.find(r.source_id);
    prep.had_ledger[i] = it != ledger.end();
    // Already applied with this content and this mapping: even a rebuilt staging dir never
    // writes it twice.
    // (A tombstone is always applied: deleting is idempotent, and its content may equal the
    // live version's.)
    if (!r.deleted && it != ledger.end() && it->second.first == r.hash.ToHex() &&
        it->second.second == target_hash_) {
      ++stats->skipped;
      continue;
    }
    if (!r.deleted) {
      transform::MapVerdict verdict;
      Status ms;
      if (pre != nullptr) {
        // Mapped ahead on the applier's other thread while the previous batch was writing.
        prep.rows[i] = pre->rows[i];
        verdict = pre->verdicts[i];
        ms = pre->status[i];
      } else {
        ms = MapRecord(r, &prep.rows[i], &verdict, vars);
      }
      if (!ms.ok()) {
        if (!verdict.rule.empty()) ++stats->rule_failures[verdict.rule];
        bad->push_back(
            {r.source_id,
             fmt::format("pipeline {}, record {}, {}", pipeline_, r.source_id, ms.message()),
             r.raw.substr(0, 4096)});
        continue;
      }
      if (verdict.filtered) {
        // Not for this sink (its where said no): counted, not quarantined. A later version
        // that matches is applied then. Rows an earlier, matching version wrote are removed
        // (on_unmatched: delete), with a ledger entry so the same version is not looked at
        // again.
        ++stats->filtered;
        if (!prep.had_ledger[i] || opts_.on_unmatched == "keep") continue;
        prep.rows[i].clear();
        prep.remove[i] = true;
      } else if (std::string why = Unwritable(r, prep.rows[i]); !why.empty()) {
        bad->push_back(
            {r.source_id,
             fmt::format("pipeline {}, record {}: {}", pipeline_, RecordName(r.source_id), why),
             r.raw.substr(0, 4096)});
        continue;
      }
    }
    to_write.push_back(i);
  }
  if (!to_write.empty()) SS_RETURN_IF_ERROR(WriteRecords(prep, to_write, 0, bad, stats));

  // Ledger rows for what was written, and the offset, in the same transaction.
  std::string ledger_sql;
  auto flush_ledger = [&]() -> Status {
    if (ledger_sql.empty()) return Status::Ok();
    std::string sql =
        "INSERT INTO stagesync_ledger (pipeline, sink, source_id, content_hash, mapping_hash, "
        "seq, applied_at) VALUES " +
        ledger_sql +
        " ON DUPLICATE KEY UPDATE content_hash = VALUES(content_hash), mapping_hash = "
        "VALUES(mapping_hash), seq = VALUES(seq), applied_at = VALUES(applied_at)";
    ledger_sql.clear();
    return conn_->Execute(sql);
  };
  const std::string prefix = "(" + conn_->Quote(pipeline_) + "," + conn_->Quote(sink_name_) + ",";
  const std::string suffix = "," + conn_->Quote(target_hash_) + ",";
  for (size_t i = 0; i < records.size(); ++i) {
    if (!prep.applied[i]) continue;
    const auto& r = records[i];
    if (!ledger_sql.empty()) ledger_sql += ",";
    ledger_sql += prefix + conn_->Quote(r.source_id) + ",'" + r.hash.ToHex() + "'" + suffix +
                  std::to_string(r.seq) + ",NOW(3))";
    if (ledger_sql.size() > max_statement_bytes_) SS_RETURN_IF_ERROR(flush_ledger());
  }
  SS_RETURN_IF_ERROR(flush_ledger());
  // The batch's link in the target's chain (batch_chain.h): what it replaced and wrote.
  std::vector<chain::LedgerTuple> removed, added;
  std::map<std::string, chain::LedgerTuple> now;  // a record twice in a batch replaces itself
  uint64_t first_seq = 0, last_seq = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    if (!prep.applied[i]) continue;
    const auto& r = records[i];
    auto in_batch = now.find(r.source_id);
    if (in_batch != now.end()) {
      removed.push_back(in_batch->second);
    } else if (auto it = ledger.find(r.source_id); it != ledger.end()) {
      removed.push_back({r.source_id, it->second.first, it->second.second});
    }
    chain::LedgerTuple t{r.source_id, r.hash.ToHex(), target_hash_};
    now[r.source_id] = t;
    added.push_back(std::move(t));
    first_seq = first_seq == 0 ? r.seq : std::min(first_seq, r.seq);
    last_seq = std::max(last_seq, r.seq);
  }
  if (!added.empty()) {
    SS_RETURN_IF_ERROR(AppendLink(conn_.get(), pipeline_, sink_name_, "apply", removed, added,
                                  first_seq, last_seq, clock_));
  }
  // The offset in this staging instance's numbering, stamped with the instance and where the
  // batch started (TargetOffset tells a crash before the cursor update from a copied dir).
  // SET runs left to right: applied_seq still sees the previous staging_id.
  const std::string me = conn_->Quote(staging_id_);
  SS_RETURN_IF_ERROR(conn_->Execute(fmt::format(
      "UPDATE stagesync_offsets SET applied_seq = IF(staging_id <=> {0}, GREATEST(applied_seq, "
      "{1}), {1}), from_seq = {2}, staging_id = {0}, updated_at = NOW(3) WHERE pipeline = {3} "
      "AND sink = {4}",
      staging_id_.empty() ? "NULL" : me, max_seq, cursor_, conn_->Quote(pipeline_),
      conn_->Quote(sink_name_))));
  return Status::Ok();
}

std::string MySqlSink::Unwritable(const stage::StagedRecord& /*r*/,
                                  const std::vector<transform::MappedRow>& rows) const {
  // Sent anyway, such a row makes the server drop the connection ("server has gone away"),
  // which looks like an outage and would be retried for retry_for_s.
  const size_t fixed = insert_head_.size() + insert_tail_.size() + 64;
  const auto& cols = mapping_.columns();
  for (size_t k = 0; k < rows.size(); ++k) {
    size_t bytes = fixed, largest = 0, largest_col = 0;
    for (size_t c = 0; c < rows[k].cells.size(); ++c) {
      const size_t n = rows[k].cells[c] ? QuotedBytes(*rows[k].cells[c]) : 4;
      bytes += n + 1;
      if (n > largest) {
        largest = n;
        largest_col = c;
      }
    }
    if (bytes > max_packet_) {
      return fmt::format(
          "field {}: row {} is {} bytes as SQL ({} of them in {}), over the server's "
          "max_allowed_packet of {} bytes",
          largest_col < cols.size() ? cols[largest_col] : "?", k + 1, bytes, largest,
          largest_col < cols.size() ? cols[largest_col] : "?", max_packet_);
    }
  }
  return "";
}

bool MySqlSink::LoadDataFits(const Prepared& prep, const std::vector<size_t>& idx) const {
  if (!use_load_data_) return false;
  // LOAD DATA inserts (or, with REPLACE, deletes and re-inserts). That equals the configured
  // write only where no existing row can be hit or replace was asked for.
  if (opts_.write_mode == "replace") return true;
  for (size_t i : idx) {
    if (prep.had_ledger[i] && !mapping_.flattens()) return false;
  }
  return true;
}

Status MySqlSink::WriteRecords(Prepared& prep, const std::vector<size_t>& idx, int depth,
                               std::vector<stage::FetchFailure>* bad, BatchStats* stats) {
  const auto& records = *prep.records;
  const std::string sp = "sp" + std::to_string(++savepoint_counter_);
  SS_RETURN_IF_ERROR(conn_->Execute("SAVEPOINT " + sp));
  const bool fast = depth == 0 && LoadDataFits(prep, idx);
  auto attempt = [&]() -> Status {
    // Old rows of a changed parent go first, so a request that lost a detail row loses it in
    // the target too; tombstones delete their rows.
    std::string del_ids;
    for (size_t i : idx) {
      // A record never applied has no rows to remove (rows and ledger commit together).
      if ((mapping_.flattens() && prep.had_ledger[i]) || records[i].deleted || prep.remove[i]) {
        if (!del_ids.empty()) del_ids += ",";
        del_ids += conn_->Quote(records[i].source_id);
      }
    }
    if (!del_ids.empty()) {
      SS_RETURN_IF_ERROR(conn_->Execute("DELETE FROM " + QuoteIdentifier(opts_.table) + " WHERE " +
                                        QuoteIdentifier(opts_.id_column) + " IN (" + del_ids +
                                        ")"));
    }
    if (fast) {
      // Fast path: stream the rows with LOAD DATA LOCAL in this same transaction. Any warning
      // (a LOCAL load reports bad data as warnings) sends the batch down the checked path.
      std::string tsv;
      size_t n = 0;
      for (size_t i : idx) {
        for (const auto& row : prep.rows[i]) {
          for (size_t c = 0; c < row.cells.size(); ++c) {
            if (c) tsv.push_back('\t');
            AppendTsv(row.cells[c], &tsv);
          }
          tsv.push_back('\n');
          ++n;
        }
      }
      if (n == 0) return Status::Ok();
      uint64_t warnings = 0;
      auto loaded = conn_->LoadDataLocal(load_data_sql_, tsv, &warnings);
      if (!loaded.ok()) {
        if (loaded.status().IsRetryable()) return loaded.status();
        // The server or client refuses LOCAL INFILE: use multi-row statements from now on.
        use_load_data_ = false;
        return InvalidArgument("LOAD DATA LOCAL unavailable: " + loaded.status().message());
      }
      if (warnings > 0) {
        return InvalidArgument(fmt::format("LOAD DATA reported {} warning(s)", warnings));
      }
      return Status::Ok();
    }
    std::string values;
    auto flush = [&]() -> Status {
      if (values.empty()) return Status::Ok();
      std::string sql = insert_head_ + values + insert_tail_;
      values.clear();
      return conn_->Execute(sql);
    };
    for (size_t i : idx) {
      for (const auto& row : prep.rows[i]) {
        std::string one = "(";
        for (size_t c = 0; c < row.cells.size(); ++c) {
          if (c) one += ",";
          one += row.cells[c] ? conn_->Quote(*row.cells[c]) : "NULL";
        }
        one += ")";
        // A statement never outgrows the server's packet: the rows so far go first.
        if (!values.empty() && values.size() + one.size() + 1 > max_statement_bytes_) {
          SS_RETURN_IF_ERROR(flush());
        }
        if (!values.empty()) values += ",";
        values += one;
      }
    }
    return flush();
  };
  Status s = attempt();
  if (!s.ok() && fast && s.code() == StatusCode::kInvalidArgument) {
    // The fast path refused something: redo the batch statement by statement, which finds the
    // rows MySQL rejects and reports their errors.
    SS_RETURN_IF_ERROR(conn_->Execute("ROLLBACK TO SAVEPOINT " + sp));
    SS_RETURN_IF_ERROR(conn_->Execute("RELEASE SAVEPOINT " + sp));
    return WriteRecords(prep, idx, 1, bad, stats);
  }
  if (s.ok()) {
    SS_RETURN_IF_ERROR(conn_->Execute("RELEASE SAVEPOINT " + sp));
    for (size_t i : idx) {
      prep.applied[i] = true;
      ++stats->applied;
      stats->rows += static_cast<int64_t>(prep.rows[i].size());
    }
    return Status::Ok();
  }
  if (s.code() != StatusCode::kInvalidArgument) return s;  // not about the data: redo the batch
  SS_RETURN_IF_ERROR(conn_->Execute("ROLLBACK TO SAVEPOINT " + sp));
  SS_RETURN_IF_ERROR(conn_->Execute("RELEASE SAVEPOINT " + sp));
  if (idx.size() == 1) {
    const auto& r = records[idx[0]];
    bad->push_back({r.source_id,
                    fmt::format("pipeline {}, record {}: {}", pipeline_, r.source_id, s.message()),
                    r.raw.substr(0, 4096)});
    return Status::Ok();
  }
  // Split to find the rows the server rejects; the good halves still go in.
  std::vector<size_t> left(idx.begin(), idx.begin() + static_cast<long>(idx.size() / 2));
  std::vector<size_t> right(idx.begin() + static_cast<long>(idx.size() / 2), idx.end());
  SS_RETURN_IF_ERROR(WriteRecords(prep, left, depth + 1, bad, stats));
  return WriteRecords(prep, right, depth + 1, bad, stats);
}

}  // namespace stagesync::sink::mysql
