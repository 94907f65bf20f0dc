#include "vendor/dingtalk_client.h"

#include <fmt/format.h>

#include <map>

namespace stagesync::vendor::dingtalk {

namespace {

// DingTalk oapi errcodes (shared/api-contracts.md 1.5) and what each means for us.
struct ErrcodeRule {
  int64_t errcode;
  StatusCode code;
  const char* meaning;
};
constexpr ErrcodeRule kErrcodeTable[] = {
    {-1, StatusCode::kUnavailable, "system busy"},
    {40014, StatusCode::kUnauthenticated, "invalid or expired access token"},
    {42001, StatusCode::kUnauthenticated, "access token expired"},
    {40001, StatusCode::kUnauthenticated, "bad secret or token"},
    {41001, StatusCode::kUnauthenticated, "missing access token"},
    {40089, StatusCode::kPermissionDenied, "bad appkey or appsecret"},
    {60020, StatusCode::kPermissionDenied, "server IP not in the app's whitelist"},
    {60011, StatusCode::kPermissionDenied, "no permission"},
    {60121, StatusCode::kNotFound, "not found"},
    {90001, StatusCode::kResourceExhausted, "server blocked for over-calling"},
    {90002, StatusCode::kResourceExhausted, "throttled"},
    {90005, StatusCode::kResourceExhausted, "org blocked for over-calling"},
    {90006, StatusCode::kResourceExhausted, "credential blocked for over-calling"},
    {90018, StatusCode::kResourceExhausted, "per-app rate limit"},
    {90019, StatusCode::kResourceExhausted, "per-org rate limit"},
    {90020, StatusCode::kFailedPrecondition, "monthly API quota exhausted"},
};

}  // namespace

StatusCode ClassifyErrcode(int64_t errcode, std::string_view sub_code) {
  if (errcode == 88) {
    // Gateway error: the sub_code says what it is; 900xx are throttling.
    if (sub_code.size() == 5 && sub_code.substr(0, 3) == "900") {
      return sub_code == "90020" ? StatusCode::kFailedPrecondition : StatusCode::kResourceExhausted;
    }
    if (sub_code == "60011") return StatusCode::kPermissionDenied;
    return StatusCode::kFailedPrecondition;
  }
  for (const auto& r : kErrcodeTable) {
    if (r.errcode == errcode) return r.code;
  }
  return StatusCode::kFailedPrecondition;
}

const std::vector<config::OptionSpec>& ConnectionOptionTable() {
  static const std::vector<config::OptionSpec> kTable = {
      {"base_url", config::OptionType::kString, true, "",
       "oapi root, e.g. https://oapi.dingtalk.com"},
      {"app_key", config::OptionType::kString, true, "", "the app's AppKey"},
      {"app_secret", config::OptionType::kString, true, "", "the app's AppSecret; use ${ENV}"},
      {"qps", config::OptionType::kNumber, false, "10", "requests per second, all pipelines"},
      {"timeout_ms", config::OptionType::kInt, false, "30000", "total time per request"},
      {"max_response_bytes", config::OptionType::kInt, false, "8388608", "decoded body limit"},
      {"max_attempts", config::OptionType::kInt, false, "8", "tries per call, first included"},
      {"retry_base_ms", config::OptionType::kInt, false, "200",
       "first backoff; throttling backs off from 5x this"},
  };
  return kTable;
}

Result<ClientOptions> ReadClientOptions(const config::ConnectionConfig& conn) {
  config::OptionReader r(conn.options, conn.path);
  SS_RETURN_IF_ERROR(r.Validate(ConnectionOptionTable()));
  ClientOptions o;
  o.base_url = r.String("base_url");
  while (!o.base_url.empty() && o.base_url.back() == '/') o.base_url.pop_back();
  if (o.base_url.rfind("http://", 0) != 0 && o.base_url.rfind("https://", 0) != 0) {
    return InvalidArgument(r.PathOf("base_url") + ": must start with http:// or https://");
  }
  o.app_key = r.String("app_key");
  o.app_secret = r.String("app_secret");
  SS_ASSIGN_OR_RETURN(o.qps, r.NumberIn("qps", 10, config::kMinQps, config::kMaxQps));
  o.timeout_ms = static_cast<int>(r.Int("timeout_ms", 30000));
  o.max_response_bytes = static_cast<size_t>(r.Int("max_response_bytes", 8 << 20));
  o.retry.max_attempts = static_cast<int>(r.Int("max_attempts", 8));
  o.retry.base_ms = r.Int("retry_base_ms", 200);
  o.retry.throttle_base_ms = o.retry.base_ms * 5;
  if (o.retry.max_attempts < 1) {
    return InvalidArgument(r.PathOf("max_attempts") + ": must be at least 1");
  }
  return o;
}

DingTalkClient::DingTalkClient(ClientOptions opts, HttpClient* http, Clock* clock)
    : opts_(std::move(opts)),
      http_(http),
      clock_(clock),
      limiter_(opts_.qps, clock),
      rand_(std::random_device{}()) {}

Result<std::string> DingTalkClient::Token(bool force_refresh, const std::string& stale) {
  std::lock_guard<std::mutex> lock(token_mu_);
  const int64_t now = clock_->NowMillis();
  // Another thread may already have replaced the stale token.
  if (!token_.empty() && token_ != stale && now < token_expires_ms_) return token_;
  if (!force_refresh && !token_.empty() && now < token_expires_ms_) return token_;
  HttpRequest req;
  req.method = "GET";
  req.url = opts_.base_url + "/gettoken?appkey=" + UrlEncode(opts_.app_key) +
            "&appsecret=" + UrlEncode(opts_.app_secret);
  req.timeout_ms = opts_.timeout_ms;
  req.max_response_bytes = 1 << 20;
  Status last;
  for (int attempt = 0; attempt < opts_.retry.max_attempts; ++attempt) {
    if (attempt > 0) {
      uint64_t r;
      {
        std::lock_guard<std::mutex> rl(rand_mu_);
        r = rand_();
      }
      clock_->SleepForMicros(BackoffMillis(opts_.retry, attempt, last, r) * 1000);
    }
    limiter_.Acquire();
    ++requests_;
    auto resp = http_->Send(req);
    if (!resp.ok()) {
      last = resp.status();
      if (last.IsRetryable()) continue;
      return last;
    }
    if (resp->status >= 500 || resp->status == 429) {
      last = Unavailable(fmt::format("gettoken: HTTP {}", resp->status));
      continue;
    }
    auto body = json::Parse(resp->body);
    if (!body.ok()) {
      last =
          Unavailable("gettoken: response is not JSON (HTTP " + std::to_string(resp->status) + ")");
      continue;
    }
    int64_t errcode = -999;
    if (auto* e = body->Find("errcode")) e->AsInt64(&errcode);
    if (errcode != 0) {
      std::string msg;
      if (auto* m = body->Find("errmsg")) msg = m->text();
      StatusCode code = ClassifyErrcode(errcode, "");
      if (code == StatusCode::kUnauthenticated) code = StatusCode::kPermissionDenied;
      last = Status(code, fmt::format("gettoken: errcode {}: {}", errcode, msg));
      if (last.IsRetryable()) continue;
      return last;
    }
    const json::Value* tok = body->Find("access_token");
    if (tok == nullptr || !tok->is_string() || tok->text().empty()) {
      return Status(StatusCode::kFailedPrecondition, "gettoken: no access_token in response");
    }
    int64_t ttl = 7200;
    if (auto* e = body->Find("expires_in")) e->AsInt64(&ttl);
    token_ = tok->text();
    // Refresh five minutes early (or at half-life for short test TTLs).
    int64_t early = std::min<int64_t>(300, ttl / 2);
    token_expires_ms_ = now + (ttl - early) * 1000;
    return token_;
  }
  return last.WithContext("gettoken failed after retries");
}

Result<json::Value> DingTalkClient::CallOnce(const std::string& path, const std::string& body,
                                             const std::string& token) {
  HttpRequest req;
  req.method = "POST";
  req.url = opts_.base_url + path + "?access_token=" + UrlEncode(token);
  req.headers.emplace_back("Content-Type", "application/json;charset=utf-8");
  req.body = body;
  req.timeout_ms = opts_.timeout_ms;
  req.max_response_bytes = opts_.max_response_bytes;
  limiter_.Acquire();
  ++requests_;
  SS_ASSIGN_OR_RETURN(HttpResponse resp, http_->Send(req));
  if (resp.status == 429) {
    Status s(StatusCode::kResourceExhausted, "HTTP 429");
    std::string_view ra = resp.Header("retry-after");
    if (!ra.empty()) s.set_retry_after_ms(std::atoll(std::string(ra).c_str()) * 1000);
    return s;
  }
  if (resp.status >= 500 || resp.status == 408) {
    return Unavailable(fmt::format("HTTP {}", resp.status));
  }
  auto parsed = json::Parse(resp.body);
  if (!parsed.ok()) {
    // The per-IP flood guard answers an HTML page without errcode; gateways do the same.
    std::string_view b = resp.body;
    bool html = b.find("<html") != std::string_view::npos || b.find("<HTML") != b.npos ||
                b.find("<!DOCTYPE") != b.npos || b.find("<!doctype") != b.npos;
    if (html) {
      return Status(StatusCode::kResourceExhausted,
                    fmt::format("HTTP {}: an HTML page instead of JSON (IP flood guard or "
                                "gateway)",
                                resp.status));
    }
    // Possibly truncated in transit: retried, and reported as a bad payload if it persists.
    return DataLoss(fmt::format("HTTP {}: {}", resp.status, parsed.status().message()));
  }
  json::Value v = std::move(parsed).value();
  const json::Value* ec = v.Find("errcode");
  if (ec == nullptr) {
    // {"status":1111,"wait":5,"punish":"deny"}: the flood guard in JSON.
    if (v.Find("punish") != nullptr) {
      int64_t wait = 5;
      if (auto* w = v.Find("wait")) w->AsInt64(&wait);
      return Status(StatusCode::kResourceExhausted, "IP flood guard: punish=deny")
          .set_retry_after_ms(wait * 1000);
    }
    return Unavailable(fmt::format("HTTP {}: response has no errcode", resp.status));
  }
  int64_t errcode = 0;
  if (!ec->AsInt64(&errcode)) return Unavailable("errcode is not a number");
  if (errcode == 0) return v;
  std::string msg, sub;
  if (auto* m = v.Find("errmsg")) msg = m->text();
  if (auto* s = v.Find("sub_code")) sub = s->text();
  StatusCode code = ClassifyErrcode(errcode, sub);
  std::string text = fmt::format("errcode {}{}: {}", errcode, sub.empty() ? "" : "/" + sub, msg);
  return Status(code, text);
}

Result<json::Value> DingTalkClient::Call(const std::string& path, const std::string& body,
                                         const std::string& what) {
  // A token refresh does not use up a retry attempt: a token may expire during a long run of
  // backoffs. A token refused on its very first use after a refresh is a real auth failure.
  constexpr int kMaxRefreshes = 3;
  int refreshes = 0;
  bool fresh_token = false;
  std::string token;
  Status last;
  int attempt = 0;
  while (attempt < opts_.retry.max_attempts) {
    const bool refresh = last.code() == StatusCode::kUnauthenticated;
    if (attempt > 0 && !refresh) {
      uint64_t r;
      {
        std::lock_guard<std::mutex> rl(rand_mu_);
        r = rand_();
      }
      clock_->SleepForMicros(BackoffMillis(opts_.retry, attempt, last, r) * 1000);
    }
    auto tok = Token(refresh, token);
    if (!tok.ok()) return tok.status().WithContext(what);
    fresh_token = refresh;
    token = *tok;
    auto res = CallOnce(path, body, token);
    if (res.ok()) return res;
    last = res.status();
    if (last.code() == StatusCode::kUnauthenticated) {
      if (fresh_token || ++refreshes > kMaxRefreshes) {
        return last.WithContext(what + ": access token refused right after a refresh");
      }
      continue;
    }
    if (!last.IsRetryable() && last.code() != StatusCode::kDataLoss) return last.WithContext(what);
    ++attempt;
  }
  return last.WithContext(what +
                          fmt::format(" (gave up after {} attempts)", opts_.retry.max_attempts));
}

std::shared_ptr<DingTalkClient> ClientFor(const config::ConnectionConfig& conn, HttpClient* http,
                                          Clock* clock, Status* error) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<DingTalkClient>> clients;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = clients[conn.name + "|" + json::Serialize(conn.options)];
  if (auto c = slot.lock()) return c;
  auto opts = ReadClientOptions(conn);
  if (!opts.ok()) {
    *error = opts.status();
    return nullptr;
  }
  auto c = std::make_shared<DingTalkClient>(std::move(opts).value(), http, clock);
  slot = c;
  return c;
}

}  // namespace stagesync::vendor::dingtalk
