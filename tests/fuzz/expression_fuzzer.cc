// libFuzzer target: any text as a mapping template or `_function` expression (and as a where
// expression) must compile or fail cleanly, and evaluate against a record without crashing,
// hanging or growing without bound.
#include <cstddef>
#include <cstdint>
#include <string>

#include "stagesync/json.h"
#include "stagesync/transform.h"

namespace {

const stagesync::json::Value& Record() {
  static const stagesync::json::Value* rec = [] {
    auto v =
        stagesync::json::Parse(R"({"id":"pi-1","n":12.5,"s":"  张三 😀 ","t":"2024-03-01 09:12:44",
      "a":[{"b":1},{"b":"x"}],"z":null,"form_component_values":[{"name":"总额","value":"5,000.50"},
      {"name":"明细","value":"[{\"rowValue\":[{\"label\":\"金额\",\"value\":\"1\"}]}]"}]})");
    return new stagesync::json::Value(std::move(v).value());
  }();
  return *rec;
}

void Try(const std::string& tmpl, const std::string& where, const std::string& flatten) {
  stagesync::transform::MappingSpec spec;
  spec.columns = {{"c", tmpl}};
  spec.where = where;
  spec.flatten = flatten;
  spec.lookups = {{"t", {{"a", "b"}}}};
  spec.path = "fuzz";
  auto m = stagesync::transform::Mapping::Compile(spec);
  if (!m.ok()) return;
  stagesync::transform::Variables vars = {{"LAST_SYNC_TIME", "1709255564"},
                                          {"CURRENT_TIME", "1709259164"}};
  std::vector<stagesync::transform::MappedRow> rows;
  stagesync::transform::MapVerdict verdict;
  (void)m->Map(Record(), &rows, &verdict, &vars);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  std::string text(reinterpret_cast<const char*>(data), size);
  Try(text, "", "");
  Try("_function " + text, "", "");
  Try("{id}", text, "");
  Try("{{金额}}", "", "{{明细}}");
  return 0;
}
