#include "connectors/kuaimai/kuaimai_client.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <chrono>

#include "stagesync/hash.h"

namespace stagesync::connectors::kuaimai {

namespace {

constexpr int64_t kBeijingOffsetMs = 8 * 3600 * 1000;
constexpr std::string_view kRefreshMethod = "open.token.refresh";
// Rotate a session this long before it expires, when its expiry is known.
constexpr int64_t kRefreshEarlyMs = 24 * 3600 * 1000;
// ...but never proactively more often than this, so a misread expiry cannot start a storm.
constexpr int64_t kMinProactiveGapMs = 10 * 60 * 1000;

// Gateway codes (doc/vendors/kuaimai.md "Errors"; always strings, HTTP 200) and what each means for
// us. Only 25/27/105/106 are confirmed; the rest follow the TOP gateway numbering [I].
struct CodeRule {
  std::string_view code;
  StatusCode status;
  const char* meaning;
};
constexpr CodeRule kCodeTable[] = {
    {"25", StatusCode::kPermissionDenied, "bad signature: check app_secret and sign_method"},
    {"26", StatusCode::kUnauthenticated, "missing session"},
    {"27", StatusCode::kUnauthenticated, "session expired"},
    {"105", StatusCode::kUnauthenticated, "session expired"},
    {"106", StatusCode::kUnauthenticated, "session expired"},
    {"29", StatusCode::kPermissionDenied, "unknown app_key"},
    {"108", StatusCode::kPermissionDenied,
     "refresh token invalid or already used: re-authorise the app and configure new tokens"},
    {"31", StatusCode::kFailedPrecondition, "timestamp rejected: check this machine's clock"},
    {"22", StatusCode::kFailedPrecondition, "unknown method"},
    {"23", StatusCode::kFailedPrecondition, "unsupported format"},
    {"33", StatusCode::kFailedPrecondition, "unsupported version"},
    {"99", StatusCode::kInvalidArgument, "business parameter error"},
};

std::string UpperHex(const unsigned char* data, size_t n) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kHex[data[i] >> 4]);
    out.push_back(kHex[data[i] & 15]);
  }
  return out;
}

std::string TextOf(const json::Value* v) {
  if (v == nullptr || v->is_null()) return "";
  if (v->is_string() || v->is_number()) return v->text();
  if (v->is_bool()) return v->bool_value() ? "true" : "false";
  return json::Serialize(*v);
}

// The first of `keys` present as a non-empty string.
std::string FirstString(const json::Value& obj, std::initializer_list<std::string_view> keys) {
  for (std::string_view k : keys) {
    const json::Value* v = obj.Find(k);
    if (v != nullptr && v->is_string() && !v->text().empty()) return v->text();
  }
  return "";
}

}  // namespace

Result<std::string> Sign(const Params& params, std::string_view secret,
                         std::string_view sign_method) {
  std::string s;
  for (const auto& [key, value] : params) {  // std::map: byte order, i.e. ASCII order
    if (key == "sign" || value.empty()) continue;
    s += key;
    s += value;
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (sign_method == "md5") {
    std::string text;
    text.reserve(secret.size() * 2 + s.size());
    text.append(secret).append(s).append(secret);
    if (EVP_Digest(text.data(), text.size(), md.data(), &len, EVP_md5(), nullptr) != 1) {
      return Internal("MD5 failed");
    }
  } else if (sign_method == "hmac" || sign_method == "hmac-sha256") {
    const EVP_MD* evp = sign_method == "hmac" ? EVP_md5() : EVP_sha256();
    if (HMAC(evp, secret.data(), static_cast<int>(secret.size()),
             reinterpret_cast<const unsigned char*>(s.data()), s.size(), md.data(),
             &len) == nullptr) {
      return Internal("HMAC failed");
    }
  } else {
    return InvalidArgument("sign_method must be md5, hmac or hmac-sha256");
  }
  return UpperHex(md.data(), len);
}

std::string FormatBeijingTime(int64_t epoch_ms) {
  using namespace std::chrono;
  const sys_time<milliseconds> tp{milliseconds{epoch_ms + kBeijingOffsetMs}};
  const auto day = floor<days>(tp);
  const year_month_day ymd{day};
  const hh_mm_ss hms{floor<seconds>(tp - day)};
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                     hms.hours().count(), hms.minutes().count(), hms.seconds().count());
}

