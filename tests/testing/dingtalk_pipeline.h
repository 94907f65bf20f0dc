// Helpers for tests that fetch from the DingTalk emulator into a real staging log: a config
// pointing at the emulator, and the staged form the test expects for an emulator instance.
#pragma once

#include <fmt/format.h>

#include <string>

#include "stagesync/config.h"
#include "stagesync/hash.h"
#include "stagesync/json.h"

namespace stagesync::testing {

struct DingTalkPipelineOptions {
  double qps = 200;
  int overlap_s = 600;
  int lag_s = 0;
  int lookback_days = 30;
  int window_days = 30;
  int concurrency = 4;
  int max_attempts = 8;
  int retry_base_ms = 20;
  int64_t max_response_bytes = 1 << 20;
  std::string process_code = "PROC-PAYMENT-0001";
  std::string app_secret = "demo-secret";
};

inline std::string DingTalkConfigJson(const std::string& base_url, const std::string& state_dir,
                                      const DingTalkPipelineOptions& o = {}) {
  return fmt::format(R"({{
  "state_dir": "{}",
  "connections": {{
    "dingtalk": {{"type": "dingtalk", "base_url": "{}", "app_key": "demo-key",
                 "app_secret": "{}", "qps": {}, "max_attempts": {}, "retry_base_ms": {},
                 "max_response_bytes": {}}},
    "bi": {{"type": "mysql", "host": "127.0.0.1", "user": "root", "database": "crm"}}
  }},
  "pipelines": {{
    "dingtalk-payment": {{
      "source": {{"connection": "dingtalk", "process_code": "{}", "overlap_s": {}, "lag_s": {},
                 "initial_lookback_days": {}, "window_days": {}, "concurrency": {}}},
      "schedule": "@every 5m",
      "sinks": {{"bi_mysql": {{"connection": "bi", "table": "t", "columns": {{"id": "{{id}}"}}}},
                "audit": {{"connection": "bi", "table": "a", "columns": {{"id": "{{id}}"}}}}}}
    }}
  }}
}})",
                     state_dir, base_url, o.app_secret, o.qps, o.max_attempts, o.retry_base_ms,
                     o.max_response_bytes, o.process_code, o.overlap_s, o.lag_s, o.lookback_days,
                     o.window_days, o.concurrency);
}

// What staging should hold for an instance: its process_instance object plus the id.
inline std::string ExpectedStaged(const std::string& id, const std::string& instance_json) {
  auto v = json::Parse(instance_json);
  if (!v.ok()) return "unparseable: " + v.status().message();
  json::Value rec = std::move(v).value();
  rec.Add("process_instance_id", json::Value::String(id));
  return json::Canonical(rec);
}

}  // namespace stagesync::testing
