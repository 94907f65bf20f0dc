// Audit benchmark (issue 13): N synthetic seed-000 payment requests staged and applied by the
// real MySQL sink into a private MariaDB, then, in the same run, (a) `SELECT *` of the whole
// table streamed to the client (the physical limit of reading it) and (b) the
// `stagesync-audit` binary auditing that sink, run as a child process so its peak RSS
// (getrusage of the child) is the audit's alone. Prints one JSON line; the audit must be clean.
#include <fcntl.h>
#include <fmt/format.h>
#include <mysql.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "connectors/mysql/mysql_sink.h"
#include "stagesync/apply.h"
#include "stagesync/config.h"
#include "stagesync/hash.h"
#include "stagesync/sql.h"
#include "stagesync/stage.h"
#include "synthetic.h"

extern char** environ;

namespace {

using namespace stagesync;

struct Args {
  int records = 100000;
  int port = 3306;
  std::string dir = "/tmp/stagesync-audit-bench";
  std::string repo = ".";
  std::string audit_bin;
};

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

[[noreturn]] void Die(const std::string& what, const std::string& why) {
  std::cerr << "audit_bench: " << what << ": " << why << "\n";
  std::exit(1);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) Die("read", path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// conf/demo.json with its state dir here and every ${VAR} it reads set for this process and
// the audit child: the MySQL port, an empty password, unreachable vendor URLs.
std::string DemoConfig(const Args& a) {
  std::string text = ReadFile(a.repo + "/conf/demo.json");
  const std::string state = "\"state_dir\": \"../.state/demo\"";
  const size_t at = text.find(state);
  if (at == std::string::npos) Die("config", "conf/demo.json has no " + state);
  text.replace(at, state.size(), "\"state_dir\": \"" + a.dir + "/state\"");
  const std::regex var(R"(\$\{([A-Z0-9_]+)\})");
  for (std::sregex_iterator it(text.begin(), text.end(), var), end; it != end; ++it) {
    const std::string name = (*it)[1];
    std::string value = "bench";
    if (name.ends_with("_URL")) value = "http://127.0.0.1:1";
    if (name.ends_with("_PORT")) value = std::to_string(a.port);
    if (name.ends_with("_PASSWORD")) value = "";
    setenv(name.c_str(), value.c_str(), 1);
  }
  const std::string file = a.dir + "/config.json";
  std::ofstream(file) << text;
  return file;
}

void Check(const Status& s, const std::string& what) {
  if (!s.ok()) Die(what, s.ToString());
}

// Streams every row of the table to the client (mysql_use_result), touching each value.
double SelectAll(const SqlOptions& so, const std::string& table, uint64_t* rows) {
  MYSQL* m = mysql_init(nullptr);
  mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  if (mysql_real_connect(m, so.host.c_str(), so.user.c_str(), so.password.c_str(),
                         so.database.c_str(), static_cast<unsigned>(so.port), nullptr,
                         0) == nullptr) {
    Die("select connect", mysql_error(m));
  }
  const auto t0 = std::chrono::steady_clock::now();
  const std::string sql = "SELECT * FROM " + table;
  if (mysql_real_query(m, sql.data(), sql.size()) != 0) Die("select", mysql_error(m));
  MYSQL_RES* res = mysql_use_result(m);
  if (res == nullptr) Die("select", mysql_error(m));
  const unsigned int fields = mysql_num_fields(res);
  uint64_t bytes = 0;
  *rows = 0;
  while (MYSQL_ROW row = mysql_fetch_row(res)) {
    const unsigned long* len = mysql_fetch_lengths(res);
    for (unsigned int i = 0; i < fields; ++i) bytes += row[i] ? len[i] : 0;
    ++*rows;
  }
  if (mysql_errno(m) != 0) Die("select", mysql_error(m));
  const double s = Seconds(t0);
  mysql_free_result(res);
  mysql_close(m);
  if (bytes == 0) Die("select", "read nothing");
  return s;
}

struct AuditRun {
  double seconds = 0;
  long max_rss_kb = 0;
  int code = -1;
};

AuditRun RunAudit(const Args& a, const std::string& config, const std::string& out) {
  std::vector<std::string> args = {a.audit_bin,  "--config",         config,
                                   "--pipeline", "dingtalk-payment", "--sink",
                                   "bi_mysql",   "--format",         "json"};
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  AuditRun r;
  pid_t pid = 0;
  const auto t0 = std::chrono::steady_clock::now();
  if (posix_spawn(&pid, a.audit_bin.c_str(), &fa, nullptr, argv.data(), environ) != 0) {
    Die("spawn", a.audit_bin);
  }
  int status = 0;
  struct rusage ru {};
  if (wait4(pid, &status, 0, &ru) != pid) Die("wait", a.audit_bin);
  r.seconds = Seconds(t0);
  posix_spawn_file_actions_destroy(&fa);
  r.max_rss_kb = ru.ru_maxrss;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--records") {
      a.records = std::stoi(v);
    } else if (k == "--port") {
      a.port = std::stoi(v);
    } else if (k == "--dir") {
      a.dir = v;
    } else if (k == "--repo") {
      a.repo = v;
    } else if (k == "--audit-bin") {
      a.audit_bin = v;
    }
  }
  if (a.audit_bin.empty()) Die("args", "--audit-bin PATH (stagesync-audit) is required");
  std::filesystem::remove_all(a.dir);
  std::filesystem::create_directories(a.dir);
  auto cfg = config::LoadFile(DemoConfig(a));
  if (!cfg.ok()) Die("config", cfg.status().ToString());
  const config::PipelineConfig* p = cfg->FindPipeline("dingtalk-payment");
  if (p == nullptr) Die("config", "no dingtalk-payment pipeline in conf/demo.json");
  const config::SinkConfig* sc = nullptr;
  for (const auto& s : p->sinks) {
    if (s.name == "bi_mysql") sc = &s;
  }
  if (sc == nullptr) Die("config", "no bi_mysql sink in dingtalk-payment");
  auto sql = sink::mysql::ReadConnectionOptions(*cfg->FindConnection(sc->connection));
  if (!sql.ok()) Die("connection", sql.status().ToString());
  auto sink_opts = sink::mysql::ReadSinkOptions(*p, *sc);
  if (!sink_opts.ok()) Die("sink options", sink_opts.status().ToString());
  sink_opts->batch_rows = 1000;

