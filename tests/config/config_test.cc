#include "stagesync/config.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "connectors/connector.h"
#include "stagesync/sink.h"
#include "stagesync/source.h"

namespace stagesync::config {
namespace {

std::map<std::string, std::string>& Env() {
  static std::map<std::string, std::string> env;
  return env;
}
const char* FakeGetenv(const char* name) {
  auto it = Env().find(name);
  return it == Env().end() ? nullptr : it->second.c_str();
}

constexpr const char* kGood = R"({
  "state_dir": "state",
  "connections": {
    "dingtalk": {"type": "dingtalk", "base_url": "http://127.0.0.1:1", "app_key": "k",
                 "app_secret": "${DT_SECRET}", "qps": 10},
    "bi": {"type": "mysql", "host": "127.0.0.1"}
  },
  "pipelines": {
    "dingtalk-payment": {
      "source": {"connection": "dingtalk", "process_code": "PROC-1"},
      "schedule": "2 */2 * * *",
      "hash_exclude": ["request_id"],
      "sinks": {"bi_mysql": {"connection": "bi", "table": "t"},
                "kingdee": {"connection": "bi", "type": "kingdee_push"}}
    }
  }
})";

Result<Config> Load(const std::string& text) { return LoadString(text, "/base", &FakeGetenv); }

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  size_t p = s.find(from);
  EXPECT_NE(p, std::string::npos) << from;
  if (p != std::string::npos) s.replace(p, from.size(), to);
  return s;
}

TEST(ConfigTest, LoadsPipelinesSinksAndExpandsEnv) {
  Env()["DT_SECRET"] = "s3cret";
  auto cfg = Load(kGood);
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->state_dir, "/base/state");
  const PipelineConfig* p = cfg->FindPipeline("dingtalk-payment");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->source.type, "dingtalk");
  ASSERT_EQ(p->sinks.size(), 2u);
  EXPECT_EQ(p->sinks[0].name, "bi_mysql");
  EXPECT_EQ(p->sinks[0].type, "mysql");
  EXPECT_EQ(p->sinks[1].type, "kingdee_push");
  EXPECT_EQ(p->hash_exclude, std::vector<std::string>{"request_id"});
  EXPECT_EQ(cfg->FindConnection("dingtalk")->options.Find("app_secret")->text(), "s3cret");
  EXPECT_TRUE(connectors::CheckSource(*cfg, *p).ok());
}

TEST(ConfigTest, ScheduleJitterAndZone) {
  Env()["DT_SECRET"] = "s3cret";
  auto cfg = Load(Replace(kGood, R"("schedule": "2 */2 * * *")",
                          R"("schedule": "*/5 8-20 * * MON-FRI", "schedule_jitter_s": 90,
                              "time_zone": "+05:30")"));
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->pipelines[0].schedule, "*/5 8-20 * * MON-FRI");
  EXPECT_EQ(cfg->pipelines[0].schedule_jitter_s, 90);
  EXPECT_EQ(cfg->pipelines[0].time_zone, "+05:30");
  cfg = Load(kGood);
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->pipelines[0].schedule_jitter_s, 0);
  EXPECT_EQ(cfg->pipelines[0].history_versions, 10);
  cfg = Load(Replace(kGood, R"("schedule": "2 */2 * * *")",
                     R"("schedule": "2 */2 * * *", "history_versions": 0)"));
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->pipelines[0].history_versions, 0);
}

struct BadCase {
  std::string from, to, expected;
};

