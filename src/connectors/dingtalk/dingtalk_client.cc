#include "connectors/dingtalk/dingtalk_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace stagesync::connectors::dingtalk {

namespace {

// DingTalk oapi errcodes (doc/vendors/dingtalk.md, "Errors") and what each means for us.
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

const config::OptionTable<ClientOptions>& ClientOptionTable() {
  using O = ClientOptions;
  static const config::OptionTable<O> kTable =
      config::OptionTable<O>()
          .Required("base_url", &O::base_url, "oapi root, e.g. https://oapi.dingtalk.com")
          .Required("app_key", &O::app_key, "the app's AppKey")
          .Required("app_secret", &O::app_secret, "the app's AppSecret; use ${ENV}")
          .Num("qps", &O::qps, 10, config::kMinQps, config::kMaxQps,
               "requests per second, all pipelines (DingTalk allows 20 per app)")
          .Int("timeout_ms", &O::timeout_ms, 30000, 100, 3600000, "total time per request")
          .Int("max_response_bytes", &O::max_response_bytes, 8 << 20, 1024, int64_t{1} << 30,
               "decoded body limit")
          .Include(RetryOptionTable(200), &O::retry)
          .Include(QuotaOptionTable(), &O::quota)
          .Check([](const config::OptionReader& r, O* o) {
            // One SDK retries a throttled call after 0.5 s (doc/vendors/dingtalk.md): the
            // first backoff is [0.25, 0.5] s with the default base and doubles only while the
            // same call stays throttled, so scattered throttling slows each call a little.
            o->retry.throttle_base_ms = o->retry.base_ms * 5 / 2;
            return CheckBaseUrl(r, &o->base_url);
          });
  return kTable;
}

Result<ClientOptions> ReadClientOptions(const config::ConnectionConfig& conn) {
  return ClientOptionTable().Read(conn.options, conn.path);
}

Result<json::Value> ClassifyAnswer(const HttpResponse& resp, bool token_call) {
  SS_RETURN_IF_ERROR(ClassifyHttpStatus(resp));
  // The per-IP flood guard's HTML page is ResourceExhausted; a cut body BadReply. A get reply
  // carries its record as the member process_instance: an unreadable record becomes a
  // Value::Invalid member for the source to quarantine, not a failed call.
  json::ParseOptions parse_opts;
  parse_opts.isolate = json::Isolate::kRootMembers;
  auto parsed = ParseBody(resp, parse_opts);
  if (!parsed.ok()) return parsed.status();
  json::Value v = std::move(parsed).value();
  const json::Value* ec = v.Find("errcode");
  if (ec == nullptr) {
    // {"status":1111,"wait":5,"punish":"deny"}: the flood guard in JSON.
    if (v.Find("punish") != nullptr) {
      int64_t wait = 5;
      if (auto* w = v.Find("wait")) w->AsInt64(&wait);
      return Status(StatusCode::kResourceExhausted, "IP flood guard: punish=deny")
          .set_retry_after_ms(std::clamp<int64_t>(wait, 0, 600) * 1000);
    }
    return Unavailable(fmt::format("HTTP {}: response has no errcode", resp.status));
  }
  int64_t errcode = 0;
  // AsInt64 reads "0" as well as 0: gateways are not consistent about the type.
  if (!ec->AsInt64(&errcode)) return Unavailable("errcode is not a number");
  if (errcode == 0) return v;
  std::string msg, sub;
  if (auto* m = v.Find("errmsg")) msg = m->text();
  if (auto* s = v.Find("sub_code")) sub = s->text();
  StatusCode code = ClassifyErrcode(errcode, sub);
  // gettoken refusing the app's key or secret is not fixed by asking for another token.
  if (token_call && code == StatusCode::kUnauthenticated) code = StatusCode::kPermissionDenied;
  return Status(code, fmt::format("{}errcode {}{}: {}", token_call ? "gettoken: " : "", errcode,
                                  sub.empty() ? "" : "/" + sub, msg));
}

DingTalkClient::DingTalkClient(ClientOptions opts, HttpClient* http, Clock* clock)
    : opts_(std::move(opts)),
      clock_(clock),
      endpoint_(EndpointOptions{opts_.base_url, opts_.qps, opts_.retry, opts_.quota}, http, clock) {
}

Result<std::string> DingTalkClient::Token(bool force_refresh, const std::string& stale) {
  std::lock_guard<std::mutex> lock(token_mu_);
  const int64_t now = clock_->NowMillis();
  // Another thread may already have replaced the stale token.
  if (!token_.empty() && token_ != stale && now < token_expires_ms_) return token_;
  if (!force_refresh && !token_.empty() && now < token_expires_ms_) return token_;
  auto build = [&]() -> Result<HttpRequest> {
    HttpRequest req;
    req.method = "GET";
    req.url = opts_.base_url + "/gettoken?appkey=" + UrlEncode(opts_.app_key) +
              "&appsecret=" + UrlEncode(opts_.app_secret);
    req.timeout_ms = opts_.timeout_ms;
    req.max_response_bytes = 1 << 20;
    return req;
  };
  auto classify = [](const HttpResponse& resp) { return ClassifyAnswer(resp, true); };
  // Throttling and flood-guard answers back off and retry like any other call.
  SS_ASSIGN_OR_RETURN(json::Value body, endpoint_.Call(build, classify, nullptr, "gettoken"));
  const json::Value* tok = body.Find("access_token");
  if (tok == nullptr || !tok->is_string() || tok->text().empty()) {
    return Status(StatusCode::kFailedPrecondition, "gettoken: no access_token in response");
  }
  int64_t ttl = 7200;
  if (auto* e = body.Find("expires_in"); e != nullptr && (!e->AsInt64(&ttl) || ttl <= 0)) {
    ttl = 7200;
  }
  token_ = tok->text();
  endpoint_.CountRenewal();
  // Refresh five minutes early (or at half-life for short test TTLs), counted from the
  // answer: the call itself may have waited out a throttle.
  int64_t early = std::min<int64_t>(300, ttl / 2);
  token_expires_ms_ = clock_->NowMillis() + (ttl - early) * 1000;
  return token_;
}

Result<json::Value> DingTalkClient::Call(const std::string& path, const std::string& body,
                                         const std::string& what) {
  std::string used;
  bool force = false;
  auto build = [&]() -> Result<HttpRequest> {
    SS_ASSIGN_OR_RETURN(std::string token, Token(force, used));
    force = false;  // one new token per refusal, not per later retry
    used = token;
    HttpRequest req;
    req.method = "POST";
    req.url = opts_.base_url + path + "?access_token=" + UrlEncode(token);
    req.headers.emplace_back("Content-Type", "application/json;charset=utf-8");
    req.body = body;
    req.timeout_ms = opts_.timeout_ms;
    req.max_response_bytes = opts_.max_response_bytes;
    return req;
  };
  auto classify = [](const HttpResponse& resp) { return ClassifyAnswer(resp, false); };
  auto reauth = [&]() {
    force = true;
    return Status::Ok();
  };
  return endpoint_.Call(build, classify, reauth, what);
}

}  // namespace stagesync::connectors::dingtalk
