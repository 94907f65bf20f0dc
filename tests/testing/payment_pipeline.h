// The seed 000 pipeline as shipped in conf/demo.json, pointed at a test's emulator, MariaDB
// database and state dir. Also computes, independently of the mapping code, the rows that
// payment_application_info must hold for the emulator's requests.
#pragma once

#include <fmt/format.h>

#include <ctime>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "emulators/dingtalk_emulator.h"
#include "stagesync/json.h"

namespace stagesync::testing {

inline void SetMember(json::Value* obj, const std::string& key, json::Value v) {
  for (auto& m : obj->mutable_members()) {
    if (m.first == key) {
      m.second = std::move(v);
      return;
    }
  }
  obj->Add(key, std::move(v));
}

inline json::Value* Member(json::Value* obj, const std::string& key) {
  for (auto& m : obj->mutable_members()) {
    if (m.first == key) return &m.second;
  }
  return nullptr;
}

struct PaymentPipelineOptions {
  double qps = 500;
  int batch_rows = 1000;
  int retry_for_s = 120;
  std::string write_mode = "replace";
  int lookback_days = 30;
  std::string where;                                    // sink's where, if any
  std::string table;                                    // sink's table, if not the demo's
  std::string rules_json;                               // sink's rules object, if any
  std::map<std::string, std::string> column_overrides;  // column -> template
};

// conf/demo.json with every ${ENV} resolved for a test.
inline std::string PaymentConfigJson(const std::string& dingtalk_url, const std::string& state_dir,
                                     int mysql_port, const std::string& database,
                                     const PaymentPipelineOptions& o = {}) {
  std::ifstream in(STAGESYNC_SOURCE_DIR "/conf/demo.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto parsed = json::Parse(text);
  if (!parsed.ok()) return "";
  json::Value root = std::move(parsed).value();
  SetMember(&root, "state_dir", json::Value::String(state_dir));
  // Only seed 000: the DingTalk stream into MySQL (the demo's other pipelines and connections
  // read their addresses and secrets from the environment).
  auto keep_only = [](json::Value* obj, std::initializer_list<const char*> keys) {
    std::erase_if(obj->mutable_members(), [&](const json::Value::Member& m) {
      for (const char* k : keys) {
        if (m.first == k) return false;
      }
      return true;
    });
  };
  keep_only(Member(&root, "connections"), {"dingtalk", "bi"});
  keep_only(Member(&root, "pipelines"), {"dingtalk-payment"});
  keep_only(Member(Member(Member(&root, "pipelines"), "dingtalk-payment"), "sinks"), {"bi_mysql"});
  json::Value* conns = Member(&root, "connections");
  json::Value* dt = Member(conns, "dingtalk");
  SetMember(dt, "base_url", json::Value::String(dingtalk_url));
  SetMember(dt, "app_key", json::Value::String("demo-key"));
  SetMember(dt, "app_secret", json::Value::String("demo-secret"));
  SetMember(dt, "qps", json::Value::Number(fmt::format("{}", o.qps)));
  SetMember(dt, "retry_base_ms", json::Value::Number("20"));
  json::Value* bi = Member(conns, "bi");
  SetMember(bi, "port", json::Value::Number(std::to_string(mysql_port)));
  SetMember(bi, "password", json::Value::String(""));
  SetMember(bi, "database", json::Value::String(database));
  json::Value* p = Member(Member(&root, "pipelines"), "dingtalk-payment");
  json::Value* src = Member(p, "source");
  SetMember(src, "lag_s", json::Value::Number("0"));
  SetMember(src, "initial_lookback_days", json::Value::Number(std::to_string(o.lookback_days)));
  json::Value* sink = Member(Member(p, "sinks"), "bi_mysql");
  SetMember(sink, "batch_rows", json::Value::Number(std::to_string(o.batch_rows)));
  SetMember(sink, "retry_for_s", json::Value::Number(std::to_string(o.retry_for_s)));
  SetMember(sink, "write_mode", json::Value::String(o.write_mode));
  if (!o.where.empty()) SetMember(sink, "where", json::Value::String(o.where));
  if (!o.table.empty()) SetMember(sink, "table", json::Value::String(o.table));
  if (!o.rules_json.empty()) SetMember(sink, "rules", *json::Parse(o.rules_json));
  json::Value* cols = Member(sink, "columns");
  for (const auto& [col, tmpl] : o.column_overrides) {
    SetMember(cols, col, json::Value::String(tmpl));
  }
  return json::Serialize(root);
}

using ExpectedRow = std::vector<std::optional<std::string>>;

// Column order of the SELECT the tests compare with.
inline const char* kPaymentColumns =
    "bfn_id, detail_index, department, purpose, estimated_payment_date, total_amount, "
    "payment_method, payee_name, payee_account, payee_bank, actual_payment_amount, "
    "details_of_purpose, other_expenses, amount, corresponding_subjects, create_time, "
    "finish_time, originator_userid, originator_dept_id, status, result, business_id, "
    "originator_dept_name, biz_action";

inline std::string LocalTime(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000 + 8 * 3600);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

inline std::string Money(const std::string& s) {  // "1,000.5" -> "1000.50"
  std::string digits;
  for (char c : s) {
    if (c != ',') digits.push_back(c);
  }
  size_t dot = digits.find('.');
  if (dot == std::string::npos) return digits + ".00";
  std::string frac = digits.substr(dot + 1);
  frac.resize(2, '0');
  return digits.substr(0, dot) + "." + frac;
}

inline std::string Cents(int64_t c) { return fmt::format("{}.{:02}", c / 100, c % 100); }

// bfn_id|detail_index -> the row payment_application_info must hold.
inline std::map<std::string, ExpectedRow> ExpectedPaymentRows(
    const std::vector<emulators::DingTalkInstance>& instances) {
  std::map<std::string, ExpectedRow> out;
  for (const auto& in : instances) {
    auto row = [&](int index, std::optional<std::string> amount,
                   std::optional<std::string> subject) {
      ExpectedRow r = {in.id,
                       std::to_string(index),
                       in.originator_dept_name,
                       in.purpose,
                       in.pay_date,
                       Money(in.total_amount),
                       in.pay_method,
                       in.payee_name,
                       in.payee_account,
                       in.bank,
                       Money(in.total_amount),
                       in.description,
                       Money(in.other_fee),
                       amount,
                       subject,
                       LocalTime(in.create_time_ms),
                       in.finish_time_ms ? std::optional<std::string>(LocalTime(in.finish_time_ms))
                                         : std::nullopt,
                       in.originator_userid,
                       in.originator_dept_id,
                       in.status,
                       in.result,
                       in.business_id,
                       in.originator_dept_name,
                       in.biz_action};
      out[in.id + "|" + std::to_string(index)] = r;
    };
    if (in.detail_rows.empty()) {
      row(0, std::nullopt, std::nullopt);
    }
    int i = 0;
    for (const auto& d : in.detail_rows) row(++i, Cents(d.amount_cents), d.subject);
  }
  return out;
}

}  // namespace stagesync::testing
