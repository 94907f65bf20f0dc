// DingTalk approval-instance source (seed 000/001): listids over start-time windows with
// cursor paging, then get per id, several in flight within the connection's qps. Keeps
// re-fetching instances that are not final yet, since listids never lists them again.
// Not thread-safe: one Fetch at a time per object.
#pragma once

#include <memory>
#include <mutex>
#include <optional>

#include "connectors/dingtalk/dingtalk_client.h"
#include "stagesync/source.h"

namespace stagesync::source::dingtalk {

using connectors::dingtalk::DingTalkClient;

// A source's options; defaults, ranges and help in SourceOptionTable() (the .cc).
struct SourceOptions {
  std::string process_code;
  int64_t overlap_ms = 0;
  int64_t lag_ms = 0;
  std::optional<int64_t> start_at_ms;  // absolute first start
  int64_t initial_lookback_ms = 0;     // first fetch
  int64_t window_ms = 0;
  int page_size = 0;
  int concurrency = 0;                      // gets in flight per page
  std::string time_zone = "Asia/Shanghai";  // the pipeline's, for start_at
};

const config::OptionTable<SourceOptions>& SourceOptionTable();
Result<SourceOptions> ReadSourceOptions(const config::SourceConfig& src,
                                        const std::string& time_zone = "Asia/Shanghai");

class DingTalkSource final : public Source {
 public:
  DingTalkSource(std::string pipeline, SourceOptions opts, std::shared_ptr<DingTalkClient> client,
                 Clock* clock);
  Status Fetch(const FetchState& state, PageSink* sink) override;

 private:
  struct Fetched;
  // Gets every id (concurrently) and turns the answers into one page.
  Status GetPage(const std::vector<std::string>& ids, const std::vector<std::string>& open_before,
                 const std::vector<std::string>& failed_before, SourcePage* page);
  Status FetchWindow(int64_t start_ms, int64_t end_ms, const FetchState& state, PageSink* sink);

  const std::string pipeline_;
  const SourceOptions opts_;
  std::shared_ptr<DingTalkClient> client_;
  Clock* const clock_;
  std::mutex seen_mu_;             // pages' gets run on several threads
  std::vector<std::string> seen_;  // ids fetched in this Fetch (sorted at the end)
};

}  // namespace stagesync::source::dingtalk
