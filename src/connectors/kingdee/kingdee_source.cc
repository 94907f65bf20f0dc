#include "connectors/kingdee/kingdee_source.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>

#include "connectors/common/unreadable_record.h"
#include "stagesync/transform.h"

namespace stagesync::source::kingdee {

namespace {

constexpr int kMaxLimit = 2000;  // older K3Cloud versions cap Limit at 2000 [V:K1]
constexpr size_t kIdsPerQuery = 200;
constexpr std::string_view kLastFullScanState = "kingdee.last_full_scan_ms";

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

// Only {{VARIABLE}} parts and _function expressions are templates here: a FilterString has no
// record to read `{path}` from, and literal text must reach Kingdee untouched.
bool IsTemplate(std::string_view s) {
  return s.find("{{") != std::string_view::npos || s.rfind("_function", 0) == 0;
}

// The id as a FilterString literal: numbers as they are, strings quoted ('' doubles a quote).
std::string Literal(const json::Value& v) {
  if (v.is_number()) return v.text();
  std::string out = "'";
  for (char c : v.text()) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  return out + "'";
}

std::string IdOf(const json::Value& v) {
  if (v.is_number() || v.is_string()) return v.text();
  return "";
}

std::string And(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return "(" + a + ") AND (" + b + ")";
}

Status ReadFieldKeys(const config::OptionReader& r, SourceOptions* o) {
  const std::string keys = r.String("field_keys");
  size_t pos = 0;
  while (pos <= keys.size()) {
    size_t comma = keys.find(',', pos);
    if (comma == std::string::npos) comma = keys.size();
    std::string k = Trim(std::string_view(keys).substr(pos, comma - pos));
    if (k.empty()) return InvalidArgument(r.PathOf("field_keys") + ": empty field key");
    for (const auto& prev : o->field_keys) {
      if (IEquals(prev, k)) return InvalidArgument(r.PathOf("field_keys") + ": '" + k + "' twice");
    }
    o->field_keys.push_back(std::move(k));
    pos = comma + 1;
  }
  return Status::Ok();
}

Status ReadIdField(const config::OptionReader& r, SourceOptions* o) {
  o->id_field = r.String("id_field", o->field_keys.front());
  bool found = false;
  for (size_t i = 0; i < o->field_keys.size(); ++i) {
    if (IEquals(o->field_keys[i], o->id_field)) {
      o->id_index = i;
      found = true;
    }
  }
  if (!found) return InvalidArgument(r.PathOf("id_field") + ": not one of field_keys");
  o->id_field = o->field_keys[o->id_index];
  return Status::Ok();
}

// paging and order_by (after id_field: offset paging orders by it by default).
Status ReadPaging(const config::OptionReader& r, SourceOptions* o) {
  const std::string paging = r.String("paging", "offset");
  if (paging == "keyset") {
    o->paging = Paging::kKeyset;
    if (r.Get("order_by") != nullptr) {
      return InvalidArgument(r.PathOf("order_by") +
                             ": keyset paging always orders by id_field; remove order_by");
    }
  } else if (paging != "offset") {
    return InvalidArgument(r.PathOf("paging") + ": must be offset or keyset");
  }
  o->order_by = r.String("order_by", o->id_field + " ASC");
  return Status::Ok();
}

}  // namespace

const config::OptionTable<SourceOptions>& SourceOptionTable() {
  using O = SourceOptions;
  static const config::OptionTable<O> kTable =
      config::OptionTable<O>()
          .Required("form_id", &O::form_id, "business object, e.g. BD_MATERIAL")
          .Custom("field_keys", config::OptionType::kString, true, "",
                  "comma list; each becomes a field of the staged record", ReadFieldKeys)
          .Str("filter", &O::filter, "",
               "FilterString; may use {{LAST_SYNC_TIME|datetime}} / {{CURRENT_TIME|datetime}}")
          .Str("incremental_filter", &O::incremental_filter, "",
               "AND-ed to filter once a watermark exists, e.g. FModifyDate >= "
               "'{{LAST_SYNC_TIME|datetime}}'")
          .Custom("id_field", config::OptionType::kString, false, "(first field key)",
                  "unique key among field_keys: the staged record id", ReadIdField)
          .Custom("order_by", config::OptionType::kString, false, "(id_field) ASC",
                  "OrderString for offset paging; must be unique", nullptr)
          .Custom("paging", config::OptionType::kString, false, "offset",
                  "offset (StartRow/Limit) | keyset (id_field > last)", ReadPaging)
          .Int("limit", &O::limit, kMaxLimit, 1, kMaxLimit, "rows per page (the safe maximum)")
          .Custom("deletes", config::OptionType::kString, false, "none",
                  "none | sweep: after a complete scan, tombstone staged records not seen",
                  [](const config::OptionReader& r, O* o) -> Status {
                    const std::string deletes = r.String("deletes", "none");
                    if (deletes != "none" && deletes != "sweep") {
                      return InvalidArgument(r.PathOf("deletes") + ": must be none or sweep");
                    }
                    o->sweep = deletes == "sweep";
                    return Status::Ok();
                  })
          .Num("sweep_max_fraction", &O::sweep_max_fraction, 0.5, 0.001, 1,
               "a sweep removing more of the staged records than this stops instead (1 = no "
               "limit)")
          .Int("overlap_s", &O::overlap_ms, 300, 0, 365 * 86400,
               "LAST_SYNC_TIME = watermark minus this", 1000)
          .Int("full_scan_every_s", &O::full_scan_every_ms, 0, 0, 365 * 86400,
               "with incremental_filter: scan fully (and sweep) this often; 0 = first fetch only",
               1000)
          .Check([](const config::OptionReader& r, O* o) -> Status {
            // Templates compile now, so a typo fails `check` rather than the first fetch.
            const transform::Variables vars = {{"LAST_SYNC_TIME", "0"}, {"CURRENT_TIME", "0"}};
            for (const char* name : {"filter", "incremental_filter"}) {
              const std::string t = r.String(name);
              if (!IsTemplate(t)) continue;
              auto v = transform::EvaluateOnce(t, json::Value::Object(), vars, o->time_zone,
                                               r.PathOf(name));
              if (!v.ok()) return v.status();
            }
            return Status::Ok();
          });
  return kTable;
}

Result<SourceOptions> ReadSourceOptions(const config::PipelineConfig& p) {
  SourceOptions base;
  base.time_zone = p.time_zone;
  return SourceOptionTable().Read(p.source.options, p.source.path, std::move(base));
}

KingdeeSource::KingdeeSource(std::string pipeline, SourceOptions opts,
                             std::shared_ptr<KingdeeClient> client, Clock* clock, SourceState state)
    : pipeline_(std::move(pipeline)),
      opts_(std::move(opts)),
      client_(std::move(client)),
      clock_(clock),
      state_(std::move(state)) {
  for (const auto& k : opts_.field_keys) {
    if (!field_keys_text_.empty()) field_keys_text_ += ",";
    field_keys_text_ += k;
  }
}

Result<std::string> KingdeeSource::Evaluate(const std::string& tmpl, int64_t last_sync_s,
                                            int64_t now_s, const std::string& option) const {
  if (!IsTemplate(tmpl)) return tmpl;
  const transform::Variables vars = {{"LAST_SYNC_TIME", std::to_string(last_sync_s)},
                                     {"CURRENT_TIME", std::to_string(now_s)}};
  SS_ASSIGN_OR_RETURN(transform::Cell v,
                      transform::EvaluateOnce(tmpl, json::Value::Object(), vars, opts_.time_zone,
                                              "pipeline " + pipeline_ + ": " + option));
  return v.value_or("");
}

json::Value KingdeeSource::QueryData(const std::string& keys, const std::string& filter,
                                     const std::string& order, int64_t start_row,
                                     int64_t limit) const {
  json::Value d = json::Value::Object();
  d.Add("FormId", json::Value::String(opts_.form_id));
  d.Add("FieldKeys", json::Value::String(keys));
  d.Add("FilterString", json::Value::String(filter));
  d.Add("OrderString", json::Value::String(order));
  d.Add("TopRowCount", json::Value::Number("0"));
  d.Add("StartRow", json::Value::Number(std::to_string(start_row)));
  d.Add("Limit", json::Value::Number(std::to_string(limit)));
  d.Add("SubSystemId", json::Value::String(""));
  return d;
}

Status KingdeeSource::RowsToPage(const std::vector<json::Value>& rows,
                                 const std::vector<std::string>& failed, const std::string& what,
                                 SourcePage* page, std::vector<std::string>* ids) {
  // Content per id within this page: a repeated id with other content means id_field is not
  // unique (entry fields repeat the header per entry [I]), and keyset paging would lose rows.
  std::map<std::string, std::string> in_page;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].is_invalid()) {
      std::string id = UnreadableId(rows[i], "", opts_.id_index);
      if (id.empty()) id = UnreadablePlaceholderId(what, i);
      ids->push_back(id);
      page->failures.push_back(UnreadableRecord(what, i, id, rows[i]));
      continue;
    }
    const auto& row = rows[i].items();
    if (row.size() <= opts_.id_index) {
      return InvalidArgument(fmt::format(
          "pipeline {}: ExecuteBillQuery row {} has {} values for {} FieldKeys and no {}",
          pipeline_, i, row.size(), opts_.field_keys.size(), opts_.id_field));
    }
    std::string id = IdOf(row[opts_.id_index]);
    if (id.empty()) {
      return InvalidArgument(
          fmt::format("pipeline {}: a row has no {} (id_field must be a non-empty unique key)",
                      pipeline_, opts_.id_field));
    }
    numeric_ids_ = row[opts_.id_index].is_number();
    ids->push_back(id);
    const bool was_failed = std::binary_search(failed.begin(), failed.end(), id);
    if (row.size() != opts_.field_keys.size()) {
      page->failures.push_back(
          {id,
           fmt::format("pipeline {}, record {}, field {}: the row has {} values for {} FieldKeys",
                       pipeline_, id, opts_.field_keys.back(), row.size(), opts_.field_keys.size()),
           json::Serialize(rows[i]).substr(0, 4096)});
      continue;
    }
    json::Value rec = json::Value::Object();
    for (size_t k = 0; k < row.size(); ++k) rec.Add(opts_.field_keys[k], row[k]);
    std::string canonical = json::Canonical(rec);
    auto [it, inserted] = in_page.emplace(id, canonical);
    if (!inserted) {
      if (it->second == canonical) continue;  // the same row twice: harmless
      return FailedPrecondition(fmt::format(
          "pipeline {}: {} {} comes back in two different rows: id_field must be unique "
          "(are entry fields among field_keys?)",
          pipeline_, opts_.id_field, id));
    }
    if (was_failed) page->failures_cleared.push_back(id);
    page->records.push_back({std::move(id), std::move(rec), false});
  }
  return Status::Ok();
}

