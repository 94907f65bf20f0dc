// stagesync: the command-line entry point. A thin main() over the library.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cli/ctl.h"
#include "cli/run.h"
#include "connectors/connector.h"
#include "obs/log.h"
#include "stagesync/apply.h"
#include "stagesync/config.h"
#include "stagesync/fetch.h"
#include "stagesync/http.h"
#include "stagesync/json.h"
#include "stagesync/sink.h"
#include "stagesync/source.h"
#include "stagesync/stage.h"
#include "stagesync/transform.h"

namespace {

using namespace stagesync;

constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;
constexpr int kExitInUse = 75;  // EX_TEMPFAIL: the state dir is in use; try again later

void Usage(FILE* out) {
  std::fputs(
      "usage: stagesync --config FILE [--json] [--listen ADDR] [--log-format text|json] COMMAND\n"
      "       [ARGS]\n"
      "       stagesync --help-config   every connector's options (type, default, help)\n"
      "\n"
      "commands:\n"
      "  check [--connect]  validate the config (every pipeline, source and sink); with\n"
      "                     --connect also log in once to every vendor connection\n"
      "  fetch PIPELINE     one incremental fetch of PIPELINE into the staging log\n"
      "  apply PIPELINE [--sink NAME]\n"
      "                     drain staged changes into the pipeline's sinks (or one sink)\n"
      "  sync PIPELINE      fetch, then apply every sink\n"
      "  map PIPELINE [--sink NAME] (--key ID | --file record.json)\n"
      "                     print the rows a record maps to (or why not); writes nothing\n"
      "  requeue PIPELINE [--sink NAME] [--key ID]\n"
      "                     put quarantined records back into the change log after a fix\n"
      "  run [--listen HOST:PORT]\n"
      "                     the agent: every pipeline on its schedule, a control API (default\n"
      "                     agent.listen, 127.0.0.1:9464); SIGTERM stops it gracefully, SIGHUP\n"
      "                     reloads the config\n"
      "  ctl status [PIPELINE]\n"
      "                     ask the running agent (`stagesync run`) for every pipeline's state,\n"
      "                     last and next run, backoff and pending changes\n"
      "  ctl run|pause|resume PIPELINE\n"
      "                     start a run now, or stop / allow new runs, in the running agent\n"
      "  ctl requeue PIPELINE [--sink NAME] [--key ID]\n"
      "                     requeue through the running agent (which holds the state dir)\n"
      "\n"
      "options:\n"
      "  --listen ADDR      the agent's control address (HOST:PORT); default: agent.listen\n"
      "  --log-format F     text (default) or json: one JSON object per log line\n"
      "  --wait [SECONDS]   when another stagesync process holds the state dir, wait for it\n"
      "                     (up to SECONDS; no limit without a value) instead of exiting 75\n"
      "\n"
      "exit codes: 0 ok, 1 runtime failure, 2 usage or config error, 75 state dir in use\n",
      out);
}

// A message as one printable line: NUL and other control bytes (which would cut it short or
// drive the terminal) are shown as \xNN.
std::string Printable(const std::string& m) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (char ch : m) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

// A message for the operator on stderr: "stagesync: <level>: <msg>", or a JSON log line with
// --log-format json (the stream is redacted either way).
void Say(obs::LogLevel level, const std::string& msg, const std::string& pipeline = "") {
  if (obs::CurrentLogFormat() == obs::LogFormat::kJson) {
    obs::Log(level, msg, obs::For(pipeline));
  } else {
    std::fprintf(stderr, "stagesync: %s: %s\n", std::string(obs::LevelName(level)).c_str(),
                 Printable(msg).c_str());
  }
}

// A failure while reading or validating the config or the command line: InvalidArgument is the
// user's to fix (exit 2), anything else (an unreadable file, a target down) is a runtime failure.
int FailConfig(const Status& s) {
  Say(obs::LogLevel::kError, s.message());
  return s.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitRuntime;
}

// A failure while doing the work. A bad vendor page or record is InvalidArgument too, but it is
// not a config error: every failure here exits 1, except a busy state dir (75).
int Fail(const Status& s) {
  Say(obs::LogLevel::kError, s.message());
  return s.code() == StatusCode::kAlreadyExists ? kExitInUse : kExitRuntime;
}

// Opens the staging log read-write; with `wait_s` (< 0: no limit) waits while another process
// holds it.
Result<std::unique_ptr<stage::StagingLog>> OpenStaging(const std::string& dir, bool wait,
                                                       int64_t wait_s) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_s);
  bool said = false;
  while (true) {
    auto log = stage::StagingLog::Open(dir);
    if (log.ok() || log.status().code() != StatusCode::kAlreadyExists || !wait) return log;
    if (wait_s >= 0 && std::chrono::steady_clock::now() >= deadline) {
      return log.status().WithContext("waited " + std::to_string(wait_s) + " s");
    }
    if (!said) {
      std::fprintf(stderr, "stagesync: notice: %s; waiting\n",
                   Printable(log.status().message()).c_str());
      said = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

// `check --connect`: logs in once to every vendor connection a pipeline uses and reports
// each as ok or failed with the cause (errors never carry secrets). Returns the failures.
int CheckConnections(const config::Config& cfg, bool as_json, Runtime& rt) {
  std::map<std::string, std::vector<const config::PipelineConfig*>> used;  // -> source users
  for (const auto& p : cfg.pipelines) {
    used[p.source.connection].push_back(&p);
    for (const auto& s : p.sinks) used[s.connection];
  }
  int failed = 0;
  for (const auto& [name, users] : used) {
    const config::ConnectionConfig* conn = cfg.FindConnection(name);
    if (conn == nullptr) continue;
    auto client = rt.connections().Get(*conn);
    if (client.ok() && !(*client)->HasLogin()) continue;  // checked with its sinks
    Status s = client.ok() ? (*client)->CheckLogin(users) : client.status();
    std::string state = s.ok() ? "ok" : "failed";
    if (!s.ok() && s.code() == StatusCode::kFailedPrecondition) state = "warning";
    if (state == "failed") ++failed;
    if (as_json) {
      std::printf("{\"connection\":%s,\"type\":%s,\"state\":%s%s}\n", json::Quote(name).c_str(),
                  json::Quote(conn->type).c_str(), json::Quote(state).c_str(),
                  s.ok() ? "" : (",\"cause\":" + json::Quote(s.message())).c_str());
    } else {
      std::printf("connection %s (%s): %s%s\n", name.c_str(), conn->type.c_str(), state.c_str(),
                  s.ok() ? "" : (": " + Printable(s.message())).c_str());
    }
  }
  return failed;
}

// Warnings for a flattening sink's {{row:X}} / {{form:X}} whose X exists at both levels in the
// staged records (a sample of each pipeline's first records): the scope decides, and the
// operator should know the other value exists. Nothing when nothing is staged yet.
std::vector<std::string> LabelsAtBothLevels(const config::PipelineConfig& p,
                                            stage::StagingLog* log) {
  std::vector<std::string> out;
  if (log == nullptr) return out;
  std::vector<std::pair<std::string, transform::Mapping>> mappings;
  for (const auto& s : p.sinks) {
    auto spec = connectors::SinkMapping(p, s);
    if (!spec.ok() || spec->flatten.empty()) continue;
    auto m = transform::Mapping::Compile(*spec);
    if (m.ok()) mappings.emplace_back(s.path, std::move(m).value());
  }
  if (mappings.empty()) return out;
  std::set<std::string> seen;
  int scanned = 0;
  Status st = log->ScanRecords(p.name, [&](const stage::StagedRecord& r) {
    if (r.deleted) return true;
    auto v = json::Parse(r.raw);
    if (v.ok()) {
      for (const auto& [path, m] : mappings) {
        for (const std::string& w : m.LabelsAtBothLevels(*v)) {
          if (seen.insert(path + "." + w).second) {
            out.push_back(path + "." + w + " (e.g. staged record " + r.source_id + ")");
          }
        }
      }
    }
    return ++scanned < 1000;
  });
  (void)st;  // a sample: an unreadable staging dir only means no warnings
  return out;
}

int Check(const config::Config& cfg, bool as_json, bool connect) {
  Runtime rt;
  int errors = 0;       // config errors: exit 2
  int unreachable = 0;  // targets --connect could not reach: exit 1
  // Staged records, if any, read-only (works while the agent runs).
  std::unique_ptr<stage::StagingLog> staged;
  if (struct stat st; ::stat(cfg.state_dir.c_str(), &st) == 0) {
    stage::StageOptions ro;
    ro.read_only = true;
    if (auto log = stage::StagingLog::Open(cfg.state_dir, ro); log.ok()) {
      staged = std::move(log).value();
    }
  }
  for (const auto& p : cfg.pipelines) {
    Status s = connectors::CheckSource(cfg, p);
    std::string state = "ok";
    if (!s.ok()) {
      if (s.code() == StatusCode::kFailedPrecondition) {
        std::fprintf(stderr, "stagesync: warning: %s\n", Printable(s.message()).c_str());
        state = "ok with warnings";
      } else {
        std::fprintf(stderr, "stagesync: error: %s\n", Printable(s.message()).c_str());
        state = "error";
        ++errors;
      }
    }
    for (const auto& sink : p.sinks) {
      Status ss = connectors::CheckSink(cfg, p, sink, &rt);
      if (ss.ok()) continue;
      const bool down = ss.code() == StatusCode::kUnavailable;
      if (ss.code() == StatusCode::kFailedPrecondition || (down && !connect)) {
        // Not built yet, or the target is down right now: the config itself is fine (with
        // --connect a target that cannot be reached is a failure).
        std::fprintf(stderr, "stagesync: warning: %s\n", Printable(ss.message()).c_str());
        if (state == "ok") state = "ok with warnings";
      } else {
        std::fprintf(stderr, "stagesync: error: %s\n", Printable(ss.message()).c_str());
        state = "error";
        ++(down ? unreachable : errors);
      }
    }
    for (const std::string& w : LabelsAtBothLevels(p, staged.get())) {
      std::fprintf(stderr, "stagesync: warning: %s\n", Printable(w).c_str());
      if (state == "ok") state = "ok with warnings";
    }
    if (as_json) {
      std::printf("{\"pipeline\":%s,\"state\":%s,\"sinks\":%zu}\n", json::Quote(p.name).c_str(),
                  json::Quote(state).c_str(), p.sinks.size());
    } else {
      std::printf("pipeline %s: %s (%zu sink%s)\n", p.name.c_str(), state.c_str(), p.sinks.size(),
                  p.sinks.size() == 1 ? "" : "s");
    }
  }
  if (connect) unreachable += CheckConnections(cfg, as_json, rt);
  if (errors > 0) return kExitUsage;
  return unreachable == 0 ? kExitOk : kExitRuntime;
}

const config::PipelineConfig* FindPipeline(const config::Config& cfg, const std::string& name) {
  const config::PipelineConfig* p = cfg.FindPipeline(name);
  if (p == nullptr) {
    std::fprintf(stderr, "stagesync: error: pipelines.%s: no such pipeline\n", name.c_str());
  }
  return p;
}

int Fetch(const config::Config& cfg, const config::PipelineConfig* p, stage::StagingLog* log,
          Runtime& rt, bool as_json) {
  const std::string& name = p->name;
  fetch::FetchOptions opts;
  const bool progress = !as_json && isatty(STDERR_FILENO);
  int64_t last_progress_us = 0;
  if (progress) {
    opts.on_page = [&](const fetch::FetchSummary& s) {
      int64_t now = Clock::Real()->MonotonicMicros();
      if (now - last_progress_us < 200000) return;
      last_progress_us = now;
      std::fprintf(stderr, "\r%s: pages %lld fetched %lld new %lld changed %lld   ",
                   s.pipeline.c_str(), static_cast<long long>(s.pages),
                   static_cast<long long>(s.fetched), static_cast<long long>(s.added),
                   static_cast<long long>(s.changed));
    };
  }
  opts.on_failure = [&name](const stage::FetchFailure& f) {
    Say(obs::LogLevel::kWarning, "quarantined: " + f.error, name);
  };
  auto summary = fetch::RunFetch(cfg, *p, log, rt, opts);
  if (progress) std::fputs("\r\033[K", stderr);
  if (!summary.ok()) {
    return Fail(summary.status().WithContext("fetch " + name));
  }
  std::puts((as_json ? fetch::SummaryJson(*summary) : fetch::SummaryLine(*summary)).c_str());
  return kExitOk;
}

int Apply(const config::Config& cfg, const config::PipelineConfig* p, stage::StagingLog* log,
          Runtime& rt, const std::string& only_sink, bool as_json) {
  bool any = false;
  int rc = kExitOk;
  for (const auto& s : p->sinks) {
    if (!only_sink.empty() && s.name != only_sink) continue;
    any = true;
    apply::ApplyOptions opts;
    const bool progress = !as_json && isatty(STDERR_FILENO);
    if (progress) {
      opts.on_batch = [](const apply::ApplySummary& a) {
        std::fprintf(stderr, "\r%s/%s: batches %lld applied %lld rows %lld   ", a.pipeline.c_str(),
                     a.sink.c_str(), static_cast<long long>(a.batches),
                     static_cast<long long>(a.applied), static_cast<long long>(a.rows));
      };
    }
    auto sum = apply::RunApply(cfg, *p, s, log, rt, opts);
    if (progress) std::fputs("\r\033[K", stderr);
    if (!sum.ok()) {
      // One failing sink does not hold back the others.
      rc = Fail(sum.status().WithContext("apply " + p->name + "/" + s.name));
      continue;
    }
    std::puts((as_json ? apply::SummaryJson(*sum) : apply::SummaryLine(*sum)).c_str());
    if (sum->quarantined > 0) {
      std::fprintf(stderr,
                   "stagesync: warning: %lld record(s) quarantined; see stagesync-dump --state "
                   "%s --quarantine\n",
                   static_cast<long long>(sum->quarantined), cfg.state_dir.c_str());
    }
  }
  if (!any) {
    std::fprintf(stderr, "stagesync: error: %s.sinks.%s: no such sink\n", p->path.c_str(),
                 only_sink.c_str());
    return kExitUsage;
  }
  return rc;
}

int MapRecord(const config::PipelineConfig* p, const std::string& state_dir,
              const std::string& only_sink, const std::string& key, const std::string& file) {
  std::string raw;
  std::string what;
  if (!file.empty()) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "stagesync: error: cannot read %s\n", file.c_str());
      return kExitUsage;
    }
    raw.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    what = file;
  } else if (!key.empty()) {
    stage::StageOptions ro;
    ro.read_only = true;  // works while the agent runs
    auto log = stage::StagingLog::Open(state_dir, ro);
    if (!log.ok()) return Fail(log.status());
    auto rec = (*log)->Get(p->name, key);
    if (!rec.ok()) return Fail(rec.status());
    if (!rec->has_value()) {
      std::fprintf(stderr, "stagesync: error: pipeline %s has no staged record %s\n",
                   p->name.c_str(), key.c_str());
      return kExitRuntime;
    }
    raw = (*rec)->raw;
    what = "record " + key;
  } else {
    std::fprintf(stderr, "stagesync: error: map needs --key ID or --file record.json\n");
    return kExitUsage;
  }
  auto record = json::Parse(raw);
  if (!record.ok()) return FailConfig(record.status().WithContext(what));
  int rc = kExitOk;
  bool any = false;
  for (const auto& s : p->sinks) {
    if (!only_sink.empty() && s.name != only_sink) continue;
    any = true;
    auto spec = connectors::SinkMapping(*p, s);
    if (!spec.ok()) {
      std::printf("{\"sink\":%s,\"error\":%s}\n", json::Quote(s.name).c_str(),
                  json::Quote(spec.status().message()).c_str());
      continue;
    }
    auto mapping = transform::Mapping::Compile(*spec);
    if (!mapping.ok()) return FailConfig(mapping.status());
    std::vector<transform::MappedRow> rows;
    transform::MapVerdict verdict;
    transform::Variables vars = {
        {"CURRENT_TIME", std::to_string(Clock::Real()->NowMicros() / 1000000)}};
    Status st = mapping->Map(*record, &rows, &verdict, &vars);
    if (!st.ok()) {
      std::printf("{\"sink\":%s,\"rejected\":%s%s}\n", json::Quote(s.name).c_str(),
                  json::Quote(st.message()).c_str(),
                  verdict.rule.empty() ? "" : (",\"rule\":" + json::Quote(verdict.rule)).c_str());
      rc = kExitRuntime;
      continue;
    }
    if (verdict.filtered) {
      std::printf("{\"sink\":%s,\"filtered\":\"the sink's where does not select it\"}\n",
                  json::Quote(s.name).c_str());
      continue;
    }
    for (const auto& row : rows) {
      std::string out = "{\"sink\":" + json::Quote(s.name) + ",\"row\":{";
      for (size_t c = 0; c < row.cells.size(); ++c) {
        if (c) out += ",";
        out += json::Quote(mapping->columns()[c]) + ":" +
               (row.cells[c] ? json::Quote(*row.cells[c]) : "null");
      }
      out += "}}";
      std::puts(out.c_str());
    }
  }
  if (!any) {
    std::fprintf(stderr, "stagesync: error: %s.sinks.%s: no such sink\n", p->path.c_str(),
                 only_sink.c_str());
    return kExitUsage;
  }
  return rc;
}

