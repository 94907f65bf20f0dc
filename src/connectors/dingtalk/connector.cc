// The DingTalk connector: approval instances (oapi) as a source.
#include "connectors/connector.h"

#include "connectors/dingtalk/dingtalk_client.h"
#include "connectors/dingtalk/dingtalk_source.h"

namespace stagesync::connectors::dingtalk {
namespace {

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
    .check_connection = CheckWith<ReadClientOptions>,
    .make_client = ClientOf<DingTalkClient, ReadClientOptions>,
    .source_options = SpecsOf<source::dingtalk::SourceOptionTable>,
    .check_source = CheckSource,
    .make_source = MakeSource,
};

}  // namespace stagesync::connectors::dingtalk
