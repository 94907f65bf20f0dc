// DingTalkClient: calls DingTalk's oapi with a cached access token, the connection's rate
// limit, retries with backoff, and the vendor's error codes mapped to Status codes once, here
// (kErrcodeTable). Thread-safe: one client is shared by every pipeline on a connection.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "connectors/common/api_endpoint.h"
#include "connectors/common/client.h"
#include "stagesync/clock.h"
#include "stagesync/config.h"
#include "stagesync/http.h"
#include "stagesync/json.h"
#include "stagesync/rate_limiter.h"
#include "stagesync/retry.h"
#include "stagesync/status.h"

namespace stagesync::connectors::dingtalk {

struct ClientOptions {
  std::string base_url;  // e.g. https://oapi.dingtalk.com
  std::string app_key;
  std::string app_secret;  // from ${ENV}; never logged
  double qps = 0;
  int timeout_ms = 0;
  size_t max_response_bytes = 0;
  RetryPolicy retry;
  QuotaOptions quota;
};

// Defaults, ranges and help of ClientOptions.
const config::OptionTable<ClientOptions>& ClientOptionTable();
Result<ClientOptions> ReadClientOptions(const config::ConnectionConfig& conn);

// Maps a DingTalk errcode to the Status code that decides what happens next.
StatusCode ClassifyErrcode(int64_t errcode, std::string_view sub_code);

// One oapi answer (gettoken's too) -> its parsed body when errcode is 0, else the Status that
// decides what happens: 429, throttling errcodes and the flood guard's HTML page or
// {"punish":"deny"} -> ResourceExhausted; 5xx, -1, a body without errcode -> Unavailable; a cut
// body -> BadReply; a refused token -> Unauthenticated (on gettoken: PermissionDenied).
Result<json::Value> ClassifyAnswer(const HttpResponse& resp, bool token_call);

class DingTalkClient final : public Client {
 public:
  DingTalkClient(ClientOptions opts, HttpClient* http, Clock* clock);

  // POSTs `body` (JSON) to `path` with the access token, retrying transient failures and
  // refreshing an expired token once. Returns the parsed body when errcode is 0.
  // `what` names the call in errors (e.g. "get instance X").
  Result<json::Value> Call(const std::string& path, const std::string& body,
                           const std::string& what);

  // The cached access token; `force_refresh` fetches a new one unless another thread already
  // replaced `stale`. Also used by the v1.0 APIs (Yida), which take it in a header.
  Result<std::string> Token(bool force_refresh, const std::string& stale);
  // Paces a call on this connection (shared with every user of the app's quota) and takes it
  // from the daily quota.
  Status Pace() { return endpoint_.Pace(); }
  Status CheckLogin(const std::vector<const config::PipelineConfig*>& /*users*/) override {
    return Token(/*force_refresh=*/true, "").status();
  }
  ApiEndpoint* endpoint() override { return &endpoint_; }

 private:
  const ClientOptions opts_;
  Clock* const clock_;
  ApiEndpoint endpoint_;
  std::mutex token_mu_;
  std::string token_;
  int64_t token_expires_ms_ = 0;
};

}  // namespace stagesync::connectors::dingtalk
