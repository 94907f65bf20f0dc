// GET /metrics of the real `stagesync run` (issue 12 item 1): the DingTalk emulator serves N
// payment requests to the demo pipeline, whose MySQL table does not exist yet, so the fetch
// stages N new records and the sink can apply none. The scrape (behind the agent's bearer
// token) must then say N fetched and N pending, pass `promtool check metrics` without a lint
// finding, and a real Prometheus server scraping the agent every second must answer the same
// numbers over its HTTP API. Once the table exists, a run applies everything: Prometheus sees
// pending 0 and N applied records. The scrape is kept as build/obs-metrics-scrape.txt (the docs
// must name only metrics that appear in it).
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "emulators/dingtalk_emulator.h"
#include "obs/metrics_scrape.h"
#include "stagesync/clock.h"
#include "stagesync/http.h"
#include "stagesync/json.h"
#include "testing/agent_process.h"
#include "testing/mariadb.h"
#include "testing/payment_pipeline.h"
#include "testing/subprocess.h"
#include "testing/temp_dir.h"

namespace stagesync {
namespace {

constexpr int64_t kHourMs = 3600000;
constexpr int64_t kDayMs = 24 * kHourMs;
const std::string kBinary = STAGESYNC_BINARY_DIR "/stagesync";
const std::string kPipeline = "dingtalk-payment";
const std::string kSink = "bi_mysql";
const std::string kToken = "metrics-test-token-5b1e";
const char* kPrometheus = "/usr/bin/prometheus";
const char* kPromtool = "/usr/bin/promtool";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string Tail(const std::string& path, size_t n = 3000) {
  std::string s = ReadAll(path);
  return s.size() <= n ? s : "..." + s.substr(s.size() - n);
}

class MetricsProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kPrometheus) || !std::filesystem::exists(kPromtool)) {
      GTEST_SKIP() << "prometheus or promtool is not installed (Debian package prometheus)";
    }
    ASSERT_TRUE(db_.ok()) << "no MariaDB: is the mariadb fixture running?";
    ASSERT_TRUE(dt_.Start(0));
  }

  // GET or POST `path` on the agent with the bearer token (or none); status, 0 if no answer.
  int Ask(const std::string& method, const std::string& path, std::string* body = nullptr,
          bool with_token = true, std::string* content_type = nullptr) {
    httplib::Client cli("127.0.0.1", agent_port_);
    cli.set_connection_timeout(1, 0);
    cli.set_read_timeout(10, 0);
    httplib::Headers h;
    if (with_token) h.emplace("Authorization", "Bearer " + kToken);
    auto res =
        method == "POST" ? cli.Post(path.c_str(), h, "", "text/plain") : cli.Get(path.c_str(), h);
    if (!res) return 0;
    if (body != nullptr) *body = res->body;
    if (content_type != nullptr) *content_type = res->get_header_value("Content-Type");
    return res->status;
  }
  std::string Scrape() {
    std::string body;
    return Ask("GET", "/metrics", &body) == 200 ? body : "";
  }

  // The value of an instant PromQL query with one result; nullopt while there is none.
  std::optional<double> Query(const std::string& promql) {
    httplib::Client cli("127.0.0.1", prom_port_);
    cli.set_connection_timeout(1, 0);
    cli.set_read_timeout(5, 0);
    auto res = cli.Get(("/api/v1/query?query=" + UrlEncode(promql)).c_str());
    if (!res || res->status != 200) return std::nullopt;
    auto v = json::Parse(res->body);
    if (!v.ok()) return std::nullopt;
    const json::Value* data = v->Find("data");
    const json::Value* result = data != nullptr ? data->Find("result") : nullptr;
    if (result == nullptr || result->items().size() != 1) return std::nullopt;
    const json::Value* value = result->items()[0].Find("value");
    if (value == nullptr || value->items().size() != 2) return std::nullopt;
    return std::stod(value->items()[1].text());
  }

  testing::TestDatabase db_;
  emulators::DingTalkEmulator dt_;
  testing::TempDir dir_;
  int agent_port_ = 0;
  int prom_port_ = 0;
};

