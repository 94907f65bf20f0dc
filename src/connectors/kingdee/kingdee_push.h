// Kingdee Push sink (seed 001): pushes each selected CN_PAYAPPLY down to an AP_PAYBILL, several
// bills per call, results matched per bill. Push is not idempotent (a repeat pays twice), so
// it runs through IntentSink: an unknown outcome is resolved by asking Kingdee for an
// AP_PAYBILL whose source is that CN_PAYAPPLY (drafts included) before anything is sent again,
// and a bill already pushed is never pushed again when its request changes later.
#pragma once

#include <memory>

#include "connectors/common/intent_sink.h"
#include "connectors/kingdee/kingdee_client.h"
#include "stagesync/config.h"
#include "stagesync/http.h"

namespace stagesync::sink::kingdee {

const std::vector<config::OptionSpec>& SinkOptionTable();

// Checks the sink's options and mapping.
Status CheckPushSink(const config::PipelineConfig& p, const config::SinkConfig& s);
Result<transform::MappingSpec> PushMapping(const config::PipelineConfig& p,
                                           const config::SinkConfig& s);
// The target, pushing through `api` (the connection's client, shared with its sources).
Result<std::unique_ptr<Target>> MakePushTarget(
    const config::PipelineConfig& p, const config::SinkConfig& s,
    std::shared_ptr<connectors::kingdee::KingdeeClient> api);

}  // namespace stagesync::sink::kingdee
