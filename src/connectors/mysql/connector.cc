// The MySQL connector: a table (plus the ledger and offsets tables) as a sink, written in one
// transaction per batch. Any MySQL-compatible server the MariaDB client library speaks to.
#include "connectors/connector.h"

#include "connectors/mysql/mysql_sink.h"

namespace stagesync::connectors::mysql {
namespace {

using sink::mysql::ReadConnectionOptions;
using sink::mysql::ReadSinkOptions;

// A MySQL connection holds no session of its own: each sink opens its connection (one per
// applier thread); logging in is checked with the sinks (`check_target`).
class MySqlClient final : public Client {
 public:
  Status CheckLogin(const std::vector<const config::PipelineConfig*>&) override {
    return FailedPrecondition("checked with the sinks that use it");
  }
  bool HasLogin() const override { return false; }
};

Status CheckConnection(const config::ConnectionConfig& c) {
  return ReadConnectionOptions(c).status();
}

Result<std::shared_ptr<Client>> MakeClient(const config::ConnectionConfig& c, Runtime&) {
  SS_RETURN_IF_ERROR(CheckConnection(c));
  return std::shared_ptr<Client>(std::make_shared<MySqlClient>());
}

Status CheckSink(const config::PipelineConfig& p, const config::SinkConfig& s) {
  SS_ASSIGN_OR_RETURN(auto opts, ReadSinkOptions(p, s));
  return transform::Mapping::Compile(opts.mapping).status();
}

Result<transform::MappingSpec> Mapping(const config::PipelineConfig& p,
                                       const config::SinkConfig& s) {
  SS_ASSIGN_OR_RETURN(auto opts, ReadSinkOptions(p, s));
  return opts.mapping;
}

Result<std::unique_ptr<sink::Sink>> MakeSink(const Context& ctx, const config::SinkConfig& s,
                                             stage::StagingLog*) {
  SS_ASSIGN_OR_RETURN(auto sql_opts, ReadConnectionOptions(ctx.connection));
  SS_ASSIGN_OR_RETURN(auto opts, ReadSinkOptions(ctx.pipeline, s));
  Runtime& rt = ctx.rt;
  SS_ASSIGN_OR_RETURN(
      auto sink, sink::mysql::MySqlSink::Open(
                     ctx.pipeline.name, s.name, std::move(opts), std::move(sql_opts), rt.clock(),
                     [&rt](const SqlOptions& o) { return rt.ConnectSql(o); }));
  if (rt.notice()) sink->set_notice(rt.notice());
  return std::unique_ptr<sink::Sink>(std::move(sink));
}

// The target table matches the mapping.
Status CheckTarget(const Context& ctx, const config::SinkConfig& s) {
  SS_ASSIGN_OR_RETURN(auto sql_opts, ReadConnectionOptions(ctx.connection));
  SS_ASSIGN_OR_RETURN(auto opts, ReadSinkOptions(ctx.pipeline, s));
  SS_ASSIGN_OR_RETURN(auto mapping, transform::Mapping::Compile(opts.mapping));
  auto c = ctx.rt.ConnectSql(sql_opts);
  if (!c.ok()) return c.status().WithContext(s.path + ": cannot reach the target to check it");
  return sink::mysql::CheckTable(c->get(), opts.table, mapping.columns(), s.path);
}

}  // namespace

extern const Connector kConnector;  // listed in ../registry.cc
const Connector kConnector = {
    .type = "mysql",
    .about = "MySQL / MariaDB (MariaDB Connector/C)",
    .connection_options = SpecsOf<sink::mysql::ConnectionTable>,
    .check_connection = CheckConnection,
    .make_client = MakeClient,
    .sinks = {{.type = "mysql",
               .about = "rows, a ledger row per record and the offset in one transaction",
               .options = SpecsOf<sink::mysql::SinkTable>,
               .check = CheckSink,
               .mapping = Mapping,
               .make = MakeSink,
               .check_target = CheckTarget}},
};

}  // namespace stagesync::connectors::mysql