Status KingdeeSource::Scan(const std::string& where, std::optional<int64_t> watermark,
                           const std::vector<std::string>& failed, PageSink* sink,
                           std::vector<std::string>* seen) {
  const bool keyset = opts_.paging == Paging::kKeyset;
  const std::string order = keyset ? opts_.id_field + " ASC" : opts_.order_by;
  int64_t start_row = 0;
  std::optional<json::Value> last_id;  // keyset position
  std::string prev_first, prev_last;
  for (int64_t page_no = 1;; ++page_no) {
    std::string filter = where;
    if (keyset && last_id) filter = And(where, opts_.id_field + " > " + Literal(*last_id));
    const std::string what =
        keyset ? fmt::format("pipeline {}: ExecuteBillQuery {} page {} ({} > {})", pipeline_,
                             opts_.form_id, page_no, opts_.id_field,
                             last_id ? last_id->text() : "start")
               : fmt::format("pipeline {}: ExecuteBillQuery {} page {} (StartRow {})", pipeline_,
                             opts_.form_id, page_no, start_row);
    SS_ASSIGN_OR_RETURN(
        std::vector<json::Value> rows,
        client_->ExecuteBillQuery(
            QueryData(field_keys_text_, filter, order, keyset ? 0 : start_row, opts_.limit), what));
    SourcePage page;
    std::vector<std::string> ids;
    SS_RETURN_IF_ERROR(RowsToPage(rows, failed, what, &page, &ids));
    // A server that ignores StartRow or the keyset filter would serve the same page forever.
    if (!ids.empty()) {
      if (ids.front() == prev_first && ids.back() == prev_last) {
        return FailedPrecondition(what + ": the same page came back twice; paging does not " +
                                  "advance (is the id_field/order_by unique?)");
      }
      prev_first = ids.front();
      prev_last = ids.back();
    }
    seen->insert(seen->end(), ids.begin(), ids.end());
    const bool last = static_cast<int64_t>(rows.size()) < opts_.limit;
    if (last && watermark) {
      page.watermark = *watermark;
      page.ends_window = true;
    }
    SS_RETURN_IF_ERROR(sink->Write(std::move(page)));
    if (last) return Status::Ok();
    if (keyset && rows.back().is_invalid()) {
      // An unreadable last row: its id, read leniently, is the keyset position.
      if (IsUnreadablePlaceholderId(ids.back())) {
        return FailedPrecondition(what + ": the last row is unreadable and so is its " +
                                  opts_.id_field + "; keyset paging cannot go past it (it is " +
                                  "quarantined; fix it at the source or use offset paging)");
      }
      last_id = numeric_ids_.value_or(false) ? json::Value::Number(ids.back())
                                             : json::Value::String(ids.back());
    } else if (keyset) {
      last_id = rows.back().items()[opts_.id_index];
    } else {
      start_row += static_cast<int64_t>(rows.size());
    }
  }
}

