// FakeAgent: an AgentControl with two pipelines ("orders", "pay.v2") that records every call,
// for the control server and `stagesync ctl` tests. Thread-safe (the server calls it from its
// pool).
#pragma once

#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "agent/control.h"
#include "stagesync/clock.h"

namespace stagesync::agent {

class FakeAgent : public AgentControl {
 public:
  // "Now" for the times in its JSON: the real clock (a one-pipeline answer carries no now_ms,
  // so `ctl status P` measures ages against its own clock).
  const int64_t now_ms_ = Clock::Real()->NowMillis();

  std::string PipelinesJson() override {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back("list");
    return "{\"agent\":{\"now_ms\":" + std::to_string(now_ms_) + "},\"pipelines\":[" +
           PipelineLocked("orders") + "," + PipelineLocked("pay.v2") + "]}";
  }
  Result<std::string> PipelineJson(const std::string& pipeline, int limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back("get " + pipeline + " " + std::to_string(limit));
    if (!Known(pipeline)) return NotFound("no such pipeline: " + pipeline);
    std::string obj = PipelineLocked(pipeline);
    obj.pop_back();
    return obj + ",\"runs\":[{\"started_ms\":" + std::to_string(now_ms_ - 600'000) +
           ",\"outcome\":\"failed\",\"error\":\"vendor said no\"}]}";
  }
  Result<std::string> RunNow(const std::string& pipeline) override {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back("run " + pipeline);
    if (pipeline == "broken") return Internal("disk on fire");
    if (!Known(pipeline)) return NotFound("no such pipeline: " + pipeline);
    if (paused_.count(pipeline)) return FailedPrecondition(pipeline + " is paused");
    return std::string("{\"started\":true,\"run_id\":7}");
  }
  Result<std::string> Pause(const std::string& pipeline) override {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back("pause " + pipeline);
    if (!Known(pipeline)) return NotFound("no such pipeline: " + pipeline);
    paused_.insert(pipeline);
    return PipelineLocked(pipeline);
  }
  Result<std::string> Resume(const std::string& pipeline) override {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back("resume " + pipeline);
    if (!Known(pipeline)) return NotFound("no such pipeline: " + pipeline);
    paused_.erase(pipeline);
    return PipelineLocked(pipeline);
  }
  Result<std::string> Requeue(const std::string& pipeline, const std::string& sink,
                              const std::string& key) override {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back("requeue " + pipeline + " sink=" + sink + " key=" + key);
    if (!Known(pipeline)) return NotFound("no such pipeline: " + pipeline);
    if (!sink.empty() && sink != "bi") return NotFound("no such sink: " + sink);
    return std::string("{\"requeued\":3}");
  }
  bool Ready(std::string* why) override {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back("ready");
    *why = not_ready_;
    return not_ready_.empty();
  }

  void SetNotReady(std::string why) {
    std::lock_guard<std::mutex> lock(mu_);
    not_ready_ = std::move(why);
  }
  std::vector<std::string> calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  std::string last_call() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_.empty() ? "" : calls_.back();
  }

 private:
  static bool Known(const std::string& p) { return p == "orders" || p == "pay.v2"; }
  std::string PipelineLocked(const std::string& p) {
    if (p == "orders") {
      return "{\"name\":\"orders\",\"state\":\"" +
             std::string(paused_.count(p) ? "paused" : "idle") +
             "\",\"last_run\":{\"finished_ms\":" + std::to_string(now_ms_ - 300'000) +
             ",\"outcome\":\"ok\"},\"next_run\":" + std::to_string(now_ms_ + 150'000) +
             ",\"backoff\":{\"failures\":0},\"pending\":{\"bi\":3,\"crm\":0}}";
    }
    return "{\"name\":\"pay.v2\",\"state\":\"" +
           std::string(paused_.count(p) ? "paused" : "failing") +
           "\",\"last_run\":null,\"next_run\":null,\"backoff\":{\"failures\":2,\"until_ms\":" +
           std::to_string(now_ms_ + 90'000) + "},\"pending\":[{\"sink\":\"kd\",\"pending\":12}]}";
  }

  std::mutex mu_;
  std::vector<std::string> calls_;
  std::set<std::string> paused_;
  std::string not_ready_;
};

}  // namespace stagesync::agent
