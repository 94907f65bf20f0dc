#include "connectors/kuaimai/kuaimai_source.h"

#include <fmt/format.h>

#include <algorithm>
#include <sstream>

#include "connectors/common/page_pass.h"
#include "connectors/common/start_at.h"
#include "connectors/common/unreadable_record.h"

namespace stagesync::source::kuaimai {

namespace {

constexpr int64_t kDayMs = 86400000;
constexpr int kMaxPageSize = 200;

// "1d", "12h", "30m", "90s" or plain seconds -> ms; -1 when malformed.
int64_t ParseDuration(const json::Value& v) {
  int64_t n = 0;
  if (v.is_number()) return v.AsInt64(&n) ? n * 1000 : -1;
  std::string_view s = v.text();
  if (s.empty()) return -1;
  int64_t unit = 1000;
  switch (s.back()) {
    case 'd':
      unit = kDayMs;
      break;
    case 'h':
      unit = 3600000;
      break;
    case 'm':
      unit = 60000;
      break;
    case 's':
      break;
    default:
      unit = 0;
  }
  if (unit != 0) s.remove_suffix(1);
  if (unit == 0) unit = 1000;
  if (s.empty() || s.size() > 9) return -1;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n * unit;
}

int64_t FloorSecond(int64_t ms) { return ms - ((ms % 1000) + 1000) % 1000; }

std::string IdOf(const json::Value* v) {
  if (v == nullptr) return "";
  if (v->is_number() || v->is_string()) return v->text();
  return "";
}

Status ReadParams(const config::OptionReader& r, SourceOptions* o) {
  const json::Value* params = r.Get("params");
  if (params == nullptr) return Status::Ok();
  static const char* kReserved[] = {"pageNo", "pageSize", "startModified", "endModified", "method",
                                    "appKey", "session",  "sign",          "timestamp"};
  for (const auto& [k, v] : params->members()) {
    if (!v.is_string() && !v.is_number()) {
      return InvalidArgument(r.PathOf("params") + "." + k + ": must be a string or a number");
    }
    for (const char* reserved : kReserved) {
      if (k == reserved) {
        return InvalidArgument(r.PathOf("params") + "." + k + ": set by the source itself");
      }
    }
    o->params[k] = v.text();
  }
  return Status::Ok();
}

}  // namespace

const config::OptionTable<SourceOptions>& SourceOptionTable() {
  using O = SourceOptions;
  static const config::OptionTable<O> kTable =
      config::OptionTable<O>()
          .Str("method", &O::method, "erp.aftersale.list.query",
               "list method paged by pageNo over startModified/endModified")
          .Int("page_size", &O::page_size, kMaxPageSize, 1, kMaxPageSize,
               "records per page (Kuaimai's limit)")
          .Custom("window", config::OptionType::kAny, false, "1d",
                  "modified-time window per query: 1d, 12h, 30m or seconds (<= 1d)",
                  [](const config::OptionReader& r, O* o) -> Status {
                    const json::Value* w = r.Get("window");
                    o->window_ms = w != nullptr ? ParseDuration(*w) : kDayMs;
                    if (o->window_ms < 60000 || o->window_ms > kDayMs) {
                      return InvalidArgument(
                          r.PathOf("window") +
                          ": must be a duration from 1m to 1d (e.g. \"1d\", \"6h\")");
                    }
                    return Status::Ok();
                  })
          .Int("overlap_s", &O::overlap_ms, 300, 0, 365 * 86400,
               "re-read this much before the watermark", 1000)
          .Int("lag_s", &O::lag_ms, 60, 0, 365 * 86400, "stop this far before now", 1000)
          .Int("initial_lookback_days", &O::initial_lookback_ms, 30, 1, 3650,
               "first fetch goes back this far", kDayMs)
          .Custom("start_at", config::OptionType::kString, false, "(none)", kStartAtHelp,
                  ReadStartAtOption<O>)
          .Custom("params", config::OptionType::kObject, false, "{}",
                  "extra business parameters, e.g. {\"asVersion\": \"2\"}", ReadParams)
          .Str("id_field", &O::id_field, "id", "the record id in each list item")
          .Int("max_passes", &O::max_passes, 4, 1, 100,
               "reads of a window whose result set keeps changing before the fetch gives up")
          .Flag("check_total", &O::check_total, true,
                "compare each pass with the reported total (turn off if it is not an exact "
                "count)");
  return kTable;
}

Result<SourceOptions> ReadSourceOptions(const config::SourceConfig& src,
                                        const std::string& time_zone) {
  SourceOptions base;
  base.time_zone = time_zone;
  return SourceOptionTable().Read(src.options, src.path, std::move(base));
}

KuaimaiSource::KuaimaiSource(std::string pipeline, SourceOptions opts,
                             std::shared_ptr<KuaimaiClient> client, Clock* clock, SourceState state)
    : pipeline_(std::move(pipeline)),
      opts_(std::move(opts)),
      client_(std::move(client)),
      clock_(clock),
      state_(std::move(state)) {}

std::string KuaimaiSource::EncodeResume(const Resume& r) {
  auto opt = [](const std::optional<int64_t>& v) { return v ? std::to_string(*v) : "-"; };
  return fmt::format("v1 {} {} {} {} {} {} {} {}", r.from_ms, r.to_ms, r.pass, r.next_page,
                     opt(r.first_total), opt(r.last_total), r.total_changed ? 1 : 0, r.max_page);
}

std::optional<KuaimaiSource::Resume> KuaimaiSource::DecodeResume(const std::string& s) {
  std::istringstream in(s);
  std::string v, first, last;
  Resume r;
  int changed = 0;
  if (!(in >> v >> r.from_ms >> r.to_ms >> r.pass >> r.next_page >> first >> last >> changed >>
        r.max_page) ||
      v != "v1" || r.next_page < 1 || r.pass < 1 || r.max_page < 0 || r.max_page > 1000000) {
    return std::nullopt;
  }
  auto opt = [](const std::string& t) -> std::optional<int64_t> {
    if (t == "-") return std::nullopt;
    return std::stoll(t);
  };
  try {
    r.first_total = opt(first);
    r.last_total = opt(last);
  } catch (...) {
    return std::nullopt;
  }
  r.total_changed = changed != 0;
  return r;
}

Status KuaimaiSource::FetchWindow(int64_t start_ms, int64_t end_ms,
                                  const std::vector<std::string>& failed,
                                  const std::optional<Resume>& resume, PageSink* sink) {
  const std::string from = connectors::kuaimai::FormatBeijingTime(start_ms);
  const std::string to = connectors::kuaimai::FormatBeijingTime(end_ms);
  // success:true without a list is a gateway page, not an empty result [V:Q3]: retried.
  auto list_or_empty = [](const json::Value& v) -> Status {
    const json::Value* list = v.Find("list");
    if (list != nullptr && list->is_array()) return Status::Ok();
    int64_t total = -1;
    if (const json::Value* t = v.Find("total")) t->AsInt64(&total);
    const json::Value* has_next = v.Find("hasNext");
    if ((list == nullptr || list->is_null()) &&
        (total == 0 || (has_next && has_next->is_bool() && !has_next->bool_value()))) {
      return Status::Ok();
    }
    return BadReply("success:true without a list (and neither total=0 nor hasNext=false)");
  };
  std::string why;
  const bool continuing = resume && resume->next_page > 1 && resume->pass <= opts_.max_passes;
  for (int pass = continuing ? resume->pass : 1; pass <= opts_.max_passes; ++pass) {
    PagePass check(opts_.check_total);
    int64_t first_page = 1;
    if (continuing && pass == resume->pass) {
      // Continue the pass an earlier process committed up to next_page - 1: its ids (for the
      // total check) were committed with those pages.
      check.RestoreTotals(resume->first_total, resume->last_total, resume->total_changed);
      for (int64_t k = 1; k < resume->next_page; ++k) {
        SS_ASSIGN_OR_RETURN(std::string ids, state_.get(fmt::format("kuaimai.pass.{}", k)));
        std::istringstream lines(ids);
        for (std::string id; std::getline(lines, id);) {
          if (!id.empty()) check.AddId(id);
        }
      }
      first_page = resume->next_page;
    }
    for (int64_t page_no = first_page;; ++page_no) {
      connectors::kuaimai::Params p = opts_.params;
      p["pageNo"] = std::to_string(page_no);
      p["pageSize"] = std::to_string(opts_.page_size);
      p["startModified"] = from;
      p["endModified"] = to;
      const std::string what = fmt::format("pipeline {}: {} [{}, {}) page {}", pipeline_,
                                           opts_.method, from, to, page_no);
      SS_ASSIGN_OR_RETURN(json::Value v, client_->Call(opts_.method, p, what, list_or_empty));
      std::optional<int64_t> total;
      if (const json::Value* t = v.Find("total")) {
        int64_t x = 0;
        if (t->AsInt64(&x)) total = x;
      }
      const json::Value* has_next = v.Find("hasNext");
      const json::Value* list = v.Find("list");
      SourcePage page;
      check.AddPage(total);
      size_t n = 0;
      if (list != nullptr && list->is_array()) {
        n = list->items().size();
        for (size_t i = 0; i < n; ++i) {
          const json::Value& item = list->items()[i];
          if (item.is_invalid()) {
            ParkUnreadableItem(what, i, item, opts_.id_field, &check, &page);
            continue;
          }
          std::string id = item.is_object() ? IdOf(item.Find(opts_.id_field)) : "";
          if (id.empty()) {
            return InvalidArgument(
                fmt::format("{}: a list item has no {} (id_field)", what, opts_.id_field));
          }
          check.AddId(id);
          // It reads cleanly now: out of the fetch quarantine.
          if (std::binary_search(failed.begin(), failed.end(), id)) {
            page.failures_cleared.push_back(id);
          }
          page.records.push_back({std::move(id), item, false});
        }
      }
      // Last page: a short one, hasNext=false, or the total reached [V:Q3].
      const bool last = n < static_cast<size_t>(opts_.page_size) ||
                        (has_next != nullptr && has_next->is_bool() && !has_next->bool_value()) ||
                        (total && page_no * opts_.page_size >= *total);
      const bool clean = last && check.Clean();
      if (clean) {
        page.watermark = end_ms;
        page.ends_window = true;
      }
      if (state_.get) {
        // Where a fetch interrupted after this page resumes: committed with the page.
        Resume next;
        next.from_ms = start_ms;
        next.to_ms = end_ms;
        if (clean) {
          // Only a position actually stored is deleted: an unchanged fetch writes nothing more.
          if (resume_stored_) page.state.emplace_back("kuaimai.resume", std::nullopt);
          for (int64_t k = 1; k <= max_page_; ++k) {
            page.state.emplace_back(fmt::format("kuaimai.pass.{}", k), std::nullopt);
          }
          max_page_ = 0;
          resume_stored_ = false;
        } else if (last) {  // the next pass starts at page 1
          next.pass = pass + 1;
          next.max_page = max_page_;
          page.state.emplace_back("kuaimai.resume", EncodeResume(next));
          resume_stored_ = true;
        } else {
          std::string ids;
          for (const auto& r : page.records) ids += r.id + "\n";
          max_page_ = std::max(max_page_, page_no);
          next.pass = pass;
          next.next_page = page_no + 1;
          next.first_total = check.first_total();
          next.last_total = check.last_total();
          next.total_changed = check.total_changed();
          next.max_page = max_page_;
          page.state.emplace_back(fmt::format("kuaimai.pass.{}", page_no), std::move(ids));
          page.state.emplace_back("kuaimai.resume", EncodeResume(next));
          resume_stored_ = true;
        }
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
      "pipeline {}: {} [{}, {}) kept changing while being paged ({} passes, last: {}); the "
      "watermark stays before it and the next fetch reads it again (raise max_passes or shrink "
      "window; set check_total false if the gateway's total is not an exact count)",
      pipeline_, opts_.method, from, to, opts_.max_passes, why));
}

Status KuaimaiSource::Fetch(const FetchState& state, PageSink* sink) {
  // Rotated tokens go to this pipeline's staging state while the fetch runs.
  connectors::kuaimai::TokenStore store;
  store.load = [this]() -> Result<std::string> {
    if (!state_.get) return std::string();
    return state_.get("kuaimai.tokens");
  };
  store.save = [this](const std::string& v) -> Status {
    if (!state_.put) return Status::Ok();
    return state_.put("kuaimai.tokens", v);
  };
  SS_ASSIGN_OR_RETURN(int store_id, client_->AddTokenStore(std::move(store)));
  struct Detach {
    KuaimaiClient* c;
    int id;
    ~Detach() { c->RemoveTokenStore(id); }
  } detach{client_.get(), store_id};

  const int64_t now = clock_->NowMillis();
  const int64_t end = FloorSecond(now - opts_.lag_ms);
  // The gateway filters on whole seconds: windows start and end on them.
  int64_t start =
      FloorSecond(state.watermark_ms ? *state.watermark_ms - opts_.overlap_ms
                                     : opts_.start_at_ms.value_or(now - opts_.initial_lookback_ms));
  // A window an earlier fetch was interrupted in: the watermark has not moved since, so it
  // starts where this fetch starts. Anything else (a changed config) is stale and ignored.
  std::vector<std::string> failed = state.failed_ids;
  std::sort(failed.begin(), failed.end());
  std::optional<Resume> resume;
  max_page_ = 0;
  resume_stored_ = false;
  if (state_.get) {
    SS_ASSIGN_OR_RETURN(std::string saved, state_.get("kuaimai.resume"));
    resume_stored_ = !saved.empty();
    if (!saved.empty()) resume = DecodeResume(saved);
    if (resume) max_page_ = resume->max_page;
    if (resume && (resume->from_ms != start || resume->to_ms <= start ||
                   resume->to_ms - resume->from_ms > opts_.window_ms || resume->to_ms > end)) {
      resume.reset();
    }
  }
  for (int64_t w = start; w < end;) {
    const int64_t w_end = resume ? resume->to_ms : std::min(w + opts_.window_ms, end);
    SS_RETURN_IF_ERROR(FetchWindow(w, w_end, failed, resume, sink));
    resume.reset();
    w = w_end;
  }
  return Status::Ok();
}

}  // namespace stagesync::source::kuaimai
