// OKKI (Xiaoman) CRM source (seed 003): GET /v1/product/list over [start_time, end_time] on the
// update time, start_index a page number and count a page size, data.count the total.
// start_time and end_time are templates (default: LAST_SYNC_TIME minus 30 min, and now); the
// first fetch sends no start_time and reads everything. A window whose result set changed while
// it was paged is read again (see page_pass.h). Products matching `deleted_when`
// (enable_flag == 0) are staged as deletions: tombstones that keep the product's content.
// Not thread-safe: one Fetch at a time per object (the client it shares is thread-safe).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "connectors/okki/okki_client.h"
#include "stagesync/source.h"

namespace stagesync::source::okki {

using connectors::okki::OkkiClient;

// A source's options; defaults, ranges and help in SourceOptionTable() (the .cc).
struct SourceOptions {
  std::string endpoint;
  int time_type = 0;  // 1 = update time, 2 = create time
  int count = 0;      // per page
  std::string start_time;
  std::string end_time;
  std::string deleted_when;  // "" = never
  std::string id_field;
  connectors::okki::Query params;
  int max_passes = 0;  // reads of a changing window
  bool check_total = false;
  std::string time_zone;  // the pipeline's, for |datetime
};

const config::OptionTable<SourceOptions>& SourceOptionTable();
Result<SourceOptions> ReadSourceOptions(const config::PipelineConfig& p);

class OkkiSource final : public Source {
 public:
  OkkiSource(std::string pipeline, SourceOptions opts, std::shared_ptr<OkkiClient> client,
             Clock* clock);
  Status Fetch(const FetchState& state, PageSink* sink) override;

 private:
  Result<bool> IsDeleted(const json::Value& product) const;

  const std::string pipeline_;
  const SourceOptions opts_;
  std::shared_ptr<OkkiClient> client_;
  Clock* const clock_;
};

}  // namespace stagesync::source::okki
