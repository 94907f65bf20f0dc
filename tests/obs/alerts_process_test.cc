// Alerts of the real `stagesync run` process: the DingTalk emulator's data calls fail, the
// agent's alerter sends exactly one signed alert to the robot emulator (which verifies the
// signature like the real robot) and, once the source is back, exactly one resolution. With
// the robot hanging, the same recovery syncs on time and the delivery failures are logged,
// never with the robot's secret or access_token.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <thread>

#include "emulators/dingtalk_emulator.h"
#include "obs/metrics_scrape.h"
#include "obs/robot_emulator.h"
#include "stagesync/clock.h"
#include "stagesync/json.h"
#include "testing/agent_process.h"
#include "testing/mariadb.h"
#include "testing/payment_pipeline.h"
#include "testing/temp_dir.h"

namespace stagesync {
namespace {

constexpr int64_t kHourMs = 3600000;
constexpr int64_t kDayMs = 24 * kHourMs;
const std::string kBinary = STAGESYNC_BINARY_DIR "/stagesync";
const std::string kPayment = "dingtalk-payment";
const std::string kToken = "robot-token-71c0e93b5d";
const std::string kSecret = "SEC4d8e2f0a9b1c7e3d5f6a8b0c2e4d6f8a1b3c5";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string Tail(const std::string& path, size_t n = 4000) {
  std::string s = ReadAll(path);
  return s.size() <= n ? s : "..." + s.substr(s.size() - n);
}

class AlertsProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.ok()) << "no MariaDB: is the mariadb fixture running?";
    ASSERT_TRUE(db_.Source(STAGESYNC_SOURCE_DIR "/conf/sql/payment_application_info.sql").ok());
    ASSERT_TRUE(dt_.Start(0));
    ASSERT_TRUE(robot_.Start());
    const int64_t now = Clock::Real()->NowMillis();
    dt_.Generate(20, now - 3 * kDayMs, now - kHourMs, 12);
  }

  // The payment pipeline every second, its source failing fast, alerting after 2 failed runs.
  std::string Config() {
    json::Value root = *json::Parse(
        testing::PaymentConfigJson(dt_.base_url(), dir_.Sub("state"), db_.port(), db_.name()));
    json::Value* dingtalk = testing::Member(testing::Member(&root, "connections"), "dingtalk");
    testing::SetMember(dingtalk, "retry_budget_s", json::Value::Number("1"));
    root = *json::Parse(testing::AgentConfig(json::Serialize(root), "@every 1s"));
    testing::SetMember(&root, "alerts", *json::Parse(R"({
        "dingtalk_robot": {"webhook": "${TEST_ROBOT_WEBHOOK}", "secret": "${TEST_ROBOT_SECRET}"},
        "failed_runs": 2, "check_interval_s": 1, "min_interval_s": 600})"));
    const std::string path = dir_.Sub("config.json");
    std::ofstream(path) << json::Serialize(root);
    return path;
  }
  std::vector<std::string> Env() const {
    return {"TEST_ROBOT_WEBHOOK=" + robot_.webhook_url(), "TEST_ROBOT_SECRET=" + kSecret};
  }
  std::string log() const { return dir_.Sub("agent.log"); }
  int64_t Rows() {
    auto n = db_.Scalar("SELECT COUNT(*) FROM payment_application_info");
    return n.ok() && *n != "NULL" ? std::stoll(*n) : -1;
  }
  int64_t ExpectedRows() {
    return static_cast<int64_t>(testing::ExpectedPaymentRows(dt_.Instances()).size());
  }
  // Requests the payment sink applied (its ledger).
  int64_t Applied() {
    auto n = db_.Scalar("SELECT COUNT(*) FROM stagesync_ledger WHERE pipeline = '" + kPayment +
                        "' AND sink = 'bi_mysql'");
    return n.ok() && *n != "NULL" ? std::stoll(*n) : -1;
  }
  // The robot's messages whose title has `tag` and `condition`, markdown escapes removed.
  std::vector<std::string> Texts(const std::string& tag, const std::string& condition) {
    std::vector<std::string> out;
    for (const auto& m : robot_.Accepted()) {
      if (m.title.find(tag) == std::string::npos || m.title.find(condition) == std::string::npos) {
        continue;
      }
      std::string t;
      for (char c : m.text) {
        if (c != '\\') t += c;
      }
      out.push_back(t);
    }
    return out;
  }
  void ExpectNoSecretIn(const std::string& path) {
    const std::string text = ReadAll(path);
    EXPECT_EQ(text.find(kSecret), std::string::npos) << "the robot's secret is in " << path;
    EXPECT_EQ(text.find(kToken), std::string::npos) << "the robot's token is in " << path;
  }

  testing::TestDatabase db_;
  emulators::DingTalkEmulator dt_;
  testing::RobotEmulator robot_{kToken, kSecret};
  testing::TempDir dir_;
};

