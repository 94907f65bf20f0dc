// Yida sink (seed 003): one DingTalk Yida form instance per source record. The first version
// starts an instance (formDataJson built by the mapping, the source id in a configured form
// field); later versions update it; deletions follow `on_delete`. Creates go through
// IntentSink, and an unknown outcome is resolved by searching the form for the source id
// (re-searching once after `search_lag_ms`, since search trails a fresh start).
#pragma once

#include <memory>

#include "connectors/common/client.h"
#include "connectors/common/intent_sink.h"
#include "stagesync/config.h"
#include "stagesync/http.h"
#include "stagesync/runtime.h"

namespace stagesync::sink::yida {

const std::vector<config::OptionSpec>& SinkOptionTable();
const std::vector<config::OptionSpec>& ConnectionOptionTable();

Status CheckYidaConnection(const config::ConnectionConfig& c);
// The connection's client: its v1.0 endpoint and the app's oapi token, both cut short by the
// Runtime's stop flag.
Result<std::shared_ptr<connectors::Client>> MakeYidaClient(const config::ConnectionConfig& c,
                                                           Runtime& rt);
Status CheckYidaSink(const config::PipelineConfig& p, const config::SinkConfig& s);
Result<transform::MappingSpec> YidaMapping(const config::PipelineConfig& p,
                                           const config::SinkConfig& s);
Result<std::unique_ptr<Target>> MakeYidaTarget(const config::PipelineConfig& p,
                                               const config::SinkConfig& s,
                                               std::shared_ptr<connectors::Client> client,
                                               Clock* clock);

}  // namespace stagesync::sink::yida
