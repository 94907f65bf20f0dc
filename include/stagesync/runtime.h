// Runtime: everything the engine takes from the outside world, in one object (in the spirit of
// LevelDB's Env): the clock, the HTTP client, how SQL connections are opened, where operator
// notices go, and the Connections that build each configured connection's client once. One
// per process (the CLI, the agent) or per test; every source and sink naming a connection
// gets the same client from it, so one rate limit, one token and one session per connection
// across pipelines. Thread-safe once built (RequestStop may come from any thread, e.g. a
// signal watcher); the parts it was given must outlive it.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "stagesync/clock.h"
#include "stagesync/http.h"
#include "stagesync/sql.h"
#include "stagesync/status.h"
#include "stagesync/telemetry.h"

namespace stagesync {

namespace connectors {
class Connections;
}
namespace stage {
class StagingLog;
}

using SqlConnector = std::function<Result<std::unique_ptr<SqlConnection>>(const SqlOptions&)>;

struct RuntimeOptions {
  Clock* clock = nullptr;                          // Default: the real clock
  HttpClient* http = nullptr;                      // Default: a libcurl client the Runtime owns
  SqlConnector connect_sql;                        // Default: ConnectMySql
  std::function<void(const std::string&)> notice;  // things an operator should hear. Default: none
};

class Runtime {
 public:
  explicit Runtime(RuntimeOptions opts = {});
  Runtime(HttpClient* http, Clock* clock) : Runtime(RuntimeOptions{clock, http, {}, {}}) {}
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  Clock* clock() const { return clock_; }
  HttpClient* http() const { return http_; }
  Result<std::unique_ptr<SqlConnection>> ConnectSql(const SqlOptions& o) const {
    return connect_sql_(o);
  }
  const std::function<void(const std::string&)>& notice() const { return notice_; }
  void set_notice(std::function<void(const std::string&)> fn) { notice_ = std::move(fn); }
  // The clients of the configured connections (see src/connectors/connector.h).
  connectors::Connections& connections() { return *connections_; }

  // Graceful shutdown: once requested, vendor calls stop between attempts (no new retry or
  // backoff; an attempt already sent is finished) and return Cancelled. Never reset.
  void RequestStop() { stop_.store(true); }
  bool stopping() const { return stop_.load(); }
  const std::atomic<bool>* stop_flag() const { return &stop_; }

  // Where connections keep their daily quota counts (see connectors/common/daily_quota.h).
  // Null (the default): counted in memory only, lost on exit. Set before the first client is
  // built; the log must outlive the Runtime's clients.
  void set_staging(stage::StagingLog* log) { staging_ = log; }
  stage::StagingLog* staging() const { return staging_; }

  // Where the engine reports events for metrics (stagesync/telemetry.h); never null (the
  // default counts nothing). Set before the first client is built (clients keep the pointer);
  // `t` must outlive the Runtime's clients. Null restores the default.
  void set_telemetry(Telemetry* t) { telemetry_ = t != nullptr ? t : Telemetry::Null(); }
  Telemetry* telemetry() const { return telemetry_; }

 private:
  Clock* clock_;
  std::unique_ptr<HttpClient> own_http_;
  HttpClient* http_;
  SqlConnector connect_sql_;
  std::function<void(const std::string&)> notice_;
  std::unique_ptr<connectors::Connections> connections_;
  std::atomic<bool> stop_{false};
  stage::StagingLog* staging_ = nullptr;
  Telemetry* telemetry_ = Telemetry::Null();
};

}  // namespace stagesync
