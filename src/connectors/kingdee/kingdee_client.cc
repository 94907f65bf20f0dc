#include "connectors/kingdee/kingdee_client.h"

#include <fmt/format.h>

#include <map>

namespace stagesync::connectors::kingdee {

namespace {

constexpr std::string_view kAuthService = "Kingdee.BOS.WebApi.ServicesStub.AuthService.";
constexpr std::string_view kFormService = "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.";
constexpr std::string_view kSessionLostText = "会话信息已丢失";

// Kingdee MsgCodes (doc/vendors/kingdee.md, "Errors") and what each means for us.
struct MsgCodeRule {
  int64_t msg_code;
  StatusCode code;
  const char* meaning;
};
constexpr MsgCodeRule kMsgCodeTable[] = {
    {1, StatusCode::kUnauthenticated, "session lost: log in again"},
    {2, StatusCode::kPermissionDenied, "no permission"},
    {3, StatusCode::kInvalidArgument, "empty operation id"},
    {4, StatusCode::kUnavailable, "server exception"},
    {5, StatusCode::kInvalidArgument, "empty bill id"},
    {6, StatusCode::kUnavailable, "database failure"},
    {7, StatusCode::kPermissionDenied, "licence"},
    {8, StatusCode::kInvalidArgument, "bad parameter"},
    {9, StatusCode::kInvalidArgument, "field or value not found"},
    {10, StatusCode::kNotFound, "no matching data"},
    {11, StatusCode::kFailedPrecondition, "validation failed"},
    {12, StatusCode::kFailedPrecondition, "not operable"},
    {13, StatusCode::kUnavailable, "network-control conflict (locked)"},
    {14, StatusCode::kResourceExhausted, "call limit (throttled)"},
    {15, StatusCode::kPermissionDenied, "administrator login forbidden"},
};

const char* MeaningOf(int64_t msg_code) {
  for (const auto& r : kMsgCodeTable) {
    if (r.msg_code == msg_code) return r.meaning;
  }
  return "unknown MsgCode";
}

// Bools and ints that Kingdee's doc templates show as strings.
bool Truthy(const json::Value* v) {
  if (v == nullptr) return false;
  if (v->is_bool()) return v->bool_value();
  return v->text() == "true" || v->text() == "True" || v->text() == "1";
}

// [[{...}]] and [{...}] unwrap to the object; anything else is returned as is.
const json::Value* Unwrap(const json::Value& body) {
  const json::Value* v = &body;
  for (int depth = 0; depth < 2 && v->is_array(); ++depth) {
    if (v->items().empty()) return v;
    v = &v->items().front();
  }
  return v;
}

// Non-2xx statuses that are not transient: the URL or the gateway is wrong; retrying won't help.
Status ClassifyHttp(const HttpResponse& resp, std::string_view what) {
  SS_RETURN_IF_ERROR(ClassifyHttpStatus(resp));
  if (resp.status == 401 || resp.status == 403) {
    return Status(StatusCode::kPermissionDenied, fmt::format("{}: HTTP {}", what, resp.status));
  }
  if (resp.status >= 400) {
    return FailedPrecondition(fmt::format("{}: HTTP {} (check base_url)", what, resp.status));
  }
  return Status::Ok();
}

// "kdservice-sessionid=..; ASP.NET_SessionId=.." from the Set-Cookie headers.
std::string CookiesOf(const HttpResponse& resp) {
  std::string out;
  for (const auto& [name, value] : resp.headers) {
    if (name != "set-cookie") continue;
    std::string_view v = value;
    v = v.substr(0, v.find(';'));
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    if (v.empty() || v.find('=') == std::string_view::npos) continue;
    if (!out.empty()) out += "; ";
    out.append(v);
  }
  return out;
}

}  // namespace

StatusCode ClassifyMsgCode(int64_t msg_code) {
  for (const auto& r : kMsgCodeTable) {
    if (r.msg_code == msg_code) return r.code;
  }
  // Unknown codes stop the call rather than retrying blindly.
  return StatusCode::kFailedPrecondition;
}

bool IsSessionLostText(std::string_view message) {
  return message.find(kSessionLostText) != std::string_view::npos;
}

Status EnvelopeStatus(const json::Value& body) {
  const json::Value* obj = Unwrap(body);
  if (!obj->is_object()) return Status::Ok();
  const json::Value* result = obj->Find("Result");
  const json::Value* rs = result ? result->Find("ResponseStatus") : nullptr;
  if (rs == nullptr || !rs->is_object()) return Status::Ok();
  if (Truthy(rs->Find("IsSuccess"))) return Status::Ok();
  int64_t msg_code = 0;
  if (const json::Value* mc = rs->Find("MsgCode")) mc->AsInt64(&msg_code);
  std::string messages;
  if (const json::Value* errors = rs->Find("Errors"); errors && errors->is_array()) {
    for (const auto& e : errors->items()) {
      const json::Value* m = e.Find("Message");
      if (m == nullptr || !m->is_string() || m->text().empty()) continue;
      if (!messages.empty()) messages += "; ";
      if (const json::Value* f = e.Find("FieldName"); f && f->is_string() && !f->text().empty()) {
        messages += f->text() + ": ";
      }
      messages += m->text();
    }
  }
  StatusCode code = ClassifyMsgCode(msg_code);
  // The same lost-session text has been seen with other MsgCodes [V:K9].
  if (IsSessionLostText(messages)) code = StatusCode::kUnauthenticated;
  return Status(code, fmt::format("Kingdee MsgCode {} ({}): {}", msg_code, MeaningOf(msg_code),
                                  messages.empty() ? "no message" : ClipVendorText(messages)));
}

const config::OptionTable<ClientOptions>& ClientOptionTable() {
  using O = ClientOptions;
  static const config::OptionTable<O> kTable =
      config::OptionTable<O>()
          .Required("base_url", &O::base_url,
                    "server root, e.g. https://erp.example.com (\"/k3cloud/...\" is appended)")
          .Required("acct_id", &O::acct_id, "data centre id")
          .Required("username", &O::username, "integration user")
          .Str("app_id", &O::app_id, "", "LoginByAppSecret app id")
          .Str("app_secret", &O::app_secret, "", "LoginByAppSecret secret; use ${ENV}")
          .Str("password", &O::password, "",
               "ValidateUser password, instead of app_id/app_secret; use ${ENV}")
          .Int("lcid", &O::lcid, 2052, 1, 65535, "locale id (2052 = zh-CN)")
          .Num("qps", &O::qps, 5, config::kMinQps, config::kMaxQps,
               "requests per second, all pipelines")
          .Int("timeout_ms", &O::timeout_ms, 60000, 100, 3600000, "total time per request")
          .Int("max_response_bytes", &O::max_response_bytes, int64_t{64} << 20, 1024,
               int64_t{1} << 30, "decoded body limit (2000 rows x wide field lists)")
          .Include(RetryOptionTable(200), &O::retry)
          .Include(QuotaOptionTable(), &O::quota)
          .Check([](const config::OptionReader& r, O* o) -> Status {
            // Accept the K3Cloud URL as users copy it from the browser (".../k3cloud").
            constexpr std::string_view kSuffix = "/k3cloud";
            while (!o->base_url.empty() && o->base_url.back() == '/') o->base_url.pop_back();
            if (o->base_url.size() > kSuffix.size() &&
                std::string_view(o->base_url).substr(o->base_url.size() - kSuffix.size()) ==
                    kSuffix) {
              o->base_url.resize(o->base_url.size() - kSuffix.size());
            }
            SS_RETURN_IF_ERROR(CheckBaseUrl(r, &o->base_url));
            if (o->app_secret.empty() && o->password.empty()) {
              return InvalidArgument(r.path() +
                                     ": set app_id and app_secret (LoginByAppSecret) or "
                                     "password (ValidateUser)");
            }
            if (!o->app_secret.empty() && o->app_id.empty()) {
              return InvalidArgument(r.PathOf("app_id") + ": missing (needed with app_secret)");
            }
            // MsgCode 14 (throttled) backs off from 5x the base.
            o->retry.throttle_base_ms = o->retry.base_ms * 5;
            return Status::Ok();
          });
  return kTable;
}

Result<ClientOptions> ReadClientOptions(const config::ConnectionConfig& conn) {
  ClientOptions base;
  base.name = conn.name;
  return ClientOptionTable().Read(conn.options, conn.path, std::move(base));
}

KingdeeClient::KingdeeClient(ClientOptions opts, HttpClient* http, Clock* clock)
    : opts_(std::move(opts)),
      endpoint_(EndpointOptions{opts_.name, opts_.qps, opts_.retry, opts_.quota}, http, clock) {}

std::string KingdeeClient::Url(std::string_view service) const {
  return fmt::format("{}/k3cloud/{}.common.kdsvc", opts_.base_url, service);
}

Status KingdeeClient::Login(const std::string& stale) {
  std::lock_guard<std::mutex> login_lock(login_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Another thread logged in while this one waited.
    if (!cookie_.empty() && cookie_ != stale) return Status::Ok();
  }
  const bool by_secret = !opts_.app_secret.empty();
  const std::string service =
      std::string(kAuthService) + (by_secret ? "LoginByAppSecret" : "ValidateUser");
  const std::string what =
      fmt::format("connection {}: Kingdee login ({}) as {}", opts_.name,
                  by_secret ? "LoginByAppSecret" : "ValidateUser", opts_.username);
  // Legacy positional parameters, accepted by every K3Cloud version [V:K2][V:K4].
  std::string body =
      "{\"parameters\":[" + json::Quote(opts_.acct_id) + "," + json::Quote(opts_.username) + ",";
  if (by_secret) {
    body += json::Quote(opts_.app_id) + "," + json::Quote(opts_.app_secret);
  } else {
    body += json::Quote(opts_.password);
  }
  body += "," + std::to_string(opts_.lcid) + "]}";
  std::string cookie;
  std::string session_header;
  auto build = [&]() -> Result<HttpRequest> {
    HttpRequest req;
    req.method = "POST";
    req.url = Url(service);
    req.headers.emplace_back("Content-Type", "application/json;charset=utf-8");
    req.body = body;
    req.timeout_ms = opts_.timeout_ms;
    req.max_response_bytes = 1u << 20;
    return req;
  };
  auto classify = [&](const HttpResponse& resp) -> Result<json::Value> {
    SS_RETURN_IF_ERROR(ClassifyHttp(resp, "login"));
    SS_ASSIGN_OR_RETURN(json::Value v, ParseBody(resp));
    int64_t result_type = 0;
    if (const json::Value* t = v.Find("LoginResultType")) t->AsInt64(&result_type);
    if (result_type == 1 || Truthy(v.Find("IsSuccessByAPI"))) {
      cookie = CookiesOf(resp);
      if (const json::Value* id = v.Find("KDSVCSessionId"); id && id->is_string()) {
        session_header = id->text();
      }
      if (cookie.empty() && session_header.empty()) {
        return FailedPrecondition(
            "login succeeded but returned no session (no Set-Cookie, no "
            "KDSVCSessionId)");
      }
      return v;
    }
    // A gateway answering the login with the business envelope (MsgCode 14 call limit, 4/6
    // server trouble, 13 locked) is not a refusal of the credentials: back off and log in
    // again. A lost-session answer at login, though, is a refusal (see the hint below).
    if (Status env = EnvelopeStatus(v);
        !env.ok() &&
        (env.code() == StatusCode::kResourceExhausted || env.code() == StatusCode::kUnavailable)) {
      return env.WithContext("login");
    }
    std::string message;
    if (const json::Value* m = v.Find("Message"); m && m->is_string()) message = m->text();
    std::string hint;
    if (IsSessionLostText(message)) {
      hint =
          " (Kingdee answers this at login for a wrong acct_id, or an app not authorised "
          "for this data centre)";
    }
    return Status(StatusCode::kPermissionDenied,
                  fmt::format("refused (LoginResultType {}): {}{}", result_type,
                              message.empty() ? "no message" : ClipVendorText(message), hint));
  };
  ++logins_;
  auto res = endpoint_.Call(build, classify, nullptr, what);
  if (!res.ok()) return res.status();
  std::lock_guard<std::mutex> lock(mu_);
  // A session id alone (no cookies) still identifies the session.
  cookie_ = cookie.empty() ? "kdservice-sessionid=" + session_header : cookie;
  session_header_ = session_header;
  endpoint_.CountRenewal();
  return Status::Ok();
}

Result<json::Value> KingdeeClient::Post(const std::string& service, const std::string& body,
                                        const std::string& what, bool idempotent,
                                        const std::function<Status(const json::Value&)>& check,
                                        bool business_answers) {
  const std::string url = Url(std::string(kFormService) + service);
  std::string used_cookie;
  auto build = [&]() -> Result<HttpRequest> {
    std::string cookie, header;
    {
      std::lock_guard<std::mutex> lock(mu_);
      cookie = cookie_;
      header = session_header_;
    }
    if (cookie.empty()) {
      // First call on this connection: a refused login stops here, without retries.
      SS_RETURN_IF_ERROR(Login(""));
      std::lock_guard<std::mutex> lock(mu_);
      cookie = cookie_;
      header = session_header_;
    }
    used_cookie = cookie;
    HttpRequest req;
    req.method = "POST";
    req.url = url;
    req.headers.emplace_back("Content-Type", "application/json;charset=utf-8");
    req.headers.emplace_back("Cookie", cookie);
    if (!header.empty()) req.headers.emplace_back("kdservice-sessionid", header);
    req.body = body;
    req.timeout_ms = opts_.timeout_ms;
    req.max_response_bytes = opts_.max_response_bytes;
    return req;
  };
  auto classify = [&](const HttpResponse& resp) -> Result<json::Value> {
    SS_RETURN_IF_ERROR(ClassifyHttp(resp, service));
    SS_ASSIGN_OR_RETURN(
        json::Value v,
        ParseBody(resp, service == "ExecuteBillQuery" ? PageParseOptions() : json::ParseOptions()));
    Status envelope = EnvelopeStatus(v);
    const bool business = envelope.code() == StatusCode::kFailedPrecondition ||
                          envelope.code() == StatusCode::kNotFound;
    if (!envelope.ok() && !(business_answers && business)) return envelope;
    if (check) SS_RETURN_IF_ERROR(check(v));
    return v;
  };
  auto reauth = [&]() { return Login(used_cookie); };
  return endpoint_.Call(build, classify, reauth, what, idempotent);
}

Result<json::Value> KingdeeClient::Call(std::string_view service, const std::string& body,
                                        const std::string& what, bool idempotent) {
  return Post(std::string(service), body, what, idempotent, nullptr, false);
}

Result<json::Value> KingdeeClient::CallForAnswer(std::string_view service, const std::string& body,
                                                 const std::string& what, bool idempotent) {
  return Post(std::string(service), body, what, idempotent, nullptr, true);
}

Result<std::vector<json::Value>> KingdeeClient::ExecuteBillQuery(const json::Value& data,
                                                                 const std::string& what) {
  json::Value wrapper = json::Value::Object();
  wrapper.Add("data", data);
  // Rows: an array of arrays of scalars. Anything else (an object, a row that is not an array)
  // is a body we cannot trust: retried, then reported.
  auto rows_only = [](const json::Value& v) -> Status {
    if (!v.is_array()) {
      return BadReply(std::string("ExecuteBillQuery answered a JSON ") +
                      (v.is_object() ? "object" : "scalar") + ", not rows");
    }
    for (const auto& row : v.items()) {
      // An unreadable row (Value::Invalid) is the source's to quarantine.
      if (!row.is_array() && !row.is_invalid()) {
        return BadReply("ExecuteBillQuery answered a row that is not an array");
      }
    }
    return Status::Ok();
  };
  SS_ASSIGN_OR_RETURN(json::Value rows, Post("ExecuteBillQuery", json::Serialize(wrapper), what,
                                             true, rows_only, false));
  return std::move(rows.mutable_items());
}

}  // namespace stagesync::connectors::kingdee
