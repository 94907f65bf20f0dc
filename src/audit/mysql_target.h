// A MySQL sink's target as the audit and the trail read it: the sink's options and compiled
// mapping, and a connection to its server. Errors name the pipeline, the sink and where MySQL
// was expected (never the password). Not thread-safe: one reader per MySqlTarget.
#pragma once

#include <memory>

#include "connectors/mysql/mysql_sink.h"
#include "stagesync/config.h"
#include "stagesync/sql.h"
#include "stagesync/status.h"
#include "stagesync/transform.h"

namespace stagesync::audit {

struct MySqlTarget {
  SqlOptions sql;
  sink::mysql::MySqlSinkOptions sink;
  transform::Mapping mapping;
  std::unique_ptr<SqlConnection> conn;
};

// Reads sink `s` of pipeline `p` (a MySQL sink) and connects to its server.
Result<MySqlTarget> ConnectMySqlTarget(const config::Config& cfg, const config::PipelineConfig& p,
                                       const config::SinkConfig& s);

}  // namespace stagesync::audit