Status BodyStatus(const json::Value& body) {
  if (!body.is_object()) return BadReply("gateway answered JSON that is not an object");
  const json::Value* success = body.Find("success");
  if (success != nullptr && success->is_bool() && success->bool_value()) return Status::Ok();
  const std::string code = TextOf(body.Find("code"));
  std::string msg = FirstString(body, {"msg", "message", "subMsg", "sub_msg"});
  if (success == nullptr && code.empty()) {
    return BadReply("gateway answered a body with neither success nor code");
  }
  const std::string text = fmt::format("Kuaimai code {}: {}", code.empty() ? "-" : code,
                                       msg.empty() ? "no message" : ClipVendorText(msg));
  // No numeric throttle code is confirmed: the words are [V:Q3][V:Q2].
  if (msg.find("频繁") != std::string::npos || msg.find("限流") != std::string::npos) {
    return Status(StatusCode::kResourceExhausted, text);
  }
  for (const auto& r : kCodeTable) {
    if (r.code == code) return Status(r.status, text + " (" + r.meaning + ")");
  }
  return Status(StatusCode::kFailedPrecondition, text);
}

const config::OptionTable<ClientOptions>& ClientOptionTable() {
  using O = ClientOptions;
  static const config::OptionTable<O> kTable =
      config::OptionTable<O>()
          .Str("base_url", &O::base_url, "https://gw.superboss.cc/router",
               "the gateway's router URL")
          .Required("app_key", &O::app_key, "the app's appKey")
          .Required("app_secret", &O::app_secret, "signs requests; use ${ENV}")
          .Str("session", &O::session, "",
               "access token; use ${ENV}. Rotated tokens saved in staging take precedence")
          .Str("refresh_token", &O::refresh_token, "",
               "refresh token; use ${ENV}. Each refresh rotates it (saved in staging)")
          .Str("sign_method", &O::sign_method, "hmac",
               "md5 | hmac | hmac-sha256 (hmac = HMAC-MD5, the gateway's default)")
          .Num("qps", &O::qps, 5, config::kMinQps, config::kMaxQps,
               "requests per second, all pipelines")
          .Int("timeout_ms", &O::timeout_ms, 30000, 100, 3600000, "total time per request")
          .Int("max_response_bytes", &O::max_response_bytes, int64_t{32} << 20, 1024,
               int64_t{1} << 30, "decoded body limit")
          .Include(RetryOptionTable(1000), &O::retry)
          .Include(QuotaOptionTable(), &O::quota)
          .Check([](const config::OptionReader& r, O* o) -> Status {
            SS_RETURN_IF_ERROR(CheckBaseUrl(r, &o->base_url));
            if (o->session.empty() && o->refresh_token.empty()) {
              return InvalidArgument(r.path() +
                                     ": set session (access token) and/or refresh_token");
            }
            if (o->sign_method != "md5" && o->sign_method != "hmac" &&
                o->sign_method != "hmac-sha256") {
              return InvalidArgument(r.PathOf("sign_method") +
                                     ": must be md5, hmac or hmac-sha256");
            }
            // 5/10/20 s for throttling with the default base (doc/vendors/kuaimai.md,
            // "Connection").
            o->retry.throttle_base_ms = o->retry.base_ms * 5;
            o->retry.max_backoff_ms =
                std::max<int64_t>(o->retry.max_backoff_ms, o->retry.throttle_base_ms);
            return Status::Ok();
          });
  return kTable;
}

Result<ClientOptions> ReadClientOptions(const config::ConnectionConfig& conn) {
  ClientOptions base;
  base.name = conn.name;
  return ClientOptionTable().Read(conn.options, conn.path, std::move(base));
}

KuaimaiClient::KuaimaiClient(ClientOptions opts, HttpClient* http, Clock* clock)
    : opts_(std::move(opts)),
      clock_(clock),
      endpoint_(EndpointOptions{opts_.name, opts_.qps, opts_.retry, opts_.quota}, http, clock) {
  tokens_.access = opts_.session;
  tokens_.refresh = opts_.refresh_token;
}

std::string KuaimaiClient::Fingerprint() const {
  // Identifies the config's tokens without storing them twice.
  return HashBytes(opts_.session + "\n" + opts_.refresh_token).ToHex().substr(0, 16);
}

