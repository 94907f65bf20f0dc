// The sink registry: sink type -> connector. Adding a target adds one line here.
#include "connectors/common/intent_sink.h"
#include "connectors/kingdee/kingdee_push.h"
#include "connectors/mysql/mysql_sink.h"
#include "connectors/yida/yida_sink.h"
#include "stagesync/sink.h"

namespace stagesync::sink {

Result<transform::MappingSpec> SinkMapping(const config::PipelineConfig& p,
                                           const config::SinkConfig& s) {
  if (s.type == "mysql") {
    SS_ASSIGN_OR_RETURN(auto opts, mysql::ReadSinkOptions(p, s));
    return opts.mapping;
  }
  if (s.type == "yida") return yida::YidaMapping(p, s);
  if (s.type == "kingdee_push") return kingdee::PushMapping(p, s);
  return FailedPrecondition(s.path + ": the '" + s.type + "' sink has no mapping in this build");
}

Status CheckSink(const config::Config& cfg, const config::PipelineConfig& p,
                 const config::SinkConfig& s, bool connect) {
  const config::ConnectionConfig* conn = cfg.FindConnection(s.connection);
  if (conn == nullptr) return InvalidArgument(s.path + ".connection: unknown connection");
  if (s.type == "mysql") {
    if (conn->type != "mysql") {
      return InvalidArgument(s.path + ".connection: '" + conn->name + "' is a " + conn->type +
                             " connection, not mysql");
    }
    SS_ASSIGN_OR_RETURN(auto sql_opts, mysql::ReadConnectionOptions(*conn));
    SS_ASSIGN_OR_RETURN(auto opts, mysql::ReadSinkOptions(p, s));
    SS_ASSIGN_OR_RETURN(auto mapping, transform::Mapping::Compile(opts.mapping));
    if (!connect) return Status::Ok();
    auto c = ConnectMySql(sql_opts);
    if (!c.ok()) return c.status().WithContext(s.path + ": cannot reach the target to check it");
    return mysql::CheckTable(c->get(), opts.table, mapping.columns(), s.path);
  }
  if (s.type == "yida") return yida::CheckYidaSink(cfg, p, s);
  if (s.type == "kingdee_push") return kingdee::CheckPushSink(cfg, p, s);
  return InvalidArgument(s.path + ".type: unknown sink type '" + s.type + "'");
}

Result<std::unique_ptr<Sink>> MakeSink(const config::Config& cfg, const config::PipelineConfig& p,
                                       const config::SinkConfig& s, const SinkDeps& deps) {
  SS_RETURN_IF_ERROR(CheckSink(cfg, p, s, false));
  const config::ConnectionConfig* conn = cfg.FindConnection(s.connection);
  if (s.type == "mysql") {
    SS_ASSIGN_OR_RETURN(auto sql_opts, mysql::ReadConnectionOptions(*conn));
    SS_ASSIGN_OR_RETURN(auto opts, mysql::ReadSinkOptions(p, s));
    SS_ASSIGN_OR_RETURN(auto sink, mysql::MySqlSink::Open(p.name, s.name, std::move(opts),
                                                          std::move(sql_opts), deps.clock));
    if (deps.notice) sink->set_notice(deps.notice);
    return std::unique_ptr<Sink>(std::move(sink));
  }
  if (s.type == "yida" || s.type == "kingdee_push") {
    if (deps.log == nullptr || deps.http == nullptr) {
      return Internal(s.path + ": HTTP sinks need the staging log and an HTTP client");
    }
    std::unique_ptr<Target> target;
    if (s.type == "yida") {
      SS_ASSIGN_OR_RETURN(target, yida::MakeYidaTarget(cfg, p, s, deps.http, deps.clock));
    } else {
      SS_ASSIGN_OR_RETURN(target, kingdee::MakePushTarget(cfg, p, s, deps.http, deps.clock));
    }
    auto sink = std::make_unique<IntentSink>(p.name, s.name, std::move(target), deps.log,
                                             deps.clock, IntentSinkOptions{});
    if (deps.notice) sink->set_notice(deps.notice);
    return std::unique_ptr<Sink>(std::move(sink));
  }
  return InvalidArgument(s.path + ".type: unknown sink type '" + s.type + "'");
}

}  // namespace stagesync::sink
