// Config: the one JSON file that names the state dir, connections and pipelines. Loading
// expands ${ENV} references (secrets live only in the environment), checks the structure and
// fails fast naming the JSON path of the first problem. Connector-specific options are checked
// by each connector against its declared option table (OptionReader below).
// Loaded once at start; read-only afterwards, so safe to share between threads.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stagesync/json.h"
#include "stagesync/status.h"

namespace stagesync::config {

struct ConnectionConfig {
  std::string name;
  std::string type;     // "dingtalk", "mysql", "kingdee", ...
  json::Value options;  // everything else, ${ENV} expanded
  std::string path;     // JSON path, for error messages: "connections.NAME"
};

struct SourceConfig {
  std::string connection;
  std::string type;  // the connection's type
  json::Value options;
  std::string path;
};

struct SinkConfig {
  std::string name;
  std::string type;
  std::string connection;
  json::Value options;
  std::string path;
};

// The largest `schedule_jitter_s` (a day).
inline constexpr int64_t kMaxScheduleJitterS = 86400;

// The largest `history_versions`.
inline constexpr int64_t kMaxHistoryVersions = 1000;

struct PipelineConfig {
  std::string name;
  SourceConfig source;
  std::string schedule;  // cron "m h dom mon dow" or "@every 5m" (stagesync/schedule.h)
  // Each tick runs this pipeline up to this many seconds late, by a fixed amount derived from
  // its name (schedule::JitterMs), so pipelines sharing a connection do not start together.
  // Default: 0. At most kMaxScheduleJitterS.
  int64_t schedule_jitter_s = 0;
  std::vector<std::string> hash_exclude;  // volatile top-level source fields
  // Versions of each record kept in staging's per-record history (field-level diffs, read by
  // `stagesync-audit --key`). Default: stage::kDefaultHistoryVersions (10); 0 = off; at most
  // kMaxHistoryVersions.
  int64_t history_versions = 10;
  std::string time_zone = "Asia/Shanghai";
  std::vector<SinkConfig> sinks;
  // Small static tables for lookup('table', key) in mappings: table -> code -> name.
  std::map<std::string, std::map<std::string, std::string>> lookups;
  std::string path;
};

// The `agent` section: how `stagesync run` serves the pipelines (see doc/agent.md).
struct AgentConfig {
  std::string listen = "127.0.0.1:9464";  // control API (and later metrics) listener
  std::string token;                      // bearer token for the API, from ${ENV}; "" = none
  int64_t max_parallel_pipelines = 4;     // pipelines doing work at once
  int64_t shutdown_grace_s = 30;          // SIGTERM: in-flight batches get this long
  int64_t backoff_base_s = 30;            // a failing pipeline or sink retries after base,
  int64_t backoff_max_s = 1800;           // 2 x base, ... up to max
  std::string lang = "both";              // status page labels: "zh", "en" or "both"
  std::string path = "agent";
};

// The `alerts` section: messages the agent itself sends to a DingTalk robot and/or a JSON
// webhook when a condition starts and when it clears (see doc/alerts.md). No channel: off.
struct AlertsConfig {
  std::string dingtalk_webhook;  // dingtalk_robot.webhook (with access_token), from ${ENV}
  std::string dingtalk_secret;   // dingtalk_robot.secret (SEC...), from ${ENV}; "" = unsigned
  std::string webhook_url;       // webhook.url
  std::string status_page_url;   // linked from messages. Default: http://<agent.listen>/
  int64_t failed_runs = 3;       // N consecutive failed runs; 0 = off
  int64_t freshness_s = 0;       // last successful run older than this; 0 = off
  std::map<std::string, int64_t> freshness_s_per_pipeline;  // overrides freshness_s
  bool quarantine_grew = true;
  int64_t intent_open_s = 600;   // an intent open longer than this; 0 = off
  bool quota = true;             // a connection's daily quota spent
  bool drift = true;             // a mapping reference stopped resolving
  int64_t min_interval_s = 600;  // per pipeline+condition, between two firing messages
  int64_t max_per_hour = 30;     // all messages of the agent
  int64_t check_interval_s = 5;  // how often conditions are evaluated
  bool enabled() const { return !dingtalk_webhook.empty() || !webhook_url.empty(); }
  std::string path = "alerts";
};

struct Config {
  std::string file;
  AgentConfig agent;
  AlertsConfig alerts;
  std::string state_dir;  // absolute, or relative to the config file's folder
  std::map<std::string, ConnectionConfig> connections;
  std::vector<PipelineConfig> pipelines;

  const PipelineConfig* FindPipeline(std::string_view name) const;
  const ConnectionConfig* FindConnection(std::string_view name) const;
};

// Reads and checks a config file (at most 16 MiB, read bounded). InvalidArgument "PATH: problem"
// on any error. In strings, `${NAME}` reads environment variable NAME and `$${` is a literal
// `${`; duplicate keys are rejected.
Result<Config> LoadFile(const std::string& file);
// `base_dir` resolves a relative state_dir. `getenv` is injectable for tests.
using EnvLookup = const char* (*)(const char*);
Result<Config> LoadString(std::string_view text, const std::string& base_dir,
                          EnvLookup getenv_fn = nullptr);

// The sane range of every `qps` option: below one call per 100 s is a typo, and a rate
// limiter's interval must stay finite.
inline constexpr double kMinQps = 0.01;
inline constexpr double kMaxQps = 1000;

// Declared option of a connector: the table both validates and documents the config.
enum class OptionType { kString, kInt, kNumber, kBool, kStringList, kObject, kAny };
struct OptionSpec {
  OptionSpec(std::string_view n, OptionType t, bool req, std::string def, std::string_view h,
             std::string r = "")
      : name(n),
        type(t),
        required(req),
        default_text(std::move(def)),
        help(h),
        range(std::move(r)) {}
  std::string_view name;
  OptionType type;
  bool required;
  std::string default_text;  // as documented: "Default: ..."
  std::string_view help;
  std::string range;  // "[1, 100]" for bounded numbers; empty otherwise
};

// Typed access to one options object, every error naming "path.option".
class OptionReader {
 public:
  OptionReader(const json::Value& options, std::string path)
      : options_(options), path_(std::move(path)) {}

  // Checks required options are present, types match, and no unknown option is given.
  Status Validate(const std::vector<OptionSpec>& specs) const;

  std::string String(std::string_view name, std::string_view def = "") const;
  int64_t Int(std::string_view name, int64_t def) const;
  double Number(std::string_view name, double def) const;
  bool Bool(std::string_view name, bool def) const;
  // The option (or `def`) when it lies in [lo, hi]; InvalidArgument "path.name: must be ..."
  // otherwise (NaN and infinities never do).
  Result<int64_t> IntIn(std::string_view name, int64_t def, int64_t lo, int64_t hi) const;
  Result<double> NumberIn(std::string_view name, double def, double lo, double hi) const;
  std::vector<std::string> StringList(std::string_view name) const;
  const json::Value* Get(std::string_view name) const { return options_.Find(name); }
  std::string PathOf(std::string_view name) const { return path_ + "." + std::string(name); }
  const std::string& path() const { return path_; }

 private:
  const json::Value& options_;
  std::string path_;
};

}  // namespace stagesync::config
