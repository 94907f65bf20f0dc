// A DingTalk-approvals -> Yida pipeline pointed at one DingTalk emulator (which serves both the
// oapi and the Yida API), for the Yida sink's tests.
#pragma once

#include <fmt/format.h>

#include <string>

namespace stagesync::testing {

struct YidaPipelineOptions {
  int search_lag_ms = 300;
  int batch_rows = 20;
  std::string on_delete = "ignore";
  double qps = 500;
};

inline std::string YidaConfigJson(const std::string& url, const std::string& state_dir,
                                  const YidaPipelineOptions& o = {}) {
  return fmt::format(R"({{
  "state_dir": "{0}",
  "connections": {{
    "dingtalk": {{"type": "dingtalk", "base_url": "{1}", "app_key": "demo-key",
                 "app_secret": "demo-secret", "qps": {4}, "retry_base_ms": 20}},
    "yida": {{"type": "yida", "base_url": "{1}", "token_url": "{1}", "app_key": "demo-key",
             "app_secret": "demo-secret", "qps": {4}, "retry_base_ms": 20}}
  }},
  "pipelines": {{
    "payments-to-yida": {{
      "source": {{"connection": "dingtalk", "process_code": "PROC-PAYMENT-0001", "lag_s": 0}},
      "sinks": {{
        "yida_form": {{
          "connection": "yida",
          "app_type": "APP_DEMO", "system_token": "demo-system-token", "user_id": "manager7",
          "form_uuid": "FORM-DEMO", "process_code": "TPROC--DEMO",
          "source_id_field": "textField_srcid",
          "search_lag_ms": {2}, "batch_rows": {3}, "on_delete": "{5}",
          "fields": {{
            "textField_title": "{{title}}",
            "textField_status": "{{status}}",
            "numberField_total": "{{{{总额|decimal(2)}}}}",
            "textField_payee": "{{{{收款人姓名}}}}"
          }}
        }}
      }}
    }}
  }}
}})",
                     state_dir, url, o.search_lag_ms, o.batch_rows, o.qps, o.on_delete);
}

}  // namespace stagesync::testing