int Requeue(const config::Config& cfg, const config::PipelineConfig* p, stage::StagingLog* log,
            const std::string& only_sink, const std::string& key, bool as_json) {
  (void)cfg;
  auto n = log->Requeue(p->name, only_sink, key);
  if (!n.ok()) return Fail(n.status());
  if (as_json) {
    std::printf("{\"command\":\"requeue\",\"pipeline\":%s,\"requeued\":%lld}\n",
                json::Quote(p->name).c_str(), static_cast<long long>(*n));
  } else {
    std::printf("requeue %s: %lld record(s) back in the change log\n", p->name.c_str(),
                static_cast<long long>(*n));
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  // Everything printed from here on (results, errors, vendor messages) is redacted.
  obs::RedactStandardStreams();
  std::string config_file, only_sink, key, file, listen;
  bool as_json = false;
  bool connect = false;
  bool wait = false;
  int64_t wait_s = -1;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      config_file = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      config_file = a.substr(9);
    } else if (a == "--sink" && i + 1 < argc) {
      only_sink = argv[++i];
    } else if (a == "--file" && i + 1 < argc) {
      file = argv[++i];
    } else if (a == "--key" && i + 1 < argc) {
      key = argv[++i];
    } else if (a == "--listen" && i + 1 < argc) {
      listen = argv[++i];
    } else if (a.rfind("--listen=", 0) == 0) {
      listen = a.substr(9);
    } else if (a == "--log-format" || a.rfind("--log-format=", 0) == 0) {
      std::string v = a.size() > 12 ? a.substr(13) : (i + 1 < argc ? argv[++i] : "");
      auto format = obs::ParseLogFormat(v);
      if (!format.ok()) {
        std::fprintf(stderr, "stagesync: %s\n", format.status().message().c_str());
        return kExitUsage;
      }
      obs::SetLogFormat(*format);
    } else if (a == "--json") {
      as_json = true;
    } else if (a == "--connect") {
      connect = true;
    } else if (a == "--wait" || a.rfind("--wait=", 0) == 0) {
      wait = true;
      std::string v = a.size() > 6 ? a.substr(7) : "";
      if (v.empty() && i + 1 < argc && argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9') {
        v = argv[++i];
      }
      if (!v.empty()) {
        char* end = nullptr;
        errno = 0;
        long long n = std::strtoll(v.c_str(), &end, 10);
        if (*end != '\0' || errno != 0 || n < 0 || n > 86400 * 365) {
          std::fprintf(stderr, "stagesync: --wait: not a number of seconds: %s\n", v.c_str());
          return kExitUsage;
        }
        wait_s = n;
      }
    } else if (a == "--help-config") {
      std::fputs(connectors::HelpConfig().c_str(), stdout);
      return kExitOk;
    } else if (a == "-h" || a == "--help") {
      Usage(stdout);
      return kExitOk;
    } else if (a.rfind("--", 0) == 0) {
      std::fprintf(stderr, "stagesync: unknown option %s\n", a.c_str());
      Usage(stderr);
      return kExitUsage;
    } else {
      args.push_back(a);
    }
  }
  if (config_file.empty() || args.empty()) {
    Usage(stderr);
    return kExitUsage;
  }
  auto cfg = config::LoadFile(config_file);
  if (!cfg.ok()) return FailConfig(cfg.status());
  const std::string& cmd = args[0];
  if (cmd == "check" && args.size() == 1) return Check(*cfg, as_json, connect);
  if (connect) {
    std::fprintf(stderr, "stagesync: --connect goes with check\n");
    return kExitUsage;
  }
  if (cmd == "ctl") {
    // Talks to the agent over HTTP: opens no staging and needs no vendor checks.
    cli::CtlOptions ctl;
    ctl.listen = listen;
    ctl.as_json = as_json;
    ctl.sink = only_sink;
    ctl.key = key;
    return cli::RunCtl(*cfg, std::vector<std::string>(args.begin() + 1, args.end()), ctl);
  }
  if (Status valid = connectors::CheckAll(*cfg); !valid.ok()) return FailConfig(valid);
  if (cmd == "run" && args.size() == 1) {
    return cli::RunAgent(std::make_shared<const config::Config>(std::move(cfg).value()), listen);
  }
  if (cmd == "map" && args.size() == 2) {
    const config::PipelineConfig* p = FindPipeline(*cfg, args[1]);
    if (p == nullptr) return kExitUsage;
    return MapRecord(p, cfg->state_dir, only_sink, key, file);
  }
  if ((cmd == "fetch" || cmd == "apply" || cmd == "sync" || cmd == "requeue") && args.size() == 2) {
    const config::PipelineConfig* p = FindPipeline(*cfg, args[1]);
    if (p == nullptr) return kExitUsage;
    auto log = OpenStaging(cfg->state_dir, wait, wait_s);
    if (!log.ok()) {
      if (log.status().code() == StatusCode::kAlreadyExists) {
        // A running agent holds it: say so, and what to ask it instead.
        std::string verb = cmd == "requeue" ? "requeue " + args[1] : "run " + args[1];
        std::string hint = cli::RunningAgentHint(cfg->state_dir, config_file, verb);
        if (!hint.empty()) {
          std::fprintf(stderr, "stagesync: error: %s\n", Printable(hint).c_str());
          return kExitInUse;
        }
      }
      return Fail(log.status());
    }
    RuntimeOptions ro;
    ro.notice = [&p](const std::string& m) { Say(obs::LogLevel::kNotice, m, p->name); };
    Runtime rt(std::move(ro));
    rt.set_staging(log->get());  // daily quota counts live there; rt dies first
    if (cmd == "fetch") return Fetch(*cfg, p, log->get(), rt, as_json);
    if (cmd == "apply") return Apply(*cfg, p, log->get(), rt, only_sink, as_json);
    if (cmd == "requeue") return Requeue(*cfg, p, log->get(), only_sink, key, as_json);
    int rc = Fetch(*cfg, p, log->get(), rt, as_json);
    // Apply what is staged even when the fetch failed part-way: those pages are committed.
    int rc2 = Apply(*cfg, p, log->get(), rt, only_sink, as_json);
    return rc != kExitOk ? rc : rc2;
  }
  std::fprintf(stderr, "stagesync: bad command\n");
  Usage(stderr);
  return kExitUsage;
}
