// Kuaimai ERP source (seed 002): a list method (erp.aftersale.list.query) paged by
// pageNo/pageSize over startModified/endModified windows of at most one day, stepping through a
// longer gap window by window, each window's watermark committed with its last page. A window
// whose result set changed while it was paged is read again (see page_pass.h); the overlap
// before the watermark and staging's dedup absorb records modified during paging.
// The session tokens live in the connection's client; this source gives it the pipeline's
// staging state to keep rotated tokens in for the duration of a fetch. Each page commits, with
// it, where the next page of its window starts (and the ids of the pass so far, which the
// total check needs), so an interrupted fetch resumes inside its window instead of re-reading
// the whole day.
// Not thread-safe: one Fetch at a time per object (the client it shares is thread-safe).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "connectors/kuaimai/kuaimai_client.h"
#include "stagesync/source.h"

namespace stagesync::source::kuaimai {

using connectors::kuaimai::KuaimaiClient;

// A source's options; defaults, ranges and help in SourceOptionTable() (the .cc).
struct SourceOptions {
  std::string method;
  int page_size = 0;
  int64_t window_ms = 0;
  int64_t overlap_ms = 0;
  int64_t lag_ms = 0;
  std::optional<int64_t> start_at_ms;  // absolute first start
  int64_t initial_lookback_ms = 0;     // first fetch
  connectors::kuaimai::Params params;  // e.g. asVersion
  std::string id_field;
  int max_passes = 0;  // reads of a changing window
  bool check_total = false;
  std::string time_zone = "Asia/Shanghai";  // the pipeline's, for start_at
};

const config::OptionTable<SourceOptions>& SourceOptionTable();
Result<SourceOptions> ReadSourceOptions(const config::SourceConfig& src,
                                        const std::string& time_zone = "Asia/Shanghai");

class KuaimaiSource final : public Source {
 public:
  KuaimaiSource(std::string pipeline, SourceOptions opts, std::shared_ptr<KuaimaiClient> client,
                Clock* clock, SourceState state);
  Status Fetch(const FetchState& state, PageSink* sink) override;

  // Where an interrupted window resumes (state "kuaimai.resume", committed with each page).
  struct Resume {
    int64_t from_ms = 0, to_ms = 0;
    int pass = 1;
    int64_t next_page = 1;  // 1: the pass starts afresh
    std::optional<int64_t> first_total, last_total;
    bool total_changed = false;
    int64_t max_page = 0;  // highest "kuaimai.pass.N" written, deleted when the window ends
  };
  static std::string EncodeResume(const Resume& r);
  static std::optional<Resume> DecodeResume(const std::string& s);

 private:
  // Pages through [start_ms, end_ms) until a pass is clean; its last page carries end_ms.
  // `failed` (sorted): ids quarantined before, cleared when they read cleanly. `resume` (same
  // window) continues a pass an earlier process left at resume->next_page.
  Status FetchWindow(int64_t start_ms, int64_t end_ms, const std::vector<std::string>& failed,
                     const std::optional<Resume>& resume, PageSink* sink);

  const std::string pipeline_;
  const SourceOptions opts_;
  std::shared_ptr<KuaimaiClient> client_;
  Clock* const clock_;
  const SourceState state_;
  int64_t max_page_ = 0;        // see Resume::max_page
  bool resume_stored_ = false;  // a "kuaimai.resume" entry exists in staging
};

}  // namespace stagesync::source::kuaimai