Result<std::vector<json::Value>> KingdeeSource::QueryByIds(const std::vector<std::string>& ids,
                                                           const std::string& keys) {
  std::vector<json::Value> out;
  for (size_t i = 0; i < ids.size(); i += kIdsPerQuery) {
    std::string in;
    for (size_t k = i; k < std::min(ids.size(), i + kIdsPerQuery); ++k) {
      if (!in.empty()) in += ",";
      // Ids read back from staging are text: numbers again when Kingdee served them as numbers
      // (or, before any row was seen, when they are all digits), quoted strings otherwise.
      const bool digits = !ids[k].empty() && std::all_of(ids[k].begin(), ids[k].end(), [](char c) {
        return c >= '0' && c <= '9';
      });
      const bool number = numeric_ids_.value_or(digits) && digits;
      in += number ? ids[k] : Literal(json::Value::String(ids[k]));
    }
    const std::string filter = And(base_filter_, opts_.id_field + " IN (" + in + ")");
    const std::string what =
        fmt::format("pipeline {}: ExecuteBillQuery {} by {} ({} ids)", pipeline_, opts_.form_id,
                    opts_.id_field, std::min(kIdsPerQuery, ids.size() - i));
    SS_ASSIGN_OR_RETURN(std::vector<json::Value> rows,
                        client_->ExecuteBillQuery(
                            QueryData(keys, filter, opts_.id_field + " ASC", 0, kMaxLimit), what));
    for (auto& r : rows) out.push_back(std::move(r));
  }
  return out;
}

