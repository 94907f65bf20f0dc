// libFuzzer target: arbitrary bytes as a source record. Parsing, canonical hashing and the seed
// 000 mapping (labels, a flattened detail table holding JSON in a string, dates, decimals) must
// never crash, hang or read out of bounds, whatever the vendor sends.
#include <cstddef>
#include <cstdint>
#include <string>

#include "stagesync/hash.h"
#include "stagesync/json.h"
#include "stagesync/transform.h"

namespace {

const stagesync::transform::Mapping& Seed000() {
  static const stagesync::transform::Mapping* m = [] {
    stagesync::transform::MappingSpec spec;
    spec.columns = {{"bfn_id", "{process_instance_id}"},
                    {"row", "{_row}"},
                    {"department", "{{form:所属部门}}"},
                    {"total", "{{form:总额|decimal(2)}}"},
                    {"amount", "{{row:金额|decimal(2)}}"},
                    {"subject", "{{row:对应科目|trim}}"},
                    {"date", "{{form:预计付款日期|date}}"},
                    {"created", "{create_time|datetime}"},
                    {"finished", "{finish_time|datetime}"},
                    {"first", "{a[0].b}"},
                    {"expr",
                     "_function if({status} == 'COMPLETED', concat({result}, '!'), "
                     "substr({title}, 2, 3))"}};
    spec.flatten = "{{费用明细}}";
    spec.where = "status != 'X' or result == ''";
    spec.rules["bfn_id"].required = true;
    spec.rules["total"].type = "decimal(18,2)";
    spec.path = "fuzz";
    return new stagesync::transform::Mapping(
        std::move(stagesync::transform::Mapping::Compile(spec)).value());
  }();
  return *m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto v = stagesync::json::Parse(text);
  if (!v.ok()) return 0;
  std::string canonical = stagesync::json::Canonical(*v);
  // Canonical form is a fixed point: parsing it again gives the same bytes and hash.
  auto again = stagesync::json::Parse(canonical);
  if (!again.ok() || stagesync::json::Canonical(*again) != canonical) __builtin_trap();
  (void)stagesync::HashBytes(canonical);
  std::vector<stagesync::transform::MappedRow> rows;
  (void)Seed000().Map(*v, &rows);
  return 0;
}
