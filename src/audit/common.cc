#include "audit/common.h"

#include <fmt/format.h>

namespace stagesync::audit {

void Tally(SinkReport* rep, std::vector<Finding>* out, std::string cls, const std::string& key,
           std::string row, std::string detail, std::vector<ColumnDiff> cols) {
  ++rep->counts[cls];
  if (cls == "ok" || cls == "pending") return;
  out->push_back({rep->pipeline,
                  rep->sink,
                  std::move(cls),
                  key,
                  std::move(row),
                  std::move(detail),
                  std::move(cols),
                  {}});
}

std::string DiffDetail(const std::vector<ColumnDiff>& diffs) {
  auto show = [](const std::optional<std::string>& c) { return c ? *c : "NULL"; };
  std::string detail;
  for (const auto& d : diffs) {
    detail += fmt::format("{}{}: mapped {} vs target {}", detail.empty() ? "" : "; ", d.column,
                          show(d.mapped), show(d.target));
  }
  return detail;
}

Result<std::unique_ptr<stage::StagingLog>> OpenStaging(const config::Config& cfg) {
  stage::StageOptions ro;
  ro.read_only = true;
  auto opened = stage::StagingLog::Open(cfg.state_dir, ro);
  if (!opened.ok()) {
    return opened.status().WithContext("cannot open the staging log in " + cfg.state_dir +
                                       " read-only");
  }
  return opened;
}

Status EachStaged(stage::StagingLog* log, const std::string& pipeline, const std::string& key,
                  const std::function<Status(const stage::StagedRecord&)>& fn) {
  if (!key.empty()) {
    SS_ASSIGN_OR_RETURN(auto one, log->Get(pipeline, key));
    return one ? fn(*one) : Status::Ok();
  }
  Status failed;
  SS_RETURN_IF_ERROR(log->ScanRecords(pipeline, [&](const stage::StagedRecord& rec) {
    failed = fn(rec);
    return failed.ok();
  }));
  return failed;
}

}  // namespace stagesync::audit
