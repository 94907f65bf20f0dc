// Apply benchmark (issue 3): how fast the MySQL sink drains changed records into a
// seed-000-shaped table with its ledger and offset in the same transactions, beside the
// physical limit measured in the same run (LOAD DATA LOCAL INFILE of the same rows into a twin
// table, committed in the same batch sizes) and the naive row-by-row autocommit REPLACE the
// seeds' hand-written scripts do. Prints JSON lines.
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "connectors/mysql/mysql_sink.h"
#include "stagesync/apply.h"
#include "stagesync/config.h"
#include "stagesync/hash.h"
#include "stagesync/json.h"
#include "stagesync/sql.h"
#include "stagesync/stage.h"
#include "stagesync/transform.h"
#include "synthetic.h"

namespace {

using namespace stagesync;

struct Args {
  int records = 200000;
  int port = 3306;
  std::string database = "stagesync_bench";
  std::string dir = "/tmp/stagesync-apply-bench";
  std::string repo = ".";
  int naive_rows = 5000;
  int batch = 1000;
};

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

[[noreturn]] void Die(const std::string& what, const Status& s) {
  std::cerr << "apply_bench: " << what << ": " << s.ToString() << "\n";
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--records")
      a.records = std::stoi(v);
    else if (k == "--port")
      a.port = std::stoi(v);
    else if (k == "--database")
      a.database = v;
    else if (k == "--dir")
      a.dir = v;
    else if (k == "--repo")
      a.repo = v;
    else if (k == "--naive-rows")
      a.naive_rows = std::stoi(v);
    else if (k == "--batch")
      a.batch = std::stoi(v);
  }
  SqlOptions so;
  so.port = a.port;
  so.user = "root";
  so.tls_mode = "disabled";
  auto admin = ConnectMySql(so);
  if (!admin.ok()) Die("connect", admin.status());
  (void)(*admin)->Execute("DROP DATABASE IF EXISTS " + a.database);
  if (auto s = (*admin)->Execute("CREATE DATABASE " + a.database); !s.ok()) Die("create db", s);
  so.database = a.database;
  auto conn = ConnectMySql(so);
  if (!conn.ok()) Die("connect db", conn.status());
  SqlConnection* c = conn->get();
  {
    std::ifstream in(a.repo + "/conf/sql/payment_application_info.sql");
    std::string ddl((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string stmt;
    for (const auto& line : [&] {
           std::vector<std::string> v;
           std::string l;
           std::istringstream ls(ddl);
           while (std::getline(ls, l)) v.push_back(l);
           return v;
         }()) {
      if (line.rfind("--", 0) == 0) continue;
      stmt += line + "\n";
    }
    stmt.erase(stmt.find_last_of(';'));
    if (auto s = c->Execute(stmt); !s.ok()) Die("ddl", s);
    for (const char* twin : {"payment_twin", "payment_naive"}) {
      if (auto s = c->Execute(fmt::format("CREATE TABLE {} LIKE payment_application_info", twin));
          !s.ok()) {
        Die("twin", s);
      }
    }
  }

  // The pipeline exactly as conf/demo.json configures it.
  std::ifstream cin(a.repo + "/conf/demo.json");
  std::string text((std::istreambuf_iterator<char>(cin)), std::istreambuf_iterator<char>());
  auto cfg = config::LoadString(text, "/tmp", [](const char* n) -> const char* {
    std::string s(n);
    return s.find("URL") != std::string::npos ? "http://127.0.0.1:1" : "3306";
  });
  if (!cfg.ok()) Die("config", cfg.status());
  const config::PipelineConfig& p = cfg->pipelines[0];
  auto sink_opts = sink::mysql::ReadSinkOptions(p, p.sinks[0]);
  if (!sink_opts.ok()) Die("sink options", sink_opts.status());
  sink_opts->batch_rows = static_cast<size_t>(a.batch);
  auto mapping = transform::Mapping::Compile(sink_opts->mapping);
  if (!mapping.ok()) Die("mapping", mapping.status());

  // Stage the records (setup, not timed).
  std::filesystem::remove_all(a.dir);
  stage::StageOptions stage_opts;
  stage_opts.sync = false;
  auto log = stage::StagingLog::Open(a.dir, stage_opts);
  if (!log.ok()) Die("stage", log.status());
  std::mt19937_64 rng(7);
  std::vector<std::string> raws;
  raws.reserve(static_cast<size_t>(a.records));
  stage::PageCommit page;
  for (int i = 0; i < a.records; ++i) {
    raws.push_back(bench::PaymentRequest(i, rng));
    stage::IncomingRecord r;
    r.source_id = fmt::format("pi-{:08}", i);
    r.raw = raws.back();
    r.hash = HashBytes(r.raw);
    page.records.push_back(std::move(r));
    if (page.records.size() == 1000 || i + 1 == a.records) {
      if (auto s = (*log)->CommitPage(p.name, page, 0); !s.ok()) Die("commit", s.status());
      page.records.clear();
    }
  }

  // 1. The sink: rows + ledger + offset per transaction.
  auto sink = sink::mysql::MySqlSink::Open(p.name, "bi_mysql", std::move(sink_opts).value(), so,
                                           Clock::Real());
  if (!sink.ok()) Die("sink", sink.status());
  auto t0 = std::chrono::steady_clock::now();
  auto sum = apply::Drain(p.name, "bi_mysql", sink->get(), log->get(), Clock::Real());
  double apply_s = Seconds(t0);
  if (!sum.ok()) Die("apply", sum.status());
  const double rows = static_cast<double>(sum->rows);

  // 2. LOAD DATA LOCAL INFILE of the same rows, committed per batch of the same size.
  std::vector<std::string> chunks;
  auto map_t0 = std::chrono::steady_clock::now();
  {
    std::string tsv;
    int in_chunk = 0;
    for (const auto& raw : raws) {
      auto v = json::Parse(raw);
      std::vector<transform::MappedRow> out;
      if (auto s = mapping->Map(*v, &out); !s.ok()) Die("map", s);
      for (const auto& row : out) {
        for (size_t i = 0; i < row.cells.size(); ++i) {
          if (i) tsv.push_back('\t');
          sink::mysql::AppendTsv(row.cells[i], &tsv);
        }
        tsv.push_back('\n');
      }
      if (++in_chunk == a.batch) {
        chunks.push_back(std::move(tsv));
        tsv.clear();
        in_chunk = 0;
      }
    }
    if (!tsv.empty()) chunks.push_back(std::move(tsv));
  }
  const double map_s = Seconds(map_t0);
  std::string cols;
  for (const auto& col : mapping->columns()) cols += (cols.empty() ? "" : ",") + col;
  const std::string load_sql =
      "LOAD DATA LOCAL INFILE 'stagesync-stream' INTO TABLE payment_twin "
      "CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY "
      "'\\\\' LINES TERMINATED BY '\\n' (" +
      cols + ")";
  t0 = std::chrono::steady_clock::now();
  uint64_t loaded = 0;
  for (const auto& chunk : chunks) {
    if (auto s = c->Execute("START TRANSACTION"); !s.ok()) Die("begin", s);
    auto n = c->LoadDataLocal(load_sql, chunk);
    if (!n.ok()) Die("load data", n.status());
    loaded += *n;
    if (auto s = c->Execute("COMMIT"); !s.ok()) Die("commit", s);
  }
  double load_s = Seconds(t0);

  // 3. Naive: one autocommit REPLACE per row.
  std::vector<std::string> naive;
  for (const auto& raw : raws) {
    auto v = json::Parse(raw);
    std::vector<transform::MappedRow> out;
    (void)mapping->Map(*v, &out);
    for (const auto& row : out) {
      std::string vals;
      for (size_t i = 0; i < row.cells.size(); ++i) {
        vals += (i ? "," : "") + (row.cells[i] ? c->Quote(*row.cells[i]) : std::string("NULL"));
      }
      naive.push_back("REPLACE INTO payment_naive (" + cols + ") VALUES (" + vals + ")");
      if (static_cast<int>(naive.size()) == a.naive_rows) break;
    }
    if (static_cast<int>(naive.size()) == a.naive_rows) break;
  }
  t0 = std::chrono::steady_clock::now();
  for (const auto& sql : naive) {
    if (auto s = c->Execute(sql); !s.ok()) Die("naive", s);
  }
  double naive_s = Seconds(t0);

  const double apply_rate = rows / apply_s;
  const double load_rate = static_cast<double>(loaded) / load_s;
  const double naive_rate = static_cast<double>(naive.size()) / naive_s;
  std::printf(
      "{\"name\":\"apply_mysql\",\"value\":%.0f,\"unit\":\"rows/s\",\"records\":%d,"
      "\"rows\":%.0f,\"records_per_s\":%.0f,\"batch_records\":%d,\"seconds\":%.2f}\n",
      apply_rate, a.records, rows, a.records / apply_s, a.batch, apply_s);
  std::printf(
      "{\"name\":\"apply_cpu_parse_map\",\"value\":%.0f,\"unit\":\"records/s\","
      "\"seconds\":%.2f}\n",
      a.records / map_s, map_s);
  std::printf(
      "{\"name\":\"mysql_load_data_limit\",\"value\":%.0f,\"unit\":\"rows/s\",\"rows\":%llu,"
      "\"commits\":%zu,\"seconds\":%.2f}\n",
      load_rate, static_cast<unsigned long long>(loaded), chunks.size(), load_s);
  std::printf(
      "{\"name\":\"mysql_naive_replace\",\"value\":%.0f,\"unit\":\"rows/s\",\"rows\":%zu,"
      "\"seconds\":%.2f}\n",
      naive_rate, naive.size(), naive_s);
  std::printf(
      "{\"name\":\"apply_vs_load_data\",\"value\":%.3f,\"unit\":\"ratio\",\"target\":0.8}\n",
      apply_rate / load_rate);
  std::printf("{\"name\":\"apply_vs_naive\",\"value\":%.1f,\"unit\":\"ratio\",\"target\":25}\n",
              apply_rate / naive_rate);
  return 0;
}
