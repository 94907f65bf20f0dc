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
  EXPECT_EQ(One("{{总额|decimal(0)}}", kDingTalk), "5001");
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
                       {"dept", "{{form:所属部门}}"},
                       {"amount", "{{row:金额|decimal(2)}}"},
                       {"subject", "{{row:对应科目}}"}},
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

Status MapError(const Mapping& m, const std::string& record) {
  auto v = json::Parse(record);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  std::vector<MappedRow> rows;
  return m.Map(*v, &rows);
}

// D15: a JSON boolean is not 1 under |json nor a 1970 date, and |int does not round.
TEST(MappingTest, FiltersDoNotTurnBooleansOrFractionsIntoWrongValues) {
  const char* rec = R"({"yes":true,"no":false,"half":1.5,"whole":"3.00","neg":"-7"})";
  EXPECT_EQ(One("{yes|json}", rec), "true");
  EXPECT_EQ(One("{no|json}", rec), "false");
  EXPECT_EQ(One("{yes}", rec), "1");  // a plain column still gets 1/0
  EXPECT_EQ(One("{whole|int}", rec), "3");
  EXPECT_EQ(One("{neg|int}", rec), "-7");
  for (const char* tmpl : {"{yes|datetime}", "{no|date}", "{yes|timestamp}", "{half|int}"}) {
    Mapping m = Compile({{"id", "{neg}"}, {"bad", tmpl}});
    Status s = MapError(m, rec);
    ASSERT_FALSE(s.ok()) << tmpl;
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("column bad"), std::string::npos) << s.message();
  }
  EXPECT_NE(MapError(Compile({{"c", "{half|int}"}}), rec).message().find("'1.5' is not an integer"),
            std::string::npos);
}

// E16: a row label and a form label of the same name never stand in for each other.
TEST(MappingTest, FlattenLabelsNameTheirLevelAndNeverFallBack) {
  // The form has a top-level 其他费用 and the detail table a 其他费用 column, filled in only
  // on the first row.
  const char* rec = R"({"id":"p1","form_component_values":[
    {"name":"其他费用","value":"999.00"},
    {"name":"费用明细","value":"[{\"rowValue\":[{\"label\":\"其他费用\",\"value\":\"5.00\"}]},{\"rowValue\":[{\"label\":\"金额\",\"value\":\"1\"}]}]"}]})";
  Mapping m = Compile({{"id", "{id}"},
                       {"row_fee", "{{row:其他费用}}"},
                       {"form_fee", "{{form:其他费用}}"},
                       {"expr", "_function coalesce({{row:其他费用}}, 'none')"}},
                      "{{费用明细}}");
  auto rows = Map(m, rec);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].cells[1], "5.00");
  EXPECT_EQ(rows[0].cells[2], "999.00");
  EXPECT_EQ(rows[1].cells[1], std::nullopt) << "a missing cell must not read the form's value";
  EXPECT_EQ(rows[1].cells[2], "999.00");
  EXPECT_EQ(rows[1].cells[3], "none");
  // Without a flatten, {{X}} and {{form:X}} read the form.
  EXPECT_EQ(One("{{form:其他费用}}", rec), "999.00");
  EXPECT_EQ(One("{{其他费用}}", rec), "999.00");

  struct Case {
    std::string tmpl, flatten, want;
  };
  for (const auto& c : std::vector<Case>{
           {"{{其他费用}}", "{{费用明细}}", "{{其他费用}} inside a flatten is ambiguous"},
           {"_function trim({{其他费用}})", "{{费用明细}}", "ambiguous: write {{row:其他费用}}"},
           {"{{row:其他费用}}", "", "names a row, but the mapping has no flatten"},
           {"{{row: }}", "{{费用明细}}", "empty label after 'row:'"}}) {
    MappingSpec spec;
    spec.columns = {{"col", c.tmpl}};
    spec.flatten = c.flatten;
    spec.path = "pipelines.p.sinks.s";
    auto bad = Mapping::Compile(spec);
    ASSERT_FALSE(bad.ok()) << c.tmpl;
    EXPECT_NE(bad.status().message().find("pipelines.p.sinks.s.columns.col: "), std::string::npos)
        << bad.status().message();
    EXPECT_NE(bad.status().message().find(c.want), std::string::npos) << bad.status().message();
  }
  // check's warning: 其他费用 exists at both levels of this record, 金额 only in a row.
  Mapping both = Compile({{"id", "{id}"},
                          {"other", "{{form:其他费用}}"},
                          {"row_other", "_function trim({{row:其他费用|trim}})"},
                          {"amount", "{{row:金额}}"}},
                         "{{费用明细}}");
  auto warnings = both.LabelsAtBothLevels(*json::Parse(rec));
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[0].find("columns.other: '其他费用' is both a form field and a column"),
            std::string::npos)
      << warnings[0];
  EXPECT_NE(warnings[0].find("{{form:其他费用}} reads the form's"), std::string::npos);
  EXPECT_NE(warnings[1].find("columns.row_other: '其他费用'"), std::string::npos) << warnings[1];
  EXPECT_TRUE(both.LabelsAtBothLevels(*json::Parse(kDingTalk)).empty());
  // Variables stay unscoped inside a flatten.
  MappingSpec vars;
  vars.columns = {{"t", "{{CURRENT_TIME}}"}, {"a", "{{row:金额}}"}};
  vars.flatten = "{{费用明细}}";
  EXPECT_TRUE(Mapping::Compile(vars).ok());
}

