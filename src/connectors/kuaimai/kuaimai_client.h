// KuaimaiClient: calls the Kuaimai ERP open-API gateway (`POST .../router`, form-encoded, signed
// with md5 / hmac / hmac-sha256) over the connection's ApiEndpoint (rate limit, retries,
// counters), refreshing the session with open.token.refresh when the gateway says it expired.
// Each refresh invalidates the previous refresh token, so refreshes are serialised per
// connection and the new tokens are saved (through every registered TokenStore, i.e. each
// fetching pipeline's staging state) before they are used. Gateway codes map to Status codes
// once, in kCodeTable (the .cc). Used by the Kuaimai source. Thread-safe: one client per
// connection, shared by every pipeline using it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
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

namespace stagesync::connectors::kuaimai {

struct ClientOptions {
  std::string name;      // connection name, for errors
  std::string base_url;  // the router URL
  std::string app_key;
  std::string app_secret;     // signs every request; never logged
  std::string session;        // access token from the config; never logged
  std::string refresh_token;  // from the config; never logged
  std::string sign_method;
  double qps = 0;
  int timeout_ms = 0;
  size_t max_response_bytes = 0;
  RetryPolicy retry;  // throttling backs off from retry.throttle_base_ms
  QuotaOptions quota;
};

// Defaults, ranges and help of ClientOptions.
const config::OptionTable<ClientOptions>& ClientOptionTable();
Result<ClientOptions> ReadClientOptions(const config::ConnectionConfig& conn);

using Params = std::map<std::string, std::string>;

// Gateway signature (doc/vendors/kuaimai.md, "signing"): "sign" and empty values dropped, keys in
// byte order, s = k1v1k2v2...; md5 -> MD5(secret+s+secret), hmac -> HMAC-MD5(secret, s),
// hmac-sha256 -> HMAC-SHA256(secret, s); upper-case hex. InvalidArgument for another method.
Result<std::string> Sign(const Params& params, std::string_view secret,
                         std::string_view sign_method);
// "yyyy-MM-dd HH:mm:ss" in UTC+8 (the gateway's timestamp and time-filter format).
std::string FormatBeijingTime(int64_t epoch_ms);
// The Status of a gateway body: Ok for success:true; the code table (and the throttle words
// 频繁/限流 in msg) otherwise.
Status BodyStatus(const json::Value& body);

struct Tokens {
  std::string access;
  std::string refresh;
  int64_t expire_ms = 0;        // 0 = unknown
  int64_t refreshed_at_ms = 0;  // 0 = the config's tokens
};

// Where a pipeline keeps the tokens durably (its staging state). `load` returns "" when unset;
// `save` must be durable (synced) when it returns Ok.
struct TokenStore {
  std::function<Result<std::string>()> load;
  std::function<Status(const std::string&)> save;
};

class KuaimaiClient final : public Client {
 public:
  KuaimaiClient(ClientOptions opts, HttpClient* http, Clock* clock);

  // Registers a store for the duration of a fetch and adopts the tokens saved in it when they
  // were rotated later than the ones in hand (and the config still names the same tokens: a
  // config with new tokens means the app was re-authorised). Returns an id for
  // RemoveTokenStore. A saved value that cannot be read is DataLoss.
  Result<int> AddTokenStore(TokenStore store);
  void RemoveTokenStore(int id);

  // Calls `method` with the business parameters, signed, with the current session; refreshes
  // the session (serialised) and retries when the gateway says it expired. `check` (optional)
  // vets a success:true body inside the retry loop (BadReply there is retried).
  Result<json::Value> Call(const std::string& method, const Params& business,
                           const std::string& what,
                           const std::function<Status(const json::Value&)>& check = nullptr);

  // One signed call with the session in hand (`check --connect`), never refreshing it: a
  // refresh rotates the refresh token, which only a fetch may do (it saves the new one).
  // Ok; FailedPrecondition when the session has expired (a fetch refreshes it); otherwise
  // the gateway's refusal (bad signature, unknown app).
  Status Probe(const std::string& method, const Params& business);
  // One signed call of the first user's `method` (or erp.aftersale.list.query) over a closed
  // minute an hour ago, without refreshing the session: FailedPrecondition if it expired.
  Status CheckLogin(const std::vector<const config::PipelineConfig*>& users) override;
  ApiEndpoint* endpoint() override { return &endpoint_; }

  Tokens tokens() const;

 private:
  // Refreshes unless another thread already replaced `stale_access`. The new tokens are saved
  // in every store before they become current.
  Status Refresh(const std::string& stale_access);
  Result<HttpRequest> BuildRequest(const std::string& method, const Params& business,
                                   const std::string& session) const;
  std::string Fingerprint() const;
  std::string Encode(const Tokens& t) const;

  const ClientOptions opts_;
  Clock* const clock_;
  ApiEndpoint endpoint_;
  std::mutex refresh_mu_;  // one refresh at a time per connection
  mutable std::mutex mu_;  // guards tokens_ and stores_
  Tokens tokens_;
  std::map<int, TokenStore> stores_;
  int next_store_ = 0;
};

}  // namespace stagesync::connectors::kuaimai
