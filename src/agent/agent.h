// Agent: `stagesync run`, one long-running process serving every pipeline of a config on its
// schedule over one Runtime (so each connection's rate limit, token and session are shared)
// and one open staging log (held for the agent's lifetime).
//
// Work is split into tasks so that nothing waits on what it does not need: a pipeline's fetch,
// and each of its sinks' applies, is a task of its own. A task never overlaps itself; a run
// (triggered by the schedule, a catch-up or the API) starts the fetch, then every sink that is
// neither still applying nor backing off, each on its own thread, so a sink stuck on a vendor
// outage does not hold back the other sinks nor the next fetch. A failed fetch backs the
// pipeline off (exponential, capped); a failed sink backs off that sink only. At most
// `max_parallel_pipelines` pipelines have tasks running at once.
//
// Shutdown: no new task starts, the stop flag ends fetches after their committed page and
// applies after their committed batch, and vendor retries end instead of backing off.
// Everything is crash-safe besides (the staging log and the sinks' ledgers), so a hard stop
// after the grace period loses nothing either.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/control.h"
#include "obs/drift.h"
#include "stagesync/config.h"
#include "stagesync/runtime.h"
#include "stagesync/schedule.h"
#include "stagesync/stage.h"

namespace stagesync::agent {

struct AgentOptions {
  // The clock schedules are read from (tests accelerate or fake it). The Runtime keeps its own
  // clock for rate limits and retries. Default: the real clock.
  Clock* clock = nullptr;
  // One line per event (run started/finished, backoff, reload). Default: stderr.
  std::function<void(const std::string&)> log;
  // How often the scheduler looks at the clock when nothing wakes it (real time).
  int64_t poll_ms = 100;
};

class Agent final : public AgentControl {
 public:
  // Takes the loaded and validated config and the open staging log. Reads each pipeline's
  // last successful run from the run history to decide catch-ups.
  Agent(std::shared_ptr<const config::Config> cfg, std::unique_ptr<stage::StagingLog> log,
        Runtime* rt, AgentOptions opts = {});
  ~Agent() override;
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Schedules and runs pipelines until Stop(); then waits up to the grace period for tasks in
  // flight. Returns true when every task finished in time.
  bool Run();
  // Asks Run to return (thread-safe and async-signal-free: call from a signal thread).
  void Stop();
  bool stopping() const { return stopping_.load(); }
  // Swaps in a new config (already loaded). Ok when applied; otherwise the old one keeps
  // running and the error says why (it is also shown by the API until the next reload).
  Status Reload(std::shared_ptr<const config::Config> cfg);
  // One line for systemd's STATUS= (e.g. "5 pipelines: 1 running, 0 failing, 0 paused").
  std::string StatusLine();
  stage::StagingLog* staging() { return log_.get(); }
  // When the scheduler loop last went round (monotonic us): the systemd watchdog is fed only
  // while it does, so a hung scheduler gets the process restarted.
  int64_t LoopAliveMicros() const { return loop_at_us_.load(); }
  // A reload that could not be read: the old config stays and the API shows why.
  void ReloadFailed(const Status& why);
  // References of each sink's mapping that stopped resolving (fed by every apply).
  const obs::DriftTracker& drift() const { return drift_; }

  // AgentControl.
  std::string PipelinesJson() override;
  Result<std::string> PipelineJson(const std::string& pipeline, int limit) override;
  Result<std::string> RunNow(const std::string& pipeline) override;
  Result<std::string> Pause(const std::string& pipeline) override;
  Result<std::string> Resume(const std::string& pipeline) override;
  Result<std::string> Requeue(const std::string& pipeline, const std::string& sink,
                              const std::string& key) override;
  bool Ready(std::string* why) override;

 private:
  struct SinkState {
    bool running = false;
    int failures = 0;
    int64_t backoff_until_ms = 0;
    std::string last_error;
    std::string last_summary;  // JSON
  };
  struct PipelineState {
    std::string name;
    std::shared_ptr<const config::Config> cfg;  // the config version this pipeline runs with
    const config::PipelineConfig* p = nullptr;  // points into *cfg
    std::optional<schedule::Schedule> sched;    // nullopt: runs only when asked
    bool paused = false;
    bool removed = false;
    bool fetching = false;
    int tasks = 0;  // fetch + sink applies running
    int64_t due_ms = 0;
    int64_t last_start_ms = 0;
    int64_t last_end_ms = 0;
    std::string last_outcome;
    std::optional<int64_t> last_success_ms;  // start of the last run whose fetch succeeded
    int failures = 0;                        // consecutive failed fetches
    int64_t backoff_until_ms = 0;
    std::string last_error;
    std::string waiting;     // why it is not running though due (a spent quota)
    std::string last_fetch;  // JSON summary
    int64_t runs_started = 0;
    std::map<std::string, SinkState> sinks;
  };

  void Log(const std::string& line);
  int64_t Now();
  int64_t BackoffMs(int failures) const;
  // Builds a pipeline's state from the config (schedule, catch-up from the run history).
  Status InitPipeline(const std::shared_ptr<const config::Config>& cfg,
                      const config::PipelineConfig& p, PipelineState* st);
  // Starts a run of `st` (mu_ held) on a new thread.
  void StartRunLocked(const std::shared_ptr<PipelineState>& st, const std::string& trigger);
  void RunPipeline(std::shared_ptr<PipelineState> st, std::shared_ptr<const config::Config> cfg,
                   const config::PipelineConfig* p, std::string trigger, int64_t run_start);
  std::string SinkTask(const std::shared_ptr<PipelineState>& st,
                       const std::shared_ptr<const config::Config>& cfg,
                       const config::PipelineConfig* p, const config::SinkConfig& s, bool* ok);
  // The time until which `conn` has spent its daily quota; nullopt when it has not.
  std::optional<int64_t> QuotaSpentUntil(const config::Config& cfg, const std::string& conn);
  std::string StateName(const PipelineState& st) const;
  std::string PipelineJsonLocked(const PipelineState& st);
  void ReapThreadsLocked(bool all);
  int ActivePipelinesLocked() const;

  std::shared_ptr<const config::Config> cfg_;
  std::unique_ptr<stage::StagingLog> log_;
  Runtime* const rt_;
  AgentOptions opts_;
  Clock* clock_;
  obs::DriftTracker drift_;  // before the workers that feed it, so it outlives them

  std::atomic<bool> stopping_{false};
  std::atomic<bool> stop_tasks_{false};  // given to fetches and applies
  std::atomic<int64_t> loop_at_us_{0};

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::shared_ptr<PipelineState>> pipelines_;
  std::string reload_error_;
  int64_t started_ms_ = 0;
  int64_t reloads_ = 0;
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<Worker> workers_;
};

}  // namespace stagesync::agent
