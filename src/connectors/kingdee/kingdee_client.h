// KingdeeClient: calls Kingdee K3Cloud WebAPI services (`POST {base}/k3cloud/{Service}.common.
// kdsvc`) inside a login session (LoginByAppSecret, or ValidateUser when a password is configured)
// that is renewed when Kingdee reports it lost, over the connection's ApiEndpoint (rate limit,
// retries, counters). MsgCodes map to Status codes once, in kMsgCodeTable (the .cc). Used by the
// Kingdee source; a Kingdee sink can share it. Thread-safe: one client per connection, shared by
// every pipeline using it; logins are serialised.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/common/api_endpoint.h"
#include "connectors/common/client.h"
#include "stagesync/clock.h"
#include "stagesync/config.h"
#include "stagesync/http.h"
#include "stagesync/json.h"
#include "stagesync/status.h"

namespace stagesync::connectors::kingdee {

// A connection's options; defaults, ranges and help in ClientOptionTable() (the .cc).
struct ClientOptions {
  std::string name;      // connection name, for errors
  std::string base_url;  // server root; "/k3cloud/<Service>.common.kdsvc" is appended
  std::string acct_id;   // data centre id
  std::string username;
  std::string app_id;      // LoginByAppSecret
  std::string app_secret;  // never logged
  std::string password;    // ValidateUser, used when app_secret is empty; never logged
  int lcid = 0;
  double qps = 0;
  int timeout_ms = 0;
  size_t max_response_bytes = 0;
  RetryPolicy retry;
  QuotaOptions quota;
};

const config::OptionTable<ClientOptions>& ClientOptionTable();
Result<ClientOptions> ReadClientOptions(const config::ConnectionConfig& conn);

// What a MsgCode means for the caller (doc/vendors/kingdee.md, "Errors").
StatusCode ClassifyMsgCode(int64_t msg_code);
// Kingdee's lost-session text (会话信息已丢失), which has also come with other MsgCodes.
bool IsSessionLostText(std::string_view message);
// The Status of a body that is Kingdee's error envelope ({"Result":{"ResponseStatus":...}},
// possibly wrapped in [[...]] as ExecuteBillQuery does); Ok for any other body.
Status EnvelopeStatus(const json::Value& body);

class KingdeeClient final : public Client {
 public:
  KingdeeClient(ClientOptions opts, HttpClient* http, Clock* clock);

  // POSTs `body` (JSON) to DynamicFormService.<service>, logging in first if needed and again
  // (then retrying) when the session is reported lost. Returns the parsed body, which is not an
  // error envelope. `what` names the call in errors; it never carries secrets.
  Result<json::Value> Call(std::string_view service, const std::string& body,
                           const std::string& what, bool idempotent = true);
  // Like Call, but a business answer (validation failed, not operable, no data, an unknown
  // MsgCode: a Push with per-bill errors) comes back as the body for the caller to read; only
  // session loss, throttling, locks, server faults and permission errors are Statuses.
  Result<json::Value> CallForAnswer(std::string_view service, const std::string& body,
                                    const std::string& what, bool idempotent);

  // ExecuteBillQuery with `data` (FormId, FieldKeys, FilterString, ...): the rows, each a JSON
  // array in FieldKeys order. A body that is neither rows nor an error is BadReply (retried).
  Result<std::vector<json::Value>> ExecuteBillQuery(const json::Value& data,
                                                    const std::string& what);

  int64_t logins() const { return logins_; }
  const ClientOptions& options() const { return opts_; }

  // Logs in once (`check --connect`): Ok, or why the server refused (never the secret).
  Status CheckLogin(const std::vector<const config::PipelineConfig*>& /*users*/) override {
    return Login("");
  }
  ApiEndpoint* endpoint() override { return &endpoint_; }

 private:
  // Logs in unless another thread already replaced `stale` (the cookie a refused call used).
  Status Login(const std::string& stale);
  std::string Url(std::string_view service) const;
  // One DynamicFormService call; `check` (optional) vets a non-error body inside the retry loop.
  Result<json::Value> Post(const std::string& service, const std::string& body,
                           const std::string& what, bool idempotent,
                           const std::function<Status(const json::Value&)>& check,
                           bool business_answers);

  const ClientOptions opts_;
  ApiEndpoint endpoint_;
  std::mutex login_mu_;         // serialises logins
  mutable std::mutex mu_;       // guards cookie_ and session_header_
  std::string cookie_;          // "kdservice-sessionid=..; ASP.NET_SessionId=.." from the login
  std::string session_header_;  // KDSVCSessionId, sent as header kdservice-sessionid
  std::atomic<int64_t> logins_{0};
};

}  // namespace stagesync::connectors::kingdee
