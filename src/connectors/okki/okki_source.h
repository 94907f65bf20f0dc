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

#include "stagesync/source.h"
#include "connectors/okki/okki_client.h"

namespace stagesync::source::okki {

using connectors::okki::OkkiClient;

struct SourceOptions {
  std::string endpoint = "/v1/product/list";  // Default
  int time_type = 1;                          // Default: 1 (update time); 2 = create time
  int count = 100;                            // Default: 100 per page (the cap clients use)
  // Default: LAST_SYNC_TIME minus 30 min 1 s, as the seed.
  std::string start_time = "_function SUBTIME('{{LAST_SYNC_TIME|datetime}}', '00:30:01')";
  std::string end_time = "{{CURRENT_TIME|datetime}}";  // Default: now
  std::string deleted_when = "enable_flag == 0";       // Default; "" = never
  std::string id_field = "product_id";                 // Default
  connectors::okki::Query params;                          // Default: none; e.g. product_type
  int max_passes = 4;                                  // Default: 4 reads of a changing window
  bool check_total = true;                             // Default: true
  std::string time_zone = "Asia/Shanghai";             // the pipeline's, for |datetime
};

const std::vector<config::OptionSpec>& SourceOptionTable();
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
