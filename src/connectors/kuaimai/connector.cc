// The Kuaimai ERP connector: signed list methods over time windows as a source.
#include "connectors/connector.h"

#include "connectors/kuaimai/kuaimai_client.h"
#include "connectors/kuaimai/kuaimai_source.h"

namespace stagesync::connectors::kuaimai {
namespace {

Status CheckSource(const config::PipelineConfig& p) {
  return source::kuaimai::ReadSourceOptions(p.source, p.time_zone).status();
}

Result<std::unique_ptr<source::Source>> MakeSource(const Context& ctx, source::SourceState state) {
  SS_ASSIGN_OR_RETURN(auto client, ctx.rt.connections().Get<KuaimaiClient>(ctx.connection));
  SS_ASSIGN_OR_RETURN(
      auto opts, source::kuaimai::ReadSourceOptions(ctx.pipeline.source, ctx.pipeline.time_zone));
  return std::unique_ptr<source::Source>(new source::kuaimai::KuaimaiSource(
      ctx.pipeline.name, std::move(opts), std::move(client), ctx.rt.clock(), std::move(state)));
}

}  // namespace

// Here rather than in the client: the method to probe with is a source option.
Status KuaimaiClient::CheckLogin(const std::vector<const config::PipelineConfig*>& users) {
  config::SourceConfig none{"", "", json::Value::Object(), ""};
  SS_ASSIGN_OR_RETURN(auto o,
                      source::kuaimai::ReadSourceOptions(users.empty() ? none : users[0]->source));
  // A closed minute an hour ago: one small page, whatever the data.
  const int64_t end = clock_->NowMillis() / 60000 * 60000 - 3600000;
  return Probe(o.method, {{"pageNo", "1"},
                          {"pageSize", "1"},
                          {"startModified", FormatBeijingTime(end - 60000)},
                          {"endModified", FormatBeijingTime(end)}});
}

extern const Connector kConnector;  // listed in ../registry.cc
const Connector kConnector = {
    .type = "kuaimai",
    .about = "Kuaimai ERP open platform (signed calls, rotating session), windowed list methods",
    .connection_options = SpecsOf<ClientOptionTable>,
    .check_connection = CheckWith<ReadClientOptions>,
    .make_client = ClientOf<KuaimaiClient, ReadClientOptions>,
    .source_options = SpecsOf<source::kuaimai::SourceOptionTable>,
    .check_source = CheckSource,
    .make_source = MakeSource,
};

}  // namespace stagesync::connectors::kuaimai
