// MariaDB Connector/C implementation of SqlConnection. The only file that includes <mysql.h>.
#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>

#include <cstring>
#include <mutex>

#include "stagesync/sql.h"

namespace stagesync {

StatusCode ClassifyMySqlError(unsigned int e) {
  switch (e) {
    case ER_LOCK_DEADLOCK:      // 1213
    case ER_LOCK_WAIT_TIMEOUT:  // 1205
      return StatusCode::kAborted;
    case CR_SERVER_GONE_ERROR:     // 2006
    case CR_SERVER_LOST:           // 2013
    case CR_CONNECTION_ERROR:      // 2002
    case CR_CONN_HOST_ERROR:       // 2003
    case CR_SERVER_LOST_EXTENDED:  // 2055
    case ER_SERVER_SHUTDOWN:       // 1053
    case ER_CON_COUNT_ERROR:       // 1040
    case 1927:                     // ER_CONNECTION_KILLED
    case 4031:                     // ER_CLIENT_INTERACTION_TIMEOUT
      return StatusCode::kUnavailable;
    case ER_DATA_TOO_LONG:                    // 1406
    case ER_TRUNCATED_WRONG_VALUE:            // 1292
    case ER_TRUNCATED_WRONG_VALUE_FOR_FIELD:  // 1366
    case ER_WARN_DATA_OUT_OF_RANGE:           // 1264
    case ER_BAD_NULL_ERROR:                   // 1048
    case WARN_DATA_TRUNCATED:                 // 1265
    case ER_DIVISION_BY_ZERO:                 // 1365
    case ER_INVALID_CHARACTER_STRING:         // 1300
    case ER_NO_DEFAULT_FOR_FIELD:             // 1364
    case 4025:                                // ER_CONSTRAINT_FAILED (CHECK)
    case ER_NO_REFERENCED_ROW_2:              // 1452
      return StatusCode::kInvalidArgument;
    case ER_ACCESS_DENIED_ERROR:       // 1045
    case ER_DBACCESS_DENIED_ERROR:     // 1044
    case ER_TABLEACCESS_DENIED_ERROR:  // 1142
      return StatusCode::kPermissionDenied;
    case ER_NO_SUCH_TABLE:    // 1146
    case ER_BAD_FIELD_ERROR:  // 1054
    case ER_BAD_DB_ERROR:     // 1049
      return StatusCode::kFailedPrecondition;
    default:
      return StatusCode::kInternal;
  }
}

std::string QuoteIdentifier(std::string_view name) {
  std::string out = "`";
  for (char c : name) {
    if (c == '`') out.push_back('`');
    out.push_back(c);
  }
  out.push_back('`');
  return out;
}

namespace {

// LOAD DATA LOCAL: the server names the file it wants, and a rogue or intercepted server can
// name any file (/proc/self/environ holds every secret) in reply to ANY statement. So the
// library's file-reading handler is never used: ours is installed for the connection's whole
// life and serves only the in-memory buffer of the load under way, under the name our own
// statement used; every other request is refused. LOCAL itself is also switched on only for
// that statement.
constexpr std::string_view kLocalInfileName = "stagesync-stream";

struct LocalInfileSource {
  std::string_view data;
  size_t pos = 0;
  bool active = false;  // a LoadDataLocal is under way on this connection
};

int InfileInit(void** ptr, const char* filename, void* userdata) {
  auto* src = static_cast<LocalInfileSource*>(userdata);
  *ptr = src;
  if (src == nullptr || !src->active || filename == nullptr ||
      std::string_view(filename) != kLocalInfileName) {
    *ptr = nullptr;
    return 1;  // refused: the library sends the server an empty file and reports the error
  }
  src->pos = 0;
  return 0;
}
int InfileRead(void* ptr, char* buf, unsigned int len) {
  auto* src = static_cast<LocalInfileSource*>(ptr);
  if (src == nullptr) return -1;
  size_t n = std::min<size_t>(len, src->data.size() - src->pos);
  std::memcpy(buf, src->data.data() + src->pos, n);
  src->pos += n;
  return static_cast<int>(n);
}
void InfileEnd(void*) {}
int InfileError(void* ptr, char* buf, unsigned int len) {
  std::snprintf(buf, len, "%s",
                ptr == nullptr ? "stagesync: LOAD DATA LOCAL request refused (only stagesync's "
                                 "own in-memory load is served)"
                               : "stagesync local infile error");
  return CR_UNKNOWN_ERROR;
}

std::once_flag g_library_init;

class MySqlConnection final : public SqlConnection {
 public:
  explicit MySqlConnection(SqlOptions opts) : opts_(std::move(opts)) {}
  ~MySqlConnection() override {
    if (mysql_ != nullptr) mysql_close(mysql_);
  }

