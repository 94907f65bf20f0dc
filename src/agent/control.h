// AgentControl: what the control API (and `stagesync ctl`) may ask of a running agent. The
// agent implements it; the HTTP server (control_server.h) only translates requests to these
// calls, so it can be tested against a fake. Every method is thread-safe (called from the
// server's threads while the agent runs).
#pragma once

#include <cstdint>
#include <string>

#include "stagesync/status.h"

namespace stagesync::agent {

class AgentControl {
 public:
  virtual ~AgentControl() = default;

  // GET /api/pipelines: a JSON object {"agent":{...},"pipelines":[{...}, ...]} with, per
  // pipeline: name, state (idle|running|failing|paused|waiting), schedule, last_run and
  // next_run (ms), last fetch/apply summaries, backoff (failures, until_ms), pending per sink.
  virtual std::string PipelinesJson() = 0;
  // GET /api/pipelines/{p}: the same object for one pipeline plus its recent runs
  // (`limit` newest first). NotFound for an unknown pipeline.
  virtual Result<std::string> PipelineJson(const std::string& pipeline, int limit) = 0;

  // POST /api/pipelines/{p}/run: start a run now (ignores backoff and pause? no: a paused
  // pipeline refuses with FailedPrecondition). Returns a JSON object describing what was
  // started ({"started":true,"run_id":N} or {"started":false,"reason":"already running"}).
  // NotFound for an unknown pipeline.
  virtual Result<std::string> RunNow(const std::string& pipeline) = 0;
  // POST /api/pipelines/{p}/pause and /resume: no new runs start while paused (in-flight work
  // finishes). Returns the pipeline's JSON object. NotFound for an unknown pipeline.
  virtual Result<std::string> Pause(const std::string& pipeline) = 0;
  virtual Result<std::string> Resume(const std::string& pipeline) = 0;
  // POST /api/pipelines/{p}/requeue with optional `sink` and `key`: quarantined records back
  // into the change log (as `stagesync requeue`); returns {"requeued":N}. NotFound for an
  // unknown pipeline or sink.
  virtual Result<std::string> Requeue(const std::string& pipeline, const std::string& sink,
                                      const std::string& key) = 0;

  // GET /readyz: config loaded, staging open, not shutting down. `why` says what is not.
  virtual bool Ready(std::string* why) = 0;
};

}  // namespace stagesync::agent