TEST(ConfigTest, ErrorsNameTheJsonPath) {
  Env()["DT_SECRET"] = "s3cret";
  const BadCase cases[] = {
      {R"("state_dir": "state",)", "", "state_dir: missing"},
      {R"("schedule": "2 */2 * * *")", R"("schedule": "every day")",
       "pipelines.dingtalk-payment.schedule: expected 5 cron fields"},
      {R"("schedule": "2 */2 * * *")", R"("schedule": "2 25 * * *")",
       "pipelines.dingtalk-payment.schedule: hour field '25': out of range 0-23"},
      {R"("schedule": "2 */2 * * *")", R"("schedule": "0 0 30 2 *")",
       "pipelines.dingtalk-payment.schedule: never fires"},
      {R"("schedule": "2 */2 * * *")", R"("schedule": "2 */2 * * *", "time_zone": "Mars/Base")",
       "pipelines.dingtalk-payment.time_zone: unsupported time zone 'Mars/Base'"},
      {R"("schedule": "2 */2 * * *")", R"("time_zone": "CET")",
       "pipelines.dingtalk-payment.time_zone: unsupported time zone 'CET'"},
      {R"("schedule": "2 */2 * * *")", R"("schedule": "2 */2 * * *", "schedule_jitter_s": -1)",
       "pipelines.dingtalk-payment.schedule_jitter_s: must be an integer from 0 to 86400"},
      {R"("schedule": "2 */2 * * *")", R"("schedule": "@hourly", "schedule_jitter_s": 86401)",
       "pipelines.dingtalk-payment.schedule_jitter_s: must be an integer from 0 to 86400"},
      {R"("schedule": "2 */2 * * *")", R"("schedule": "@hourly", "schedule_jitter_s": 1.5)",
       "pipelines.dingtalk-payment.schedule_jitter_s: must be an integer from 0 to 86400"},
      {R"("schedule": "2 */2 * * *")", R"("schedule": "@hourly", "schedule_jitter_s": "60")",
       "pipelines.dingtalk-payment.schedule_jitter_s: must be an integer from 0 to 86400"},
      {R"("schedule": "2 */2 * * *")", R"("schedule": "@hourly", "history_versions": -1)",
       "pipelines.dingtalk-payment.history_versions: must be an integer from 0 (off) to 1000"},
      {R"("schedule": "2 */2 * * *")", R"("schedule": "@hourly", "history_versions": "5")",
       "pipelines.dingtalk-payment.history_versions: must be an integer from 0 (off) to 1000"},
      {R"("connection": "dingtalk")", R"("connection": "nope")",
       "pipelines.dingtalk-payment.source.connection: no connection named 'nope'"},
      {R"("${DT_SECRET}")", R"("${MISSING_VAR}")",
       "connections.dingtalk.app_secret: environment variable MISSING_VAR is not set"},
      {R"("hash_exclude": ["request_id"])", R"("hash_exclude": [1])",
       "pipelines.dingtalk-payment.hash_exclude[0]: must be a string"},
      {R"("sinks": {)", R"("sinkz": {)", "pipelines.dingtalk-payment.sinkz: unknown key"},
      {R"("table": "t"})", R"("table": "t", "connection": "zz"})",
       "pipelines.dingtalk-payment.sinks.bi_mysql.connection: duplicate key"},
      {R"("table": "t"})", R"("table": "t"}, "x": {"connection": "zz"})",
       "pipelines.dingtalk-payment.sinks.x.connection: no connection named 'zz'"},
  };
  for (const auto& c : cases) {
    auto cfg = Load(Replace(kGood, c.from, c.to));
    ASSERT_FALSE(cfg.ok()) << c.expected;
    EXPECT_EQ(cfg.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(cfg.status().message().find(c.expected), std::string::npos)
        << "got: " << cfg.status().message() << "\nwant: " << c.expected;
  }
}

TEST(ConfigTest, SourceOptionErrorsNameTheJsonPath) {
  Env()["DT_SECRET"] = "s3cret";
  const BadCase cases[] = {
      {R"("process_code": "PROC-1")", R"("proces_code": "PROC-1")",
       "pipelines.dingtalk-payment.source.proces_code: unknown option"},
      {R"(, "process_code": "PROC-1")", "",
       "pipelines.dingtalk-payment.source.process_code: missing"},
      {R"("process_code": "PROC-1")", R"("process_code": "PROC-1", "page_size": 50)",
       "pipelines.dingtalk-payment.source.page_size: must be in [1, 20]"},
      {R"("qps": 10)", R"("qps": "ten")", "connections.dingtalk.qps: must be a number"},
      {R"("base_url": "http://127.0.0.1:1", )", "", "connections.dingtalk.base_url: missing"},
  };
  for (const auto& c : cases) {
    auto cfg = Load(Replace(kGood, c.from, c.to));
    ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
    Status s = connectors::CheckSource(*cfg, cfg->pipelines[0]);
    ASSERT_FALSE(s.ok()) << c.expected;
    EXPECT_NE(s.message().find(c.expected), std::string::npos)
        << "got: " << s.message() << "\nwant: " << c.expected;
  }
}

TEST(ConfigTest, SecretsNeverAppearInErrors) {
  Env()["DT_SECRET"] = "s3cret-value";
  auto cfg = Load(Replace(kGood, R"("qps": 10)", R"("qps": -1)"));
  ASSERT_TRUE(cfg.ok());
  Status s = connectors::CheckSource(*cfg, cfg->pipelines[0]);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message().find("s3cret-value"), std::string::npos) << s.message();
}

// D15: a rate that is not a finite, sane number would disable rate limiting; ports overflow
// and range.
TEST(ConfigTest, NumbersOutOfTheirSaneRangeAreRejectedWithThePath) {
  Env()["DT_SECRET"] = "s3cret";
  for (const char* qps : {R"("nan")", R"("inf")", "1e-300", "0", "-1", "1001", "1e400"}) {
    auto cfg = Load(Replace(kGood, R"("qps": 10)", std::string(R"("qps": )") + qps));
    if (!cfg.ok()) {  // 1e400 is not even a JSON number we keep
      EXPECT_NE(cfg.status().message().find("config"), std::string::npos) << qps;
      continue;
    }
    Status s = connectors::CheckSource(*cfg, cfg->pipelines[0]);
    ASSERT_FALSE(s.ok()) << qps;
    EXPECT_NE(s.message().find("connections.dingtalk.qps: must be"), std::string::npos)
        << qps << ": " << s.message();
  }
  for (const char* qps : {"0.01", "10", "1000", R"("2.5")"}) {
    auto cfg = Load(Replace(kGood, R"("qps": 10)", std::string(R"("qps": )") + qps));
    ASSERT_TRUE(cfg.ok());
    EXPECT_TRUE(connectors::CheckSource(*cfg, cfg->pipelines[0]).ok()) << qps;
  }
  struct PortCase {
    const char* port;
    const char* want;
  };
  for (const auto& c : {PortCase{"9999999999999999999", "bi.port: integer out of range"},
                        PortCase{"0", "bi.port: must be an integer from 1 to 65535"},
                        PortCase{"65536", "bi.port: must be an integer from 1 to 65535"},
                        PortCase{"-3306", "bi.port: must be an integer from 1 to 65535"}}) {
    auto cfg =
        Load(Replace(kGood, R"("host": "127.0.0.1"})",
                     std::string(R"("host": "127.0.0.1", "user": "u", "database": "d", "port": )") +
                         c.port + "}"));
    ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
    Status s = connectors::CheckSink(*cfg, cfg->pipelines[0], cfg->pipelines[0].sinks[0]);
    ASSERT_FALSE(s.ok()) << c.port;
    EXPECT_NE(s.message().find(c.want), std::string::npos) << c.port << ": " << s.message();
  }
}

// D15: `--config /dev/zero` fails at the size cap instead of reading until memory runs out.
TEST(ConfigTest, OversizedOrEndlessConfigFilesAreRefused) {
  auto zero = LoadFile("/dev/zero");
  ASSERT_FALSE(zero.ok());
  EXPECT_NE(zero.status().message().find("larger than 16 MiB"), std::string::npos)
      << zero.status().message();
  std::string big(17u << 20, ' ');
  auto text = LoadString(big, "/base", &FakeGetenv);
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.status().message().find("larger than 16 MiB"), std::string::npos);
}

