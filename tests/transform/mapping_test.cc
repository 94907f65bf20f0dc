#include <gtest/gtest.h>

#include "stagesync/transform.h"

namespace stagesync::transform {
namespace {

Mapping Compile(std::vector<std::pair<std::string, std::string>> cols, std::string flatten = "",
                std::string tz = "Asia/Shanghai") {
  MappingSpec spec;
  spec.columns = std::move(cols);
  spec.flatten = std::move(flatten);
  spec.time_zone = std::move(tz);
  spec.path = "pipelines.p.sinks.s";
  auto m = Mapping::Compile(spec);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return std::move(m).value();
}

std::vector<MappedRow> Map(const Mapping& m, const std::string& record) {
  auto v = json::Parse(record);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  std::vector<MappedRow> rows;
  Status s = m.Map(*v, &rows);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return rows;
}

Cell One(const std::string& tmpl, const std::string& record, std::string tz = "Asia/Shanghai") {
  Mapping m = Compile({{"c", tmpl}}, "", tz);
  auto rows = Map(m, record);
  return rows.empty() ? Cell("<no row>") : rows[0].cells[0];
}

const char* kDingTalk = R"({
  "process_instance_id": "pi-1", "create_time": "2024-03-01 09:12:44", "status": "COMPLETED",
  "finish_ms": 1709255564000, "finish_s": 1709255564, "nested": {"a": [{"b": "deep"}]},
  "n": 12.50, "empty": "", "nothing": null,
  "form_component_values": [
    {"name": "所属部门", "value": "财务部"},
    {"name": "总额", "value": "5,000.505"},
    {"name": "收款人", "value": "  张三 😀 "},
    {"name": "费用明细", "value": "[{\"rowNumber\":\"r1\",\"rowValue\":[{\"label\":\"金额\",\"value\":\"100.00\"},{\"label\":\"对应科目\",\"value\":\"办公费\"}]},{\"rowNumber\":\"r2\",\"rowValue\":[{\"label\":\"金额\",\"value\":\"23.5\"},{\"label\":\"对应科目\",\"value\":\"差旅费\"}]}]"}
  ]})";

TEST(MappingTest, PathsLabelsLiteralsAndNull) {
  EXPECT_EQ(One("{process_instance_id}", kDingTalk), "pi-1");
  EXPECT_EQ(One("{nested.a[0].b}", kDingTalk), "deep");
  EXPECT_EQ(One("{{所属部门}}", kDingTalk), "财务部");
  EXPECT_EQ(One("dept={{所属部门}}/{status}", kDingTalk), "dept=财务部/COMPLETED");
  EXPECT_EQ(One("{n}", kDingTalk), "12.50");  // numbers keep their text
  EXPECT_EQ(One("{missing}", kDingTalk), std::nullopt);
  EXPECT_EQ(One("{nothing}", kDingTalk), std::nullopt);
  EXPECT_EQ(One("a{missing}b", kDingTalk), "ab");
  EXPECT_EQ(One("constant", kDingTalk), "constant");
}

TEST(MappingTest, Filters) {
  EXPECT_EQ(One("{create_time|datetime}", kDingTalk), "2024-03-01 09:12:44");
  EXPECT_EQ(One("{create_time|date}", kDingTalk), "2024-03-01");
  EXPECT_EQ(One("{finish_ms|datetime}", kDingTalk), "2024-03-01 09:12:44");  // +08:00
  EXPECT_EQ(One("{finish_s|datetime}", kDingTalk), "2024-03-01 09:12:44");
  EXPECT_EQ(One("{finish_ms|datetime}", kDingTalk, "UTC"), "2024-03-01 01:12:44");
  EXPECT_EQ(One("{create_time|timestamp}", kDingTalk), "1709255564");
  EXPECT_EQ(One("{create_time|timestamp_ms}", kDingTalk), "1709255564000");
  EXPECT_EQ(One("{{总额|decimal(2)}}", kDingTalk), "5000.51");  // exact, half away from zero
  EXPECT_EQ(One("{{总额|decimal}}", kDingTalk), "5000.505");
  EXPECT_EQ(One("{{总额|int}}", kDingTalk), "5001");
  EXPECT_EQ(One("{{收款人|trim}}", kDingTalk), "张三 😀");
  EXPECT_EQ(One("{status|lower}", kDingTalk), "completed");
  EXPECT_EQ(One("{empty|default(none)}", kDingTalk), "none");
  EXPECT_EQ(One("{missing|default('a b')}", kDingTalk), "a b");
  EXPECT_EQ(One("{empty|datetime}", kDingTalk), std::nullopt);
  EXPECT_EQ(One("{nested|json}", kDingTalk), R"({"a":[{"b":"deep"}]})");
}

