// The DingTalk Yida connector: one form instance per source record as a sink.
#include "connectors/connector.h"

#include "connectors/yida/yida_sink.h"

namespace stagesync::connectors::yida {
namespace {

Result<std::shared_ptr<Client>> MakeClient(const config::ConnectionConfig& c, Runtime& rt) {
  return sink::yida::MakeYidaClient(c, rt);
}

Result<std::unique_ptr<sink::Target>> MakeTarget(const Context& ctx, const config::SinkConfig& s) {
  SS_ASSIGN_OR_RETURN(auto client, ctx.rt.connections().Get(ctx.connection));
  return sink::yida::MakeYidaTarget(ctx.pipeline, s, client, ctx.rt.clock());
}

Result<std::unique_ptr<sink::Sink>> MakeSink(const Context& ctx, const config::SinkConfig& s,
                                             stage::StagingLog* log) {
  SS_ASSIGN_OR_RETURN(auto target, MakeTarget(ctx, s));
  return IntentSinkFor(ctx, s, log, std::move(target));
}

}  // namespace

extern const Connector kConnector;  // listed in ../registry.cc
const Connector kConnector = {
    .type = "yida",
    .about = "DingTalk Yida forms (v1.0 API with the app's oapi token)",
    .connection_options = sink::yida::ConnectionOptionTable,
    .check_connection = sink::yida::CheckYidaConnection,
    .make_client = MakeClient,
    .sinks = {{.type = "yida",
               .about = "starts one form instance per record, updates it on change (exactly once)",
               .options = sink::yida::SinkOptionTable,
               .check = sink::yida::CheckYidaSink,
               .mapping = sink::yida::YidaMapping,
               .make = MakeSink,
               .make_target = MakeTarget}},
};

}  // namespace stagesync::connectors::yida
