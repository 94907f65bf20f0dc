// Synthetic DingTalk payment requests shaped like the emulator's (seed 000 form), for the
// apply and mapping benchmarks. Deterministic for a given generator state.
#pragma once

#include <fmt/format.h>

#include <random>
#include <string>

#include "stagesync/json.h"

namespace stagesync::bench {

inline std::string PaymentRequest(int i, std::mt19937_64& rng) {
  static const char* kDept[] = {"财务部", "行政部", "研发部", "市场部"};
  static const char* kSubject[] = {"办公费", "差旅费", "租赁费", "维修费"};
  int rows = 1 + static_cast<int>(rng() % 4);
  std::string table = "[";
  int64_t total = 0;
  for (int r = 0; r < rows; ++r) {
    int64_t cents = 1000 + static_cast<int64_t>(rng() % 900000);
    total += cents;
    table += fmt::format(
        "{}{{\"rowNumber\":\"TableField_1_{}\",\"rowValue\":[{{\"label\":\"金额\",\"value\":"
        "\"{}.{:02}\",\"key\":\"MoneyField_2\"}},{{\"label\":\"对应科目\",\"value\":\"{}\","
        "\"key\":\"TextField_3\"}},{{\"label\":\"明细说明\",\"value\":\"第{}行\",\"key\":"
        "\"TextField_4\"}}]}}",
        r ? "," : "", r, cents / 100, cents % 100, kSubject[rng() % 4], r + 1);
  }
  table += "]";
  std::string money = fmt::format("{}.{:02}", total / 100, total % 100);
  json::Value form = json::Value::Array();
  auto comp = [&](const char* name, std::string value) {
    json::Value c = json::Value::Object();
    c.Add("name", json::Value::String(name));
    c.Add("value", json::Value::String(std::move(value)));
    form.Push(std::move(c));
  };
  comp("所属部门", kDept[rng() % 4]);
  comp("用途", "采购办公用品");
  comp("预计付款日期", "2026-11-23");
  comp("总额", money);
  comp("付款方式", "银行转账");
  comp("收款人姓名", "北京创联广告有限公司");
  comp("收款账号", "6257637544979626568");
  comp("开户行", "中国农业银行北京朝阳支行");
  comp("实际付款金额", money);
  comp("用途说明", "季度办公用品采购，含打印纸与墨盒");
  comp("其他费用", "1,000.50");
  comp("费用明细", table);
  json::Value rec = json::Value::Object();
  rec.Add("process_instance_id", json::Value::String(fmt::format("pi-{:08}", i)));
  rec.Add("title", json::Value::String("张三提交的付款申请"));
  rec.Add("create_time", json::Value::String("2026-11-01 09:12:44"));
  rec.Add("finish_time", json::Value::String("2026-11-02 10:00:01"));
  rec.Add("originator_userid", json::Value::String("manager7"));
  rec.Add("originator_dept_id", json::Value::String("1"));
  rec.Add("originator_dept_name", json::Value::String("财务部"));
  rec.Add("status", json::Value::String("COMPLETED"));
  rec.Add("result", json::Value::String("agree"));
  rec.Add("business_id", json::Value::String(fmt::format("2026110109120{:08}", i)));
  rec.Add("biz_action", json::Value::String("NONE"));
  rec.Add("form_component_values", std::move(form));
  return json::Canonical(rec);
}

}  // namespace stagesync::bench
