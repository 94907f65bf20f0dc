// The Alerter and AlertDelivery against the DingTalk robot emulator over loopback (the real curl
// HttpClient, the real staging log in a temp dir): signatures the robot accepts, one message per
// start and clear, a flapping pipeline held to min_interval_s, dedup across a restart through
// staging, a wrong secret or a robot that is down or hangs seen as counted delivery failures that
// never block the caller, drift naming the reference, and the `alerts` config section.
#include "obs/alerts.h"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include "obs/alert_delivery.h"
#include "obs/robot_emulator.h"
#include "stagesync/config.h"
#include "stagesync/json.h"
#include "stagesync/stage.h"
#include "testing/fake_clock.h"
#include "testing/temp_dir.h"

namespace stagesync::obs {
namespace {

const std::string kToken = "tok-3f9a1c77e2b8d4";
const std::string kSecret = "SECb1e9d0a4f7c2e8b5a3d6f1c9e0b7a2d4";

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

template <typename F>
bool WaitFor(F done, int64_t timeout_ms) {
  const int64_t deadline = SteadyMs() + timeout_ms;
  while (!done()) {
    if (SteadyMs() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// An AgentControl whose PipelinesJson is whatever the test set: one pipeline "orders".
class ScriptedAgent : public agent::AgentControl {
 public:
  void Set(int failures, int64_t quarantined = 0, const std::string& drift = "") {
    std::lock_guard<std::mutex> lock(mu_);
    json_ =
        "{\"agent\":{\"now_ms\":1,\"started_ms\":1},\"pipelines\":[{\"name\":\"orders\","
        "\"state\":\"" +
        std::string(failures > 0 ? "failing" : "idle") +
        "\",\"backoff\":{\"failures\":" + std::to_string(failures) +
        ",\"until_ms\":null},\"last_error\":" +
        (failures > 0 ? "\"okki: HTTP 502 from /v1/orders\"" : "null") +
        ",\"waiting\":null,\"sinks\":[{\"name\":\"crm\",\"failures\":0}],\"quarantined\":" +
        std::to_string(quarantined) + ",\"pending\":{\"crm\":0}" +
        (drift.empty() ? "" : ",\"drift\":" + drift) + "}]}";
  }
  std::string PipelinesJson() override {
    std::lock_guard<std::mutex> lock(mu_);
    return json_;
  }
  Result<std::string> PipelineJson(const std::string&, int) override { return NotFound("-"); }
  Result<std::string> RunNow(const std::string&) override { return NotFound("-"); }
  Result<std::string> Pause(const std::string&) override { return NotFound("-"); }
  Result<std::string> Resume(const std::string&) override { return NotFound("-"); }
  Result<std::string> Requeue(const std::string&, const std::string&, const std::string&) override {
    return NotFound("-");
  }
  bool Ready(std::string*) override { return true; }

 private:
  std::mutex mu_;
  std::string json_;
};

class AlertsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(robot_.Start());
    http_ = NewCurlHttpClient();
    Set(0);
  }
  void Set(int failures, int64_t quarantined = 0, const std::string& drift = "") {
    agent_.Set(failures, quarantined, drift);
  }
  AlertDeliveryOptions Delivery(const std::string& secret = kSecret) {
    AlertDeliveryOptions o;
    o.dingtalk_webhook = robot_.webhook_url();
    o.dingtalk_secret = secret;
    o.http = http_.get();
    o.backoff_ms = 50;
    o.timeout_ms = 1000;
    o.log = [this](const std::string& l) {
      std::lock_guard<std::mutex> lock(log_mu_);
      logs_ += l + "\n";
    };
    return o;
  }
  config::AlertsConfig Rules() {
    config::AlertsConfig c;
    c.dingtalk_webhook = robot_.webhook_url();
    c.dingtalk_secret = kSecret;
    c.failed_runs = 3;
    c.status_page_url = "http://127.0.0.1:9464/";
    return c;
  }
  std::unique_ptr<stage::StagingLog> OpenStaging() {
    auto log = stage::StagingLog::Open(dir_.Sub("state"));
    EXPECT_TRUE(log.ok()) << log.status().message();
    return log.ok() ? std::move(log).value() : nullptr;
  }
  std::string Logs() {
    std::lock_guard<std::mutex> lock(log_mu_);
    return logs_;
  }

  testing::RobotEmulator robot_{kToken, kSecret};
  std::unique_ptr<HttpClient> http_;
  ScriptedAgent agent_;
  testing::TempDir dir_;
  testing::FakeClock clock_{1'800'000'000'000'000};
  std::mutex log_mu_;
  std::string logs_;
};

TEST_F(AlertsTest, SignIsBase64OfHmacSha256OfTimestampAndSecretUrlEncoded) {
  // Computed outside stagesync:
  // `printf '1700000000000\nSECabc' | openssl dgst -sha256 -hmac SECabc -binary | base64`,
  // then '=' URL-encoded.
  EXPECT_EQ(DingTalkSign(1700000000000, "SECabc"),
            "jcUpW0QmtKduN03n4JqQ0PBosVjqnM8gU7fIIvsDmCM%3D");
}

// The emulator holds the robot's contract: a right signature of a timestamp over an hour old,
// or a wrong token, is refused like the real robot refuses it.
TEST_F(AlertsTest, RobotEmulatorRefusesAStaleTimestampAndAnUnknownToken) {
  auto post = [&](const std::string& url) {
    HttpRequest req;
    req.method = "POST";
    req.url = url;
    req.headers = {{"Content-Type", "application/json"}};
    req.body = R"({"msgtype":"markdown","markdown":{"title":"t","text":"x"}})";
    auto r = http_->Send(req);
    EXPECT_TRUE(r.ok());
    return r.ok() ? json::Serialize(*json::Parse(r->body)) : std::string();
  };
  const int64_t stale = Clock::Real()->NowMillis() - 2 * 3600 * 1000;
  EXPECT_NE(post(robot_.webhook_url() + "&timestamp=" + std::to_string(stale) +
                 "&sign=" + DingTalkSign(stale, kSecret))
                .find("310000"),
            std::string::npos);
  const int64_t now = Clock::Real()->NowMillis();
  EXPECT_NE(post(robot_.webhook_url() + "x&timestamp=" + std::to_string(now) +
                 "&sign=" + DingTalkSign(now, kSecret))
                .find("300001"),
            std::string::npos);
  EXPECT_NE(post(robot_.webhook_url() + "&timestamp=" + std::to_string(now) +
                 "&sign=" + DingTalkSign(now, kSecret))
                .find("\"errcode\":0"),
            std::string::npos);
  EXPECT_EQ(robot_.Accepted().size(), 1u);
}

TEST_F(AlertsTest, FailingPipelineSendsOneAlertAndItsRecoveryOneResolution) {
  auto staging = OpenStaging();
  AlertDelivery delivery(Delivery());
  delivery.Start();
  Alerter alerter(Rules(), &agent_, staging.get(), &delivery, {&clock_, {}});
  for (int failures : {1, 2, 3, 4, 5, 6}) {
    Set(failures);
    ASSERT_TRUE(alerter.EvaluateOnce().ok());
    clock_.Advance(5'000'000);
  }
  ASSERT_TRUE(delivery.WaitIdle(5000));
  auto msgs = robot_.Accepted();
  ASSERT_EQ(msgs.size(), 1u) << Logs();
  EXPECT_NE(msgs[0].title.find("FIRING"), std::string::npos) << msgs[0].title;
  EXPECT_NE(msgs[0].text.find("orders"), std::string::npos) << msgs[0].text;
  EXPECT_NE(msgs[0].text.find("failed\\_runs"), std::string::npos) << msgs[0].text;
  EXPECT_NE(msgs[0].text.find("consecutive\\_failures: 3"), std::string::npos) << msgs[0].text;
  EXPECT_NE(msgs[0].text.find("(http://127.0.0.1:9464/)"), std::string::npos) << msgs[0].text;

  for (int i = 0; i < 4; ++i) {
    Set(0);
    ASSERT_TRUE(alerter.EvaluateOnce().ok());
    clock_.Advance(5'000'000);
  }
  ASSERT_TRUE(delivery.WaitIdle(5000));
  msgs = robot_.Accepted();
  ASSERT_EQ(msgs.size(), 2u) << Logs();
  EXPECT_NE(msgs[1].title.find("RESOLVED"), std::string::npos) << msgs[1].title;
  EXPECT_EQ(robot_.Answered(310000), 0);
  EXPECT_EQ(delivery.counts("dingtalk_robot").sent, 2);
  EXPECT_EQ(alerter.counts().firing_sent, 1);
  EXPECT_EQ(alerter.counts().resolved_sent, 1);
}

TEST_F(AlertsTest, FlappingPipelineIsRateLimitedPerMinInterval) {
  auto staging = OpenStaging();
  AlertDelivery delivery(Delivery());
  delivery.Start();
  auto rules = Rules();
  rules.failed_runs = 1;
  rules.min_interval_s = 600;
  Alerter alerter(rules, &agent_, staging.get(), &delivery, {&clock_, {}});
  // Fails and recovers every 10 s for 5 minutes: 30 flaps.
  for (int i = 0; i < 60; ++i) {
    Set(i % 2 == 0 ? 1 : 0);
    ASSERT_TRUE(alerter.EvaluateOnce().ok());
    clock_.Advance(5'000'000);
  }
  ASSERT_TRUE(delivery.WaitIdle(5000));
  // The first flap is told (firing, resolved); the next 29 fall within min_interval_s.
  EXPECT_EQ(robot_.Accepted().size(), 2u) << Logs();
  EXPECT_GE(alerter.counts().held_back, 29);
  // Past min_interval_s the next failure is told again.
  clock_.Advance(600'000'000);
  Set(1);
  ASSERT_TRUE(alerter.EvaluateOnce().ok());
  ASSERT_TRUE(delivery.WaitIdle(5000));
  ASSERT_EQ(robot_.Accepted().size(), 3u) << Logs();
  EXPECT_NE(robot_.Accepted()[2].title.find("FIRING"), std::string::npos);
}

TEST_F(AlertsTest, MaxPerHourCapsEveryConditionTogether) {
  auto staging = OpenStaging();
  AlertDelivery delivery(Delivery());
  delivery.Start();
  auto rules = Rules();
  rules.failed_runs = 1;
  rules.min_interval_s = 0;
  rules.max_per_hour = 4;
  Alerter alerter(rules, &agent_, staging.get(), &delivery, {&clock_, {}});
  for (int i = 0; i < 20; ++i) {
    Set(i % 2 == 0 ? 1 : 0);
    ASSERT_TRUE(alerter.EvaluateOnce().ok());
    clock_.Advance(60'000'000);
  }
  ASSERT_TRUE(delivery.WaitIdle(5000));
  EXPECT_EQ(robot_.Accepted().size(), 4u) << Logs();
}

TEST_F(AlertsTest, AFiringAlertIsNotResentAfterARestartAndIsResolvedByTheNextProcess) {
  {
    auto staging = OpenStaging();
    AlertDelivery delivery(Delivery());
    delivery.Start();
    Alerter alerter(Rules(), &agent_, staging.get(), &delivery, {&clock_, {}});
    Set(4);
    ASSERT_TRUE(alerter.EvaluateOnce().ok());
    ASSERT_TRUE(delivery.WaitIdle(5000));
    ASSERT_EQ(robot_.Accepted().size(), 1u) << Logs();
  }
  clock_.Advance(3'600'000'000);  // past min_interval_s: only the stored state prevents a resend
  {
    auto staging = OpenStaging();  // the same state dir, reopened
    AlertDelivery delivery(Delivery());
    delivery.Start();
    Alerter alerter(Rules(), &agent_, staging.get(), &delivery, {&clock_, {}});
    ASSERT_TRUE(alerter.EvaluateOnce().ok());
    ASSERT_TRUE(alerter.EvaluateOnce().ok());
    ASSERT_TRUE(delivery.WaitIdle(5000));
    EXPECT_EQ(robot_.Accepted().size(), 1u) << Logs();
  }
  {
    auto staging = OpenStaging();
    AlertDelivery delivery(Delivery());
    delivery.Start();
    Alerter alerter(Rules(), &agent_, staging.get(), &delivery, {&clock_, {}});
    Set(0);
    ASSERT_TRUE(alerter.EvaluateOnce().ok());
    ASSERT_TRUE(alerter.EvaluateOnce().ok());
    ASSERT_TRUE(delivery.WaitIdle(5000));
    auto msgs = robot_.Accepted();
    ASSERT_EQ(msgs.size(), 2u) << Logs();
    EXPECT_NE(msgs[1].title.find("RESOLVED"), std::string::npos);
  }
}

TEST_F(AlertsTest, AWrongSigningSecretIsACountedDeliveryFailureAndNeverLogged) {
  std::string reported;
  auto opts = Delivery("SECwrong0000000000000000000000000000");
  opts.on_delivery = [&](const std::string& channel, bool ok) {
    reported += channel + (ok ? ":ok" : ":failed");
  };
  AlertDelivery delivery(opts);
  delivery.Start();
  ASSERT_TRUE(delivery.Enqueue({"firing", "orders", "failed_runs", "3 failures", {}, ""}));
  ASSERT_TRUE(delivery.WaitIdle(5000));
  EXPECT_EQ(robot_.Answered(310000), 1);  // refused once: a wrong secret is not retried
  EXPECT_TRUE(robot_.Accepted().empty());
  EXPECT_EQ(delivery.counts("dingtalk_robot").failed, 1);
  EXPECT_EQ(delivery.counts("dingtalk_robot").sent, 0);
  EXPECT_EQ(reported, "dingtalk_robot:failed");
  EXPECT_NE(Logs().find("errcode 310000"), std::string::npos) << Logs();
  EXPECT_EQ(Logs().find("SECwrong"), std::string::npos) << Logs();
  EXPECT_EQ(Logs().find(kToken), std::string::npos) << Logs();
}

TEST_F(AlertsTest, OverTwentyMessagesAMinuteTheRobotSays130101AndItIsAFailure) {
  auto opts = Delivery();
  opts.max_attempts = 1;
  AlertDelivery delivery(opts);
  delivery.Start();
  for (int i = 0; i < 21; ++i) {
    ASSERT_TRUE(delivery.Enqueue({"firing", "p" + std::to_string(i), "quota", "spent", {}, ""}));
  }
  ASSERT_TRUE(delivery.WaitIdle(10000));
  EXPECT_EQ(robot_.Accepted().size(), 20u);
  EXPECT_EQ(robot_.Answered(130101), 1);
  EXPECT_EQ(delivery.counts("dingtalk_robot").failed, 1);
}

TEST_F(AlertsTest, ARobotThatHangsOrIsDownNeverBlocksTheCallerAndFailuresAreCounted) {
  robot_.SetMode(testing::RobotEmulator::Mode::kHang);
  auto opts = Delivery();
  opts.queue_capacity = 8;
  opts.max_attempts = 2;
  opts.timeout_ms = 500;
  AlertDelivery delivery(opts);
  delivery.Start();
  const int64_t t0 = SteadyMs();
  int queued = 0;
  for (int i = 0; i < 50; ++i) {
    queued += delivery.Enqueue({"firing", "p", "freshness", "old", {}, ""});
  }
  EXPECT_LT(SteadyMs() - t0, 200) << "Enqueue waited on the robot";
  EXPECT_LE(queued, 9);  // the queue, and perhaps one already taken by the thread
  EXPECT_EQ(delivery.counts().dropped, 50 - queued);
  // The first message's two attempts time out.
  ASSERT_TRUE(WaitFor([&] { return delivery.counts("dingtalk_robot").failed >= 1; }, 5000));
  EXPECT_EQ(delivery.counts("dingtalk_robot").sent, 0);

  // Down: connection refused and HTTP 500 are failures too, counted, and then it recovers.
  robot_.SetMode(testing::RobotEmulator::Mode::kError500);
  const int port = robot_.port();
  robot_.Stop();
  ASSERT_TRUE(delivery.WaitIdle(20000));
  const int64_t failed = delivery.counts("dingtalk_robot").failed;
  EXPECT_EQ(failed, queued);
  ASSERT_TRUE(robot_.Start(port));
  ASSERT_TRUE(delivery.Enqueue({"firing", "p", "freshness", "old", {}, ""}));
  ASSERT_TRUE(delivery.WaitIdle(5000));
  EXPECT_EQ(delivery.counts("dingtalk_robot").failed, failed + 1);  // HTTP 500 twice
  robot_.SetMode(testing::RobotEmulator::Mode::kUp);
  ASSERT_TRUE(delivery.Enqueue({"firing", "p", "freshness", "old", {}, ""}));
  ASSERT_TRUE(delivery.WaitIdle(5000));
  EXPECT_EQ(delivery.counts("dingtalk_robot").sent, 1);
  // Stopping with a hanging robot returns within one attempt's timeout.
  robot_.SetMode(testing::RobotEmulator::Mode::kHang);
  ASSERT_TRUE(delivery.Enqueue({"firing", "p", "freshness", "old", {}, ""}));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const int64_t t1 = SteadyMs();
  delivery.Stop();
  EXPECT_LT(SteadyMs() - t1, 1500);
  EXPECT_EQ(Logs().find(kSecret), std::string::npos) << Logs();
  EXPECT_EQ(Logs().find(kToken), std::string::npos) << Logs();
}

TEST_F(AlertsTest, DriftAlertNamesTheReferenceAndTheRecordAndResolvesWhenItIsGone) {
  auto staging = OpenStaging();
  AlertDelivery delivery(Delivery());
  delivery.Start();
  Alerter alerter(Rules(), &agent_, staging.get(), &delivery, {&clock_, {}});
  Set(0, 0,
      R"([{"sink":"crm","reference":"{{客户名称}}","first_missing_key":"PROC-77","missing_streak":12}])");
  ASSERT_TRUE(alerter.EvaluateOnce().ok());
  ASSERT_TRUE(alerter.EvaluateOnce().ok());
  ASSERT_TRUE(delivery.WaitIdle(5000));
  auto msgs = robot_.Accepted();
  ASSERT_EQ(msgs.size(), 1u) << Logs();
  EXPECT_NE(msgs[0].title.find("drift"), std::string::npos) << msgs[0].title;
  EXPECT_NE(msgs[0].text.find("{{客户名称}}"), std::string::npos) << msgs[0].text;
  EXPECT_NE(msgs[0].text.find("PROC-77"), std::string::npos) << msgs[0].text;
  // A restart forgets nothing: the drift index in staging still resolves it.
  staging.reset();
  staging = OpenStaging();
  Alerter again(Rules(), &agent_, staging.get(), &delivery, {&clock_, {}});
  Set(0);
  ASSERT_TRUE(again.EvaluateOnce().ok());
  ASSERT_TRUE(delivery.WaitIdle(5000));
  msgs = robot_.Accepted();
  ASSERT_EQ(msgs.size(), 2u) << Logs();
  EXPECT_NE(msgs[1].title.find("RESOLVED"), std::string::npos);
  EXPECT_NE(msgs[1].text.find("客户名称"), std::string::npos) << msgs[1].text;
}

TEST_F(AlertsTest, QuarantineGrowthFiresAndTheGenericWebhookGetsItsJson) {
  auto staging = OpenStaging();
  auto opts = Delivery();
  opts.dingtalk_webhook.clear();
  opts.webhook_url = robot_.hook_url();
  AlertDelivery delivery(opts);
  delivery.Start();
  auto rules = Rules();
  Alerter alerter(rules, &agent_, staging.get(), &delivery, {&clock_, {}});
  Set(0, 2);  // first sight: the baseline
  ASSERT_TRUE(alerter.EvaluateOnce().ok());
  Set(0, 5);
  ASSERT_TRUE(alerter.EvaluateOnce().ok());
  ASSERT_TRUE(delivery.WaitIdle(5000));
  auto bodies = robot_.HookBodies();
  ASSERT_EQ(bodies.size(), 1u) << Logs();
  auto v = json::Parse(bodies[0]);
  ASSERT_TRUE(v.ok()) << bodies[0];
  EXPECT_EQ(v->Find("status")->text(), "firing");
  EXPECT_EQ(v->Find("pipeline")->text(), "orders");
  EXPECT_EQ(v->Find("condition")->text(), "quarantine_grew");
  EXPECT_EQ(v->Find("status_page")->text(), "http://127.0.0.1:9464/");
  int64_t q = 0, base = 0;
  ASSERT_TRUE(v->Find("values")->Find("quarantined")->AsInt64(&q));
  ASSERT_TRUE(v->Find("values")->Find("baseline")->AsInt64(&base));
  EXPECT_EQ(q, 5);
  EXPECT_EQ(base, 2);
}

TEST(AlertsConfigTest, ReadsChannelsFromEnvAndFailsFastNamingThePath) {
  auto env = [](const char* n) -> const char* {
    std::string name(n);
    if (name == "ROBOT_URL") return "https://oapi.dingtalk.com/robot/send?access_token=abc";
    if (name == "ROBOT_SECRET") return "SECxyz";
    return nullptr;
  };
  const std::string base =
      R"({"state_dir":"/tmp/x","connections":{"db":{"type":"mysql"}},)"
      R"("pipelines":{"p":{"source":{"connection":"db"},"sinks":{"s":{"connection":"db"}}}},)";
  auto ok = config::LoadString(
      base + R"("alerts":{"dingtalk_robot":{"webhook":"${ROBOT_URL}","secret":"${ROBOT_SECRET}"},)"
             R"("freshness_s":{"*":3600,"p":600},"failed_runs":5}})",
      "", env);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->alerts.dingtalk_webhook, "https://oapi.dingtalk.com/robot/send?access_token=abc");
  EXPECT_EQ(ok->alerts.dingtalk_secret, "SECxyz");
  EXPECT_EQ(ok->alerts.freshness_s, 3600);
  EXPECT_EQ(ok->alerts.freshness_s_per_pipeline.at("p"), 600);
  EXPECT_EQ(ok->alerts.failed_runs, 5);
  EXPECT_EQ(ok->alerts.min_interval_s, 600);
  EXPECT_EQ(ok->alerts.status_page_url, "http://127.0.0.1:9464/");
  EXPECT_TRUE(ok->alerts.enabled());

  auto missing = config::LoadString(
      base + R"("alerts":{"dingtalk_robot":{"secret":"${ROBOT_SECRET}"}}})", "", env);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("alerts.dingtalk_robot.webhook"), std::string::npos)
      << missing.status().message();
  auto bad = config::LoadString(base + R"("alerts":{"min_interval_s":-1}})", "", env);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("alerts.min_interval_s"), std::string::npos);
  auto unknown = config::LoadString(base + R"("alerts":{"webhook":{"uri":"x"}}})", "", env);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("alerts.webhook.uri"), std::string::npos);
  auto unset = config::LoadString(
      base + R"("alerts":{"dingtalk_robot":{"webhook":"${NOT_SET_ANYWHERE}"}}})", "", env);
  ASSERT_FALSE(unset.ok());
  EXPECT_NE(unset.status().message().find("alerts.dingtalk_robot.webhook"), std::string::npos);
}

}  // namespace
}  // namespace stagesync::obs
