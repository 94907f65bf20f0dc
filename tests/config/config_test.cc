#include "stagesync/config.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

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
  EXPECT_TRUE(source::CheckSource(*cfg, *p).ok());
}

struct BadCase {
  std::string from, to, expected;
};

TEST(ConfigTest, ErrorsNameTheJsonPath) {
  Env()["DT_SECRET"] = "s3cret";
  const BadCase cases[] = {
      {R"("state_dir": "state",)", "", "state_dir: missing"},
      {R"("schedule": "2 */2 * * *")", R"("schedule": "every day")",
       "pipelines.dingtalk-payment.schedule: bad cron field"},
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
    Status s = source::CheckSource(*cfg, cfg->pipelines[0]);
    ASSERT_FALSE(s.ok()) << c.expected;
    EXPECT_NE(s.message().find(c.expected), std::string::npos)
        << "got: " << s.message() << "\nwant: " << c.expected;
  }
}

TEST(ConfigTest, SecretsNeverAppearInErrors) {
  Env()["DT_SECRET"] = "s3cret-value";
  auto cfg = Load(Replace(kGood, R"("qps": 10)", R"("qps": -1)"));
  ASSERT_TRUE(cfg.ok());
  Status s = source::CheckSource(*cfg, cfg->pipelines[0]);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message().find("s3cret-value"), std::string::npos) << s.message();
}

TEST(ConfigTest, MalformedJsonFailsFast) {
  auto cfg = Load("{\"state_dir\": ");
  ASSERT_FALSE(cfg.ok());
  EXPECT_NE(cfg.status().message().find("config"), std::string::npos);
}

}  // namespace
}  // namespace stagesync::config
