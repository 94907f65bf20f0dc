// stagesync: the command-line entry point. A thin main() over the library.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "stagesync/apply.h"
#include "stagesync/config.h"
#include "stagesync/fetch.h"
#include "stagesync/http.h"
#include "stagesync/json.h"
#include "stagesync/sink.h"
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
      "  apply PIPELINE [--sink NAME]\n"
      "                     drain staged changes into the pipeline's sinks (or one sink)\n"
      "  sync PIPELINE      fetch, then apply every sink\n"
      "  requeue PIPELINE [--sink NAME] [--key ID]\n"
      "                     put quarantined records back into the change log after a fix\n"
      "\n"
      "exit codes: 0 ok, 1 runtime failure, 2 usage or config error\n",
      out);
}

int Fail(const Status& s) {
  std::fprintf(stderr, "stagesync: error: %s\n", s.message().c_str());
  bool config_error = s.code() == StatusCode::kInvalidArgument;
  return config_error ? kExitUsage : kExitRuntime;
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
      Status ss = sink::CheckSink(cfg, p, sink, /*connect=*/true);
      if (ss.ok()) continue;
      if (ss.code() == StatusCode::kFailedPrecondition || ss.code() == StatusCode::kUnavailable) {
        // Not built yet, or the target is down right now: the config itself is fine.
        std::fprintf(stderr, "stagesync: warning: %s\n", ss.message().c_str());
        if (state == "ok") state = "ok with warnings";
      } else {
        std::fprintf(stderr, "stagesync: error: %s\n", ss.message().c_str());
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

const config::PipelineConfig* FindPipeline(const config::Config& cfg, const std::string& name) {
  const config::PipelineConfig* p = cfg.FindPipeline(name);
  if (p == nullptr) {
    std::fprintf(stderr, "stagesync: error: pipelines.%s: no such pipeline\n", name.c_str());
  }
  return p;
}

int Fetch(const config::Config& cfg, const config::PipelineConfig* p, stage::StagingLog* log,
          bool as_json) {
  const std::string& name = p->name;
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
  auto summary = fetch::RunFetch(cfg, *p, log, deps, opts);
  if (progress) std::fputs("\r\033[K", stderr);
  if (!summary.ok()) {
    return Fail(summary.status().WithContext("fetch " + name));
  }
  std::puts((as_json ? fetch::SummaryJson(*summary) : fetch::SummaryLine(*summary)).c_str());
  return kExitOk;
}

int Apply(const config::Config& cfg, const config::PipelineConfig* p, stage::StagingLog* log,
          const std::string& only_sink, bool as_json) {
  bool any = false;
  int rc = kExitOk;
  for (const auto& s : p->sinks) {
    if (!only_sink.empty() && s.name != only_sink) continue;
    any = true;
    sink::SinkDeps deps{Clock::Real()};
    apply::ApplyOptions opts;
    const bool progress = !as_json && isatty(STDERR_FILENO);
    if (progress) {
      opts.on_batch = [](const apply::ApplySummary& a) {
        std::fprintf(stderr, "\r%s/%s: batches %lld applied %lld rows %lld   ", a.pipeline.c_str(),
                     a.sink.c_str(), static_cast<long long>(a.batches),
                     static_cast<long long>(a.applied), static_cast<long long>(a.rows));
      };
    }
    auto sum = apply::RunApply(cfg, *p, s, log, deps, opts);
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
  std::string config_file, only_sink, key;
  bool as_json = false;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      config_file = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      config_file = a.substr(9);
    } else if (a == "--sink" && i + 1 < argc) {
      only_sink = argv[++i];
    } else if (a == "--key" && i + 1 < argc) {
      key = argv[++i];
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
  if ((cmd == "fetch" || cmd == "apply" || cmd == "sync" || cmd == "requeue") && args.size() == 2) {
    const config::PipelineConfig* p = FindPipeline(*cfg, args[1]);
    if (p == nullptr) return kExitUsage;
    auto log = stage::StagingLog::Open(cfg->state_dir);
    if (!log.ok()) return Fail(log.status());
    if (cmd == "fetch") return Fetch(*cfg, p, log->get(), as_json);
    if (cmd == "apply") return Apply(*cfg, p, log->get(), only_sink, as_json);
    if (cmd == "requeue") return Requeue(*cfg, p, log->get(), only_sink, key, as_json);
    int rc = Fetch(*cfg, p, log->get(), as_json);
    // Apply what is staged even when the fetch failed part-way: those pages are committed.
    int rc2 = Apply(*cfg, p, log->get(), only_sink, as_json);
    return rc != kExitOk ? rc : rc2;
  }
  std::fprintf(stderr, "stagesync: bad command\n");
  Usage(stderr);
  return kExitUsage;
}
