// The Kingdee K3Cloud connector: ExecuteBillQuery as a source, Push (e.g. CN_PAYAPPLY ->
// AP_PAYBILL) as a sink, both in one login session per connection.
#include "connectors/connector.h"

#include "connectors/kingdee/kingdee_client.h"
#include "connectors/kingdee/kingdee_push.h"
#include "connectors/kingdee/kingdee_source.h"

namespace stagesync::connectors::kingdee {
namespace {

Status CheckSource(const config::PipelineConfig& p) {
  return source::kingdee::ReadSourceOptions(p).status();
}

Result<std::unique_ptr<source::Source>> MakeSource(const Context& ctx, source::SourceState state) {
  SS_ASSIGN_OR_RETURN(auto client, ctx.rt.connections().Get<KingdeeClient>(ctx.connection));
  SS_ASSIGN_OR_RETURN(auto opts, source::kingdee::ReadSourceOptions(ctx.pipeline));
  return std::unique_ptr<source::Source>(new source::kingdee::KingdeeSource(
      ctx.pipeline.name, std::move(opts), std::move(client), ctx.rt.clock(), std::move(state)));
}

Result<std::unique_ptr<sink::Target>> MakePushTarget(const Context& ctx,
                                                     const config::SinkConfig& s) {
  SS_ASSIGN_OR_RETURN(auto client, ctx.rt.connections().Get<KingdeeClient>(ctx.connection));
  return sink::kingdee::MakePushTarget(ctx.pipeline, s, client);
}

Result<std::unique_ptr<sink::Sink>> MakePush(const Context& ctx, const config::SinkConfig& s,
                                             stage::StagingLog* log) {
  SS_ASSIGN_OR_RETURN(auto target, MakePushTarget(ctx, s));
  return IntentSinkFor(ctx, s, log, std::move(target));
}

}  // namespace

extern const Connector kConnector;  // listed in ../registry.cc
const Connector kConnector = {
    .type = "kingdee",
    .about = "Kingdee K3Cloud WebAPI (login session), ExecuteBillQuery source and Push sink",
    .connection_options = SpecsOf<ClientOptionTable>,
    .check_connection = CheckWith<ReadClientOptions>,
    .make_client = ClientOf<KingdeeClient, ReadClientOptions>,
    .source_options = SpecsOf<source::kingdee::SourceOptionTable>,
    .check_source = CheckSource,
    .make_source = MakeSource,
    .sinks = {{.type = "kingdee_push",
               .about = "pushes each selected source bill down to a target bill (exactly once)",
               .options = sink::kingdee::SinkOptionTable,
               .check = sink::kingdee::CheckPushSink,
               .mapping = sink::kingdee::PushMapping,
               .make = MakePush,
               .make_target = MakePushTarget}},
};

}  // namespace stagesync::connectors::kingdee