std::string KuaimaiClient::Encode(const Tokens& t) const {
  return fmt::format(
      "{{\"access_token\":{},\"refresh_token\":{},\"expire_ms\":{},\"refreshed_at_ms\":{},"
      "\"config\":{}}}",
      json::Quote(t.access), json::Quote(t.refresh), t.expire_ms, t.refreshed_at_ms,
      json::Quote(Fingerprint()));
}

Tokens KuaimaiClient::tokens() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tokens_;
}

Result<int> KuaimaiClient::AddTokenStore(TokenStore store) {
  SS_ASSIGN_OR_RETURN(std::string saved, store.load());
  std::lock_guard<std::mutex> lock(mu_);
  if (!saved.empty()) {
    auto v = json::Parse(saved);
    if (!v.ok() || !v->is_object()) {
      return DataLoss("connection " + opts_.name + ": the saved Kuaimai tokens are unreadable");
    }
    Tokens t;
    t.access = TextOf(v->Find("access_token"));
    t.refresh = TextOf(v->Find("refresh_token"));
    if (const json::Value* e = v->Find("expire_ms")) e->AsInt64(&t.expire_ms);
    if (const json::Value* e = v->Find("refreshed_at_ms")) e->AsInt64(&t.refreshed_at_ms);
    // Tokens rotated from the tokens the config still names win over them; a config naming
    // other tokens means someone re-authorised the app, and those win.
    if (TextOf(v->Find("config")) == Fingerprint() && t.refreshed_at_ms > tokens_.refreshed_at_ms &&
        !t.refresh.empty()) {
      tokens_ = std::move(t);
    }
  }
  const int id = next_store_++;
  stores_.emplace(id, std::move(store));
  return id;
}

void KuaimaiClient::RemoveTokenStore(int id) {
  std::lock_guard<std::mutex> lock(mu_);
  stores_.erase(id);
}

Result<HttpRequest> KuaimaiClient::BuildRequest(const std::string& method, const Params& business,
                                                const std::string& session) const {
  Params p = business;
  p["method"] = method;
  p["appKey"] = opts_.app_key;
  p["timestamp"] = FormatBeijingTime(clock_->NowMillis());
  p["version"] = "1.0";
  p["format"] = "json";
  p["sign_method"] = opts_.sign_method;
  if (!session.empty()) p["session"] = session;
  SS_ASSIGN_OR_RETURN(std::string sign, Sign(p, opts_.app_secret, opts_.sign_method));
  p["sign"] = std::move(sign);
  HttpRequest req;
  req.method = "POST";
  req.url = opts_.base_url;
  req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8");
  for (const auto& [k, v] : p) {
    if (!req.body.empty()) req.body.push_back('&');
    req.body += UrlEncode(k);
    req.body.push_back('=');
    req.body += UrlEncode(v);
  }
  req.timeout_ms = opts_.timeout_ms;
  req.max_response_bytes = opts_.max_response_bytes;
  return req;
}

