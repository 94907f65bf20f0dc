// Seed 003 for tests: OKKI products into a DingTalk Yida form, as conf/seeds/003 configures it,
// pointed at an OKKI emulator and a DingTalk emulator (which serves the Yida API).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "emulators/dingtalk_emulator.h"
#include "testing/seed_config.h"

namespace stagesync::testing {

inline std::string Seed003Json(const std::string& okki_url, const std::string& dingtalk_url,
                               const std::string& state_dir) {
  SeedEdits e;
  e.state_dir = state_dir;
  e.vendor_connection = "okki";
  e.connection = {{"base_url", Str(okki_url)},
                  {"client_id", Str("demo-okki")},
                  {"client_secret", Str("demo-okki-secret")},
                  {"qps", Num(500)},
                  {"retry_base_ms", Num(10)}};
  e.sink = {{"app_type", Str("APP_DEMO")},   {"system_token", Str("demo-system-token")},
            {"form_uuid", Str("FORM-DEMO")}, {"process_code", Str("TPROC--DEMO")},
            {"search_lag_ms", Num(150)},     {"batch_rows", Num(10)}};
  json::Value root = *json::Parse(SeedConfigJson("003-okki-product-yida.json", e));
  json::Value* yida = Find(Find(&root, "connections"), "yida");
  Set(yida, "base_url", Str(dingtalk_url));
  Set(yida, "token_url", Str(dingtalk_url));
  Set(yida, "app_key", Str("demo-key"));
  Set(yida, "app_secret", Str("demo-secret"));
  Set(yida, "qps", Num(500));
  Set(yida, "retry_base_ms", Num(20));
  return json::Serialize(root);
}

// The Yida instances naming each source id (the seed's source_id_field).
inline std::map<std::string, std::vector<emulators::YidaInstance>> Seed003InstancesBySource(
    const emulators::DingTalkEmulator& dt) {
  std::map<std::string, std::vector<emulators::YidaInstance>> out;
  for (const auto& inst : dt.YidaInstances()) {
    auto v = json::Parse(inst.form_data_json);
    if (v.ok() && v->Find("textField_srcid001")) {
      out[v->Find("textField_srcid001")->text()].push_back(inst);
    }
  }
  return out;
}

}  // namespace stagesync::testing
