// The audit of HTTP sinks (Kingdee Push, Yida): what the target holds for each record the sink
// applied, asked through the target's read-only hooks (sink::Target::FindAll, ScanAll), which
// the connector builds (connectors::MakeTarget). Internal to src/audit.
#pragma once

#include <string>
#include <vector>

#include "audit/audit.h"
#include "connectors/common/intent_sink.h"
#include "stagesync/config.h"

namespace stagesync::audit {

// Audits one HTTP sink. The target's objects are read first, then staging (read-only): a record
// applied meanwhile shows as pending, and an object created meanwhile belongs to a record
// staging already holds, so it is never taken for an extra one.
Status AuditHttpSink(const config::Config& cfg, const config::PipelineConfig& p,
                     const config::SinkConfig& s, sink::Target* target, const AuditOptions& opts,
                     SinkReport* rep, std::vector<Finding>* out);

}  // namespace stagesync::audit
