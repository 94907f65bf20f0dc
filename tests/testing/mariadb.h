// Test access to the MariaDB server the ctest fixture started (tests/mariadb/server): each
// test gets its own database, dropped at the end. Also starts private servers for tests that
// restart one.
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>

#include "stagesync/sql.h"
#include "testing/subprocess.h"

namespace stagesync::testing {

// The first line of a file (a one-line output).
inline std::string ReadFileTrimmed(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  return s;
}

// A whole file (a log).
inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::string MariaDbServerScript() { return STAGESYNC_SOURCE_DIR "/tests/mariadb/server"; }

class TestDatabase {
 public:
  // Uses the fixture's server (port in STAGESYNC_TEST_MARIADB_DIR/port), or `port` if given.
  explicit TestDatabase(int port = 0) {
    port_ = port ? port : std::atoi(ReadFileTrimmed(STAGESYNC_TEST_MARIADB_DIR "/port").c_str());
    static std::atomic<int> counter{0};
    name_ = fmt::format("t{}_{}", ::getpid(), counter++);
    auto admin = ConnectMySql(Options(""));
    if (admin.ok()) {
      (void)(*admin)->Execute("DROP DATABASE IF EXISTS " + name_);
      ok_ = (*admin)->Execute("CREATE DATABASE " + name_ + " CHARACTER SET utf8mb4").ok();
    }
    if (ok_) {
      auto c = ConnectMySql(Options(name_));
      ok_ = c.ok();
      if (ok_) conn_ = std::move(c).value();
    }
  }
  ~TestDatabase() {
    auto admin = ConnectMySql(Options(""));
    if (admin.ok()) (void)(*admin)->Execute("DROP DATABASE IF EXISTS " + name_);
  }
  bool ok() const { return ok_; }
  int port() const { return port_; }
  const std::string& name() const { return name_; }
  SqlConnection* conn() { return conn_.get(); }
  SqlOptions Options(const std::string& db) const {
    SqlOptions o;
    o.host = "127.0.0.1";
    o.port = port_;
    o.user = "root";
    o.database = db;
    o.tls_mode = "disabled";
    o.connect_timeout_s = 5;
    return o;
  }
  // A write_log the test reads: one row per row INSERTed ('I') or UPDATEd ('U') in the payment
  // table (bfn_id, detail_index), whatever wrote it.
  Status AddPaymentWriteLog() {
    Status s = conn()->Execute(
        "CREATE TABLE write_log (id BIGINT AUTO_INCREMENT PRIMARY KEY, bfn_id VARCHAR(64), "
        "detail_index INT, op CHAR(1))");
    for (std::string op : {"INSERT", "UPDATE"}) {
      if (!s.ok()) break;
      s = conn()->Execute("CREATE TRIGGER wl_" + op + " AFTER " + op +
                          " ON payment_application_info FOR EACH ROW INSERT INTO write_log "
                          "(bfn_id, detail_index, op) VALUES (NEW.bfn_id, NEW.detail_index, '" +
                          op[0] + "')");
    }
    return s;
  }
  // Runs a .sql file of ';'-separated statements.
  Status Source(const std::string& file) {
    std::ifstream in(file);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string stmt;
    for (char c : all) {
      if (c == ';') {
        if (stmt.find_first_not_of(" \n\t\r") != std::string::npos) {
          // Strip "--" comment lines.
          std::string clean, line;
          std::istringstream ls(stmt);
          while (std::getline(ls, line)) {
            size_t p = line.find_first_not_of(" \t");
            if (p != std::string::npos && line.compare(p, 2, "--") == 0) continue;
            clean += line + "\n";
          }
          SS_RETURN_IF_ERROR(conn_->Execute(clean));
        }
        stmt.clear();
      } else {
        stmt.push_back(c);
      }
    }
    return Status::Ok();
  }
  Result<std::string> Scalar(const std::string& sql) {
    SS_ASSIGN_OR_RETURN(SqlResult r, conn_->Query(sql));
    if (r.rows.empty() || r.rows[0].empty() || !r.rows[0][0]) return std::string("NULL");
    return *r.rows[0][0];
  }

 private:
  int port_ = 0;
  std::string name_;
  bool ok_ = false;
  std::unique_ptr<SqlConnection> conn_;
};

// A private MariaDB server (own data dir), for tests that stop or restart it.
class PrivateMariaDb {
 public:
  explicit PrivateMariaDb(const std::string& dir) : dir_(dir) {
    Run({"/bin/bash", MariaDbServerScript(), "start", dir_}, {}, dir_ + ".log");
    port_ = std::atoi(ReadFileTrimmed(dir_ + "/port").c_str());
  }
  ~PrivateMariaDb() { Run({"/bin/bash", MariaDbServerScript(), "stop", dir_}); }
  int port() const { return port_; }
  int Restart() {
    return Run({"/bin/bash", MariaDbServerScript(), "restart", dir_}, {}, dir_ + ".log");
  }
  int Stop() { return Run({"/bin/bash", MariaDbServerScript(), "stop", dir_}); }
  int Start() {
    return Run({"/bin/bash", MariaDbServerScript(), "start", dir_}, {}, dir_ + ".log");
  }

 private:
  std::string dir_;
  int port_ = 0;
};

}  // namespace stagesync::testing
