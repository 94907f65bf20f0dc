#include "connectors/okki/okki_source.h"

#include <fmt/format.h>

#include <algorithm>

#include "connectors/common/page_pass.h"
#include "connectors/common/unreadable_record.h"
#include "stagesync/transform.h"

namespace stagesync::source::okki {

namespace {

constexpr int kMaxCount = 100;  // larger counts are clamped by the server [I]

std::string IdOf(const json::Value* v) {
  if (v == nullptr) return "";
  if (v->is_number() || v->is_string()) return v->text();
  return "";
}

bool Truthy(const transform::Cell& c) { return c && !c->empty() && *c != "0" && *c != "false"; }

Status ReadParams(const config::OptionReader& r, SourceOptions* o) {
  const json::Value* params = r.Get("params");
  if (params == nullptr) return Status::Ok();
  for (const auto& [k, v] : params->members()) {
    if (!v.is_string() && !v.is_number()) {
      return InvalidArgument(r.PathOf("params") + "." + k + ": must be a string or a number");
    }
    for (const char* reserved : {"start_index", "count", "start_time", "end_time", "time_type"}) {
      if (k == reserved) {
        return InvalidArgument(r.PathOf("params") + "." + k + ": set by the source itself");
      }
    }
    o->params.emplace_back(k, v.text());
  }
  return Status::Ok();
}

// Compiles the templates now, so a typo fails `check` rather than the first fetch.
Status CheckTemplates(const config::OptionReader& r, SourceOptions* o) {
  if (o->endpoint.empty() || o->endpoint.front() != '/') {
    return InvalidArgument(r.PathOf("endpoint") + ": must be a path starting with /");
  }
  const transform::Variables vars = {{"LAST_SYNC_TIME", "0"}, {"CURRENT_TIME", "0"}};
  for (const auto& [name, tmpl] :
       {std::pair{"start_time", &o->start_time}, std::pair{"end_time", &o->end_time}}) {
    auto v =
        transform::EvaluateOnce(*tmpl, json::Value::Object(), vars, o->time_zone, r.PathOf(name));
    if (!v.ok()) return v.status();
  }
  if (!o->deleted_when.empty()) {
    auto v = transform::EvaluateOnce("_function " + o->deleted_when, json::Value::Object(), vars,
                                     o->time_zone, r.PathOf("deleted_when"));
    if (!v.ok()) return v.status();
  }
  return Status::Ok();
}

}  // namespace

const config::OptionTable<SourceOptions>& SourceOptionTable() {
  using O = SourceOptions;
  static const config::OptionTable<O> kTable =
      config::OptionTable<O>()
          .Str("endpoint", &O::endpoint, "/v1/product/list", "list path")
          .Int("time_type", &O::time_type, 1, 1, 2, "1 = update time, 2 = create time")
          .Int("count", &O::count, kMaxCount, 1, kMaxCount, "page size (the cap clients use)")
          .Str("start_time", &O::start_time,
               "_function SUBTIME('{{LAST_SYNC_TIME|datetime}}', '00:30:01')",
               "template; not sent on the first fetch")
          .Str("end_time", &O::end_time, "{{CURRENT_TIME|datetime}}", "template")
          .Str("deleted_when", &O::deleted_when, "enable_flag == 0",
               "expression over a product: true stages it as a deletion (\"\" = never)")
          .Str("id_field", &O::id_field, "product_id", "the record id")
          .Custom("params", config::OptionType::kObject, false, "{}",
                  "extra query parameters, e.g. {\"product_type\": 1}", ReadParams)
          .Int("max_passes", &O::max_passes, 4, 1, 100,
               "reads of a window whose result set keeps changing before the fetch gives up")
          .Flag("check_total", &O::check_total, true,
                "compare each pass with data.count (turn off if it is not an exact count)")
          .Check(CheckTemplates);
  return kTable;
}

Result<SourceOptions> ReadSourceOptions(const config::PipelineConfig& p) {
  SourceOptions base;
  base.time_zone = p.time_zone;
  return SourceOptionTable().Read(p.source.options, p.source.path, std::move(base));
}

OkkiSource::OkkiSource(std::string pipeline, SourceOptions opts, std::shared_ptr<OkkiClient> client,
                       Clock* clock)
    : pipeline_(std::move(pipeline)),
      opts_(std::move(opts)),
      client_(std::move(client)),
      clock_(clock) {}

Result<bool> OkkiSource::IsDeleted(const json::Value& product) const {
  if (opts_.deleted_when.empty()) return false;
  SS_ASSIGN_OR_RETURN(transform::Cell c,
                      transform::EvaluateOnce("_function " + opts_.deleted_when, product, {},
                                              opts_.time_zone, "deleted_when"));
  return Truthy(c);
}

Status OkkiSource::Fetch(const FetchState& state, PageSink* sink) {
  const int64_t now = clock_->NowMillis();
  const transform::Variables vars = {
      {"LAST_SYNC_TIME", std::to_string(state.watermark_ms.value_or(0) / 1000)},
      {"CURRENT_TIME", std::to_string(now / 1000)}};
  auto eval = [&](const std::string& tmpl, const char* option) -> Result<std::string> {
    SS_ASSIGN_OR_RETURN(transform::Cell v,
                        transform::EvaluateOnce(tmpl, json::Value::Object(), vars, opts_.time_zone,
                                                "pipeline " + pipeline_ + ": " + option));
    return v.value_or("");
  };
  std::string start;
  if (state.watermark_ms) {
    SS_ASSIGN_OR_RETURN(start, eval(opts_.start_time, "start_time"));
  }
  SS_ASSIGN_OR_RETURN(std::string end, eval(opts_.end_time, "end_time"));

  std::vector<std::string> failed = state.failed_ids;
  std::sort(failed.begin(), failed.end());
  std::string why;
  for (int pass = 1; pass <= opts_.max_passes; ++pass) {
    PagePass check(opts_.check_total);
    for (int64_t page_no = 1;; ++page_no) {
      connectors::okki::Query q = opts_.params;
      q.emplace_back("time_type", std::to_string(opts_.time_type));
      if (!start.empty()) q.emplace_back("start_time", start);
      if (!end.empty()) q.emplace_back("end_time", end);
      q.emplace_back("start_index", std::to_string(page_no));
      q.emplace_back("count", std::to_string(opts_.count));
      const std::string what =
          fmt::format("pipeline {}: {} [{}, {}] page {}", pipeline_, opts_.endpoint,
                      start.empty() ? "start" : start, end.empty() ? "now" : end, page_no);
      auto has_list = [](const json::Value& v) -> Status {
        const json::Value* data = v.Find("data");
        const json::Value* list = data ? data->Find("list") : nullptr;
        if (list == nullptr || !list->is_array()) return BadReply("the reply has no data.list");
        return Status::Ok();
      };
      SS_ASSIGN_OR_RETURN(json::Value v, client_->Get(opts_.endpoint, q, what, has_list));
      const json::Value* data = v.Find("data");
      std::optional<int64_t> total;
      if (const json::Value* c = data->Find("count")) {
        int64_t x = 0;
        if (c->AsInt64(&x)) total = x;
      }
      const auto& items = data->Find("list")->items();
      check.AddPage(total);
      SourcePage page;
      for (size_t i = 0; i < items.size(); ++i) {
        const json::Value& item = items[i];
        if (item.is_invalid()) {
          ParkUnreadableItem(what, i, item, opts_.id_field, &check, &page);
          continue;
        }
        std::string id = item.is_object() ? IdOf(item.Find(opts_.id_field)) : "";
        if (id.empty()) {
          return InvalidArgument(
              fmt::format("{}: a product has no {} (id_field)", what, opts_.id_field));
        }
        check.AddId(id);
        auto deleted = IsDeleted(item);
        if (!deleted.ok()) {
          // This product's payload does not fit deleted_when: park it, keep going.
          page.failures.push_back(
              {id,
               fmt::format("pipeline {}, record {}, {}", pipeline_, id, deleted.status().message()),
               json::Serialize(item).substr(0, 4096)});
          continue;
        }
        if (std::binary_search(failed.begin(), failed.end(), id)) {
          page.failures_cleared.push_back(id);
        }
        page.records.push_back({std::move(id), item, *deleted});
      }
      const bool last = items.size() < static_cast<size_t>(opts_.count) ||
                        (total && page_no * opts_.count >= *total);
      const bool clean = last && check.Clean();
      if (clean) {
        page.watermark = now;
        page.ends_window = true;
      }
      SS_RETURN_IF_ERROR(sink->Write(std::move(page)));
      if (clean) return Status::Ok();
      if (last) {
        why = check.Why();  // the window changed under us: read it again
        break;
      }
    }
  }
  return Unavailable(fmt::format(
      "pipeline {}: {} kept changing while being paged ({} passes, last: {}); the watermark "
      "stays where it was and the next fetch reads it again (raise max_passes; set check_total "
      "false if data.count is not an exact count)",
      pipeline_, opts_.endpoint, opts_.max_passes, why));
}

}  // namespace stagesync::source::okki