TEST_F(AlertsProcessTest, FailingPipelineSendsExactlyOneAlertAndItsRecoveryOneResolution) {
  dt_.Fail5xxNext(1000000);
  testing::AgentProcess agent;
  ASSERT_TRUE(agent.Start(kBinary, Config(), log(), Env()));
  ASSERT_TRUE(agent.WaitReady()) << Tail(log());

  ASSERT_TRUE(testing::WaitFor([&] { return !robot_.Accepted().empty(); }, 20000, 50))
      << "no alert; robot answered 310000 x" << robot_.Answered(310000) << "\n"
      << Tail(log());
  // Still failing for 3 more evaluations: nothing more is sent.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  auto msgs = robot_.Accepted();
  ASSERT_EQ(msgs.size(), 1u) << Tail(log());
  EXPECT_NE(msgs[0].title.find("FIRING"), std::string::npos) << msgs[0].title;
  EXPECT_NE(msgs[0].title.find(kPayment), std::string::npos) << msgs[0].title;
  EXPECT_NE(msgs[0].text.find("failed\\_runs"), std::string::npos) << msgs[0].text;
  EXPECT_NE(msgs[0].text.find("http://" + agent.address() + "/"), std::string::npos)
      << msgs[0].text;

  dt_.Fail5xxNext(0);
  const int64_t rows = ExpectedRows();
  ASSERT_TRUE(testing::WaitFor([&] { return Rows() == rows; }, 15000, 50)) << Tail(log());
  ASSERT_TRUE(testing::WaitFor([&] { return robot_.Accepted().size() >= 2; }, 10000, 50))
      << Tail(log());
  std::this_thread::sleep_for(std::chrono::seconds(2));
  msgs = robot_.Accepted();
  ASSERT_EQ(msgs.size(), 2u) << Tail(log());
  EXPECT_NE(msgs[1].title.find("RESOLVED"), std::string::npos) << msgs[1].title;
  EXPECT_NE(msgs[1].title.find(kPayment), std::string::npos) << msgs[1].title;
  // Every request the robot saw was signed right.
  EXPECT_EQ(robot_.Answered(310000), 0);
  EXPECT_EQ(robot_.Answered(0), 2);
  // Both deliveries are counted for Prometheus (stagesync_alerts_sent_total).
  std::string scrape;
  ASSERT_EQ(agent.GetStatus("/metrics", &scrape), 200);
  EXPECT_EQ(testing::SampleValue(scrape, "stagesync_alerts_sent_total",
                                 {{"channel", "dingtalk_robot"}, {"outcome", "ok"}}),
            2)
      << scrape;

  const auto stopped = agent.Terminate(30000);
  EXPECT_EQ(stopped.code, 0) << Tail(log());
  ExpectNoSecretIn(log());
}

