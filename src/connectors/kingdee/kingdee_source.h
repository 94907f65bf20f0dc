// Kingdee K3Cloud source (seed 004): ExecuteBillQuery over one form with FieldKeys turned into
// named fields (each row a JSON object keyed by the FieldKeys as configured, so
// "FMaterialGroup.FNumber" stays one flat key), a FilterString that may use
// {{LAST_SYNC_TIME|datetime}}, and paging by StartRow/Limit ordered by a unique key or by
// keyset (id > last), which cannot skip or repeat rows when data changes between pages.
// A scan without an incremental filter is complete: with `deletes: "sweep"` the fetcher
// tombstones staged records it did not deliver (see complete_scan.h).
// Not thread-safe: one Fetch at a time per object (the client it shares is thread-safe).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/common/complete_scan.h"
#include "connectors/kingdee/kingdee_client.h"
#include "stagesync/source.h"

namespace stagesync::source::kingdee {

using connectors::kingdee::KingdeeClient;

enum class Paging { kOffset, kKeyset };

// A source's options; defaults, ranges and help in SourceOptionTable() (the .cc).
struct SourceOptions {
  std::string form_id;
  std::vector<std::string> field_keys;  // as configured: the staged record's keys
  std::string filter;                   // template allowed
  std::string incremental_filter;       // AND-ed once a watermark exists
  std::string id_field;
  size_t id_index = 0;   // its position in field_keys
  std::string order_by;  // offset paging
  Paging paging = Paging::kOffset;
  int limit = 0;       // rows per page
  bool sweep = false;  // deletes: "sweep"
  double sweep_max_fraction = 0;
  int64_t overlap_ms = 0;          // subtracted from LAST_SYNC_TIME
  int64_t full_scan_every_ms = 0;  // 0 = only the first fetch scans fully
  std::string time_zone;           // the pipeline's, for |datetime
};

const config::OptionTable<SourceOptions>& SourceOptionTable();
Result<SourceOptions> ReadSourceOptions(const config::PipelineConfig& p);

class KingdeeSource final : public Source, public CompleteScanSource {
 public:
  KingdeeSource(std::string pipeline, SourceOptions opts, std::shared_ptr<KingdeeClient> client,
                Clock* clock, SourceState state);
  Status Fetch(const FetchState& state, PageSink* sink) override;

  bool SweepEnabled() const override { return opts_.sweep; }
  bool LastFetchWasCompleteScan() const override { return complete_; }
  Result<std::vector<std::string>> StillPresent(const std::vector<std::string>& ids) override;
  double SweepMaxFraction() const override { return opts_.sweep_max_fraction; }

 private:
  // Turns one page of rows into records (or failures) on `page`; `ids` gets each row's id.
  // `what` names the page in the errors of unreadable rows.
  Status RowsToPage(const std::vector<json::Value>& rows, const std::vector<std::string>& failed,
                    const std::string& what, SourcePage* page, std::vector<std::string>* ids);
  // Pages through `where` to the end; the last page carries `watermark` when set.
  Status Scan(const std::string& where, std::optional<int64_t> watermark,
              const std::vector<std::string>& failed, PageSink* sink,
              std::vector<std::string>* seen);
  // Rows of `where` AND id_field IN (ids), in chunks; the fields are `keys`.
  Result<std::vector<json::Value>> QueryByIds(const std::vector<std::string>& ids,
                                              const std::string& keys);
  Result<std::string> Evaluate(const std::string& tmpl, int64_t last_sync_s, int64_t now_s,
                               const std::string& option) const;
  json::Value QueryData(const std::string& keys, const std::string& filter,
                        const std::string& order, int64_t start_row, int64_t limit) const;

  const std::string pipeline_;
  const SourceOptions opts_;
  std::shared_ptr<KingdeeClient> client_;
  Clock* const clock_;
  const SourceState state_;
  std::string field_keys_text_;      // "A,B,C" as sent
  std::string base_filter_;          // the evaluated `filter` of the last fetch
  std::optional<bool> numeric_ids_;  // Kingdee serves id_field as a JSON number
  bool complete_ = false;
};

}  // namespace stagesync::source::kingdee