Status KuaimaiClient::Refresh(const std::string& stale_access) {
  std::lock_guard<std::mutex> refresh_lock(refresh_mu_);
  Tokens current = tokens();
  // Another thread (or pipeline) rotated while this one waited: use its tokens.
  if (current.access != stale_access) return Status::Ok();
  const std::string what = fmt::format("connection {}: {}", opts_.name, kRefreshMethod);
  if (current.refresh.empty()) {
    return Status(StatusCode::kPermissionDenied,
                  what + ": the session expired and no refresh_token is configured");
  }
  Params business = {{"refreshToken", current.refresh}};
  auto build = [&]() {
    return BuildRequest(std::string(kRefreshMethod), business, current.access);
  };
  auto classify = [](const HttpResponse& resp) -> Result<json::Value> {
    SS_RETURN_IF_ERROR(ClassifyHttpStatus(resp));
    SS_ASSIGN_OR_RETURN(json::Value v, ParseBody(resp));
    SS_RETURN_IF_ERROR(BodyStatus(v));
    return v;
  };
  // Not idempotent: once the gateway has rotated, the old refresh token is dead, so a reply
  // lost in transit must not be "retried" with it (that would be a reuse).
  SS_ASSIGN_OR_RETURN(json::Value v, endpoint_.Call(build, classify, nullptr, what, false));
  // New tokens come under "session" or at the top level (clients disagree) [V:Q2][V:Q3].
  const json::Value* s = v.Find("session");
  const json::Value& src = s != nullptr && s->is_object() ? *s : v;
  Tokens fresh;
  fresh.access = FirstString(src, {"accessToken", "access_token", "session"});
  fresh.refresh = FirstString(src, {"refreshToken", "refresh_token"});
  if (fresh.access.empty() || fresh.refresh.empty()) {
    return FailedPrecondition(what + ": the reply carries no accessToken/refreshToken");
  }
  endpoint_.CountRenewal();
  const int64_t now = clock_->NowMillis();
  int64_t expire = 0;
  if (const json::Value* e = src.Find("expireTime"); e != nullptr && e->AsInt64(&expire)) {
    // Epoch ms, epoch seconds or a lifetime in seconds: the shapes clients disagree on [I].
    if (expire > 100000000000LL) {
      fresh.expire_ms = expire;
    } else if (expire > 1000000000LL) {
      fresh.expire_ms = expire * 1000;
    } else if (expire > 0) {
      fresh.expire_ms = now + expire * 1000;
    }
  }
  fresh.refreshed_at_ms = now;
  // Durable first: a crash after this point must not leave us holding only a dead token.
  const std::string encoded = Encode(fresh);
  Status saved;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, store] : stores_) {
      Status st = store.save(encoded);
      if (!st.ok() && saved.ok()) saved = st;
    }
    tokens_ = std::move(fresh);
  }
  if (!saved.ok()) return saved.WithContext(what + ": could not save the rotated tokens");
  return Status::Ok();
}

Result<json::Value> KuaimaiClient::Call(const std::string& method, const Params& business,
                                        const std::string& what,
                                        const std::function<Status(const json::Value&)>& check) {
  std::string used_access;
  auto build = [&]() -> Result<HttpRequest> {
    Tokens t = tokens();
    const int64_t now = clock_->NowMillis();
    if (t.expire_ms > 0 && now >= t.expire_ms - kRefreshEarlyMs &&
        now - t.refreshed_at_ms >= kMinProactiveGapMs) {
      SS_RETURN_IF_ERROR(Refresh(t.access));
      t = tokens();
    }
    used_access = t.access;
    return BuildRequest(method, business, t.access);
  };
  auto classify = [&](const HttpResponse& resp) -> Result<json::Value> {
    SS_RETURN_IF_ERROR(ClassifyHttpStatus(resp));
    if (resp.status == 401 || resp.status == 403) {
      return Status(StatusCode::kPermissionDenied, fmt::format("HTTP {}", resp.status));
    }
    if (resp.status >= 400) {
      return FailedPrecondition(fmt::format("HTTP {} (check base_url)", resp.status));
    }
    SS_ASSIGN_OR_RETURN(json::Value v, ParseBody(resp, PageParseOptions()));
    SS_RETURN_IF_ERROR(BodyStatus(v));
    if (check) SS_RETURN_IF_ERROR(check(v));
    return v;
  };
  auto reauth = [&]() { return Refresh(used_access); };
  return endpoint_.Call(build, classify, reauth, what);
}

Status KuaimaiClient::Probe(const std::string& method, const Params& business) {
  auto build = [&]() -> Result<HttpRequest> {
    return BuildRequest(method, business, tokens().access);
  };
  auto classify = [&](const HttpResponse& resp) -> Result<json::Value> {
    SS_RETURN_IF_ERROR(ClassifyHttpStatus(resp));
    if (resp.status >= 400) {
      return FailedPrecondition(fmt::format("HTTP {} (check base_url)", resp.status));
    }
    SS_ASSIGN_OR_RETURN(json::Value v, ParseBody(resp));
    SS_RETURN_IF_ERROR(BodyStatus(v));
    return v;
  };
  auto no_refresh = []() -> Status {
    return FailedPrecondition(
        "the session has expired; the next fetch refreshes it (check does not rotate tokens)");
  };
  return endpoint_.Call(build, classify, no_refresh, "connection " + opts_.name + ": " + method)
      .status();
}

}  // namespace stagesync::connectors::kuaimai
