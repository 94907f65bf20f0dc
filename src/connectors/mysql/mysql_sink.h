// MySQL sink: writes mapped rows, one ledger row per record and the sink's offset in ONE
// transaction, so a crash at any moment neither loses nor repeats a write. Bad rows are found
// by splitting the batch inside the transaction (savepoints) and quarantined; lost connections
// and deadlocks redo the whole batch. Not thread-safe: one applier uses it.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "stagesync/config.h"
#include "stagesync/option_table.h"
#include "stagesync/runtime.h"
#include "stagesync/sink.h"
#include "stagesync/sql.h"
#include "stagesync/transform.h"

namespace stagesync::sink::mysql {

// A sink's options; defaults, ranges and help in SinkTable().
struct MySqlSinkOptions {
  std::string table;
  std::string write_mode;   // upsert (INSERT ... ON DUPLICATE KEY UPDATE) | replace
  std::string id_column;    // column holding the source id
  size_t batch_rows = 0;    // records per transaction
  size_t batch_bytes = 0;   // raw record bytes per transaction
  int64_t retry_for_s = 0;  // how long a lost server is retried
  // What happens to the rows of a record that no longer matches `where`: "delete" removes
  // them (and its flattened rows) in the batch's transaction, "keep" leaves them.
  std::string on_unmatched;
  transform::MappingSpec mapping;
};

const config::OptionTable<MySqlSinkOptions>& SinkTable();
const config::OptionTable<SqlOptions>& ConnectionTable();
Result<MySqlSinkOptions> ReadSinkOptions(const config::PipelineConfig& p,
                                         const config::SinkConfig& s);
Result<SqlOptions> ReadConnectionOptions(const config::ConnectionConfig& c);

// Appends one LOAD DATA field (TSV): \N is NULL; backslash, tab, newline and NUL are escaped.
void AppendTsv(const transform::Cell& c, std::string* out);

// Creates the ledger and offsets tables if missing.
Status EnsureBookkeepingTables(SqlConnection* conn);

// Compares the target table's columns (information_schema) with the mapping's.
Status CheckTable(SqlConnection* conn, const std::string& table,
                  const std::vector<std::string>& columns, const std::string& path);

// Whether a sink of the config is this connector's MySQL sink (the audit compares those by
// table; the type name stays in this folder, as for every connector).
inline bool IsMySqlSink(const config::SinkConfig& s) { return s.type == "mysql"; }

// The ledger's mapping_hash for a sink: its compiled mapping plus where the rows go (server,
// database, table, id column, on_unmatched). The audit compares it too.
std::string TargetHash(const std::string& mapping_hash, const SqlOptions& conn,
                       const MySqlSinkOptions& opts);

class MySqlSink final : public Sink {
 public:
  static Result<std::unique_ptr<MySqlSink>> Open(std::string pipeline, std::string sink_name,
                                                 MySqlSinkOptions opts, SqlOptions conn_opts,
                                                 Clock* clock, SqlConnector connect = {});
  Result<uint64_t> TargetOffset() override;
  Status ApplyBatch(const std::vector<stage::StagedRecord>& records, uint64_t max_seq,
                    const QuarantineFn& quarantine, BatchStats* stats) override;
  size_t batch_records() const override { return opts_.batch_rows; }
  size_t batch_bytes() const override { return opts_.batch_bytes; }
  // The mapping and the target's identity (server, database, table, id column, on_unmatched):
  // pointing the sink elsewhere re-applies every record there once.
  std::string MappingHash() const override { return target_hash_; }
  void PrepareBatch(const std::vector<stage::StagedRecord>& records) override;
  void SetStaging(const std::string& instance_id, uint64_t cursor) override;
  const transform::Mapping& mapping() const { return mapping_; }
  // Where operator notices go (retries, a foreign staging dir). Default: stderr.
  void set_notice(std::function<void(const std::string&)> fn) { notice_ = std::move(fn); }

 private:
  MySqlSink(std::string pipeline, std::string sink_name, MySqlSinkOptions opts,
            SqlOptions conn_opts, transform::Mapping mapping, Clock* clock);

  struct Prepared;
  // A batch mapped ahead of its transaction (PrepareBatch), keyed by its first sequence.
  struct PreMapped {
    std::vector<std::vector<transform::MappedRow>> rows;
    std::vector<transform::MapVerdict> verdicts;
    std::vector<Status> status;
  };
  transform::Variables CurrentVariables() const;
  Status MapRecord(const stage::StagedRecord& r, std::vector<transform::MappedRow>* rows,
                   transform::MapVerdict* verdict, const transform::Variables& vars) const;
  Status ApplyOnce(const std::vector<stage::StagedRecord>& records, uint64_t max_seq,
                   std::vector<stage::FetchFailure>* bad, BatchStats* stats);
  Status WriteRecords(Prepared& prep, const std::vector<size_t>& idx, int depth,
                      std::vector<stage::FetchFailure>* bad, BatchStats* stats);
  Status Reconnect();
  void Notice(const std::string& message) const;
  // Runs `attempt` until it succeeds, fails for good, or retry_for_s passes; transient failures
  // roll back, reconnect and are reported (first retry, then every 30 s).
  Status Retrying(std::string_view what, int64_t* retries, const std::function<Status()>& attempt);
  // Locks the sink's offsets row for this transaction (the batch up to `max_seq`) and notes
  // who applied last.
  Status LockOffsets(uint64_t max_seq);
  // Why a record cannot be written at all (ledger key too long, a row over the server's
  // max_allowed_packet); empty when it can.
  std::string Unwritable(const stage::StagedRecord& r,
                         const std::vector<transform::MappedRow>& rows) const;
  bool LoadDataFits(const Prepared& prep, const std::vector<size_t>& idx) const;

  const std::string pipeline_;
  const std::string sink_name_;
  const MySqlSinkOptions opts_;
  const SqlOptions conn_opts_;
  transform::Mapping mapping_;
  Clock* const clock_;
  SqlConnector connect_ = ConnectMySql;
  std::unique_ptr<SqlConnection> conn_;
  std::string insert_head_;    // "INSERT INTO `t` (`a`,`b`) VALUES "
  std::string insert_tail_;    // " ON DUPLICATE KEY UPDATE ..." or ""
  std::string load_data_sql_;  // LOAD DATA LOCAL ... for the fast path
  bool use_load_data_ = true;  // off when the server refuses LOCAL INFILE
  size_t max_statement_bytes_ = 1u << 20;
  size_t max_packet_ = 16u << 20;   // the server's @@max_allowed_packet
  std::string target_hash_;         // MappingHash()
  std::string staging_id_;          // the staging instance draining into this sink
  uint64_t cursor_ = 0;             // that instance's cursor, as this sink has moved it
  bool told_foreign_ = false;       // a foreign staging instance was reported once
  bool offsets_row_ready_ = false;  // the sink's stagesync_offsets row exists
  std::function<void(const std::string&)> notice_;
  int savepoint_counter_ = 0;
  std::mutex pre_mu_;
  std::map<uint64_t, std::shared_ptr<const PreMapped>> pre_;
};

}  // namespace stagesync::sink::mysql
