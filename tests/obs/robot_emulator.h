// RobotEmulator: a DingTalk custom group robot (POST /robot/send?access_token=T&timestamp=MS&
// sign=S) on 127.0.0.1 for the alert tests, holding the robot's contract as DingTalk documents
// it: an unknown access_token is errcode 300001; with a signing secret, a timestamp more than an
// hour from now or a sign other than base64(HMAC-SHA256(secret, "MS\nsecret")) is errcode
// 310000; more than `per_minute` (20) accepted messages in a minute is 130101; a body that is
// not a markdown or text message is 40035. Always HTTP 200 with {"errcode","errmsg"}, as the
// robot answers. Also a generic webhook receiver (POST /hook) and down modes: refused
// (stopped), HTTP 500, or hanging. Thread-safe; Start/Stop from the test's thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
}

namespace stagesync::testing {

class RobotEmulator {
 public:
  enum class Mode { kUp, kError500, kHang };
  struct Message {
    int64_t at_ms = 0;
    std::string title;
    std::string text;
  };

  // `secret` "" = a robot without signing.
  RobotEmulator(std::string access_token, std::string secret);
  ~RobotEmulator();
  RobotEmulator(const RobotEmulator&) = delete;
  RobotEmulator& operator=(const RobotEmulator&) = delete;

  // Binds 127.0.0.1:port (0 = any free port; a restart after Stop passes port()).
  bool Start(int port = 0);
  // Refuses connections from here on (the listener is closed).
  void Stop();
  int port() const { return port_; }
  // The webhook URL as DingTalk shows it to the group owner.
  std::string webhook_url() const;
  std::string hook_url() const;  // the generic webhook receiver

  void SetMode(Mode m);
  void SetPerMinute(int n);

  std::vector<Message> Accepted() const;
  std::vector<std::string> HookBodies() const;
  // Answers with this errcode so far (0: accepted).
  int64_t Answered(int64_t errcode) const;
  int64_t Requests() const;
  // Every full request target the robot saw (to check that nothing else leaked there).
  std::vector<std::string> Targets() const;

 private:
  const std::string token_;
  const std::string secret_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Mode mode_ = Mode::kUp;
  int per_minute_ = 20;
  bool stopping_ = false;
  std::vector<Message> accepted_;
  std::vector<std::string> hook_bodies_;
  std::vector<std::string> targets_;
  std::map<int64_t, int64_t> answered_;
  int64_t requests_ = 0;
  int port_ = 0;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace stagesync::testing
