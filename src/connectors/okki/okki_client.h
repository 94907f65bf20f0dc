// OkkiClient: calls the OKKI (Xiaoman) CRM open API with a client-credentials bearer token
// (requested with the configured scopes, cached until shortly before it expires, requested
// again once per call when the API answers 401), over the connection's ApiEndpoint (rate limit,
// retries, counters). OKKI's HTTP statuses, body codes and OAuth errors map to Status codes
// once, in kCodeTable (the .cc). Used by the OKKI source. Thread-safe: one client per
// connection, shared by every pipeline using it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "connectors/common/api_endpoint.h"
#include "connectors/common/client.h"
#include "stagesync/clock.h"
#include "stagesync/config.h"
#include "stagesync/http.h"
#include "stagesync/json.h"
#include "stagesync/option_table.h"
#include "stagesync/status.h"

namespace stagesync::connectors::okki {

// A connection's options; defaults, ranges and help in ClientOptionTable() (the .cc).
struct ClientOptions {
  std::string name;  // connection name, for errors
  std::string base_url;
  std::string client_id;
  std::string client_secret;  // never logged
  std::string scope;
  double qps = 0;
  int timeout_ms = 0;
  size_t max_response_bytes = 0;
  RetryPolicy retry;
  QuotaOptions quota;
};

const config::OptionTable<ClientOptions>& ClientOptionTable();
Result<ClientOptions> ReadClientOptions(const config::ConnectionConfig& conn);

// The Status for an OKKI answer: `http_status` and, when the body has one, its `code`
// (0 = success). Ok when both say success.
Status AnswerStatus(int http_status, const json::Value* body);

using Query = std::vector<std::pair<std::string, std::string>>;

class OkkiClient final : public Client {
 public:
  OkkiClient(ClientOptions opts, HttpClient* http, Clock* clock);

  // GETs base_url + path with the query and the bearer token; re-tokens once on 401. Returns
  // the parsed body (code 0). `check` (optional) vets it inside the retry loop.
  Result<json::Value> Get(const std::string& path, const Query& query, const std::string& what,
                          const std::function<Status(const json::Value&)>& check = nullptr);

  int64_t token_requests() const { return token_requests_; }

  // Requests a token once (`check --connect`): Ok, or why it was refused (never the secret).
  Status CheckLogin(const std::vector<const config::PipelineConfig*>& /*users*/) override {
    return Token(true, "").status();
  }
  ApiEndpoint* endpoint() override { return &endpoint_; }

 private:
  // The cached token, or a new one when forced (unless another thread replaced `stale`).
  Result<std::string> Token(bool force, const std::string& stale);

  const ClientOptions opts_;
  Clock* const clock_;
  ApiEndpoint endpoint_;
  std::mutex token_mu_;
  std::string token_;
  int64_t token_renew_ms_ = 0;  // fetch a new token from this time on
  std::atomic<int64_t> token_requests_{0};
};

}  // namespace stagesync::connectors::okki
