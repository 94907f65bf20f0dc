// Yida sink (seed 003): one DingTalk Yida form instance per source record. The first version
// starts an instance (formDataJson built by the mapping, the source id in a configured form
// field); later versions update it; deletions follow `on_delete`. Creates go through
// IntentSink, and an unknown outcome is resolved by searching the form for the source id
// (re-searching once after `search_lag_ms`, since search trails a fresh start).
#pragma once

#include <memory>

#include "connectors/common/intent_sink.h"
#include "stagesync/config.h"
#include "stagesync/http.h"

namespace stagesync::sink::yida {

const std::vector<config::OptionSpec>& SinkOptionTable();
const std::vector<config::OptionSpec>& ConnectionOptionTable();

Status CheckYidaSink(const config::Config& cfg, const config::PipelineConfig& p,
                     const config::SinkConfig& s);
Result<transform::MappingSpec> YidaMapping(const config::PipelineConfig& p,
                                           const config::SinkConfig& s);
Result<std::unique_ptr<Target>> MakeYidaTarget(const config::Config& cfg,
                                               const config::PipelineConfig& p,
                                               const config::SinkConfig& s, HttpClient* http,
                                               Clock* clock);

}  // namespace stagesync::sink::yida
