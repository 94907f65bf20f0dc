// SqlConnection: the seam between stagesync and a MySQL-compatible server. The real
// implementation is MariaDB Connector/C (utf8mb4 always, strict SQL mode); tests wrap it to
// inject faults. One connection is used by one thread at a time.
// MySQL error numbers are mapped to Status codes here, once: deadlocks and lock waits are
// Aborted (redo the transaction), lost connections Unavailable (reconnect, redo), bad data
// InvalidArgument (this row cannot go in).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stagesync/status.h"

namespace stagesync {

struct SqlOptions {
  std::string host = "127.0.0.1";
  int port = 3306;
  std::string socket;  // when set, used instead of host/port
  std::string user;
  std::string password;  // from ${ENV}; never logged
  std::string database;
  std::string tls_mode = "preferred";  // disabled | preferred | required | verify_identity
  std::string tls_ca;
  int connect_timeout_s = 10;  // Default: 10 s
  int read_timeout_s = 120;    // Default: 120 s
  int write_timeout_s = 120;   // Default: 120 s
};

struct SqlResult {
  std::vector<std::string> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;
  uint64_t affected_rows = 0;
};

class SqlConnection {
 public:
  virtual ~SqlConnection() = default;
  // Runs one statement (or several separated by ';' when multi-statements are on).
  virtual Result<SqlResult> Query(std::string_view sql) = 0;
  Status Execute(std::string_view sql) { return Query(sql).status(); }
  // Escapes `s` for the connection's charset and wraps it in single quotes.
  virtual std::string Quote(std::string_view s) = 0;
  // Reconnects if the server went away.
  virtual Status Reconnect() = 0;
  // Runs `LOAD DATA LOCAL INFILE 'stagesync-stream' ...` feeding `data` from memory; returns
  // the affected rows. The server turns data errors of a LOCAL load into warnings (it cannot
  // stop the client's stream), so callers must treat `*warnings` > 0 as a failure.
  virtual Result<uint64_t> LoadDataLocal(std::string_view sql, std::string_view data,
                                         uint64_t* warnings = nullptr) = 0;
  // The server's version string.
  virtual std::string ServerInfo() = 0;
};

// Error number to Status code (exposed for tests).
StatusCode ClassifyMySqlError(unsigned int errnum);

Result<std::unique_ptr<SqlConnection>> ConnectMySql(const SqlOptions& opts);

// Backquotes an identifier (table or column name), doubling embedded backquotes.
std::string QuoteIdentifier(std::string_view name);

}  // namespace stagesync
