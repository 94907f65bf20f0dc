// Metrics (src/obs/metrics.h) without a process: each hook becomes the counter, gauge or
// histogram sample it names; ApiEndpoint reports every attempt with its outcome, URL path and
// rate-limiter wait (no query string, so no token, reaches a label); the state gauges are read
// from a real staging log at scrape time; the connections summary counts requests per minute.
#include "obs/metrics.h"

#include <gtest/gtest.h>

#include "connectors/common/api_endpoint.h"
#include "obs/metrics_scrape.h"
#include "stagesync/stage.h"
#include "testing/fake_clock.h"
#include "testing/fake_http_client.h"
#include "testing/temp_dir.h"

namespace stagesync {
namespace {

using testing::SampleValue;

TEST(MetricsTest, HooksBecomeSamplesWithTheirLabels) {
  obs::Metrics m;
  m.RecordsFetched("p", "new", 5);
  m.RecordsFetched("p", "new", 2);
  m.RecordsFetched("p", "unchanged", 0);
  m.Applied("p", "s", 7, 12);
  m.QuarantineEvent("p", "fetch", 1);
  m.RunFinished("p", 0.7, "ok");
  m.RunFinished("p", 42, "failed");
  m.PipelineSuccess("p", 1700000000);
  m.SinkSuccess("p", "s", 1700000005);
  m.RuleFailure("p", "amount_positive", 3);
  m.AlertSent("dingtalk", true);
  m.AlertSent("webhook", false);
  m.Drift("p", "s", 2);
  m.TokenRenewal("dt");
  m.RateLimitWait("dt", 0.25);
  m.RateLimitWait("dt", 0.5);
  const std::string text = m.Scrape();

  EXPECT_EQ(
      SampleValue(text, "stagesync_records_fetched_total", {{"pipeline", "p"}, {"outcome", "new"}}),
      7);
  EXPECT_EQ(SampleValue(text, "stagesync_records_fetched_total",
                        {{"pipeline", "p"}, {"outcome", "unchanged"}}),
            0);
  EXPECT_EQ(
      SampleValue(text, "stagesync_applied_records_total", {{"pipeline", "p"}, {"sink", "s"}}), 7);
  EXPECT_EQ(SampleValue(text, "stagesync_applied_rows_total", {{"pipeline", "p"}, {"sink", "s"}}),
            12);
  EXPECT_EQ(SampleValue(text, "stagesync_quarantine_events_total",
                        {{"pipeline", "p"}, {"stage", "fetch"}}),
            1);
  EXPECT_EQ(SampleValue(text, "stagesync_runs_total", {{"pipeline", "p"}, {"outcome", "ok"}}), 1);
  EXPECT_EQ(SampleValue(text, "stagesync_runs_total", {{"pipeline", "p"}, {"outcome", "failed"}}),
            1);
  EXPECT_EQ(SampleValue(text, "stagesync_run_duration_seconds_count", {{"pipeline", "p"}}), 2);
  EXPECT_DOUBLE_EQ(*SampleValue(text, "stagesync_run_duration_seconds_sum", {{"pipeline", "p"}}),
                   42.7);
  EXPECT_EQ(
      SampleValue(text, "stagesync_run_duration_seconds_bucket", {{"pipeline", "p"}, {"le", "1"}}),
      1);
  EXPECT_EQ(
      SampleValue(text, "stagesync_run_duration_seconds_bucket", {{"pipeline", "p"}, {"le", "60"}}),
      2);
  EXPECT_EQ(SampleValue(text, "stagesync_last_success_timestamp_seconds", {{"pipeline", "p"}}),
            1700000000);
  EXPECT_EQ(SampleValue(text, "stagesync_sink_last_success_timestamp_seconds",
                        {{"pipeline", "p"}, {"sink", "s"}}),
            1700000005);
  EXPECT_EQ(SampleValue(text, "stagesync_rule_failures_total",
                        {{"pipeline", "p"}, {"rule", "amount_positive"}}),
            3);
  EXPECT_EQ(SampleValue(text, "stagesync_alerts_sent_total",
                        {{"channel", "dingtalk"}, {"outcome", "ok"}}),
            1);
  EXPECT_EQ(SampleValue(text, "stagesync_alerts_sent_total",
                        {{"channel", "webhook"}, {"outcome", "failed"}}),
            1);
  EXPECT_EQ(
      SampleValue(text, "stagesync_drift_missing_references", {{"pipeline", "p"}, {"sink", "s"}}),
      2);
  EXPECT_EQ(SampleValue(text, "stagesync_token_renewals_total", {{"connection", "dt"}}), 1);
  EXPECT_DOUBLE_EQ(
      *SampleValue(text, "stagesync_rate_limit_wait_seconds_total", {{"connection", "dt"}}), 0.75);
  EXPECT_EQ(SampleValue(text, "stagesync_up"), 1);
  // Process metrics from /proc/self.
  EXPECT_GT(SampleValue(text, "process_resident_memory_bytes").value_or(0), 1 << 20);
  EXPECT_GT(SampleValue(text, "process_open_fds").value_or(0), 2);
  EXPECT_GT(SampleValue(text, "process_start_time_seconds").value_or(0), 1.6e9);
  EXPECT_TRUE(SampleValue(text, "process_cpu_seconds_total").has_value());
  EXPECT_NE(text.find("# TYPE stagesync_run_duration_seconds histogram"), std::string::npos);
  EXPECT_NE(text.find("# TYPE stagesync_records_fetched_total counter"), std::string::npos);
}

TEST(MetricsTest, ApiEndpointReportsEachAttemptByOutcomeAndPathWithoutTheQuery) {
  testing::FakeClock clock;
  testing::FakeHttpClient http;
  obs::Metrics m;
  RuntimeOptions ro;
  ro.clock = &clock;
  ro.http = &http;
  Runtime rt(ro);
  m.AttachState(&rt, nullptr);
  connectors::EndpointOptions eo;
  eo.name = "https://vendor.example";
  eo.qps = 1000;
  connectors::ApiEndpoint ep(eo, &http, &clock);
  ep.set_telemetry(&m, "dt");
  http.Answer(429, "{}");
  http.Answer(200, R"({"ok":true})");
  http.Answer(401, "{}");
  http.Answer(200, R"({"ok":true})");
  auto build = [] {
    HttpRequest r;
    r.method = "GET";
    r.url = "https://vendor.example/topapi/list?access_token=SECRET-TOKEN-123";
    return Result<HttpRequest>(r);
  };
  auto classify = [](const HttpResponse& resp) -> Result<json::Value> {
    if (resp.status == 401) return Status(StatusCode::kUnauthenticated, "expired");
    SS_RETURN_IF_ERROR(connectors::ClassifyHttpStatus(resp));
    return connectors::ParseBody(resp);
  };
  ASSERT_TRUE(ep.Call(build, classify, nullptr, "list").ok());
  int refreshed = 0;
  ASSERT_TRUE(ep.Call(
                    build, classify,
                    [&] {
                      ++refreshed;
                      return Status::Ok();
                    },
                    "list")
                  .ok());
  ASSERT_EQ(refreshed, 1);

  const std::string text = m.Scrape();
  const std::map<std::string, std::string> at = {{"connection", "dt"},
                                                 {"endpoint", "/topapi/list"}};
  auto with = [&](const char* outcome) {
    auto l = at;
    l["outcome"] = outcome;
    return SampleValue(text, "stagesync_vendor_requests_total", l);
  };
  EXPECT_EQ(with("ok"), 2);
  EXPECT_EQ(with("throttled"), 1);
  EXPECT_EQ(with("error"), 1);  // the 401 before the refresh
  EXPECT_EQ(SampleValue(text, "stagesync_vendor_request_duration_seconds_count", at), 4);
  // Renewals are the client's to count (it knows a login from a retry): none here.
  EXPECT_FALSE(SampleValue(text, "stagesync_token_renewals_total", {{"connection", "dt"}}));
  EXPECT_TRUE(SampleValue(text, "stagesync_rate_limit_wait_seconds_total", {{"connection", "dt"}}));
  EXPECT_EQ(text.find("SECRET-TOKEN-123"), std::string::npos);
  EXPECT_EQ(text.find("vendor.example"), std::string::npos);

  auto conns = m.Connections();
  ASSERT_EQ(conns.size(), 1u);
  EXPECT_EQ(conns[0].name, "dt");
  EXPECT_EQ(conns[0].requests, 4);
  EXPECT_EQ(conns[0].throttled, 1);
  EXPECT_EQ(conns[0].errors, 1);
  EXPECT_EQ(conns[0].requests_per_min, 4);
  EXPECT_FALSE(conns[0].quota_remaining.has_value());
  clock.Advance(61 * 1000000LL);  // a minute without requests
  EXPECT_EQ(m.Connections()[0].requests_per_min, 0);
  EXPECT_EQ(m.Connections()[0].requests, 4);
}

TEST(MetricsTest, StateGaugesAreReadFromStagingAtScrapeTime) {
  testing::TempDir dir;
  testing::FakeClock clock;
  testing::FakeHttpClient http;
  auto log = stage::StagingLog::Open(dir.Sub("state"));
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  stage::StagingLog* s = log->get();
  RuntimeOptions ro;
  ro.clock = &clock;
  ro.http = &http;
  Runtime rt(ro);
  obs::Metrics m;
  m.AttachState(&rt, s);

  const int64_t now = clock.NowMillis();
  ASSERT_TRUE(s->RegisterSinks("p", {"db", "api"}).ok());
  stage::PageCommit page;
  for (int i = 0; i < 3; ++i) {
    stage::IncomingRecord r;
    r.source_id = "id" + std::to_string(i);
    r.raw = "{\"n\":" + std::to_string(i) + "}";
    r.hash = HashBytes(r.raw);
    page.records.push_back(r);
  }
  page.watermark = now - 90 * 1000;
  page.failures.push_back({"bad1", "unreadable", "{"});
  ASSERT_TRUE(s->CommitPage("p", page, now - 10 * 1000).ok());
  ASSERT_TRUE(
      s->PutQuarantine("p", "api", {{"id1", "rejected", "{}"}, {"id2", "rejected", "{}"}}).ok());
  ASSERT_TRUE(s->PutIntents("p", "api",
                            {{"id0", "{\"hash\":\"00\",\"attempt\":1,\"at_ms\":" +
                                         std::to_string(now - 30 * 1000) + ",\"payload\":\"x\"}"}})
                  .ok());

  std::string text = m.Scrape();
  const std::map<std::string, std::string> db = {{"pipeline", "p"}, {"sink", "db"}};
  const std::map<std::string, std::string> api = {{"pipeline", "p"}, {"sink", "api"}};
  EXPECT_EQ(SampleValue(text, "stagesync_staged_records", {{"pipeline", "p"}}), 3);
  EXPECT_EQ(SampleValue(text, "stagesync_pending_changes", db), 3);
  EXPECT_EQ(SampleValue(text, "stagesync_oldest_pending_age_seconds", db), 10);
  EXPECT_EQ(SampleValue(text, "stagesync_watermark_age_seconds", {{"pipeline", "p"}}), 90);
  EXPECT_EQ(
      SampleValue(text, "stagesync_quarantined_records", {{"pipeline", "p"}, {"stage", "fetch"}}),
      1);
  EXPECT_EQ(
      SampleValue(text, "stagesync_quarantined_records", {{"pipeline", "p"}, {"stage", "api"}}), 2);
  EXPECT_EQ(
      SampleValue(text, "stagesync_quarantined_records", {{"pipeline", "p"}, {"stage", "db"}}), 0);
  EXPECT_EQ(SampleValue(text, "stagesync_open_intents", api), 1);
  EXPECT_EQ(SampleValue(text, "stagesync_oldest_open_intent_age_seconds", api), 30);
  EXPECT_EQ(SampleValue(text, "stagesync_open_intents", db), 0);

  // Time passes and the db sink applies everything: the next scrape sees it, no hook needed.
  clock.Advance(5 * 1000000LL);
  auto changes = s->ReadChanges("p", 0, 100);
  ASSERT_TRUE(changes.ok());
  ASSERT_FALSE(changes->empty());
  ASSERT_TRUE(s->AdvanceCursor("p", "db", changes->back().seq).ok());
  text = m.Scrape();
  EXPECT_EQ(SampleValue(text, "stagesync_pending_changes", db), 0);
  EXPECT_EQ(SampleValue(text, "stagesync_oldest_pending_age_seconds", db), 0);
  EXPECT_EQ(SampleValue(text, "stagesync_pending_changes", api), 3);
  EXPECT_EQ(SampleValue(text, "stagesync_oldest_pending_age_seconds", api), 15);
  EXPECT_EQ(SampleValue(text, "stagesync_oldest_open_intent_age_seconds", api), 35);
}

}  // namespace
}  // namespace stagesync
