#include "audit/trail.h"

#include <fmt/format.h>

#include <memory>

#include "audit/mysql_target.h"
#include "connectors/common/intent_sink.h"
#include "stagesync/civil_time.h"
#include "stagesync/json.h"
#include "stagesync/sql.h"
#include "stagesync/transform.h"

namespace stagesync::audit {
namespace {

std::string CellJson(const std::optional<std::string>& c) { return c ? json::Quote(*c) : "null"; }

// The MySQL target's side, read in one snapshot: the ledger row and the current rows.
Status ReadMySqlTarget(const config::Config& cfg, const config::PipelineConfig& p,
                       const config::SinkConfig& s, const std::string& key, SinkTrail* out) {
  SS_ASSIGN_OR_RETURN(MySqlTarget target, ConnectMySqlTarget(cfg, p, s));
  const sink::mysql::MySqlSinkOptions& so = target.sink;
  SqlConnection* db = target.conn.get();
  SS_ASSIGN_OR_RETURN(SqlResult ledger_cols,
                      db->Query("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE "
                                "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'stagesync_ledger'"));
  bool has_ledger = false, has_applied_at = false;
  for (const auto& r : ledger_cols.rows) {
    has_ledger = true;
    has_applied_at = has_applied_at || r[0] == "applied_at";
  }
  out->table = so.table;
  out->columns = target.mapping.columns();
  SS_RETURN_IF_ERROR(db->Execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"));
  SS_RETURN_IF_ERROR(db->Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT"));
  if (has_ledger) {
    SS_ASSIGN_OR_RETURN(
        SqlResult led,
        db->Query(fmt::format("SELECT content_hash, mapping_hash, seq, {} FROM stagesync_ledger "
                              "WHERE pipeline = {} AND sink = {} AND source_id = {}",
                              has_applied_at ? "applied_at" : "''", db->Quote(p.name),
                              db->Quote(s.name), db->Quote(key))));
    if (!led.rows.empty()) {
      const auto& r = led.rows[0];
      out->has_applied = true;
      out->applied_hash = r[0].value_or("");
      out->applied_mapping = r[1].value_or("");
      out->applied_seq = r[2] ? std::stoull(*r[2]) : 0;
      out->applied_at = r[3].value_or("");
    }
  } else {
    out->note = "the target has no stagesync_ledger table (nothing applied yet)";
  }
  std::string select;
  for (const auto& c : out->columns) select += (select.empty() ? "" : ",") + QuoteIdentifier(c);
  // Compared as the audit compares ids: the column's text, byte for byte.
  auto rows = db->Query(fmt::format(
      "SELECT {} FROM {} WHERE CAST({} AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin = {}",
      select, QuoteIdentifier(so.table), QuoteIdentifier(so.id_column), db->Quote(key)));
  (void)db->Execute("ROLLBACK");
  if (!rows.ok()) {
    return rows.status().WithContext(
        fmt::format("pipeline {}, sink {}: reading table {}", p.name, s.name, so.table));
  }
  out->rows = std::move(rows->rows);
  return Status::Ok();
}

// An HTTP sink's side, from staging: its outcome (its ledger) and any open intent.
Status ReadHttpOutcome(stage::StagingLog* log, const std::string& pipeline, const std::string& sink,
                       const std::string& key, SinkTrail* out) {
  SS_ASSIGN_OR_RETURN(std::string oc, log->Outcome(pipeline, sink, key));
  sink::TargetOutcome o;
  if (!oc.empty() && sink::TargetOutcome::FromJson(oc, &o)) {
    out->has_applied = true;
    out->applied_hash = o.hash;
    out->applied_mapping = o.mapping;
    out->applied_deleted = o.deleted;
    out->target_id = o.number.empty() ? o.target_id : o.target_id + " (" + o.number + ")";
  }
  SS_ASSIGN_OR_RETURN(auto intents, log->Intents(pipeline, sink));
  for (const auto& [id, value] : intents) {
    if (id != key) continue;
    // The payload is what the target would get: left out, the rest says when and which hash.
    auto v = json::Parse(value);
    json::Value shown = json::Value::Object();
    if (v.ok() && v->is_object()) {
      for (const auto& [k, m] : v->members()) {
        if (k != "payload") shown.Add(k, m);
      }
    }
    out->open_intent = json::Serialize(shown);
  }
  return Status::Ok();
}

// 2026-12-02 13:04:05.123 UTC
std::string TimeText(int64_t ms) {
  const int64_t day_ms = 86400000;
  const int64_t days = (ms >= 0 ? ms : ms - day_ms + 1) / day_ms;
  const int64_t in_day = ms - days * day_ms;
  int64_t y = 0;
  unsigned m = 0, d = 0;
  CivilFromDays(days, &y, &m, &d);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03} UTC", y, m, d, in_day / 3600000,
                     in_day / 60000 % 60, in_day / 1000 % 60, in_day % 1000);
}

}  // namespace

Result<std::vector<RecordTrail>> Trail(const config::Config& cfg, const AuditOptions& opts) {
  if (opts.key.empty()) return InvalidArgument("the trail needs a record id (--key)");
  stage::StageOptions ro;
  ro.read_only = true;
  std::vector<RecordTrail> out;
  {
    auto log = stage::StagingLog::Open(cfg.state_dir, ro);
    if (!log.ok()) {
      return log.status().WithContext("cannot open the staging log in " + cfg.state_dir +
                                      " read-only");
    }
    for (const auto& p : cfg.pipelines) {
      if (!opts.pipeline.empty() && p.name != opts.pipeline) continue;
      SS_ASSIGN_OR_RETURN(auto rec, (*log)->Get(p.name, opts.key));
      if (!rec && opts.pipeline.empty()) continue;
      RecordTrail t;
      t.pipeline = p.name;
      t.key = opts.key;
      t.history_versions = p.history_versions;
      out.push_back(std::move(t));
    }
  }
  if (out.empty() && !opts.pipeline.empty()) {
    return NotFound(fmt::format("unknown pipeline '{}'", opts.pipeline));
  }
  // Targets first (each in its snapshot), then staging: staging is then at least as new.
  for (auto& t : out) {
    const config::PipelineConfig* p = cfg.FindPipeline(t.pipeline);
    for (const auto& s : p->sinks) {
      if (!opts.sink.empty() && s.name != opts.sink) continue;
      SinkTrail st;
      st.sink = s.name;
      st.type = s.type;
      if (sink::mysql::IsMySqlSink(s)) {
        SS_RETURN_IF_ERROR(ReadMySqlTarget(cfg, *p, s, t.key, &st));
      }
      t.sinks.push_back(std::move(st));
    }
  }
  auto log = stage::StagingLog::Open(cfg.state_dir, ro);
  if (!log.ok()) {
    return log.status().WithContext("cannot open the staging log in " + cfg.state_dir +
                                    " read-only");
  }
  for (auto& t : out) {
    SS_ASSIGN_OR_RETURN(t.current, (*log)->Get(t.pipeline, t.key));
    SS_ASSIGN_OR_RETURN(t.versions, (*log)->History(t.pipeline, t.key));
    for (auto& st : t.sinks) {
      SS_ASSIGN_OR_RETURN(st.cursor, (*log)->Cursor(t.pipeline, st.sink));
      st.cursor_passed = t.current && st.cursor >= t.current->seq;
      if (st.table.empty())
        SS_RETURN_IF_ERROR(ReadHttpOutcome(log->get(), t.pipeline, st.sink, t.key, &st));
      if (!st.has_applied) continue;
      for (auto v = t.versions.rbegin(); v != t.versions.rend(); ++v) {
        if (v->hash.ToHex() == st.applied_hash) {
          st.applied_version_seq = v->seq;
          break;
        }
      }
    }
  }
  return out;
}

std::string FormatTrailText(const std::vector<RecordTrail>& trails) {
  std::string out;
  for (const auto& t : trails) {
    out += fmt::format("\ntrail of {} in pipeline {}\n", json::Quote(t.key), t.pipeline);
    if (!t.current) {
      out += "  not staged\n";
    } else {
      out += fmt::format("  staged: seq {}, hash {}, {}fetched {}\n", t.current->seq,
                         t.current->hash.ToHex(), t.current->deleted ? "deleted, " : "",
                         TimeText(t.current->fetched_at_ms));
    }
    if (t.versions.empty()) {
      out += t.history_versions == 0
                 ? "  history: off (history_versions 0)\n"
                 : "  history: none kept (history starts at the record's next change)\n";
    } else {
      out += fmt::format("  versions kept: {} (history_versions {})\n", t.versions.size(),
                         t.history_versions);
    }
    for (const auto& v : t.versions) {
      std::string applied;
      for (const auto& s : t.sinks) {
        if (s.applied_version_seq == v.seq) applied += (applied.empty() ? "" : ", ") + s.sink;
      }
      out +=
          fmt::format("  seq {}  {}  {}  {}{}\n", v.seq, TimeText(v.staged_at_ms), v.hash.ToHex(),
                      v.kind, applied.empty() ? "" : "  [applied by " + applied + "]");
      for (const auto& c : v.changes) {
        if (c.op == "added") {
          out += fmt::format("      + {}: {}\n", json::Quote(c.path), c.new_json);
        } else if (c.op == "removed") {
          out += fmt::format("      - {}: {}\n", json::Quote(c.path), c.old_json);
        } else {
          out += fmt::format("      ~ {}: {} -> {}\n", json::Quote(c.path), c.old_json, c.new_json);
        }
      }
    }
    for (const auto& s : t.sinks) {
      out += fmt::format("  sink {} ({}): cursor {} {}\n", s.sink, s.type, s.cursor,
                         !t.current        ? ""
                         : s.cursor_passed ? fmt::format(">= seq {}: applied", t.current->seq)
                                           : fmt::format("< seq {}: pending", t.current->seq));
      if (s.has_applied) {
        std::string which = s.applied_version_seq
                                ? fmt::format("version seq {}", *s.applied_version_seq)
                                : std::string("a version no longer kept in history");
        out += fmt::format("    {} holds {}: hash {}, mapping {}{}{}{}{}\n",
                           s.table.empty() ? "outcome" : "ledger", which, s.applied_hash,
                           s.applied_mapping,
                           s.applied_seq ? fmt::format(", seq {}", s.applied_seq) : "",
                           s.applied_at.empty() ? "" : ", applied " + s.applied_at,
                           s.target_id.empty() ? "" : ", target " + json::Quote(s.target_id),
                           s.applied_deleted ? ", deleted" : "");
      } else if (s.note.empty()) {
        out += "    nothing applied for this record\n";
      }
      if (!s.note.empty()) out += "    " + s.note + "\n";
      if (!s.open_intent.empty()) out += "    open intent: " + s.open_intent + "\n";
      if (s.table.empty()) continue;
      out += fmt::format("    table {}: {} row(s)\n", s.table, s.rows.size());
      for (const auto& r : s.rows) {
        std::string line;
        for (size_t i = 0; i < r.size() && i < s.columns.size(); ++i) {
          line += fmt::format("{}{}={}", line.empty() ? "" : " ", s.columns[i], CellJson(r[i]));
        }
        out += "      " + line + "\n";
      }
    }
  }
  return out;
}

std::string FormatTrailJson(const std::vector<RecordTrail>& trails) {
  std::string out;
  for (const auto& t : trails) {
    out += "{\"trail\":{\"pipeline\":" + json::Quote(t.pipeline) + ",\"key\":" + json::Quote(t.key);
    if (t.current) {
      out += fmt::format(
          ",\"staged\":{{\"seq\":{},\"hash\":\"{}\",\"deleted\":{},\"fetched_at_ms\":{}}}",
          t.current->seq, t.current->hash.ToHex(), t.current->deleted, t.current->fetched_at_ms);
    } else {
      out += ",\"staged\":null";
    }
    out += fmt::format(",\"history_versions\":{},\"versions\":[", t.history_versions);
    for (size_t i = 0; i < t.versions.size(); ++i) {
      const auto& v = t.versions[i];
      out += fmt::format(
          "{}{{\"seq\":{},\"staged_at_ms\":{},\"hash\":\"{}\",\"kind\":{},\"changes\":[",
          i ? "," : "", v.seq, v.staged_at_ms, v.hash.ToHex(), json::Quote(v.kind));
      for (size_t k = 0; k < v.changes.size(); ++k) {
        const auto& c = v.changes[k];
        out += fmt::format("{}{{\"path\":{},\"op\":{},\"old\":{},\"new\":{}}}", k ? "," : "",
                           json::Quote(c.path), json::Quote(c.op),
                           c.old_json.empty() ? "null" : c.old_json,
                           c.new_json.empty() ? "null" : c.new_json);
      }
      out += "]}";
    }
    out += "],\"sinks\":[";
    for (size_t i = 0; i < t.sinks.size(); ++i) {
      const auto& s = t.sinks[i];
      out += fmt::format("{}{{\"sink\":{},\"type\":{},\"cursor\":{},\"applied\":{}", i ? "," : "",
                         json::Quote(s.sink), json::Quote(s.type), s.cursor, s.cursor_passed);
      if (s.has_applied) {
        out += fmt::format(
            ",\"holds\":{{\"hash\":\"{}\",\"mapping\":{},\"seq\":{},\"applied_at\":{},"
            "\"target_id\":{},\"deleted\":{},\"version_seq\":{}}}",
            s.applied_hash, json::Quote(s.applied_mapping), s.applied_seq,
            s.applied_at.empty() ? "null" : json::Quote(s.applied_at),
            s.target_id.empty() ? "null" : json::Quote(s.target_id), s.applied_deleted,
            s.applied_version_seq ? std::to_string(*s.applied_version_seq) : "null");
      } else {
        out += ",\"holds\":null";
      }
      if (!s.open_intent.empty()) out += ",\"open_intent\":" + s.open_intent;
      if (!s.note.empty()) out += ",\"note\":" + json::Quote(s.note);
      if (!s.table.empty()) {
        out += ",\"table\":" + json::Quote(s.table) + ",\"rows\":[";
        for (size_t r = 0; r < s.rows.size(); ++r) {
          out += r ? ",{" : "{";
          for (size_t c = 0; c < s.rows[r].size() && c < s.columns.size(); ++c) {
            out += (c ? "," : "") + json::Quote(s.columns[c]) + ":" + CellJson(s.rows[r][c]);
          }
          out += "}";
        }
        out += "]";
      }
      out += "}";
    }
    out += "]}}\n";
  }
  return out;
}

}  // namespace stagesync::audit
