// What staging must hold for the Kingdee emulator's materials under seed 004 (its filter and
// FieldKeys), computed from the emulator's structs rather than its JSON. Header-only; used by
// the Kingdee fetch and crash tests.
#pragma once

#include <string>

#include "emulators/kingdee_emulator.h"
#include "stagesync/json.h"

namespace stagesync::testing {

// The seed's filter: FUseOrgId.fnumber='T00' and FDocumentStatus='C' and FForbidStatus='A'.
inline bool InSeed004Filter(const emulators::KingdeeMaterial& m) {
  return m.use_org == "T00" && m.document_status == "C" && m.forbid_status == "A";
}

// The staged record: the seed's FieldKeys as keys, Kingdee's types as values (base data null
// when empty), in canonical form.
inline std::string Seed004Record(const emulators::KingdeeMaterial& m) {
  json::Value v = json::Value::Object();
  auto str = [](const std::string& s) { return json::Value::String(s); };
  auto base = [&](const std::string& s) { return s.empty() ? json::Value() : str(s); };
  v.Add("FMasterId", json::Value::Number(std::to_string(m.master_id)));
  v.Add("FNumber", str(m.number));
  v.Add("FName", str(m.name));
  v.Add("FSpecification", str(m.specification));
  v.Add("F_ProductLine", str(m.product_line));
  v.Add("FMaterialGroup.FNumber", base(m.group_number));
  v.Add("FBaseUnitId.FNumber", base(m.base_unit));
  v.Add("FModifyDate", str(m.modify_date));
  return json::Canonical(v);
}

}  // namespace stagesync::testing
