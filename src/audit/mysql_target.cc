#include "audit/mysql_target.h"

#include <fmt/format.h>

namespace stagesync::audit {

Result<MySqlTarget> ConnectMySqlTarget(const config::Config& cfg, const config::PipelineConfig& p,
                                       const config::SinkConfig& s) {
  const config::ConnectionConfig* cc = cfg.FindConnection(s.connection);
  if (cc == nullptr) return NotFound(s.path + ": unknown connection '" + s.connection + "'");
  SS_ASSIGN_OR_RETURN(SqlOptions sql, sink::mysql::ReadConnectionOptions(*cc));
  SS_ASSIGN_OR_RETURN(sink::mysql::MySqlSinkOptions so, sink::mysql::ReadSinkOptions(p, s));
  SS_ASSIGN_OR_RETURN(transform::Mapping mapping, transform::Mapping::Compile(so.mapping));
  auto conn = ConnectMySql(sql);
  if (!conn.ok()) {
    return conn.status().WithContext(
        fmt::format("pipeline {}, sink {}: cannot reach MySQL at {}", p.name, s.name,
                    sql.socket.empty() ? fmt::format("{}:{}", sql.host, sql.port) : sql.socket));
  }
  return MySqlTarget{std::move(sql), std::move(so), std::move(mapping), std::move(conn).value()};
}

}  // namespace stagesync::audit
