// AlertDelivery: sends the Alerter's messages to a DingTalk custom robot and/or a generic JSON
// webhook, on a bounded queue with its own thread, so a robot that is down or hangs never holds
// back a sync: Enqueue() never blocks (a full queue drops the message and counts it). Each
// message is retried with backoff a bounded number of times; every attempt's outcome is counted
// and reported to `on_delivery`. The robot's secret and the webhook's access_token appear in no
// log line or error. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "stagesync/clock.h"
#include "stagesync/http.h"
#include "stagesync/status.h"

namespace stagesync::obs {

// One message about one condition of one pipeline.
struct AlertMessage {
  std::string status;     // "firing" | "resolved"
  std::string pipeline;   // "" for the agent as a whole
  std::string condition;  // "failed_runs", "freshness", "quarantine_grew", "intent_open", ...
  std::string summary;    // one human sentence with the numbers
  // Name -> JSON value text (numbers as numbers, strings quoted), in the order shown.
  std::vector<std::pair<std::string, std::string>> values;
  std::string status_page;  // URL
};

struct AlertDeliveryOptions {
  std::string dingtalk_webhook;  // "" = no robot
  std::string dingtalk_secret;   // "" = unsigned (a robot secured by keyword or IP)
  std::string webhook_url;       // "" = no webhook
  HttpClient* http = nullptr;    // REQUIRED; outlives this object
  size_t queue_capacity = 64;    // messages waiting; beyond: dropped and counted
  int max_attempts = 4;          // per message and channel
  int64_t backoff_ms = 2000;     // before attempt 2; doubles, capped at 60 s
  int timeout_ms = 5000;         // per attempt: a hanging robot costs at most this
  // Called after each message's final outcome per channel ("dingtalk_robot" | "webhook").
  std::function<void(const std::string& channel, bool ok)> on_delivery;
  std::function<void(const std::string&)> log;  // Default: none
};

class AlertDelivery {
 public:
  struct Counts {
    int64_t sent = 0;      // messages a channel accepted
    int64_t failed = 0;    // messages a channel never accepted (after every attempt)
    int64_t attempts = 0;  // HTTP attempts, successful or not
    int64_t dropped = 0;   // messages not queued (queue full or stopped)
  };

  explicit AlertDelivery(AlertDeliveryOptions opts);
  ~AlertDelivery();  // Stop()s
  AlertDelivery(const AlertDelivery&) = delete;
  AlertDelivery& operator=(const AlertDelivery&) = delete;

  void Start();
  // Ends the thread after the attempt in flight (at most timeout_ms); queued messages are
  // dropped (counted): on shutdown, the Alerter's persisted state resends nothing twice.
  void Stop();
  // Queues `m` for every configured channel. False (and counted as dropped) when full.
  bool Enqueue(AlertMessage m);
  // Per channel ("dingtalk_robot", "webhook"), and "" for all together.
  Counts counts(const std::string& channel = "") const;
  // Blocks until the queue is empty and nothing is in flight, or `timeout_ms` passed (tests).
  bool WaitIdle(int64_t timeout_ms);

 private:
  void Loop();
  // One channel, every attempt. Returns whether it was accepted.
  bool Deliver(const std::string& channel, const AlertMessage& m);
  Status AttemptDingTalk(const AlertMessage& m);
  Status AttemptWebhook(const AlertMessage& m);
  std::string Clean(std::string s) const;  // removes the secret and the robot's token

  AlertDeliveryOptions opts_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<AlertMessage> queue_;
  bool stop_ = false;
  bool busy_ = false;
  std::map<std::string, Counts> counts_;
  std::thread thread_;
};

// The robot's `sign` query value for `timestamp_ms`: URL-encoded base64 of
// HMAC-SHA256(key = secret, message = "<timestamp_ms>\n<secret>").
std::string DingTalkSign(int64_t timestamp_ms, const std::string& secret);
// The robot's markdown body {"msgtype":"markdown","markdown":{"title","text"}}.
std::string DingTalkMarkdownJson(const AlertMessage& m);
// The webhook's body {"status","pipeline","condition","summary","values":{...},"status_page"}.
std::string WebhookJson(const AlertMessage& m);

}  // namespace stagesync::obs