Result<std::vector<std::string>> KingdeeSource::StillPresent(const std::vector<std::string>& ids) {
  SS_ASSIGN_OR_RETURN(std::vector<json::Value> rows, QueryByIds(ids, opts_.id_field));
  std::vector<std::string> present;
  for (const auto& r : rows) {
    if (r.is_invalid()) {
      // Unreadable, but there: never swept away for that.
      if (std::string id = UnreadableId(r, "", 0); !id.empty()) present.push_back(id);
    } else if (!r.items().empty()) {
      present.push_back(IdOf(r.items().front()));
    }
  }
  return present;
}

Status KingdeeSource::Fetch(const FetchState& state, PageSink* sink) {
  complete_ = false;
  const int64_t now = clock_->NowMillis();
  std::vector<std::string> failed = state.failed_ids;
  std::sort(failed.begin(), failed.end());

  // Incremental once a watermark exists, unless a periodic full scan is due.
  bool full_scan_due = !state.watermark_ms.has_value() || opts_.incremental_filter.empty();
  if (!full_scan_due && opts_.full_scan_every_ms > 0 && state_.get) {
    SS_ASSIGN_OR_RETURN(std::string last, state_.get(std::string(kLastFullScanState)));
    const int64_t last_ms = last.empty() ? 0 : std::atoll(last.c_str());
    full_scan_due = now - last_ms >= opts_.full_scan_every_ms;
  }
  const int64_t last_sync_s =
      state.watermark_ms ? std::max<int64_t>(0, *state.watermark_ms - opts_.overlap_ms) / 1000 : 0;
  SS_ASSIGN_OR_RETURN(base_filter_, Evaluate(opts_.filter, last_sync_s, now / 1000, "filter"));
  std::string where = base_filter_;
  if (!full_scan_due) {
    SS_ASSIGN_OR_RETURN(std::string inc, Evaluate(opts_.incremental_filter, last_sync_s, now / 1000,
                                                  "incremental_filter"));
    where = And(where, inc);
  }

  std::vector<std::string> seen;
  SS_RETURN_IF_ERROR(Scan(where, now, failed, sink, &seen));

  // An incremental scan does not list records that failed to read earlier and did not change
  // since: read them by key until they read cleanly.
  if (!full_scan_due && !failed.empty()) {
    std::sort(seen.begin(), seen.end());
    std::vector<std::string> recheck;
    for (const auto& id : failed) {
      if (IsUnreadablePlaceholderId(id)) continue;  // no id to ask for: kept in quarantine
      if (!std::binary_search(seen.begin(), seen.end(), id)) recheck.push_back(id);
    }
    if (!recheck.empty()) {
      SS_ASSIGN_OR_RETURN(std::vector<json::Value> rows, QueryByIds(recheck, field_keys_text_));
      SourcePage page;
      std::vector<std::string> ids;
      SS_RETURN_IF_ERROR(RowsToPage(rows, failed,
                                    fmt::format("pipeline {}: ExecuteBillQuery {} by {}", pipeline_,
                                                opts_.form_id, opts_.id_field),
                                    &page, &ids));
      // Gone from the source (or from the filter): nothing left to read.
      std::sort(ids.begin(), ids.end());
      for (const auto& id : recheck) {
        if (!std::binary_search(ids.begin(), ids.end(), id)) page.failures_cleared.push_back(id);
      }
      SS_RETURN_IF_ERROR(sink->Write(std::move(page)));
    }
  }

  if (full_scan_due) {
    if (opts_.full_scan_every_ms > 0 && state_.put) {
      SS_RETURN_IF_ERROR(state_.put(std::string(kLastFullScanState), std::to_string(now)));
    }
    // A filter that depends on the last sync time never covers the whole set.
    complete_ = opts_.filter.find("LAST_SYNC_TIME") == std::string::npos;
  }
  return Status::Ok();
}

}  // namespace stagesync::source::kingdee
