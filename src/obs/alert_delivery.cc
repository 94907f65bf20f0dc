#include "obs/alert_delivery.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <chrono>

#include "stagesync/json.h"

namespace stagesync::obs {

namespace {

constexpr const char* kRobot = "dingtalk_robot";
constexpr const char* kWebhook = "webhook";

std::string Base64(const unsigned char* data, size_t n) {
  std::string out(4 * ((n + 2) / 3), '\0');
  const int len =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<size_t>(std::max(len, 0)));
  return out;
}

std::string Title(const AlertMessage& m) {
  const char* tag = m.status == "resolved" ? "RESOLVED" : "FIRING";
  return fmt::format("[{}] stagesync {}{}{}", tag, m.pipeline, m.pipeline.empty() ? "" : " ",
                     m.condition);
}

// Emphasis and link characters in values taken from the agent (errors, names) would change the
// message's layout; a backslash keeps them literal. Others are left alone: DingTalk's renderer
// shows a needless backslash as it is.
std::string MdEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\`*_[]").find(c) != std::string_view::npos) out += '\\';
    out += c == '\n' || c == '\r' ? ' ' : c;
  }
  return out;
}

// A value's JSON text shown plainly: strings unquoted.
std::string Plain(const std::string& json_text) {
  auto v = json::Parse(json_text);
  if (v.ok() && v->is_string()) return v->text();
  return json_text;
}

}  // namespace

std::string DingTalkSign(int64_t timestamp_ms, const std::string& secret) {
  const std::string msg = std::to_string(timestamp_ms) + "\n" + secret;
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), md.data(),
           &len) == nullptr) {
    return "";
  }
  return UrlEncode(Base64(md.data(), len));
}

std::string DingTalkMarkdownJson(const AlertMessage& m) {
  std::string text = fmt::format("### {}\n\n", MdEscape(Title(m)));
  text += fmt::format("- **pipeline**: {}\n", MdEscape(m.pipeline.empty() ? "-" : m.pipeline));
  text += fmt::format("- **condition**: {}\n", MdEscape(m.condition));
  text += fmt::format("- **status**: {}\n", m.status);
  for (const auto& [k, v] : m.values) {
    text += fmt::format("- {}: {}\n", MdEscape(k), MdEscape(Plain(v)));
  }
  text += fmt::format("\n{}\n", MdEscape(m.summary));
  if (!m.status_page.empty()) text += fmt::format("\n[status page]({})\n", m.status_page);
  return fmt::format(R"({{"msgtype":"markdown","markdown":{{"title":{},"text":{}}}}})",
                     json::Quote(Title(m)), json::Quote(text));
}

std::string WebhookJson(const AlertMessage& m) {
  std::string values;
  for (const auto& [k, v] : m.values) {
    values += fmt::format("{}{}:{}", values.empty() ? "" : ",", json::Quote(k), v);
  }
  return fmt::format(
      R"({{"status":{},"pipeline":{},"condition":{},"summary":{},"values":{{{}}},"status_page":{}}})",
      json::Quote(m.status), json::Quote(m.pipeline), json::Quote(m.condition),
      json::Quote(m.summary), values, json::Quote(m.status_page));
}

AlertDelivery::AlertDelivery(AlertDeliveryOptions opts) : opts_(std::move(opts)) {}

AlertDelivery::~AlertDelivery() { Stop(); }

void AlertDelivery::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void AlertDelivery::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    counts_[""].dropped += static_cast<int64_t>(queue_.size());
    queue_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool AlertDelivery::Enqueue(AlertMessage m) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ || queue_.size() >= opts_.queue_capacity) {
      counts_[""].dropped++;
      return false;
    }
    queue_.push_back(std::move(m));
  }
  cv_.notify_all();
  return true;
}

AlertDelivery::Counts AlertDelivery::counts(const std::string& channel) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!channel.empty()) {
    auto it = counts_.find(channel);
    return it == counts_.end() ? Counts{} : it->second;
  }
  Counts all;
  for (const auto& [name, c] : counts_) {
    all.sent += c.sent;
    all.failed += c.failed;
    all.attempts += c.attempts;
    all.dropped += c.dropped;
  }
  return all;
}

bool AlertDelivery::WaitIdle(int64_t timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                      [&] { return queue_.empty() && !busy_; });
}

void AlertDelivery::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    AlertMessage m = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    if (!opts_.dingtalk_webhook.empty()) {
      const bool ok = Deliver(kRobot, m);
      if (opts_.on_delivery) opts_.on_delivery(kRobot, ok);
    }
    if (!opts_.webhook_url.empty()) {
      const bool ok = Deliver(kWebhook, m);
      if (opts_.on_delivery) opts_.on_delivery(kWebhook, ok);
    }
    lock.lock();
    busy_ = false;
    cv_.notify_all();
  }
}

bool AlertDelivery::Deliver(const std::string& channel, const AlertMessage& m) {
  int64_t wait_ms = opts_.backoff_ms;
  for (int attempt = 1;; ++attempt) {
    Status s = channel == kRobot ? AttemptDingTalk(m) : AttemptWebhook(m);
    std::unique_lock<std::mutex> lock(mu_);
    counts_[channel].attempts++;
    if (s.ok()) {
      counts_[channel].sent++;
      return true;
    }
    const bool last = attempt >= opts_.max_attempts || !s.IsRetryable() || stop_;
    if (opts_.log) {
      // Outside the lock: a slow log sink must not hold up Enqueue.
      lock.unlock();
      opts_.log(fmt::format("alert {} {} {}: {} attempt {} failed: {}{}", m.status, m.pipeline,
                            m.condition, channel, attempt, Clean(s.message()),
                            last ? " (giving up)" : ""));
      lock.lock();
    }
    if (last) {
      counts_[channel].failed++;
      return false;
    }
    // Stop() cuts the backoff short.
    if (cv_.wait_for(lock, std::chrono::milliseconds(wait_ms), [&] { return stop_; })) {
      counts_[channel].failed++;
      return false;
    }
    wait_ms = std::min<int64_t>(wait_ms * 2, 60000);
  }
}

std::string AlertDelivery::Clean(std::string s) const {
  auto cut = [&](const std::string& secret) {
    if (secret.size() < 4) return;
    for (size_t at; (at = s.find(secret)) != std::string::npos;)
      s.replace(at, secret.size(), "***");
  };
  cut(opts_.dingtalk_secret);
  cut(opts_.dingtalk_webhook);
  return s;
}

// Maps the robot's answer to a code once: transport errors, timeouts and 5xx are Unavailable,
// 130101 (over 20 messages a minute) ResourceExhausted (both retried); 310000 (signature,
// keyword or IP refused) and other errcodes PermissionDenied / FailedPrecondition: the same
// message would be refused again.
Status AlertDelivery::AttemptDingTalk(const AlertMessage& m) {
  HttpRequest req;
  req.method = "POST";
  req.url = opts_.dingtalk_webhook;
  if (!opts_.dingtalk_secret.empty()) {
    const int64_t ts = Clock::Real()->NowMillis();
    req.url +=
        fmt::format("{}timestamp={}&sign={}", req.url.find('?') == std::string::npos ? "?" : "&",
                    ts, DingTalkSign(ts, opts_.dingtalk_secret));
  }
  req.headers = {{"Content-Type", "application/json; charset=utf-8"}};
  req.body = DingTalkMarkdownJson(m);
  req.timeout_ms = opts_.timeout_ms;
  req.connect_timeout_ms = std::min(opts_.timeout_ms, 5000);
  auto r = opts_.http->Send(req);
  if (!r.ok()) return Unavailable(Clean(RedactUrl(r.status().message())));
  if (r->status != 200) return Unavailable(fmt::format("HTTP {}", r->status));
  auto v = json::Parse(r->body);
  int64_t errcode = -1;
  const json::Value* ec = v.ok() ? v->Find("errcode") : nullptr;
  if (ec == nullptr || !ec->AsInt64(&errcode)) return BadReply("answer without errcode");
  if (errcode == 0) return Status::Ok();
  const json::Value* em = v->Find("errmsg");
  const std::string why =
      fmt::format("errcode {}: {}", errcode, em != nullptr ? em->text() : std::string());
  if (errcode == 130101) return Status(StatusCode::kResourceExhausted, why);
  if (errcode == 310000) return Status(StatusCode::kPermissionDenied, why);
  return FailedPrecondition(why);
}

Status AlertDelivery::AttemptWebhook(const AlertMessage& m) {
  HttpRequest req;
  req.method = "POST";
  req.url = opts_.webhook_url;
  req.headers = {{"Content-Type", "application/json"}};
  req.body = WebhookJson(m);
  req.timeout_ms = opts_.timeout_ms;
  req.connect_timeout_ms = std::min(opts_.timeout_ms, 5000);
  auto r = opts_.http->Send(req);
  if (!r.ok()) return Unavailable(Clean(RedactUrl(r.status().message())));
  if (r->status >= 200 && r->status < 300) return Status::Ok();
  if (r->status == 408 || r->status == 429 || r->status >= 500) {
    return Unavailable(fmt::format("HTTP {}", r->status));
  }
  return FailedPrecondition(fmt::format("HTTP {}", r->status));
}

}  // namespace stagesync::obs