TEST_F(AlertsProcessTest, AHangingRobotNeverHoldsBackTheSyncAndItsFailuresAreLogged) {
  robot_.SetMode(testing::RobotEmulator::Mode::kHang);
  dt_.Fail5xxNext(1000000);
  testing::AgentProcess agent;
  ASSERT_TRUE(agent.Start(kBinary, Config(), log(), Env()));
  ASSERT_TRUE(agent.WaitReady()) << Tail(log());
  // The alert is being delivered: the robot holds its request open.
  ASSERT_TRUE(testing::WaitFor([&] { return robot_.Requests() >= 1; }, 20000, 50)) << Tail(log());

  // The source comes back while the robot hangs: the rows arrive as fast as without alerts
  // (the other agent tests allow 15 s after a backoff of at most 2 s).
  dt_.Fail5xxNext(0);
  const int64_t back = testing::SteadyNowMs();
  const int64_t rows = ExpectedRows();
  ASSERT_TRUE(testing::WaitFor([&] { return Rows() == rows; }, 15000, 50)) << Tail(log());
  std::printf("rows synced %lld ms after the source came back, robot hanging\n",
              static_cast<long long>(testing::SteadyNowMs() - back));
  // The delivery attempt timed out (5 s) and was logged as a failure.
  ASSERT_TRUE(testing::WaitFor(
      [&] { return ReadAll(log()).find("dingtalk_robot attempt 1 failed") != std::string::npos; },
      10000, 100))
      << Tail(log());
  EXPECT_TRUE(robot_.Accepted().empty());

  // Shutdown is not held hostage by the robot either: well within the 10 s grace.
  const auto stopped = agent.Terminate(30000);
  EXPECT_EQ(stopped.code, 0) << Tail(log());
  EXPECT_LT(stopped.elapsed_ms, 8000) << Tail(log());
  ExpectNoSecretIn(log());
}

// Issue 12: the DingTalk form's admin renames a label mid-run; the alert names the reference
// and the first request without it, and renaming it back resolves the alert.
TEST_F(AlertsProcessTest, ARenamedFormLabelSendsADriftAlertNamingItAndItsRecordThenResolves) {
  testing::AgentProcess agent;
  ASSERT_TRUE(agent.Start(kBinary, Config(), log(), Env()));
  ASSERT_TRUE(agent.WaitReady()) << Tail(log());
  const int64_t initial = static_cast<int64_t>(dt_.Instances().size());
  ASSERT_TRUE(testing::WaitFor([&] { return Applied() == initial; }, 20000, 50)) << Tail(log());

  dt_.RenameFormLabel("实际付款金额", "实付金额");
  const std::string first = dt_.AddInstance(Clock::Real()->NowMillis() - 30000);
  for (int k = 0; k < 5; ++k) dt_.AddInstance(Clock::Real()->NowMillis() - 20000 + k * 1000);
  ASSERT_TRUE(testing::WaitFor([&] { return Applied() == initial + 6; }, 15000, 50)) << Tail(log());
  ASSERT_TRUE(testing::WaitFor([&] { return !Texts("FIRING", "drift").empty(); }, 10000, 50))
      << Tail(log());
  const std::string text = Texts("FIRING", "drift")[0];
  EXPECT_NE(text.find("{{form:实际付款金额}}"), std::string::npos) << text;
  EXPECT_NE(text.find(first), std::string::npos) << text;
  EXPECT_NE(text.find("bi_mysql"), std::string::npos) << text;

  dt_.RenameFormLabel("实付金额", "实际付款金额");
  dt_.AddInstance(Clock::Real()->NowMillis() - 10000);
  ASSERT_TRUE(testing::WaitFor([&] { return !Texts("RESOLVED", "drift").empty(); }, 15000, 50))
      << Tail(log());
  EXPECT_NE(Texts("RESOLVED", "drift")[0].find("{{form:实际付款金额}}"), std::string::npos);
  EXPECT_EQ(Texts("FIRING", "drift").size(), 1u);
  EXPECT_EQ(robot_.Answered(310000), 0);
  EXPECT_EQ(agent.Terminate(15000).code, 0) << Tail(log());
}

}  // namespace
}  // namespace stagesync
