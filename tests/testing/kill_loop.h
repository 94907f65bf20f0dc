// RunKillLoop: the SIGKILL loop of the HTTP sinks' crash tests. Runs `stagesync sync PIPELINE`
// again and again; each run is killed at a random moment, or dies at the crash point right
// after a create call (`http_sink.after_call:N`) or right after the intent was recorded
// (`http_sink.after_intent:N`), in turn, until enough runs were killed.
#pragma once

#include <chrono>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "testing/subprocess.h"

namespace stagesync::testing {

struct KillLoopOptions {
  std::string binary;
  std::string config;
  std::string pipeline;
  std::string log_file;
  int min_kills = 32;
  int max_runs = 90;
  int crash_point_max_n = 5;  // die at the 1st..Nth pass of the crash point
  int max_random_ms = 500;    // random kills land within this long after the start
  uint32_t seed = 1;
  std::function<void(int run)> before_run = {};  // e.g. arm a dropped-reply fault
  std::function<void(int run)> after_run = {};   // e.g. move the upstream on
};

struct KillLoopResult {
  int runs = 0;
  int killed = 0;
  int killed_after_call = 0;
  std::string failure;  // set when a run exited other than 0 or SIGKILL
};

inline KillLoopResult RunKillLoop(const KillLoopOptions& o) {
  KillLoopResult r;
  std::mt19937 rng(o.seed);
  for (int i = 0; i < o.max_runs && r.killed < o.min_kills; ++i) {
    const int mode = i % 3;  // 0: random moment; 1: after the create; 2: after the intent
    std::vector<std::string> env;
    const std::string n = std::to_string(1 + rng() % o.crash_point_max_n);
    if (mode == 1) env.push_back("STAGESYNC_CRASH_AT=http_sink.after_call:" + n);
    if (mode == 2) env.push_back("STAGESYNC_CRASH_AT=http_sink.after_intent:" + n);
    if (o.before_run) o.before_run(i);
    Subprocess p;
    if (!p.Start({o.binary, "--config", o.config, "sync", o.pipeline}, env, o.log_file)) {
      r.failure = "cannot start " + o.binary;
      return r;
    }
    int code = 0;
    if (mode == 0) {
      auto deadline = std::chrono::steady_clock::now() +
                      std::chrono::milliseconds(20 + rng() % o.max_random_ms);
      bool exited = false;
      while (std::chrono::steady_clock::now() < deadline && !(exited = p.Poll(&code))) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      if (!exited) {
        p.Kill();
        code = p.Wait();
      }
    } else {
      code = p.Wait();
    }
    ++r.runs;
    const bool killed = code == 128 + SIGKILL;
    r.killed += killed;
    r.killed_after_call += killed && mode == 1;
    if (code != 0 && !killed) {
      r.failure = "run " + std::to_string(i) + " exited " + std::to_string(code);
      return r;
    }
    if (o.after_run) o.after_run(i);
  }
  return r;
}

}  // namespace stagesync::testing
