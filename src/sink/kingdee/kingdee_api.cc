#include "sink/kingdee/kingdee_api.h"

#include <fmt/format.h>

namespace stagesync::sink::kingdee {

namespace {

// K3Cloud MsgCode (shared/api-contracts.md 2.2) -> what to do.
struct MsgCodeRule {
  int64_t code;
  StatusCode status;
  const char* meaning;
};
constexpr MsgCodeRule kMsgCodeTable[] = {
    {1, StatusCode::kUnauthenticated, "session lost"},
    {2, StatusCode::kPermissionDenied, "no permission"},
    {3, StatusCode::kFailedPrecondition, "empty operation id"},
    {4, StatusCode::kUnavailable, "server exception"},
    {5, StatusCode::kFailedPrecondition, "empty bill id"},
    {6, StatusCode::kUnavailable, "database failure"},
    {7, StatusCode::kPermissionDenied, "licence"},
    {8, StatusCode::kFailedPrecondition, "bad parameter"},
    {9, StatusCode::kFailedPrecondition, "field or value not found"},
    {13, StatusCode::kUnavailable, "locked by another operation"},
    {14, StatusCode::kResourceExhausted, "call limit"},
    {15, StatusCode::kPermissionDenied, "admin login forbidden"},
};
constexpr const char* kSessionLost = "会话信息已丢失";

bool IsTrue(const json::Value* v) {
  return v != nullptr && ((v->is_bool() && v->bool_value()) ||
                          (v->is_string() && (v->text() == "true" || v->text() == "True")));
}

}  // namespace

const json::Value* ResponseStatus(const json::Value& body, const char* which) {
  const json::Value* b = &body;
  // ExecuteBillQuery wraps its error envelope in [[...]].
  while (b->is_array() && b->items().size() == 1 &&
         (b->items()[0].is_array() || b->items()[0].is_object())) {
    b = &b->items()[0];
  }
  const json::Value* result = b->Find("Result");
  return result ? result->Find(which) : nullptr;
}

const std::vector<config::OptionSpec>& ConnectionOptionTable() {
  static const std::vector<config::OptionSpec> kTable = {
      {"base_url", config::OptionType::kString, true, "", "K3Cloud root (before /k3cloud/)"},
      {"acct_id", config::OptionType::kString, true, "", "data centre id"},
      {"username", config::OptionType::kString, true, "", "integration user"},
      {"app_id", config::OptionType::kString, false, "", "LoginByAppSecret app id"},
      {"app_secret", config::OptionType::kString, false, "", "app secret; ${ENV}"},
      {"password", config::OptionType::kString, false, "", "ValidateUser password; ${ENV}"},
      {"lcid", config::OptionType::kInt, false, "2052", "locale"},
      {"qps", config::OptionType::kNumber, false, "5", "requests per second"},
      {"retry_base_ms", config::OptionType::kInt, false, "200", "first backoff"},
  };
  return kTable;
}

Result<KingdeeOptions> ReadConnection(const config::ConnectionConfig& c) {
  config::OptionReader r(c.options, c.path);
  SS_RETURN_IF_ERROR(r.Validate(ConnectionOptionTable()));
  KingdeeOptions o;
  o.base_url = r.String("base_url");
  while (!o.base_url.empty() && o.base_url.back() == '/') o.base_url.pop_back();
  if (o.base_url.rfind("http://", 0) != 0 && o.base_url.rfind("https://", 0) != 0) {
    return InvalidArgument(r.PathOf("base_url") + ": must start with http:// or https://");
  }
  o.acct_id = r.String("acct_id");
  o.username = r.String("username");
  o.app_id = r.String("app_id");
  o.app_secret = r.String("app_secret");
  o.password = r.String("password");
  if (o.password.empty() && (o.app_id.empty() || o.app_secret.empty())) {
    return InvalidArgument(c.path + ": needs app_id and app_secret, or password");
  }
  o.lcid = static_cast<int>(r.Int("lcid", 2052));
  o.qps = r.Number("qps", 5);
  o.retry_base_ms = r.Int("retry_base_ms", 200);
  return o;
}

KingdeeApi::KingdeeApi(KingdeeOptions o, HttpClient* http, Clock* clock)
    : o_(std::move(o)),
      api_(
          [&] {
            vendor::EndpointOptions eo;
            eo.name = "kingdee";
            eo.qps = o_.qps;
            eo.retry.base_ms = o_.retry_base_ms;
            eo.retry.throttle_base_ms = o_.retry_base_ms * 5;
            return eo;
          }(),
          http, clock) {}

Status KingdeeApi::Login() {
  std::lock_guard<std::mutex> lock(mu_);
  const bool by_password = !o_.password.empty();
  std::string params =
      by_password
          ? fmt::format("[{},{},{},{}]", json::Quote(o_.acct_id), json::Quote(o_.username),
                        json::Quote(o_.password), o_.lcid)
          : fmt::format("[{},{},{},{},{}]", json::Quote(o_.acct_id), json::Quote(o_.username),
                        json::Quote(o_.app_id), json::Quote(o_.app_secret), o_.lcid);
  std::string url = o_.base_url + "/k3cloud/Kingdee.BOS.WebApi.ServicesStub.AuthService." +
                    (by_password ? "ValidateUser" : "LoginByAppSecret") + ".common.kdsvc";
  std::string cookie_session;
  auto build = [&]() -> Result<HttpRequest> {
    HttpRequest req;
    req.method = "POST";
    req.url = url;
    req.headers = {{"Content-Type", "application/json;charset=utf-8"}};
    req.body = "{\"parameters\":" + params + "}";
    return req;
  };
  auto classify = [&](const HttpResponse& resp) -> Result<json::Value> {
    SS_RETURN_IF_ERROR(vendor::ClassifyHttpStatus(resp));
    for (const auto& [name, value] : resp.headers) {
      if (name != "set-cookie") continue;
      if (value.rfind("kdservice-sessionid=", 0) == 0) {
        cookie_session = value.substr(20, value.find(';') - 20);
      }
    }
    return vendor::ParseBody(resp);
  };
  SS_ASSIGN_OR_RETURN(json::Value body, api_.Call(build, classify, nullptr, "kingdee login"));
  int64_t result_type = 0;
  if (const json::Value* t = body.Find("LoginResultType")) t->AsInt64(&result_type);
  if (result_type != 1) {
    std::string msg;
    if (const json::Value* m = body.Find("Message")) msg = m->text();
    return Status(StatusCode::kPermissionDenied,
                  "kingdee login refused for acct " + o_.acct_id + ": " + msg);
  }
  std::string session = cookie_session;
  if (session.empty()) {
    if (const json::Value* k = body.Find("KDSVCSessionId")) session = k->text();
  }
  if (session.empty()) return Status(StatusCode::kFailedPrecondition, "kingdee login: no session");
  session_ = session;
  return Status::Ok();
}

Result<json::Value> KingdeeApi::Call(const std::string& service, const std::string& body,
                                     const std::string& what, bool idempotent) {
  bool need_login;
  {
    std::lock_guard<std::mutex> lock(mu_);
    need_login = session_.empty();
  }
  if (need_login) SS_RETURN_IF_ERROR(Login());
  const std::string url = o_.base_url +
                          "/k3cloud/Kingdee.BOS.WebApi.ServicesStub."
                          "DynamicFormService." +
                          service + ".common.kdsvc";
  auto build = [&]() -> Result<HttpRequest> {
    HttpRequest req;
    req.method = "POST";
    req.url = url;
    std::string session;
    {
      std::lock_guard<std::mutex> lock(mu_);
      session = session_;
    }
    req.headers = {{"Content-Type", "application/json;charset=utf-8"},
                   {"kdservice-sessionid", session},
                   {"Cookie", "kdservice-sessionid=" + session}};
    req.body = body;
    return req;
  };
  auto classify = [](const HttpResponse& resp) -> Result<json::Value> {
    SS_RETURN_IF_ERROR(vendor::ClassifyHttpStatus(resp));
    SS_ASSIGN_OR_RETURN(json::Value v, vendor::ParseBody(resp));
    const json::Value* rs = ResponseStatus(v);
    if (rs == nullptr || IsTrue(rs->Find("IsSuccess"))) return v;
    int64_t code = 0;
    if (const json::Value* m = rs->Find("MsgCode")) m->AsInt64(&code);
    std::string msg;
    if (const json::Value* errs = rs->Find("Errors"); errs && errs->is_array()) {
      for (const auto& e : errs->items()) {
        if (const json::Value* m = e.Find("Message")) msg += (msg.empty() ? "" : "; ") + m->text();
      }
    }
    if (msg.find(kSessionLost) != std::string::npos) code = 1;  // seen with other MsgCodes
    for (const auto& rule : kMsgCodeTable) {
      if (rule.code == code) {
        return Status(rule.status, fmt::format("MsgCode {} ({}): {}", code, rule.meaning, msg));
      }
    }
    return v;  // a business answer (validation, partial failure): the caller reads it
  };
  auto reauth = [&]() -> Status {
    {
      std::lock_guard<std::mutex> lock(mu_);
      session_.clear();
    }
    return Login();
  };
  return api_.Call(build, classify, reauth, what, idempotent);
}

}  // namespace stagesync::sink::kingdee