TEST(MappingTest, DatesWithZonesAndKingdeeFormat) {
  const char* rec =
      R"({"k":"2024-01-02T03:04:05","z":"2024-01-01T20:00:00Z","o":"2024-01-01T20:00:00+09:00"})";
  EXPECT_EQ(One("{k|datetime}", rec), "2024-01-02 03:04:05");
  EXPECT_EQ(One("{z|datetime}", rec), "2024-01-02 04:00:00");
  EXPECT_EQ(One("{o|datetime}", rec), "2024-01-01 19:00:00");
}

TEST(MappingTest, FlattenGivesOneRowPerDetailWithParentFields) {
  Mapping m = Compile({{"id", "{process_instance_id}"},
                       {"row", "{_row}"},
                       {"dept", "{{所属部门}}"},
                       {"amount", "{{金额|decimal(2)}}"},
                       {"subject", "{{对应科目}}"}},
                      "{{费用明细}}");
  auto rows = Map(m, kDingTalk);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].cells[1], "1");
  EXPECT_EQ(rows[0].cells[2], "财务部");
  EXPECT_EQ(rows[0].cells[3], "100.00");
  EXPECT_EQ(rows[1].cells[3], "23.50");
  EXPECT_EQ(rows[1].cells[4], "差旅费");
  // No detail rows: still one row, detail columns NULL.
  auto none = Map(
      m,
      R"({"process_instance_id":"x","form_component_values":[{"name":"费用明细","value":"[]"}]})");
  ASSERT_EQ(none.size(), 1u);
  EXPECT_EQ(none[0].cells[1], "0");
  EXPECT_EQ(none[0].cells[3], std::nullopt);
  // A plain JSON array under a path (Kuaimai items).
  Mapping items = Compile({{"id", "{id}"}, {"sku", "{outerId}"}}, "{items}");
  auto ir = Map(items, R"({"id":7,"items":[{"outerId":"A"},{"outerId":"B"}]})");
  ASSERT_EQ(ir.size(), 2u);
  EXPECT_EQ(ir[1].cells[1], "B");
  EXPECT_EQ(ir[1].cells[0], "7");
}

TEST(MappingTest, BadValuesNameTheColumn) {
  Mapping m = Compile({{"id", "{id}"}, {"when", "{t|datetime}"}});
  auto v = json::Parse(R"({"id":1,"t":"yesterday"})");
  std::vector<MappedRow> rows;
  Status s = m.Map(*v, &rows);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("column when"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("yesterday"), std::string::npos) << s.message();
  Mapping d = Compile({{"amt", "{x|decimal(2)}"}});
  auto v2 = json::Parse(R"({"x":"12a"})");
  EXPECT_FALSE(d.Map(*v2, &rows).ok());
}

TEST(MappingTest, CompileErrorsNamePathAndPosition) {
  struct Case {
    std::string tmpl, want;
  };
  for (const auto& c : std::vector<Case>{{"{a", "unterminated '{' at position 1"},
                                         {"x {{b}", "unterminated '{{' at position 3"},
                                         {"{a|nosuch}", "unknown filter |nosuch"},
                                         {"{a|decimal(x)}", "|decimal(N) needs a scale"},
                                         {"{a|default}", "filter |default takes 1 argument"},
                                         {"a}", "unexpected '}' at position 2"},
                                         {"{a[x]}", "bad array index"}}) {
    MappingSpec spec;
    spec.columns = {{"col", c.tmpl}};
    spec.path = "pipelines.p.sinks.s";
    auto m = Mapping::Compile(spec);
    ASSERT_FALSE(m.ok()) << c.tmpl;
    EXPECT_NE(m.status().message().find("pipelines.p.sinks.s.columns.col: "), std::string::npos)
        << m.status().message();
    EXPECT_NE(m.status().message().find(c.want), std::string::npos) << m.status().message();
  }
  MappingSpec tz;
  tz.columns = {{"c", "{a}"}};
  tz.time_zone = "Mars/Olympus";
  EXPECT_FALSE(Mapping::Compile(tz).ok());
}

TEST(MappingTest, HashChangesWithTheMapping) {
  EXPECT_EQ(Compile({{"a", "{x}"}}).hash(), Compile({{"a", "{x}"}}).hash());
  EXPECT_NE(Compile({{"a", "{x}"}}).hash(), Compile({{"a", "{y}"}}).hash());
  EXPECT_NE(Compile({{"a", "{x}"}}).hash(), Compile({{"a", "{x}"}}, "", "UTC").hash());
}

}  // namespace
}  // namespace stagesync::transform