// D15: a NUL in a key stays in the message (the CLI shows it as \x00), and an ${...} name with
// one cannot read another variable.
TEST(ConfigTest, NulBytesDoNotCutMessagesOrEnvNamesShort) {
  Env()["DT_SECRET"] = "s3cret";
  Env()["A"] = "leaked";
  std::string text =
      Replace(kGood, R"("sinks": {)", std::string("\"x\\u0000tail\": 1, \"sinks\": {"));
  auto cfg = Load(text);
  ASSERT_FALSE(cfg.ok());
  EXPECT_NE(cfg.status().message().find(std::string("x\0tail: unknown key", 19)), std::string::npos)
      << cfg.status().message();
  auto env = Load(Replace(kGood, R"("${DT_SECRET}")", R"("${A\u0000B}")"));
  ASSERT_FALSE(env.ok());
  EXPECT_NE(env.status().message().find("connections.dingtalk.app_secret: bad environment"),
            std::string::npos)
      << env.status().message();
}

// F18: `$${` is a literal `${`; `${NAME}` still expands beside it.
TEST(ConfigTest, DollarDollarBraceIsALiteralDollarBrace) {
  Env()["DT_SECRET"] = "s3cret";
  auto cfg = Load(Replace(kGood, R"("process_code": "PROC-1")",
                          R"("process_code": "PROC-$${x}-${DT_SECRET}-$${")"));
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->pipelines[0].source.options.Find("process_code")->text(), "PROC-${x}-s3cret-${");
  auto bad = Load(Replace(kGood, R"("process_code": "PROC-1")", R"("process_code": "a${b")"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("write $${ for a literal ${"), std::string::npos);
}

// F18: start_at backfills from an absolute time; it excludes initial_lookback_days.
TEST(ConfigTest, StartAtIsADateTimeInThePipelinesZone) {
  Env()["DT_SECRET"] = "s3cret";
  auto ok = Load(Replace(kGood, R"("process_code": "PROC-1")",
                         R"("process_code": "PROC-1", "start_at": "2024-01-01 00:00:00")"));
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(connectors::CheckSource(*ok, ok->pipelines[0]).ok());
  struct Case {
    const char* to;
    const char* want;
  };
  for (const auto& c :
       {Case{R"("process_code": "PROC-1", "start_at": "yesterday")", "start_at: must be a date"},
        Case{R"("process_code": "PROC-1", "start_at": "2024-02-30 00:00:00")", "start_at"},
        Case{R"("process_code": "PROC-1", "start_at": "2024-01-01", "initial_lookback_days": 3)",
             "start_at: give either start_at or initial_lookback_days"}}) {
    auto cfg = Load(Replace(kGood, R"("process_code": "PROC-1")", c.to));
    ASSERT_TRUE(cfg.ok());
    Status s = connectors::CheckSource(*cfg, cfg->pipelines[0]);
    ASSERT_FALSE(s.ok()) << c.to;
    EXPECT_NE(s.message().find(c.want), std::string::npos) << s.message();
  }
}

TEST(ConfigTest, MalformedJsonFailsFast) {
  auto cfg = Load("{\"state_dir\": ");
  ASSERT_FALSE(cfg.ok());
  EXPECT_NE(cfg.status().message().find("config"), std::string::npos);
}

}  // namespace
}  // namespace stagesync::config
