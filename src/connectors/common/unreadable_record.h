// UnreadableRecord: what a source stages for one record of a page that could not be read.
// A page used to be parsed as one document, so one record with invalid UTF-8, a lone "\ud800"
// escape or nesting deeper than 64 failed the whole page on every run: no record named,
// nothing quarantined, the watermark stuck. Pages are now parsed with isolation (see
// connectors::PageParseOptions); such a record arrives as a json::Value::Invalid item and becomes a
// fetch failure (quarantined with its raw bytes and its place in the page) while the rest of
// the page is staged. Used by every source. Stateless and thread-safe.
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

#include "connectors/common/page_pass.h"
#include "stagesync/json.h"
#include "stagesync/source.h"
#include "stagesync/stage.h"

namespace stagesync::source {

// Raw bytes kept in the quarantine for one unreadable record.
inline constexpr size_t kUnreadablePayloadBytes = 64 * 1024;

// The record's id read leniently from its raw bytes (bad bytes become U+FFFD), as an object's
// member `field` or, for a row (an array), its item `index`. Empty when it cannot be found.
inline std::string UnreadableId(const json::Value& invalid, std::string_view field,
                                size_t index = 0) {
  json::ParseOptions lossy;
  lossy.lossy = true;
  auto v = json::Parse(invalid.invalid_raw(), lossy);
  if (!v.ok()) return "";
  const json::Value* id = nullptr;
  if (v->is_object()) id = v->Find(field);
  if (v->is_array() && index < v->items().size()) id = &v->items()[index];
  if (id == nullptr || !(id->is_string() || id->is_number())) return "";
  return id->text();
}

// The id to quarantine under when the record's own id cannot be read: names the page and the
// place in it, and starts with '(' so no source mistakes it for a real id.
inline std::string UnreadablePlaceholderId(std::string_view what, size_t position) {
  return fmt::format("(unreadable: {} item {})", what, position);
}
inline bool IsUnreadablePlaceholderId(std::string_view id) {
  return id.rfind("(unreadable: ", 0) == 0;
}

// The fetch failure for an unreadable record: `id` (maybe a placeholder), its position in the
// page, why it could not be read and its raw bytes.
// `what` names the page (it starts with "pipeline P: "); `position` is 0-based.
inline stage::FetchFailure UnreadableRecord(std::string_view what, size_t position,
                                            const std::string& id, const json::Value& invalid) {
  return {id,
          fmt::format("{}, item {}: record {} is unreadable ({}); quarantined with its raw bytes, "
                      "the rest of the page is staged",
                      what, position, id, invalid.invalid_error()),
          invalid.invalid_raw().substr(0, kUnreadablePayloadBytes)};
}

// Parks item `position` of a page-number pass that could not be read: its id (read leniently,
// else a placeholder) still counts toward the pass's total, and the record goes to quarantine.
inline void ParkUnreadableItem(std::string_view what, size_t position, const json::Value& invalid,
                               std::string_view id_field, PagePass* pass, SourcePage* page) {
  std::string id = UnreadableId(invalid, id_field);
  if (id.empty()) id = UnreadablePlaceholderId(what, position);
  pass->AddId(id);
  page->failures.push_back(UnreadableRecord(what, position, id, invalid));
}

}  // namespace stagesync::source
