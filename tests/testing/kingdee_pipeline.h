// Seed 001 for tests: DingTalk payment requests pushed down into Kingdee (CN_PAYAPPLY ->
// AP_PAYBILL) for approved requests, pointed at a test's emulators. Optionally the same
// stream also feeds the seed 000 MySQL table (conf/demo.json's sink).
#pragma once

#include <fmt/format.h>

#include <string>

#include "stagesync/json.h"
#include "testing/payment_pipeline.h"

namespace stagesync::testing {

struct KingdeePushOptions {
  int batch_rows = 10;
  std::string on_change = "report";
  bool with_mysql = false;  // add conf/demo.json's bi_mysql sink
  int mysql_port = 0;
  std::string database;
  int retry_budget_s = 600;  // the connection's (600 = the production default)
};

inline json::Value KingdeePushSink(const KingdeePushOptions& o) {
  return *json::Parse(fmt::format(R"({{
    "connection": "kingdee", "type": "kingdee_push",
    "where": "status == 'COMPLETED' and result == 'agree'",
    "numbers": "{{{{单据编号}}}}", "form_id": "CN_PAYAPPLY", "target_form_id": "AP_PAYBILL",
    "is_enable_default_rule": true, "is_draft_when_save_fail": true,
    "on_change": "{}", "batch_rows": {}}})",
                                  o.on_change, o.batch_rows));
}

inline json::Value KingdeeConnection(const std::string& url, int retry_budget_s = 600) {
  return *json::Parse(fmt::format(R"({{"type": "kingdee", "base_url": "{}", "acct_id": "demo-acct",
    "username": "api", "app_id": "demo-app", "app_secret": "demo-app-secret", "qps": 500,
    "retry_base_ms": 20, "retry_budget_s": {}}})",
                                  url, retry_budget_s));
}

// conf/demo.json (DingTalk -> bi_mysql) plus the Kingdee connection and sink; without MySQL
// the bi_mysql sink is dropped.
inline std::string KingdeePushConfigJson(const std::string& dingtalk_url,
                                         const std::string& kingdee_url,
                                         const std::string& state_dir,
                                         const KingdeePushOptions& o = {}) {
  json::Value root = *json::Parse(PaymentConfigJson(dingtalk_url, state_dir, o.mysql_port,
                                                    o.database.empty() ? "unused" : o.database));
  json::Value* conns = Member(&root, "connections");
  SetMember(conns, "kingdee", KingdeeConnection(kingdee_url, o.retry_budget_s));
  json::Value* p = Member(Member(&root, "pipelines"), "dingtalk-payment");
  json::Value* sinks = Member(p, "sinks");
  if (!o.with_mysql) *sinks = json::Value::Object();
  SetMember(sinks, "kingdee_paybill", KingdeePushSink(o));
  return json::Serialize(root);
}

}  // namespace stagesync::testing
