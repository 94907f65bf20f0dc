#include "audit/repair.h"

#include <fmt/format.h>

#include <map>
#include <set>

#include "connectors/mysql/batch_chain.h"
#include "connectors/mysql/mysql_sink.h"
#include "stagesync/crash_point.h"
#include "stagesync/sql.h"
#include "stagesync/stage.h"

namespace stagesync::audit {
namespace {

// What one sink needs done.
struct SinkWork {
  const config::PipelineConfig* pipeline = nullptr;
  const config::SinkConfig* sink = nullptr;
  std::map<std::string, std::string> rewrite;  // source id -> why (the finding's class)
  std::vector<const Finding*> extra;
};

const config::SinkConfig* FindSink(const config::Config& cfg, const std::string& pipeline,
                                   const std::string& sink, const config::PipelineConfig** p) {
  for (const auto& pc : cfg.pipelines) {
    if (pc.name != pipeline) continue;
    for (const auto& s : pc.sinks) {
      if (s.name == sink) {
        *p = &pc;
        return &s;
      }
    }
  }
  return nullptr;
}

Status RepairTarget(const config::Config& cfg, const SinkWork& w, const RepairOptions& opts,
                    RepairResult* res) {
  const auto& p = *w.pipeline;
  const auto& s = *w.sink;
  const config::ConnectionConfig* cc = cfg.FindConnection(s.connection);
  if (cc == nullptr) return NotFound(s.path + ": unknown connection '" + s.connection + "'");
  SS_ASSIGN_OR_RETURN(SqlOptions sql, sink::mysql::ReadConnectionOptions(*cc));
  SS_ASSIGN_OR_RETURN(sink::mysql::MySqlSinkOptions so, sink::mysql::ReadSinkOptions(p, s));
  auto conn = ConnectMySql(sql);
  if (!conn.ok()) {
    return conn.status().WithContext(
        fmt::format("pipeline {}, sink {}: cannot reach MySQL to repair", p.name, s.name));
  }
  SqlConnection* db = conn->get();
  SS_RETURN_IF_ERROR(sink::mysql::EnsureBookkeepingTables(db));
  const std::string key =
      " WHERE pipeline = " + db->Quote(p.name) + " AND sink = " + db->Quote(s.name);
  SS_RETURN_IF_ERROR(db->Execute("START TRANSACTION"));
  auto body = [&]() -> Status {
    // The sink's batches take this lock too: a repair and a batch take turns.
    SS_RETURN_IF_ERROR(
        db->Query("SELECT applied_seq FROM stagesync_offsets" + key + " FOR UPDATE").status());
    std::vector<chain::LedgerTuple> removed, added;
    if (!w.rewrite.empty()) {
      std::string in;
      for (const auto& [id, why] : w.rewrite) in += (in.empty() ? "" : ",") + db->Quote(id);
      SS_ASSIGN_OR_RETURN(
          SqlResult led,
          db->Query("SELECT source_id, content_hash, mapping_hash FROM stagesync_ledger" + key +
                    " AND source_id IN (" + in + ") AND mapping_hash <> 'repair'"));
      for (const auto& r : led.rows) {
        removed.push_back({r[0].value_or(""), r[1].value_or(""), r[2].value_or("")});
        added.push_back({r[0].value_or(""), r[1].value_or(""), "repair"});
      }
      if (!removed.empty()) {
        SS_RETURN_IF_ERROR(db->Execute("UPDATE stagesync_ledger SET mapping_hash = 'repair'" + key +
                                       " AND source_id IN (" + in + ")"));
        SS_RETURN_IF_ERROR(sink::mysql::AppendLink(db, p.name, s.name, "repair", removed, added, 0,
                                                   0, Clock::Real()));
      }
      res->ledger_marked += static_cast<int64_t>(removed.size());
    }
    if (opts.delete_extra) {
      for (const Finding* f : w.extra) {
        if (f->row_key.empty()) {
          res->log.push_back(fmt::format(
              "{}/{}: extra row of {} {} left alone: the table has no key columns that tell its "
              "rows apart",
              p.name, s.name, f->key, f->row));
          ++res->left_alone;
          continue;
        }
        std::string where;
        for (const auto& [col, val] : f->row_key) {
          where += (where.empty() ? "" : " AND ") + QuoteIdentifier(col) +
                   (val ? " = " + db->Quote(*val) : " IS NULL");
        }
        SS_ASSIGN_OR_RETURN(SqlResult del, db->Query("DELETE FROM " + QuoteIdentifier(so.table) +
                                                     " WHERE " + where));
        const uint64_t n = del.affected_rows;
        res->extra_deleted += static_cast<int64_t>(n);
        res->log.push_back(fmt::format("{}/{}: deleted {} extra row(s) from {} where {}", p.name,
                                       s.name, n, so.table, where));
      }
    }
    CrashPoint("audit.repair.before_commit");
    return db->Execute("COMMIT");
  };
  Status st = body();
  if (!st.ok()) {
    (void)db->Execute("ROLLBACK");
    return st.WithContext(
        fmt::format("pipeline {}, sink {}: repairing the target", p.name, s.name));
  }
  return Status::Ok();
}

}  // namespace

Result<RepairResult> Repair(const config::Config& cfg, const AuditReport& report,
                            const RepairOptions& opts) {
  RepairResult res;
  std::map<std::pair<std::string, std::string>, SinkWork> work;
  for (const auto& f : report.findings) {
    const config::PipelineConfig* p = nullptr;
    const config::SinkConfig* s = FindSink(cfg, f.pipeline, f.sink, &p);
    const bool mysql = s != nullptr && sink::mysql::IsMySqlSink(*s);
    const bool rewrite = mysql && !f.key.empty() &&
                         (f.cls == "missing" || f.cls == "drifted" || f.cls == "ledger_mismatch");
    const bool extra = mysql && f.cls == "extra";
    if (!rewrite && !extra) {
      if (IsDiscrepancy(f.cls)) {
        ++res.left_alone;
        res.log.push_back(
            fmt::format("{}/{}: {} {} left alone ({})", f.pipeline, f.sink, f.cls, f.key,
                        f.cls == "duplicate" ? "a duplicate is for a person to void in the target"
                        : f.cls == "chain_broken" ? "the chain records history; it is not rewritten"
                                                  : "not repairable by stagesync"));
      }
      continue;
    }
    SinkWork& w = work[{f.pipeline, f.sink}];
    w.pipeline = p;
    w.sink = s;
    if (rewrite) {
      w.rewrite.emplace(f.key, f.cls);
    } else {
      w.extra.push_back(&f);
    }
  }
  if (work.empty()) return res;
  // Staging first (see repair.h). Read-write: the agent must not hold it.
  auto opened = stage::StagingLog::Open(cfg.state_dir);
  if (!opened.ok()) {
    return opened.status().WithContext(
        "cannot open the staging log in " + cfg.state_dir +
        " for writing: a repair requeues records there, so stop the agent first");
  }
  stage::StagingLog* log = opened->get();
  for (auto& [ps, w] : work) {
    if (w.rewrite.empty()) continue;
    std::vector<stage::FetchFailure> parked;
    for (const auto& [id, why] : w.rewrite) {
      parked.push_back({id,
                        fmt::format("stagesync-audit --repair: {} in the target, requeued "
                                    "for the applier to rewrite",
                                    why),
                        ""});
    }
    SS_RETURN_IF_ERROR(log->PutQuarantine(ps.first, ps.second, parked));
    for (const auto& [id, why] : w.rewrite) {
      SS_ASSIGN_OR_RETURN(int64_t n, log->Requeue(ps.first, ps.second, id));
      res.requeued += n;
      res.log.push_back(fmt::format("{}/{}: {} record {} requeued", ps.first, ps.second, why, id));
    }
  }
  CrashPoint("audit.repair.after_requeue");
  for (auto& [ps, w] : work) SS_RETURN_IF_ERROR(RepairTarget(cfg, w, opts, &res));
  return res;
}

}  // namespace stagesync::audit
