// KingdeeApi: a K3Cloud WebAPI session for sinks — LoginByAppSecret (or ValidateUser), the
// session cookie, MsgCode mapped to Status codes once (kMsgCodeTable), and re-login when the
// session is lost (MsgCode 1 or its message). Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "stagesync/config.h"
#include "vendor/api_endpoint.h"

namespace stagesync::sink::kingdee {

struct KingdeeOptions {
  std::string base_url;
  std::string acct_id;
  std::string username;
  std::string app_id;
  std::string app_secret;  // ${ENV}
  std::string password;    // ValidateUser instead of app secret, when set; ${ENV}
  int lcid = 2052;
  double qps = 5;
  int64_t retry_base_ms = 200;
};

const std::vector<config::OptionSpec>& ConnectionOptionTable();
Result<KingdeeOptions> ReadConnection(const config::ConnectionConfig& c);

class KingdeeApi {
 public:
  KingdeeApi(KingdeeOptions o, HttpClient* http, Clock* clock);

  // Calls DynamicFormService.<service> with `body` ({"formid":..,"data":..}). Business
  // answers (IsSuccess false with MsgCode 11/12, per-bill errors) come back as the body;
  // only session loss (handled here), throttling, locks and server faults are Statuses.
  Result<json::Value> Call(const std::string& service, const std::string& body,
                           const std::string& what, bool idempotent);

 private:
  Status Login();

  const KingdeeOptions o_;
  vendor::ApiEndpoint api_;
  std::mutex mu_;
  std::string session_;
};

// The Result.ResponseStatus object of a Kingdee answer (unwrapping [[...]]), or nullptr.
const json::Value* ResponseStatus(const json::Value& body, const char* which = "ResponseStatus");

}  // namespace stagesync::sink::kingdee
