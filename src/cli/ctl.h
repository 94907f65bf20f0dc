// `stagesync ctl`: the command line of the running agent's control API (control_server.h),
// over the project's libcurl HttpClient. Prints a readable table or line, or the agent's JSON
// as is with --json. Used by main.cc and, in process, by tests against a ControlServer.
//
// What the status table reads from each pipeline object of GET /api/pipelines (anything
// absent shows as "-"; the agent's object may carry more):
//   name, state,
//   last_run:  {"finished_ms"|"started_ms": epoch ms, "outcome": "ok"|"failed"|...} or epoch ms
//   next_run:  epoch ms, or {"at_ms": epoch ms}
//   backoff:   {"failures": N, "until_ms": epoch ms}
//   pending:   {"<sink>": N, ...} or [{"sink": "<sink>", "pending": N}, ...]
// and agent.now_ms (else the local clock) as "now" for ages.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "stagesync/config.h"

namespace stagesync::cli {

struct CtlOptions {
  std::string listen;  // --listen ADDR; empty: cfg.agent.listen
  bool as_json = false;
  std::string sink;  // requeue --sink
  std::string key;   // requeue --key
  FILE* out = stdout;
  FILE* err = stderr;
  int timeout_ms = 30000;  // per request. Default: 30 s
};

// `args` are the words after "ctl": status [PIPELINE] | run P | pause P | resume P | requeue P.
// Returns the exit code: 0 done, 1 the agent is not running / refused the token / failed,
// 2 usage error or an unknown pipeline or sink.
int RunCtl(const config::Config& cfg, const std::vector<std::string>& args, const CtlOptions& opts);
int RunCtl(const config::Config& cfg, const std::vector<std::string>& args,
           const std::string& listen_override, bool as_json);

}  // namespace stagesync::cli
