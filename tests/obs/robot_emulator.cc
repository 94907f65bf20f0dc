#include "obs/robot_emulator.h"

#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <chrono>

#include "stagesync/json.h"

namespace stagesync::testing {

namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The robot's own check, written from DingTalk's documentation (not from the agent's code):
// base64(HMAC-SHA256(key = secret, message = timestamp + "\n" + secret)).
std::string ExpectedSign(const std::string& timestamp, const std::string& secret) {
  const std::string msg = timestamp + "\n" + secret;
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), md.data(), &len);
  std::string b64(4 * ((len + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), md.data(),
                                static_cast<int>(len));
  b64.resize(static_cast<size_t>(n));
  return b64;
}

std::string Answer(int64_t errcode, const std::string& errmsg) {
  return "{\"errcode\":" + std::to_string(errcode) + ",\"errmsg\":" + json::Quote(errmsg) + "}";
}

}  // namespace

RobotEmulator::RobotEmulator(std::string access_token, std::string secret)
    : token_(std::move(access_token)), secret_(std::move(secret)) {}

RobotEmulator::~RobotEmulator() { Stop(); }

std::string RobotEmulator::webhook_url() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/robot/send?access_token=" + token_;
}
std::string RobotEmulator::hook_url() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/hook";
}

bool RobotEmulator::Start(int port) {
  Stop();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = false;
  }
  server_ = std::make_unique<httplib::Server>();
  // Hangs until the mode changes or the emulator stops; false when the caller should answer.
  auto hang_or_fail = [this](httplib::Response& res) {
    std::unique_lock<std::mutex> lock(mu_);
    ++requests_;
    if (mode_ == Mode::kHang) {
      cv_.wait_for(lock, std::chrono::seconds(60),
                   [&] { return stopping_ || mode_ != Mode::kHang; });
      res.status = 503;
      return true;
    }
    if (mode_ == Mode::kError500) {
      res.status = 500;
      res.set_content("<html>internal error</html>", "text/html");
      return true;
    }
    return false;
  };
  server_->Post(
      "/robot/send", [this, hang_or_fail](const httplib::Request& req, httplib::Response& res) {
        if (hang_or_fail(res)) return;
        std::lock_guard<std::mutex> lock(mu_);
        targets_.push_back(req.target);
        auto reply = [&](int64_t code, const std::string& msg) {
          answered_[code]++;
          res.set_content(Answer(code, msg), "application/json");
        };
        if (req.get_param_value("access_token") != token_) {
          return reply(300001, "token is not exist");
        }
        if (!secret_.empty()) {
          const std::string ts = req.get_param_value("timestamp");
          const std::string sign = req.get_param_value("sign");  // URL-decoded by httplib
          int64_t t = 0;
          try {
            t = std::stoll(ts);
          } catch (...) {
            t = 0;
          }
          if (t <= 0 || std::llabs(NowMs() - t) > 3600 * 1000) {
            return reply(310000, "invalid timestamp");
          }
          if (sign.empty() || sign != ExpectedSign(ts, secret_)) {
            return reply(310000, "sign not match, more: [https://ding-doc.dingtalk.com/doc]");
          }
        }
        auto body = json::Parse(req.body);
        const json::Value* type = body.ok() ? body->Find("msgtype") : nullptr;
        const json::Value* md = body.ok() ? body->Find("markdown") : nullptr;
        if (type == nullptr || type->text() != "markdown" || md == nullptr ||
            md->Find("title") == nullptr || md->Find("text") == nullptr) {
          return reply(40035, "missing parameter markdown.title or markdown.text");
        }
        const int64_t now = NowMs();
        int in_minute = 0;
        for (const auto& m : accepted_) in_minute += now - m.at_ms < 60000;
        if (in_minute >= per_minute_) {
          return reply(130101, "send too fast, exceed 20 times per minute");
        }
        accepted_.push_back({now, md->Find("title")->text(), md->Find("text")->text()});
        reply(0, "ok");
      });
  server_->Post("/hook", [this, hang_or_fail](const httplib::Request& req, httplib::Response& res) {
    if (hang_or_fail(res)) return;
    std::lock_guard<std::mutex> lock(mu_);
    targets_.push_back(req.target);
    hook_bodies_.push_back(req.body);
    res.set_content("{}", "application/json");
  });
  if (port == 0) {
    port_ = server_->bind_to_any_port("127.0.0.1");
    if (port_ <= 0) return false;
  } else {
    if (!server_->bind_to_port("127.0.0.1", port)) return false;
    port_ = port;
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  for (int i = 0; i < 500 && !server_->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return server_->is_running();
}

void RobotEmulator::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

void RobotEmulator::SetMode(Mode m) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    mode_ = m;
  }
  cv_.notify_all();
}

void RobotEmulator::SetPerMinute(int n) {
  std::lock_guard<std::mutex> lock(mu_);
  per_minute_ = n;
}

std::vector<RobotEmulator::Message> RobotEmulator::Accepted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return accepted_;
}
std::vector<std::string> RobotEmulator::HookBodies() const {
  std::lock_guard<std::mutex> lock(mu_);
  return hook_bodies_;
}
int64_t RobotEmulator::Answered(int64_t errcode) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = answered_.find(errcode);
  return it == answered_.end() ? 0 : it->second;
}
int64_t RobotEmulator::Requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}
std::vector<std::string> RobotEmulator::Targets() const {
  std::lock_guard<std::mutex> lock(mu_);
  return targets_;
}

}  // namespace stagesync::testing