  Status Connect() {
    std::call_once(g_library_init, [] { mysql_library_init(0, nullptr, nullptr); });
    if (mysql_ != nullptr) {
      mysql_close(mysql_);
      mysql_ = nullptr;
    }
    mysql_ = mysql_init(nullptr);
    if (mysql_ == nullptr) return Internal("mysql_init failed");
    unsigned int ct = static_cast<unsigned int>(opts_.connect_timeout_s);
    unsigned int rt = static_cast<unsigned int>(opts_.read_timeout_s);
    unsigned int wt = static_cast<unsigned int>(opts_.write_timeout_s);
    mysql_optionsv(mysql_, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
    mysql_optionsv(mysql_, MYSQL_OPT_READ_TIMEOUT, &rt);
    mysql_optionsv(mysql_, MYSQL_OPT_WRITE_TIMEOUT, &wt);
    // The server allows LOAD DATA LOCAL only if the login announced it, so the login does;
    // right after it the client stops accepting LOCAL requests, except during LoadDataLocal
    // (and then only for its own buffer, see InfileInit).
    unsigned int local_infile = 1;
    mysql_optionsv(mysql_, MYSQL_OPT_LOCAL_INFILE, &local_infile);
    mysql_set_local_infile_handler(mysql_, InfileInit, InfileRead, InfileEnd, InfileError,
                                   &infile_);
    mysql_optionsv(mysql_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (opts_.tls_mode == "required" || opts_.tls_mode == "verify_identity") {
      my_bool enforce = 1;
      mysql_optionsv(mysql_, MYSQL_OPT_SSL_ENFORCE, &enforce);
      if (opts_.tls_mode == "verify_identity") {
        my_bool verify = 1;
        mysql_optionsv(mysql_, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
      }
    }
    if (!opts_.tls_ca.empty()) mysql_optionsv(mysql_, MYSQL_OPT_SSL_CA, opts_.tls_ca.c_str());
    const char* socket = opts_.socket.empty() ? nullptr : opts_.socket.c_str();
    if (mysql_real_connect(mysql_, opts_.host.c_str(), opts_.user.c_str(), opts_.password.c_str(),
                           opts_.database.empty() ? nullptr : opts_.database.c_str(),
                           static_cast<unsigned int>(opts_.port), socket,
                           CLIENT_FOUND_ROWS) == nullptr) {
      return Error("connecting to " + Where());
    }
    local_infile = 0;
    mysql_optionsv(mysql_, MYSQL_OPT_LOCAL_INFILE, &local_infile);
    // utf8mb4 through the client API (escaping depends on it), strict mode so that bad data
    // is an error instead of a silent truncation, and read-committed for short locks.
    if (mysql_set_character_set(mysql_, "utf8mb4") != 0) return Error("setting utf8mb4");
    SS_RETURN_IF_ERROR(
        Execute("SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,NO_ZERO_DATE,"
                "NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO', time_zone = '+00:00'"));
    return Execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
  }

  Result<SqlResult> Query(std::string_view sql) override {
    if (mysql_ == nullptr) return Unavailable("not connected to " + Where());
    if (mysql_real_query(mysql_, sql.data(), static_cast<unsigned long>(sql.size())) != 0) {
      return Error("query");
    }
    SqlResult out;
    MYSQL_RES* res = mysql_store_result(mysql_);
    if (res == nullptr) {
      // NULL is also how a result set cut off in transit ends (2013, lost connection): only a
      // statement without a result set and without an error is a success, never "no rows".
      if (mysql_field_count(mysql_) != 0 || mysql_errno(mysql_) != 0) {
        return Error("reading result");
      }
      out.affected_rows = mysql_affected_rows(mysql_);
      return out;
    }
    unsigned int n = mysql_num_fields(res);
    MYSQL_FIELD* fields = mysql_fetch_fields(res);
    for (unsigned int i = 0; i < n; ++i) out.columns.emplace_back(fields[i].name);
    while (MYSQL_ROW row = mysql_fetch_row(res)) {
      unsigned long* lens = mysql_fetch_lengths(res);
      std::vector<std::optional<std::string>> r(n);
      for (unsigned int i = 0; i < n; ++i) {
        if (row[i] != nullptr) r[i] = std::string(row[i], lens[i]);
      }
      out.rows.push_back(std::move(r));
    }
    mysql_free_result(res);
    return out;
  }

  std::string Quote(std::string_view s) override {
    std::string out;
    out.resize(s.size() * 2 + 3);
    out[0] = '\'';
    unsigned long n = mysql_real_escape_string(mysql_, out.data() + 1, s.data(),
                                               static_cast<unsigned long>(s.size()));
    out.resize(n + 2);
    out[n + 1] = '\'';
    return out;
  }

  Status Reconnect() override { return Connect(); }

  Result<uint64_t> LoadDataLocal(std::string_view sql, std::string_view data,
                                 uint64_t* warnings) override {
    if (mysql_ == nullptr) return Unavailable("not connected to " + Where());
    infile_ = LocalInfileSource{data, 0, true};
    unsigned int on = 1, off = 0;
    mysql_optionsv(mysql_, MYSQL_OPT_LOCAL_INFILE, &on);
    int rc = mysql_real_query(mysql_, sql.data(), static_cast<unsigned long>(sql.size()));
    mysql_optionsv(mysql_, MYSQL_OPT_LOCAL_INFILE, &off);
    infile_ = LocalInfileSource{};
    if (rc != 0) return Error("LOAD DATA");
    if (warnings != nullptr) *warnings = mysql_warning_count(mysql_);
    return static_cast<uint64_t>(mysql_affected_rows(mysql_));
  }

  std::string ServerInfo() override { return mysql_ ? mysql_get_server_info(mysql_) : ""; }

 private:
  std::string Where() const {
    if (!opts_.socket.empty()) return "mysql socket " + opts_.socket;
    return "mysql " + opts_.user + "@" + opts_.host + ":" + std::to_string(opts_.port) + "/" +
           opts_.database;
  }

  Status Error(std::string_view what) {
    unsigned int e = mysql_errno(mysql_);
    std::string msg =
        std::string(what) + ": MySQL error " + std::to_string(e) + ": " + mysql_error(mysql_);
    return Status(ClassifyMySqlError(e), msg);
  }

  SqlOptions opts_;
  MYSQL* mysql_ = nullptr;
  LocalInfileSource infile_;  // the handler's userdata: points here for the connection's life
};

}  // namespace

Result<std::unique_ptr<SqlConnection>> ConnectMySql(const SqlOptions& opts) {
  auto c = std::make_unique<MySqlConnection>(opts);
  SS_RETURN_IF_ERROR(c->Connect());
  return std::unique_ptr<SqlConnection>(std::move(c));
}

}  // namespace stagesync
