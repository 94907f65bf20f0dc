// Alerter: the agent's own alerts, for teams without Prometheus. Every few seconds, on its own
// thread, it reads the agent's state (AgentControl::PipelinesJson) and the staging log (run
// history, open intents), evaluates each pipeline's conditions and hands one message to
// AlertDelivery when a condition starts (firing) and one when it clears (resolved).
//
// Never a storm: a (pipeline, condition) sends a firing message at most once per
// `min_interval_s` (a flapping pipeline's later firings are held back, and their resolutions
// with them), and the agent sends at most `max_per_hour` messages in any hour. Each
// (pipeline, condition)'s state is stored in staging (GetState/PutState under "alert:<key>"),
// so a restart neither re-sends an alert already sent nor forgets to resolve one.
// Thread-safe: Start/Stop from one thread; EvaluateOnce is serialized internally.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "agent/control.h"
#include "obs/alert_delivery.h"
#include "stagesync/clock.h"
#include "stagesync/config.h"
#include "stagesync/stage.h"

namespace stagesync::obs {

struct AlerterOptions {
  Clock* clock = nullptr;                       // Default: the real clock
  std::function<void(const std::string&)> log;  // Default: none
};

class Alerter {
 public:
  struct Counts {
    int64_t firing_sent = 0;
    int64_t resolved_sent = 0;
    int64_t held_back = 0;  // evaluations where a message was due but rate limited or capped
  };

  // `log` may be null (then no run history or intents: conditions read the JSON only). Every
  // pointer outlives the Alerter.
  Alerter(config::AlertsConfig cfg, agent::AgentControl* control, stage::StagingLog* log,
          AlertDelivery* delivery, AlerterOptions opts = {});
  ~Alerter();
  Alerter(const Alerter&) = delete;
  Alerter& operator=(const Alerter&) = delete;

  // Evaluates every `check_interval_s` on a thread of its own until Stop().
  void Start();
  void Stop();
  // One evaluation of every condition of every pipeline (the thread's body; tests call it).
  // Errors reading staging are returned after the other pipelines were evaluated.
  Status EvaluateOnce();
  Counts counts() const;

 private:
  // What is stored per (pipeline, condition) under "alert:<key>".
  struct State {
    bool active = false;    // the condition holds
    bool notified = false;  // a firing message was sent for this activation
    int64_t since_ms = 0;   // when it started holding
    int64_t last_fired_ms = 0;
    int64_t baseline = -1;  // quarantine_grew: the count it grows from (-1: not seen yet)
    std::string ToJson() const;
    static State FromJson(const std::string& s);
  };
  struct Finding {
    bool active = false;
    std::string summary;
    std::vector<std::pair<std::string, std::string>> values;
  };

  State& Load(const std::string& pipeline, const std::string& key);
  void Save(const std::string& pipeline, const std::string& key, const State& st);
  // Applies a finding to its state: starts, clears, sends (rate limit and cap permitting).
  void Apply(const std::string& pipeline, const std::string& key, const std::string& condition,
             const Finding& f, int64_t now_ms);
  bool TakeHourSlot(int64_t now_ms);
  void Log(const std::string& line) const;

  config::AlertsConfig cfg_;
  agent::AgentControl* control_;
  stage::StagingLog* log_;
  AlertDelivery* delivery_;
  AlerterOptions opts_;
  Clock* clock_;

  mutable std::mutex mu_;  // evaluation state
  std::map<std::pair<std::string, std::string>, State> states_;
  std::deque<int64_t> sent_ms_;  // send times within the last hour
  Counts counts_;

  std::mutex run_mu_;
  std::condition_variable run_cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace stagesync::obs