TEST_F(MetricsProcessTest, PrometheusScrapesFetchedAndPendingFromTheRealAgent) {
  const int64_t now = Clock::Real()->NowMillis();
  dt_.Generate(40, now - 20 * kDayMs, now - kHourMs, 12);
  // Each instance is one staged record: N new on the first fetch, none applied (no table yet).
  const double n = static_cast<double>(dt_.Instances().size());
  ASSERT_GT(n, 0);

  json::Value cfg = *json::Parse(testing::AgentConfig(
      testing::PaymentConfigJson(dt_.base_url(), dir_.Sub("state"), db_.port(), db_.name()),
      "@every 1h"));
  testing::SetMember(testing::Member(&cfg, "agent"), "token", json::Value::String(kToken));
  // A daily quota, so quota_remaining has something to say: each request sent takes one.
  constexpr int64_t kQuota = 100000;
  testing::SetMember(testing::Member(testing::Member(&cfg, "connections"), "dingtalk"),
                     "daily_quota", json::Value::Number(std::to_string(kQuota)));
  const std::string config = dir_.Sub("config.json");
  std::ofstream(config) << json::Serialize(cfg);
  const std::string log = dir_.Sub("agent.log");

  agent_port_ = testing::FreeLoopbackPort();
  testing::Subprocess agent;
  ASSERT_TRUE(agent.Start(
      {kBinary, "--config", config, "run", "--listen", "127.0.0.1:" + std::to_string(agent_port_)},
      {}, log));
  ASSERT_TRUE(testing::WaitFor([&] { return Ask("GET", "/healthz") == 200; }, 15000)) << Tail(log);

  // Same listener, same auth: no token, no metrics.
  EXPECT_EQ(Ask("GET", "/metrics", nullptr, false), 401);
  std::string content_type;
  ASSERT_EQ(Ask("GET", "/metrics", nullptr, true, &content_type), 200);
  EXPECT_EQ(content_type.rfind("text/plain; version=0.0.4", 0), 0u) << content_type;

  // The first run starts at once (never ran): fetch all, apply fails on the missing table.
  const std::map<std::string, std::string> fetched_new = {{"pipeline", kPipeline},
                                                          {"outcome", "new"}};
  const std::map<std::string, std::string> at_sink = {{"pipeline", kPipeline}, {"sink", kSink}};
  std::string scrape;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        scrape = Scrape();
        return testing::SampleValue(scrape, "stagesync_runs_total",
                                    {{"pipeline", kPipeline}, {"outcome", "partial"}})
            .has_value();
      },
      30000, 100))
      << scrape << Tail(log);
  EXPECT_EQ(testing::SampleValue(scrape, "stagesync_records_fetched_total", fetched_new), n);
  EXPECT_EQ(testing::SampleValue(scrape, "stagesync_staged_records", {{"pipeline", kPipeline}}), n);
  EXPECT_EQ(testing::SampleValue(scrape, "stagesync_pending_changes", at_sink), n);
  EXPECT_GE(
      testing::SampleValue(scrape, "stagesync_oldest_pending_age_seconds", at_sink).value_or(-1),
      0);
  EXPECT_TRUE(testing::SampleValue(scrape, "stagesync_last_success_timestamp_seconds",
                                   {{"pipeline", kPipeline}}));
  // The agent's view: the pipeline is failing (its sink), the fetch is not.
  EXPECT_EQ(testing::SampleValue(scrape, "stagesync_pipeline_state",
                                 {{"pipeline", kPipeline}, {"state", "failing"}}),
            1);
  EXPECT_EQ(testing::SampleValue(scrape, "stagesync_pipeline_state",
                                 {{"pipeline", kPipeline}, {"state", "idle"}}),
            0);
  EXPECT_EQ(testing::SampleValue(scrape, "stagesync_pipeline_paused", {{"pipeline", kPipeline}}),
            0);
  EXPECT_EQ(testing::SampleValue(scrape, "stagesync_pipeline_consecutive_failures",
                                 {{"pipeline", kPipeline}}),
            0);
  EXPECT_GE(
      testing::SampleValue(scrape, "stagesync_sink_consecutive_failures", at_sink).value_or(0), 1);
  EXPECT_FALSE(
      testing::SampleValue(scrape, "stagesync_sink_last_success_timestamp_seconds", at_sink))
      << "the sink never succeeded";
  // Every vendor request the fetch made is counted, by the connection's name and API path.
  EXPECT_GE(testing::SampleValue(scrape, "stagesync_vendor_requests_total",
                                 {{"connection", "dingtalk"},
                                  {"endpoint", "/topapi/processinstance/get"},
                                  {"outcome", "ok"}})
                .value_or(0),
            n);
  // One token, fetched once by the DingTalk client.
  EXPECT_EQ(
      testing::SampleValue(scrape, "stagesync_token_renewals_total", {{"connection", "dingtalk"}}),
      1);
  double requests = 0;
  for (const char* path :
       {"/gettoken", "/topapi/processinstance/listids", "/topapi/processinstance/get"}) {
    requests +=
        testing::SampleValue(scrape, "stagesync_vendor_requests_total",
                             {{"connection", "dingtalk"}, {"endpoint", path}, {"outcome", "ok"}})
            .value_or(0);
  }
  EXPECT_EQ(testing::SampleValue(scrape, "stagesync_quota_remaining", {{"connection", "dingtalk"}}),
            static_cast<double>(kQuota) - requests);
  EXPECT_EQ(scrape.find(kToken), std::string::npos);
  EXPECT_EQ(scrape.find("demo-secret"), std::string::npos);
  EXPECT_EQ(scrape.find("access_token"), std::string::npos);

  // The pipelines API carries the same request counts per connection.
  std::string pipelines;
  ASSERT_EQ(Ask("GET", "/api/pipelines", &pipelines), 200);
  auto pj = json::Parse(pipelines);
  ASSERT_TRUE(pj.ok()) << pipelines;
  const json::Value* conns = pj->Find("connections");
  ASSERT_NE(conns, nullptr) << pipelines;
  bool found = false;
  for (const auto& c : conns->items()) {
    if (testing::TextOf(&c, "name") != "dingtalk") continue;
    found = true;
    EXPECT_EQ(testing::IntOf(&c, "requests"), static_cast<int64_t>(requests)) << pipelines;
    EXPECT_EQ(testing::IntOf(&c, "throttled"), 0) << pipelines;
    EXPECT_EQ(testing::IntOf(&c, "errors"), 0) << pipelines;
    // Every request was sent within the last minute (the run took a second or so).
    EXPECT_EQ(testing::IntOf(&c, "requests_per_min"), static_cast<int64_t>(requests)) << pipelines;
    EXPECT_EQ(testing::IntOf(&c, "quota_remaining"), kQuota - static_cast<int64_t>(requests));
  }
  EXPECT_TRUE(found) << pipelines;

  // promtool: the exposition parses and has no lint finding.
  const std::string kept = dir_.Sub("scrape-before-apply.txt");
  std::ofstream(kept) << scrape;
  const std::string lint = dir_.Sub("promtool.out");
  const int rc = std::system(
      (std::string(kPromtool) + " check metrics < " + kept + " > " + lint + " 2>&1").c_str());
  EXPECT_EQ(rc, 0) << ReadAll(lint);
  EXPECT_EQ(ReadAll(lint), "") << "lint findings";

  // A real Prometheus scraping the agent every second, with the bearer token.
  prom_port_ = testing::FreeLoopbackPort();
  const std::string prom_cfg = dir_.Sub("prometheus.yml");
  std::ofstream(prom_cfg) << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                             "scrape_configs:\n  - job_name: stagesync\n"
                             "    scrape_interval: 1s\n    metrics_path: /metrics\n"
                             "    authorization:\n      credentials: "
                          << kToken
                          << "\n    static_configs:\n      - targets: ['127.0.0.1:" << agent_port_
                          << "']\n";
  const std::string prom_log = dir_.Sub("prometheus.log");
  testing::Subprocess prom;
  ASSERT_TRUE(prom.Start(
      {kPrometheus, "--config.file=" + prom_cfg, "--storage.tsdb.path=" + dir_.Sub("tsdb"),
       "--web.listen-address=127.0.0.1:" + std::to_string(prom_port_), "--log.level=warn"},
      {}, prom_log));
  const std::string fetched_q =
      "stagesync_records_fetched_total{pipeline=\"" + kPipeline + "\",outcome=\"new\"}";
  const std::string pending_q =
      "stagesync_pending_changes{pipeline=\"" + kPipeline + "\",sink=\"" + kSink + "\"}";
  EXPECT_TRUE(testing::WaitFor([&] { return Query(fetched_q) == n; }, 30000, 200))
      << Query(fetched_q).value_or(-1) << "\n"
      << Tail(prom_log);
  EXPECT_TRUE(testing::WaitFor([&] { return Query(pending_q) == n; }, 10000, 200))
      << Query(pending_q).value_or(-1);
  EXPECT_EQ(Query("up{job=\"stagesync\"}"), 1);

  // The table appears; a run applies every record: pending drops to 0 in Prometheus too.
  ASSERT_TRUE(db_.Source(STAGESYNC_SOURCE_DIR "/conf/sql/payment_application_info.sql").ok());
  std::string started;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return Ask("POST", "/api/pipelines/" + kPipeline + "/run", &started) == 200 &&
               started.find("\"started\":true") != std::string::npos;
      },
      15000, 200))
      << started;
  const std::string applied_q =
      "stagesync_applied_records_total{pipeline=\"" + kPipeline + "\",sink=\"" + kSink + "\"}";
  EXPECT_TRUE(testing::WaitFor([&] { return Query(pending_q) == 0; }, 30000, 200))
      << Query(pending_q).value_or(-1) << Tail(log);
  EXPECT_TRUE(testing::WaitFor([&] { return Query(applied_q) == n; }, 10000, 200))
      << Query(applied_q).value_or(-1);
  // The second fetch found nothing new: the counter did not move.
  EXPECT_EQ(Query(fetched_q), n);
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        return Query("stagesync_pipeline_state{pipeline=\"" + kPipeline + "\",state=\"idle\"}") ==
               1;
      },
      10000, 200));
  scrape = Scrape();
  EXPECT_EQ(testing::SampleValue(scrape, "stagesync_sink_consecutive_failures", at_sink), 0);
  EXPECT_GT(testing::SampleValue(scrape, "stagesync_sink_last_success_timestamp_seconds", at_sink)
                .value_or(0),
            static_cast<double>(now / 1000 - 60));
  EXPECT_EQ(testing::SampleValue(scrape, "stagesync_runs_total",
                                 {{"pipeline", kPipeline}, {"outcome", "ok"}}),
            1);

  // After a fetch and an apply: the scrape kept for the docs, and the metric table of
  // doc/monitoring.md (which the alert rules and the dashboard are checked against) names
  // exactly what this agent exports.
  const std::string kept_after = STAGESYNC_BINARY_DIR "/obs-metrics-scrape.txt";
  std::ofstream(kept_after) << scrape;
  const std::string doc_check = dir_.Sub("check_monitoring.out");
  const int doc_rc = std::system(
      (std::string("python3 " STAGESYNC_SOURCE_DIR
                   "/tests/obs/check_monitoring.py --root " STAGESYNC_SOURCE_DIR " --scrape ") +
       kept_after + " > " + doc_check + " 2>&1")
          .c_str());
  EXPECT_EQ(doc_rc, 0) << ReadAll(doc_check);

  prom.Signal(SIGTERM);
  if (!testing::WaitFor(
          [&] {
            int c = 0;
            return prom.Poll(&c);
          },
          10000))
    prom.Kill();
  const auto last_ok = testing::SampleValue(scrape, "stagesync_last_success_timestamp_seconds",
                                            {{"pipeline", kPipeline}});
  ASSERT_TRUE(last_ok);
  agent.Signal(SIGTERM);
  EXPECT_EQ(agent.Wait(), 0) << Tail(log);

  // Restarted, the agent reads its last success from the run history before running anything
  // (the schedule is hourly): without it, StagesyncPipelineStale could never fire for a
  // pipeline that has failed ever since a restart.
  testing::Subprocess again;
  ASSERT_TRUE(again.Start(
      {kBinary, "--config", config, "run", "--listen", "127.0.0.1:" + std::to_string(agent_port_)},
      {}, dir_.Sub("agent2.log")));
  ASSERT_TRUE(testing::WaitFor([&] { return Ask("GET", "/healthz") == 200; }, 15000))
      << Tail(dir_.Sub("agent2.log"));
  scrape = Scrape();
  EXPECT_EQ(testing::SampleValue(scrape, "stagesync_runs_total",
                                 {{"pipeline", kPipeline}, {"outcome", "ok"}}),
            std::nullopt)
      << "a run started after the restart; the check below would prove nothing";
  // At or after the last success the first process saw (the history also holds the sink-only
  // retry runs that follow it), never in the future.
  const auto restarted = testing::SampleValue(scrape, "stagesync_last_success_timestamp_seconds",
                                              {{"pipeline", kPipeline}});
  ASSERT_TRUE(restarted) << scrape;
  EXPECT_GE(*restarted, *last_ok);
  EXPECT_LE(*restarted, static_cast<double>(Clock::Real()->NowMillis() / 1000));
  again.Signal(SIGTERM);
  EXPECT_EQ(again.Wait(), 0) << Tail(dir_.Sub("agent2.log"));
}

}  // namespace
}  // namespace stagesync
