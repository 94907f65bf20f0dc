#include "connectors/dingtalk/dingtalk_source.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <functional>
#include <future>
#include <set>
#include <thread>

#include "connectors/common/start_at.h"
#include "connectors/common/unreadable_record.h"

namespace stagesync::source::dingtalk {

namespace {

constexpr int64_t kDayMs = 86400000;
// listids returns at most this many ids per query; a fuller window is split in two.
constexpr int64_t kMaxIdsPerQuery = 10000;

bool IsFinal(std::string_view status) { return status != "NEW" && status != "RUNNING"; }

// Runs fn(i) for i in [0, n) on up to `threads` threads.
void ParallelFor(size_t n, int threads, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  size_t k = std::min<size_t>(n, static_cast<size_t>(std::max(1, threads)));
  if (k == 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  pool.reserve(k);
  for (size_t t = 0; t < k; ++t) {
    pool.emplace_back([&] {
      for (size_t i = next++; i < n; i = next++) fn(i);
    });
  }
  for (auto& th : pool) th.join();
}

// How many pages' gets may run at once. A get backing off from throttling then holds up only
// its own page's commit, not the gets of the pages behind it: a storm of scattered throttling
// no longer turns every page into a wait for its slowest call. The rate limit still paces
// every request.
constexpr size_t kPagesInFlight = 3;

// Pages whose gets run in the background, written to the sink strictly in the order they were
// added, so the watermark (on a window's last page) never passes an unstaged record. After the
// first error no later page is written; the destructor waits for every page still running.
class InOrderPages {
 public:
  explicit InOrderPages(PageSink* sink) : sink_(sink) {}
  ~InOrderPages() { (void)Drain(); }

  // Starts `work`; first writes the oldest page if kPagesInFlight are already running.
  Status Add(std::function<Result<SourcePage>()> work) {
    if (pending_.size() >= kPagesInFlight) WriteOldest();
    if (!error_.ok()) return error_;
    pending_.push_back(std::async(std::launch::async, std::move(work)));
    return Status::Ok();
  }

  // Waits for every page and writes them in order; the first error, if any.
  Status Drain() {
    while (!pending_.empty()) WriteOldest();
    return error_;
  }

 private:
  void WriteOldest() {
    Result<SourcePage> page = pending_.front().get();
    pending_.pop_front();
    if (!error_.ok()) return;
    error_ = page.ok() ? sink_->Write(std::move(page).value()) : page.status();
  }

  PageSink* const sink_;
  std::deque<std::future<Result<SourcePage>>> pending_;
  Status error_;
};

std::string Truncate(std::string_view s, size_t n) {
  if (s.size() <= n) return std::string(s);
  return std::string(s.substr(0, n)) + "...";
}

}  // namespace

const config::OptionTable<SourceOptions>& SourceOptionTable() {
  using O = SourceOptions;
  static const config::OptionTable<O> kTable =
      config::OptionTable<O>()
          .Required("process_code", &O::process_code, "approval form code (PROC-...)")
          .Int("overlap_s", &O::overlap_ms, 600, 0, 365 * 86400,
               "re-read this much before the watermark", 1000)
          .Int("lag_s", &O::lag_ms, 30, 0, 365 * 86400, "stop this far before now", 1000)
          .Int("initial_lookback_days", &O::initial_lookback_ms, 30, 1, 365,
               "first fetch goes back this far", kDayMs)
          .Custom("start_at", config::OptionType::kString, false, "(none)", kStartAtHelp,
                  ReadStartAtOption<O>)
          .Int("window_days", &O::window_ms, 30, 1, 120, "listids window length (DingTalk's limit)",
               kDayMs)
          .Int("page_size", &O::page_size, 20, 1, 20, "ids per listids page (DingTalk's limit)")
          .Int("concurrency", &O::concurrency, 4, 1, 64,
               "get calls in flight per page; up to 3 pages overlap");
  return kTable;
}

Result<SourceOptions> ReadSourceOptions(const config::SourceConfig& src,
                                        const std::string& time_zone) {
  SourceOptions base;
  base.time_zone = time_zone;
  return SourceOptionTable().Read(src.options, src.path, std::move(base));
}

DingTalkSource::DingTalkSource(std::string pipeline, SourceOptions opts,
                               std::shared_ptr<DingTalkClient> client, Clock* clock)
    : pipeline_(std::move(pipeline)),
      opts_(std::move(opts)),
      client_(std::move(client)),
      clock_(clock) {}

Status DingTalkSource::GetPage(const std::vector<std::string>& ids,
                               const std::vector<std::string>& open_before,
                               const std::vector<std::string>& failed_before, SourcePage* page) {
  struct Outcome {
    Status status;
    json::Value body;
  };
  std::vector<Outcome> out(ids.size());
  ParallelFor(ids.size(), opts_.concurrency, [&](size_t i) {
    std::string body = "{\"process_instance_id\":" + json::Quote(ids[i]) + "}";
    auto res = client_->Call("/topapi/processinstance/get", body,
                             fmt::format("pipeline {}, record {}: get", pipeline_, ids[i]));
    if (res.ok()) {
      out[i].body = std::move(res).value();
    } else {
      out[i].status = res.status();
    }
  });
  auto contains = [](const std::vector<std::string>& v, const std::string& id) {
    return std::binary_search(v.begin(), v.end(), id);
  };
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string& id = ids[i];
    const bool was_open = contains(open_before, id);
    const bool was_failed = contains(failed_before, id);
    Outcome& o = out[i];
    if (!o.status.ok()) {
      switch (o.status.code()) {
        case StatusCode::kNotFound: {
          // Gone at the source (deleted approval): a tombstone if it was staged.
          page->records.push_back({id, json::Value::Object(), true});
          if (was_open) page->open_ids_remove.push_back(id);
          if (was_failed) page->failures_cleared.push_back(id);
          continue;
        }
        case StatusCode::kInvalidArgument:
        case StatusCode::kBadReply:
          // This record's payload is bad (oversize, malformed): park it, keep going.
          page->failures.push_back({id, o.status.message(), ""});
          continue;
        default:
          // Throttled, unavailable or refused after retries: stop; nothing of this page lands.
          return o.status;
      }
    }
    const json::Value* pi = o.body.Find("process_instance");
    if (pi != nullptr && pi->is_invalid()) {
      // Unreadable (invalid UTF-8, a lone surrogate, nesting too deep): quarantined with its raw
      // bytes; the rest of the page is staged.
      page->failures.push_back(
          UnreadableRecord(fmt::format("pipeline {}: get page", pipeline_), i, id, *pi));
      continue;
    }
    std::string problem;
    if (pi == nullptr || !pi->is_object()) {
      problem = "field process_instance: missing";
    } else if (const json::Value* st = pi->Find("status"); st == nullptr || !st->is_string()) {
      problem = "field process_instance.status: missing";
    } else if (const json::Value* ct = pi->Find("create_time"); ct == nullptr || !ct->is_string()) {
      problem = "field process_instance.create_time: missing";
    }
    if (!problem.empty()) {
      page->failures.push_back({id,
                                fmt::format("pipeline {}, record {}, {}", pipeline_, id, problem),
                                Truncate(json::Serialize(o.body), 4096)});
      continue;
    }
    json::Value rec = *pi;
    // The body carries no id: keep the one we asked for.
    rec.Add("process_instance_id", json::Value::String(id));
    const std::string& status = pi->Find("status")->text();
    if (!IsFinal(status)) {
      if (!was_open) page->open_ids_add.push_back(id);
    } else if (was_open) {
      page->open_ids_remove.push_back(id);
    }
    if (was_failed) page->failures_cleared.push_back(id);
    page->records.push_back({id, std::move(rec), false});
    std::lock_guard<std::mutex> lock(seen_mu_);
    seen_.push_back(id);
  }
  return Status::Ok();
}

Status DingTalkSource::FetchWindow(int64_t start_ms, int64_t end_ms, const FetchState& state,
                                   PageSink* sink) {
  InOrderPages pages(sink);
  int64_t cursor = 0;
  while (true) {
    std::string body = fmt::format(
        "{{\"process_code\":{},\"start_time\":{},\"end_time\":{},\"size\":{},\"cursor\":{}}}",
        json::Quote(opts_.process_code), start_ms, end_ms, opts_.page_size, cursor);
    std::string what =
        fmt::format("pipeline {}: listids [{}, {}) cursor {}", pipeline_, start_ms, end_ms, cursor);
    SS_ASSIGN_OR_RETURN(json::Value resp,
                        client_->Call("/topapi/processinstance/listids", body, what));
    const json::Value* result = resp.Find("result");
    const json::Value* list = result ? result->Find("list") : nullptr;
    if (list == nullptr || !list->is_array()) {
      return InvalidArgument(what + ": response has no result.list");
    }
    std::vector<std::string> ids;
    for (const auto& item : list->items()) {
      if (!item.is_string() || item.text().empty()) {
        return InvalidArgument(what + ": result.list holds a non-string id");
      }
      ids.push_back(item.text());
    }
    int64_t next = -1;
    if (const json::Value* nc = result->Find("next_cursor")) {
      if (!nc->AsInt64(&next)) return InvalidArgument(what + ": next_cursor is not a number");
    }
    const bool has_more = next >= 0;
    // DingTalk serves at most 10 000 ids per query, and how it says so is not documented: a
    // cursor at the cap, or a last page that ends there. Either way the window may hold more:
    // split it (a window of exactly 10 000 is split needlessly); pages staged so far dedup.
    const bool capped = has_more ? next >= kMaxIdsPerQuery
                                 : cursor + static_cast<int64_t>(ids.size()) >= kMaxIdsPerQuery;
    if (capped && end_ms - start_ms > 1) {
      int64_t mid = start_ms + (end_ms - start_ms) / 2;
      SS_RETURN_IF_ERROR(pages.Drain());
      SS_RETURN_IF_ERROR(FetchWindow(start_ms, mid, state, sink));
      return FetchWindow(mid, end_ms, state, sink);
    }
    auto get_page = [this, ids = std::move(ids), &state, has_more, end_ms]() -> Result<SourcePage> {
      SourcePage page;
      SS_RETURN_IF_ERROR(GetPage(ids, state.open_ids, state.failed_ids, &page));
      if (!has_more) {
        page.ends_window = true;
        page.watermark = end_ms;
      }
      return page;
    };
    SS_RETURN_IF_ERROR(pages.Add(std::move(get_page)));

    if (!has_more) return pages.Drain();
    if (next <= cursor) return InvalidArgument(what + ": next_cursor did not advance");
    cursor = next;
  }
}

Status DingTalkSource::Fetch(const FetchState& state_in, PageSink* sink) {
  FetchState state = state_in;
  std::sort(state.open_ids.begin(), state.open_ids.end());
  std::sort(state.failed_ids.begin(), state.failed_ids.end());
  seen_.clear();
  const int64_t now = clock_->NowMillis();
  const int64_t end = now - opts_.lag_ms;
  // DingTalk rejects start_time older than 365 days; keep an hour of margin.
  const int64_t oldest = now - 365 * kDayMs + 3600000;
  int64_t start = state.watermark_ms ? *state.watermark_ms - opts_.overlap_ms
                                     : opts_.start_at_ms.value_or(now - opts_.initial_lookback_ms);
  if (!state.watermark_ms && opts_.start_at_ms && *opts_.start_at_ms < oldest) {
    return InvalidArgument(fmt::format(
        "pipeline {}: start_at is more than 365 days ago, beyond what DingTalk's listids serves",
        pipeline_));
  }
  start = std::max(start, oldest);
  for (int64_t w = start; w < end; w += opts_.window_ms) {
    SS_RETURN_IF_ERROR(FetchWindow(w, std::min(w + opts_.window_ms, end), state, sink));
  }
  // Instances listed before but not final (or unreadable) last time never show up in a later
  // window: listids filters on start time. Get them again until they are final.
  std::sort(seen_.begin(), seen_.end());
  std::set<std::string> recheck;
  for (const auto& id : state.open_ids) {
    if (!std::binary_search(seen_.begin(), seen_.end(), id)) recheck.insert(id);
  }
  for (const auto& id : state.failed_ids) {
    if (!std::binary_search(seen_.begin(), seen_.end(), id)) recheck.insert(id);
  }
  std::vector<std::string> ids(recheck.begin(), recheck.end());
  InOrderPages pages(sink);
  for (size_t i = 0; i < ids.size(); i += static_cast<size_t>(opts_.page_size)) {
    std::vector<std::string> chunk(
        ids.begin() + static_cast<long>(i),
        ids.begin() + static_cast<long>(std::min(ids.size(), i + opts_.page_size)));
    auto get_page = [this, chunk = std::move(chunk), &state]() -> Result<SourcePage> {
      SourcePage page;
      SS_RETURN_IF_ERROR(GetPage(chunk, state.open_ids, state.failed_ids, &page));
      return page;
    };
    SS_RETURN_IF_ERROR(pages.Add(std::move(get_page)));
  }
  return pages.Drain();
}

}  // namespace stagesync::source::dingtalk
