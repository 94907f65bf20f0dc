#include "connectors/okki/okki_client.h"

#include <fmt/format.h>

#include <map>

namespace stagesync::connectors::okki {

namespace {

constexpr std::string_view kTokenPath = "/v1/oauth2/access_token";
// client_credentials may omit expires_in [V:O1]; 28799 s has been seen [V:O2].
constexpr int64_t kDefaultTtlS = 28800;

// OKKI answers (HTTP status, or the body's code with HTTP 200) and what each means for us
// (doc/vendors/okki.md, "Errors").
struct CodeRule {
  int64_t code;
  StatusCode status;
  const char* meaning;
};
constexpr CodeRule kCodeTable[] = {
    {400, StatusCode::kInvalidArgument, "invalid query"},
    {401, StatusCode::kUnauthenticated, "token expired or revoked: request a new one"},
    {403, StatusCode::kPermissionDenied, "no permission: check the connection's scope"},
    {404, StatusCode::kFailedPrecondition, "no such resource: check the source's endpoint"},
    {408, StatusCode::kUnavailable, "timeout"},
    {429, StatusCode::kResourceExhausted, "throttled"},
};

// OAuth errors of the token endpoint: none of them is fixed by retrying.
constexpr std::string_view kOAuthErrors[] = {
    "invalid_client",  "invalid_grant", "invalid_scope",      "unsupported_grant_type",
    "invalid_request", "access_denied", "unauthorized_client"};

std::string StringAt(const json::Value* body, std::string_view key) {
  if (body == nullptr) return "";
  const json::Value* v = body->Find(key);
  return v != nullptr && (v->is_string() || v->is_number()) ? v->text() : "";
}

StatusCode CodeFor(int64_t code) {
  for (const auto& r : kCodeTable) {
    if (r.code == code) return r.status;
  }
  if (code >= 500 && code < 600) return StatusCode::kUnavailable;
  return StatusCode::kFailedPrecondition;
}

const char* MeaningOf(int64_t code) {
  for (const auto& r : kCodeTable) {
    if (r.code == code) return r.meaning;
  }
  return code >= 500 && code < 600 ? "server error" : "unexpected answer";
}

}  // namespace

Status AnswerStatus(int http_status, const json::Value* body) {
  int64_t code = 0;
  if (body != nullptr) {
    if (const json::Value* c = body->Find("code")) c->AsInt64(&code);
  }
  const int64_t effective = http_status >= 200 && http_status < 300 ? code : http_status;
  if (effective == 0 || (effective >= 200 && effective < 300)) return Status::Ok();
  std::string message = StringAt(body, "message");
  if (message.empty()) message = StringAt(body, "error_description");
  const std::string error = StringAt(body, "error");
  std::string text =
      fmt::format("OKKI HTTP {}{}{}: {} ({})", http_status,
                  code != 0 ? fmt::format(" code {}", code) : "", error.empty() ? "" : " " + error,
                  message.empty() ? "no message" : ClipVendorText(message), MeaningOf(effective));
  return Status(CodeFor(effective), std::move(text));
}

const config::OptionTable<ClientOptions>& ClientOptionTable() {
  using O = ClientOptions;
  static const config::OptionTable<O> kTable =
      config::OptionTable<O>()
          .Str("base_url", &O::base_url, "https://api-sandbox.xiaoman.cn",
               "API root (the \"sandbox\" host is production)")
          .Required("client_id", &O::client_id, "OAuth client id")
          .Required("client_secret", &O::client_secret, "OAuth client secret; use ${ENV}")
          .Str("scope", &O::scope, "product", "space-separated scopes the token is requested with")
          .Num("qps", &O::qps, 5, config::kMinQps, config::kMaxQps,
               "requests per second, all pipelines (OKKI documents no limit)")
          .Int("timeout_ms", &O::timeout_ms, 60000, 100, 3600000, "total time per request")
          .Int("max_response_bytes", &O::max_response_bytes, int64_t{32} << 20, 1024,
               int64_t{1} << 30, "decoded body limit")
          .Include(RetryOptionTable(200), &O::retry)
          .Include(QuotaOptionTable(), &O::quota)
          .Check([](const config::OptionReader& r, O* o) {
            o->retry.throttle_base_ms = o->retry.base_ms * 5;  // 429: back off harder
            return CheckBaseUrl(r, &o->base_url);
          });
  return kTable;
}

Result<ClientOptions> ReadClientOptions(const config::ConnectionConfig& conn) {
  ClientOptions base;
  base.name = conn.name;
  return ClientOptionTable().Read(conn.options, conn.path, std::move(base));
}

// max_reauth 1: re-token once per call [V:O2]; a second 401 is a real refusal
OkkiClient::OkkiClient(ClientOptions opts, HttpClient* http, Clock* clock)
    : opts_(std::move(opts)),
      clock_(clock),
      endpoint_(EndpointOptions{opts_.name, opts_.qps, opts_.retry, opts_.quota, 1}, http, clock) {}

Result<std::string> OkkiClient::Token(bool force, const std::string& stale) {
  std::lock_guard<std::mutex> lock(token_mu_);
  const int64_t now = clock_->NowMillis();
  const bool valid = !token_.empty() && now < token_renew_ms_;
  if (valid && (!force || token_ != stale)) return token_;
  const std::string what = fmt::format("connection {}: OKKI token (client_credentials, scope '{}')",
                                       opts_.name, opts_.scope);
  const std::string form = "grant_type=client_credentials&client_id=" + UrlEncode(opts_.client_id) +
                           "&client_secret=" + UrlEncode(opts_.client_secret) +
                           "&scope=" + UrlEncode(opts_.scope);
  auto build = [&]() -> Result<HttpRequest> {
    HttpRequest req;
    req.method = "POST";
    req.url = opts_.base_url + std::string(kTokenPath);
    req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    req.body = form;
    req.timeout_ms = opts_.timeout_ms;
    req.max_response_bytes = 1u << 20;
    return req;
  };
  auto classify = [](const HttpResponse& resp) -> Result<json::Value> {
    SS_RETURN_IF_ERROR(ClassifyHttpStatus(resp));
    auto parsed = ParseBody(resp);
    const json::Value* body = parsed.ok() ? &*parsed : nullptr;
    const std::string error = StringAt(body, "error");
    for (std::string_view e : kOAuthErrors) {
      if (error == e) {
        std::string desc = StringAt(body, "error_description");
        return Status(StatusCode::kPermissionDenied,
                      fmt::format("HTTP {} {}: {}", resp.status, error,
                                  desc.empty() ? "no description" : ClipVendorText(desc)));
      }
    }
    if (resp.status >= 400) {
      Status s = AnswerStatus(resp.status, body);
      // A refused token request is never fixed by requesting another token.
      if (s.code() == StatusCode::kUnauthenticated) {
        return Status(StatusCode::kPermissionDenied, s.message());
      }
      return s;
    }
    if (!parsed.ok()) return parsed.status();
    if (StringAt(body, "access_token").empty()) {
      return FailedPrecondition(
          fmt::format("HTTP {}: the reply carries no access_token", resp.status));
    }
    return parsed;
  };
  ++token_requests_;
  SS_ASSIGN_OR_RETURN(json::Value v, endpoint_.Call(build, classify, nullptr, what));
  int64_t ttl = kDefaultTtlS;
  if (const json::Value* e = v.Find("expires_in")) {
    int64_t x = 0;
    if (e->AsInt64(&x) && x > 0) ttl = x;
  }
  token_ = StringAt(&v, "access_token");
  endpoint_.CountRenewal();
  // Renew five minutes early (or at half-life for short lifetimes): re-requesting does not
  // extend a token [V:O1], so a fresh one must be asked for before the old one dies.
  token_renew_ms_ = now + (ttl - std::min<int64_t>(300, ttl / 2)) * 1000;
  return token_;
}

Result<json::Value> OkkiClient::Get(const std::string& path, const Query& query,
                                    const std::string& what,
                                    const std::function<Status(const json::Value&)>& check) {
  std::string url = opts_.base_url + path;
  for (size_t i = 0; i < query.size(); ++i) {
    url += (i == 0 ? "?" : "&") + UrlEncode(query[i].first) + "=" + UrlEncode(query[i].second);
  }
  std::string used;
  bool force = false;
  auto build = [&]() -> Result<HttpRequest> {
    SS_ASSIGN_OR_RETURN(std::string token, Token(force, used));
    force = false;  // one new token per 401, not per later retry
    used = token;
    HttpRequest req;
    req.method = "GET";
    req.url = url;
    req.headers.emplace_back("Authorization", "Bearer " + token);
    req.timeout_ms = opts_.timeout_ms;
    req.max_response_bytes = opts_.max_response_bytes;
    return req;
  };
  auto classify = [&](const HttpResponse& resp) -> Result<json::Value> {
    SS_RETURN_IF_ERROR(ClassifyHttpStatus(resp));
    auto parsed = ParseBody(resp, PageParseOptions());
    if (resp.status >= 400) return AnswerStatus(resp.status, parsed.ok() ? &*parsed : nullptr);
    if (!parsed.ok()) return parsed.status();
    SS_RETURN_IF_ERROR(AnswerStatus(resp.status, &*parsed));
    if (check) SS_RETURN_IF_ERROR(check(*parsed));
    return parsed;
  };
  auto reauth = [&]() -> Status {
    force = true;
    return Status::Ok();
  };
  return endpoint_.Call(build, classify, reauth, what);
}

}  // namespace stagesync::connectors::okki
