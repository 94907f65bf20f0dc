// stagesync: the command-line entry point. A thin main() over the library.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "stagesync/config.h"
#include "stagesync/fetch.h"
#include "stagesync/http.h"
#include "stagesync/source.h"
#include "stagesync/stage.h"

namespace {

using namespace stagesync;

constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

void Usage(FILE* out) {
  std::fputs(
      "usage: stagesync --config FILE [--json] COMMAND [ARGS]\n"
      "\n"
      "commands:\n"
      "  check              validate the config (every pipeline, source and sink)\n"
      "  fetch PIPELINE     one incremental fetch of PIPELINE into the staging log\n"
      "\n"
      "exit codes: 0 ok, 1 runtime failure, 2 usage or config error\n",
      out);
}

int Fail(const Status& s) {
  std::fprintf(stderr, "stagesync: error: %s\n", s.message().c_str());
  bool config_error = s.code() == StatusCode::kInvalidArgument;
  return config_error ? kExitUsage : kExitRuntime;
}

bool IsSinkTypeKnown(std::string_view t) {
  return t == "mysql" || t == "kingdee_push" || t == "yida";
}

int Check(const config::Config& cfg, bool as_json) {
  int errors = 0;
  for (const auto& p : cfg.pipelines) {
    Status s = source::CheckSource(cfg, p);
    std::string state = "ok";
    if (!s.ok()) {
      if (s.code() == StatusCode::kFailedPrecondition) {
        std::fprintf(stderr, "stagesync: warning: %s\n", s.message().c_str());
        state = "source not implemented";
      } else {
        std::fprintf(stderr, "stagesync: error: %s\n", s.message().c_str());
        state = "error";
        ++errors;
      }
    }
    for (const auto& sink : p.sinks) {
      if (!IsSinkTypeKnown(sink.type)) {
        std::fprintf(stderr, "stagesync: error: %s.type: unknown sink type '%s'\n",
                     sink.path.c_str(), sink.type.c_str());
        state = "error";
        ++errors;
      }
    }
    if (as_json) {
      std::printf("{\"pipeline\":%s,\"state\":%s,\"sinks\":%zu}\n", json::Quote(p.name).c_str(),
                  json::Quote(state).c_str(), p.sinks.size());
    } else {
      std::printf("pipeline %s: %s (%zu sink%s)\n", p.name.c_str(), state.c_str(), p.sinks.size(),
                  p.sinks.size() == 1 ? "" : "s");
    }
  }
  return errors == 0 ? kExitOk : kExitUsage;
}

int Fetch(const config::Config& cfg, const std::string& name, bool as_json) {
  const config::PipelineConfig* p = cfg.FindPipeline(name);
  if (p == nullptr) {
    std::fprintf(stderr, "stagesync: error: pipelines.%s: no such pipeline\n", name.c_str());
    return kExitUsage;
  }
  auto log = stage::StagingLog::Open(cfg.state_dir);
  if (!log.ok()) return Fail(log.status());
  auto http = NewCurlHttpClient();
  source::SourceDeps deps{http.get(), Clock::Real()};
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
  opts.on_failure = [](const stage::FetchFailure& f) {
    std::fprintf(stderr, "stagesync: warning: quarantined: %s\n", f.error.c_str());
  };
  auto summary = fetch::RunFetch(cfg, *p, log->get(), deps, opts);
  if (progress) std::fputs("\r\033[K", stderr);
  if (!summary.ok()) {
    return Fail(summary.status().WithContext("fetch " + name));
  }
  std::puts((as_json ? fetch::SummaryJson(*summary) : fetch::SummaryLine(*summary)).c_str());
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_file;
  bool as_json = false;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      config_file = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      config_file = a.substr(9);
    } else if (a == "--json") {
      as_json = true;
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
  if (!cfg.ok()) return Fail(cfg.status());
  const std::string& cmd = args[0];
  if (cmd == "check" && args.size() == 1) return Check(*cfg, as_json);
  if (cmd == "fetch" && args.size() == 2) return Fetch(*cfg, args[1], as_json);
  std::fprintf(stderr, "stagesync: bad command\n");
  Usage(stderr);
  return kExitUsage;
}
