// The DingTalk connector: approval instances (oapi) as a source.
#include "connectors/connector.h"

#include "connectors/dingtalk/dingtalk_client.h"
#include "connectors/dingtalk/dingtalk_source.h"

namespace stagesync::connectors::dingtalk {
namespace {

Status CheckConnection(const config::ConnectionConfig& c) { return ReadClientOptions(c).status(); }

Result<std::shared_ptr<Client>> MakeClient(const config::ConnectionConfig& c, Runtime& rt) {
  SS_ASSIGN_OR_RETURN(ClientOptions opts, ReadClientOptions(c));
  return std::shared_ptr<Client>(std::make_shared<DingTalkClient>(opts, rt.http(), rt.clock()));
}

Status CheckSource(const config::PipelineConfig& p) {
  return source::dingtalk::ReadSourceOptions(p.source, p.time_zone).status();
}

Result<std::unique_ptr<source::Source>> MakeSource(const Context& ctx, source::SourceState) {
  SS_ASSIGN_OR_RETURN(auto client, ctx.rt.connections().Get<DingTalkClient>(ctx.connection));
  SS_ASSIGN_OR_RETURN(
      auto opts, source::dingtalk::ReadSourceOptions(ctx.pipeline.source, ctx.pipeline.time_zone));
  return std::unique_ptr<source::Source>(new source::dingtalk::DingTalkSource(
      ctx.pipeline.name, std::move(opts), std::move(client), ctx.rt.clock()));
}

}  // namespace

extern const Connector kConnector;  // listed in ../registry.cc
const Connector kConnector = {
    .type = "dingtalk",
    .about = "DingTalk approval instances (oapi processinstance listids + get)",
    .connection_options = SpecsOf<ClientOptionTable>,
    .check_connection = CheckConnection,
    .make_client = MakeClient,
    .source_options = SpecsOf<source::dingtalk::SourceOptionTable>,
    .check_source = CheckSource,
    .make_source = MakeSource,
};

}  // namespace stagesync::connectors::dingtalk