// E17: an empty or absent array gives one NULL row (default) or none (no_rows); {_row} counts
// from 1.
TEST(MappingTest, FlattenEmptyChoosesANullRowOrNoRows) {
  MappingSpec spec;
  spec.columns = {{"id", "{id}"}, {"row", "{_row}"}, {"sku", "{outerId}"}};
  spec.flatten = "{items}";
  spec.path = "pipelines.p.sinks.s";
  auto null_row = Mapping::Compile(spec);
  ASSERT_TRUE(null_row.ok());
  spec.flatten_empty = FlattenEmpty::kNoRows;
  auto no_rows = Mapping::Compile(spec);
  ASSERT_TRUE(no_rows.ok());
  EXPECT_NE(null_row->hash(), no_rows->hash()) << "the choice changes what a target holds";
  for (const char* rec : {R"({"id":1,"items":[]})", R"({"id":1})", R"({"id":1,"items":null})"}) {
    auto a = Map(*null_row, rec);
    ASSERT_EQ(a.size(), 1u) << rec;
    EXPECT_EQ(a[0].cells[1], "0");
    EXPECT_EQ(a[0].cells[2], std::nullopt);
    EXPECT_TRUE(Map(*no_rows, rec).empty()) << rec;
  }
  auto three = Map(*no_rows, R"({"id":1,"items":[{"outerId":"A"},{"outerId":"B"},{}]})");
  ASSERT_EQ(three.size(), 3u);
  EXPECT_EQ(three[0].cells[1], "1");
  EXPECT_EQ(three[2].cells[1], "3");
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
                                         {"{a[x]}", "bad array index"},
                                         {"{a[55555555555555555555]}", "too large"}}) {
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

namespace stagesync::transform {
namespace {

Cell Expr(const std::string& expr, const std::string& record = kDingTalk,
          const Variables* vars = nullptr) {
  MappingSpec spec;
  spec.columns = {{"c", "_function " + expr}};
  spec.lookups = {{"dept", {{"财务部", "FIN"}, {"研发部", "RND"}}}};
  spec.path = "p";
  auto m = Mapping::Compile(spec);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  if (!m.ok()) return "<compile error>";
  auto v = json::Parse(record);
  std::vector<MappedRow> rows;
  Status s = m->Map(*v, &rows, nullptr, vars);
  EXPECT_TRUE(s.ok()) << expr << ": " << s.ToString();
  return rows.empty() ? Cell("<no row>") : rows[0].cells[0];
}

TEST(ExpressionTest, SeedFunctionsAndArithmetic) {
  Variables vars = {{"LAST_SYNC_TIME", "1709255564"}, {"CURRENT_TIME", "1709259164"}};
  EXPECT_EQ(Expr("{LAST_SYNC_TIME}*1000", kDingTalk, &vars), "1709255564000");
  EXPECT_EQ(Expr("SUBTIME('{{LAST_SYNC_TIME|datetime}}', '00:30:01')", kDingTalk, &vars),
            "2024-03-01 08:42:43");
  EXPECT_EQ(Expr("ADDTIME('2024-03-01 23:59:59', '00:00:01')"), "2024-03-02 00:00:00");
  EXPECT_EQ(Expr("trim('{{收款人}}')"), "张三 😀");
  EXPECT_EQ(Expr("concat({status}, '-', {{所属部门}})"), "COMPLETED-财务部");
  EXPECT_EQ(Expr("substr('张三李四', 2, 2)"), "三李");  // characters, not bytes
  EXPECT_EQ(Expr("substr('abcdef', -2)"), "ef");
  EXPECT_EQ(Expr("replace('a-b-c', '-', '/')"), "a/b/c");
  EXPECT_EQ(Expr("if(status == 'COMPLETED', 'done', 'open')"), "done");
  EXPECT_EQ(Expr("ifnull({missing}, 'x')"), "x");
  EXPECT_EQ(Expr("coalesce({missing}, {nothing}, {{所属部门}})"), "财务部");
  EXPECT_EQ(Expr("lookup('dept', {{所属部门}})"), "FIN");
  EXPECT_EQ(Expr("lookup('dept', 'nope', 'OTHER')"), "OTHER");
  EXPECT_EQ(Expr("0.1 + 0.2"), "0.3");  // exact, no binary floating point
  EXPECT_EQ(Expr("'5,000.50' * 2"), "10001.00");
  EXPECT_EQ(Expr("10 / 4"), "2.5");
  EXPECT_EQ(Expr("1 / 3"), "0.3333333333");
  EXPECT_EQ(Expr("-{n} + 1"), "-11.50");
  EXPECT_EQ(Expr("{n} > 9 and not ({status} != 'COMPLETED')"), "1");
  EXPECT_EQ(Expr("'10' > '9'"), "1");  // numbers compare as numbers
  EXPECT_EQ(Expr("'b' > 'a' || false"), "1");
  EXPECT_EQ(Expr("decimal({{总额}}, 1)"), "5000.5");
  EXPECT_EQ(Expr("round(2.345, 2)"), "2.35");
  EXPECT_EQ(Expr("length({{收款人|trim}})"), "4");
  EXPECT_EQ(Expr("{missing} + 1"), std::nullopt);
}

TEST(ExpressionTest, CompileErrorsNameTheFunctionAndPosition) {
  struct Case {
    std::string expr, want;
  };
  for (const auto& c : std::vector<Case>{{"nosuch(1)", "unknown function nosuch() at position 11"},
                                         {"trim(1, 2)", "trim() takes 1 argument(s), got 2"},
                                         {"substr('a')", "substr() takes 2 to 3 argument(s)"},
                                         {"1 +", "expression ends too early"},
                                         {"(1 + 2", "missing ')'"},
                                         {"'abc", "unterminated string"},
                                         {"1 2", "unexpected '2'"},
                                         {"lookup('nope', 1)", "no table 'nope'"},
                                         {"trim('{a|bogus}')", "unknown filter |bogus"}}) {
    MappingSpec spec;
    spec.columns = {{"c", "_function " + c.expr}};
    spec.path = "pipelines.p.sinks.s";
    auto m = Mapping::Compile(spec);
    ASSERT_FALSE(m.ok()) << c.expr;
    EXPECT_NE(m.status().message().find("pipelines.p.sinks.s.columns.c: "), std::string::npos)
        << m.status().message();
    EXPECT_NE(m.status().message().find(c.want), std::string::npos) << m.status().message();
  }
}

TEST(ExpressionTest, RuntimeErrorsAndBoundedWork) {
  MappingSpec spec;
  spec.columns = {{"c", "_function {a} / {b}"}};
  spec.path = "p";
  auto m = Mapping::Compile(spec);
  ASSERT_TRUE(m.ok());
  std::vector<MappedRow> rows;
  auto v = json::Parse(R"({"a":1,"b":0})");
  Status s = m->Map(*v, &rows);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("column c: division by zero"), std::string::npos) << s.message();
  // Scales that would push the dividend past 128 bits are an error, not an overflow.
  auto huge = json::Parse(R"({"a":"999999999999999999","b":"0.0000000001"})");
  Status sh = m->Map(*huge, &rows);
  EXPECT_FALSE(sh.ok());
  EXPECT_NE(sh.message().find("number too large"), std::string::npos) << sh.message();
  // A replace that would blow a record up past the cap is an error, not a huge allocation.
  MappingSpec big;
  big.columns = {{"c", "_function replace(replace({s}, 'a', {s}), 'a', {s})"}};
  big.path = "p";
  auto mb = Mapping::Compile(big);
  ASSERT_TRUE(mb.ok());
  auto bv = json::Parse("{\"s\":\"" + std::string(2000, 'a') + "\"}");
  EXPECT_FALSE(mb->Map(*bv, &rows).ok());
  // An interval with too many ':' is an error (found by the fuzzer as an out-of-bounds write).
  MappingSpec iv;
  iv.columns = {{"c", "_function SUBTIME('2024-01-01 00:00:00', '00::0:1')"}};
  iv.path = "p";
  auto mi = Mapping::Compile(iv);
  ASSERT_TRUE(mi.ok());
  auto empty = json::Parse("{}");
  Status si = mi->Map(*empty, &rows);
  EXPECT_FALSE(si.ok());
  EXPECT_NE(si.message().find("is not HH:MM:SS"), std::string::npos) << si.message();
}

TEST(WhereTest, SelectsApprovedRequestsOnly) {
  MappingSpec spec;
  spec.columns = {{"id", "{process_instance_id}"}};
  spec.where = "status == 'COMPLETED' and result == 'agree'";
  spec.path = "p";
  auto m = Mapping::Compile(spec);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  for (auto [rec, pass] : std::vector<std::pair<std::string, bool>>{
           {R"({"process_instance_id":"a","status":"COMPLETED","result":"agree"})", true},
           {R"({"process_instance_id":"b","status":"COMPLETED","result":"refuse"})", false},
           {R"({"process_instance_id":"c","status":"RUNNING","result":""})", false}}) {
    std::vector<MappedRow> rows;
    MapVerdict verdict;
    ASSERT_TRUE(m->Map(*json::Parse(rec), &rows, &verdict).ok());
    EXPECT_EQ(rows.size(), pass ? 1u : 0u) << rec;
    EXPECT_EQ(verdict.filtered, !pass) << rec;
  }
}

TEST(RulesTest, EachRuleRejectsWithItsNameAndValue) {
  MappingSpec spec;
  spec.columns = {{"id", "{id}"},     {"amount", "{amount}"}, {"day", "{day}"},
                  {"name", "{name}"}, {"kind", "{kind}"},     {"code", "{code}"}};
  spec.rules["id"].required = true;
  spec.rules["amount"].type = "decimal(6,2)";
  spec.rules["amount"].min = "0";
  spec.rules["amount"].max = "5000";
  spec.rules["day"].type = "date";
  spec.rules["name"].type = "string(4)";
  spec.rules["kind"].allowed = {"A", "B"};
  spec.rules["code"].regex = "[A-Z]{3}[0-9]+";
  spec.path = "p";
  auto m = Mapping::Compile(spec);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const std::string good =
      R"({"id":1,"amount":"12.50","day":"2024-02-29","name":"张三李四","kind":"A","code":"FKD12"})";
  std::vector<MappedRow> rows;
  ASSERT_TRUE(m->Map(*json::Parse(good), &rows).ok());
  struct Case {
    std::string field, value, rule;
  };
  for (const auto& c : std::vector<Case>{{"id", "\"\"", "required:id"},
                                         {"amount", "\"12.505\"", "type:amount"},
                                         {"amount", "\"12345.00\"", "type:amount"},
                                         {"amount", "\"-1\"", "min:amount"},
                                         {"amount", "\"5000.01\"", "max:amount"},
                                         {"day", "\"2023-02-29\"", "type:day"},
                                         {"name", "\"张三李四王\"", "type:name"},
                                         {"kind", "\"C\"", "enum:kind"},
                                         {"code", "\"fkd12\"", "regex:code"}}) {
    auto v = json::Parse(good);
    for (auto& mem : v->mutable_members()) {
      if (mem.first == c.field) mem.second = *json::Parse(c.value);
    }
    MapVerdict verdict;
    Status s = m->Map(*v, &rows, &verdict);
    ASSERT_FALSE(s.ok()) << c.field << "=" << c.value;
    EXPECT_EQ(verdict.rule, c.rule) << s.message();
    EXPECT_NE(s.message().find("column " + c.field), std::string::npos) << s.message();
  }
  MappingSpec bad = spec;
  bad.rules["nosuch"].required = true;
  EXPECT_FALSE(Mapping::Compile(bad).ok());
  MappingSpec badre = spec;
  badre.rules["code"].regex = "([";
  EXPECT_FALSE(Mapping::Compile(badre).ok());
}

}  // namespace
}  // namespace stagesync::transform