  {
    SqlOptions admin = *sql;
    admin.database.clear();
    auto c = ConnectMySql(admin);
    if (!c.ok()) Die("connect", c.status().ToString());
    (void)(*c)->Execute("DROP DATABASE IF EXISTS " + sql->database);
    Check((*c)->Execute("CREATE DATABASE " + sql->database), "create database");
    Check((*c)->Execute("USE " + sql->database), "use");
    std::string ddl;
    std::istringstream in(ReadFile(a.repo + "/conf/sql/payment_application_info.sql"));
    for (std::string line; std::getline(in, line);) {
      if (!line.starts_with("--")) ddl += line + "\n";
    }
    ddl.erase(ddl.find_last_of(';'));
    Check((*c)->Execute(ddl), "ddl");
  }

  // Stage (RocksDB without fsync: setup) and apply through the real sink, ledger and offsets
  // included, so the audit reads what an agent would have left.
  auto setup_t0 = std::chrono::steady_clock::now();
  {
    stage::StageOptions stage_opts;
    stage_opts.sync = false;
    auto log = stage::StagingLog::Open(cfg->state_dir, stage_opts);
    if (!log.ok()) Die("stage", log.status().ToString());
    Check((*log)->RegisterSinks(p->name, {sc->name}), "register");
    std::mt19937_64 rng(7);
    stage::PageCommit page;
    for (int i = 0; i < a.records; ++i) {
      stage::IncomingRecord r;
      r.source_id = fmt::format("pi-{:08}", i);
      r.raw = bench::PaymentRequest(i, rng);
      r.hash = HashBytes(r.raw);
      page.records.push_back(std::move(r));
      if (page.records.size() == 1000 || i + 1 == a.records) {
        auto s = (*log)->CommitPage(p->name, page, 0);
        if (!s.ok()) Die("commit", s.status().ToString());
        page.records.clear();
      }
    }
    auto sink = sink::mysql::MySqlSink::Open(p->name, sc->name, std::move(sink_opts).value(), *sql,
                                             Clock::Real());
    if (!sink.ok()) Die("sink", sink.status().ToString());
    auto sum = apply::Drain(p->name, sc->name, sink->get(), log->get(), Clock::Real());
    if (!sum.ok()) Die("apply", sum.status().ToString());
  }
  const double setup_s = Seconds(setup_t0);

  uint64_t rows = 0;
  const double select_s = SelectAll(*sql, "payment_application_info", &rows);
  const std::string out = a.dir + "/audit.out";
  const AuditRun audit = RunAudit(a, a.dir + "/config.json", out);
  if (audit.code != 0) Die("audit", fmt::format("exit {}, see {}", audit.code, out));
  const std::string report = ReadFile(out);
  const std::string ok = fmt::format("\"ok\":{}", a.records);
  if (report.find(ok) == std::string::npos) Die("audit", "not every record ok: " + report);
  std::printf(
      "{\"name\":\"audit_mysql\",\"records\":%d,\"rows\":%llu,\"select_s\":%.2f,"
      "\"audit_s\":%.2f,\"ratio\":%.2f,\"target\":2,\"audit_peak_rss_mb\":%.1f,"
      "\"setup_s\":%.1f}\n",
      a.records, static_cast<unsigned long long>(rows), select_s, audit.seconds,
      audit.seconds / select_s, static_cast<double>(audit.max_rss_kb) / 1024.0, setup_s);
  return 0;
}
