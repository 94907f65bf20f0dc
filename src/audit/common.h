// What the audit of every sink type shares (audit.cc: MySQL, http_audit.cc: HTTP sinks):
// counting findings, describing column differences, reading staging read-only. Internal to
// src/audit.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "stagesync/stage.h"

namespace stagesync::audit {

// Counts a finding of class `cls` in the sink's report and keeps it (every class but ok and
// pending) in `out`.
void Tally(SinkReport* rep, std::vector<Finding>* out, std::string cls, const std::string& key,
           std::string row, std::string detail, std::vector<ColumnDiff> cols = {});

// "col: mapped A vs target B; ..." (NULL for a null value).
std::string DiffDetail(const std::vector<ColumnDiff>& diffs);

// The state dir's staging log, read-only (no lock: works beside a running agent); the error
// names the dir.
Result<std::unique_ptr<stage::StagingLog>> OpenStaging(const config::Config& cfg);

// `fn` for each staged record of `pipeline` in key order, or for record `key` alone when set.
Status EachStaged(stage::StagingLog* log, const std::string& pipeline, const std::string& key,
                  const std::function<Status(const stage::StagedRecord&)>& fn);

}  // namespace stagesync::audit
