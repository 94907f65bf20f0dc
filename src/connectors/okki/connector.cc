// The OKKI CRM connector: product (or other list) pages as a source.
#include "connectors/connector.h"

#include "connectors/okki/okki_client.h"
#include "connectors/okki/okki_source.h"

namespace stagesync::connectors::okki {
namespace {

Status CheckSource(const config::PipelineConfig& p) {
  return source::okki::ReadSourceOptions(p).status();
}

Result<std::unique_ptr<source::Source>> MakeSource(const Context& ctx, source::SourceState) {
  SS_ASSIGN_OR_RETURN(auto client, ctx.rt.connections().Get<OkkiClient>(ctx.connection));
  SS_ASSIGN_OR_RETURN(auto opts, source::okki::ReadSourceOptions(ctx.pipeline));
  return std::unique_ptr<source::Source>(new source::okki::OkkiSource(
      ctx.pipeline.name, std::move(opts), std::move(client), ctx.rt.clock()));
}

}  // namespace

extern const Connector kConnector;  // listed in ../registry.cc
const Connector kConnector = {
    .type = "okki",
    .about = "OKKI CRM open API (OAuth2 client credentials), time-windowed list pages",
    .connection_options = SpecsOf<ClientOptionTable>,
    .check_connection = CheckWith<ReadClientOptions>,
    .make_client = ClientOf<OkkiClient, ReadClientOptions>,
    .source_options = SpecsOf<source::okki::SourceOptionTable>,
    .check_source = CheckSource,
    .make_source = MakeSource,
};

}  // namespace stagesync::connectors::okki
