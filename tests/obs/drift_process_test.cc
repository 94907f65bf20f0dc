// Drift detection end to end: the real `stagesync run` syncing seed 000 (DingTalk payment
// requests into the MariaDB fixture) while the DingTalk emulator's admin renames the form label
// 实际付款金额. The agent's JSON (GET /api/pipelines and /api/pipelines/NAME) and `stagesync ctl
// status` must name {{form:实际付款金额}} and the first request submitted after the rename, and
// the column it feeds really is NULL for those requests (the silent rot this detects).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "emulators/dingtalk_emulator.h"
#include "stagesync/clock.h"
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
const std::string kPayment = "dingtalk-payment";
const std::string kRef = "{{form:实际付款金额}}";

std::string Tail(const std::string& path, size_t n = 3000) {
  std::string s = testing::ReadWholeFile(path);
  return s.size() <= n ? s : "..." + s.substr(s.size() - n);
}

class DriftProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.ok()) << "no MariaDB: is the mariadb fixture running?";
    ASSERT_TRUE(db_.Source(STAGESYNC_SOURCE_DIR "/conf/sql/payment_application_info.sql").ok());
    ASSERT_TRUE(dt_.Start(0));
  }
  std::string log() const { return dir_.Sub("agent.log"); }

  // The ledger's record count for the payment sink: how many requests the agent applied.
  int64_t Applied() {
    auto n = db_.Scalar("SELECT COUNT(*) FROM stagesync_ledger WHERE pipeline = '" + kPayment +
                        "' AND sink = 'bi_mysql'");
    return n.ok() && *n != "NULL" ? std::stoll(*n) : -1;
  }
  // The pipeline's "drift" array, or nullopt when the agent did not answer.
  std::optional<json::Value> Drift() {
    auto p = agent_.Pipeline(kPayment);
    if (!p) return std::nullopt;
    const json::Value* d = p->Find("drift");
    if (d == nullptr) return std::nullopt;
    return *d;
  }

  testing::TestDatabase db_;
  emulators::DingTalkEmulator dt_;
  testing::TempDir dir_;
  testing::AgentProcess agent_;
};

TEST_F(DriftProcessTest, ARenamedDingTalkLabelIsReportedWithTheFirstRequestMissingIt) {
  const int64_t now = Clock::Real()->NowMillis();
  dt_.Generate(40, now - 10 * kDayMs, now - kHourMs, 12);
  const std::string config = dir_.Sub("config.json");
  std::ofstream(config) << testing::AgentConfig(
      testing::PaymentConfigJson(dt_.base_url(), dir_.Sub("state"), db_.port(), db_.name()),
      "@every 1s");
  ASSERT_TRUE(agent_.Start(kBinary, config, log()));
  ASSERT_TRUE(agent_.WaitReady()) << Tail(log());
  const int64_t initial = static_cast<int64_t>(dt_.Instances().size());
  ASSERT_TRUE(testing::WaitFor([&] { return Applied() == initial; }, 20000, 50))
      << "the first requests were not applied: " << Tail(log());
  // Every reference of the seed resolved in most requests (finish_time is absent from the open
  // ones, an optional field): nothing is drift yet.
  auto before = Drift();
  ASSERT_TRUE(before.has_value()) << "no drift array in the pipeline's JSON";
  EXPECT_TRUE(before->is_array() && before->items().empty()) << json::Serialize(*before);

  // The form's admin renames the field; the next request carries the new label.
  dt_.RenameFormLabel("实际付款金额", "实付金额");
  const std::string first = dt_.AddInstance(Clock::Real()->NowMillis() - 30000);
  ASSERT_TRUE(testing::WaitFor([&] { return Applied() == initial + 1; }, 15000, 50)) << Tail(log());
  // One missing request could be an optional field left out: not drift yet.
  EXPECT_TRUE(Drift().has_value() && Drift()->items().empty());
  for (int k = 0; k < 5; ++k) dt_.AddInstance(Clock::Real()->NowMillis() - 20000 + k * 1000);
  ASSERT_TRUE(testing::WaitFor([&] { return Applied() == initial + 6; }, 15000, 50)) << Tail(log());

  std::optional<json::Value> drift;
  ASSERT_TRUE(testing::WaitFor(
      [&] { return (drift = Drift()).has_value() && !drift->items().empty(); }, 5000, 50))
      << "no drift reported: " << Tail(log());
  ASSERT_EQ(drift->items().size(), 1u) << json::Serialize(*drift);
  const json::Value& d = drift->items()[0];
  EXPECT_EQ(testing::TextOf(&d, "sink"), "bi_mysql");
  EXPECT_EQ(testing::TextOf(&d, "reference"), kRef);
  EXPECT_EQ(testing::TextOf(&d, "first_missing_key"), first);
  EXPECT_EQ(testing::IntOf(&d, "missing_streak"), 6);
  const int64_t since = testing::IntOf(&d, "first_missing_ms");
  EXPECT_GE(since, now);
  EXPECT_LE(since, Clock::Real()->NowMillis());
  // The rot it names is real: the column is NULL for exactly those requests.
  auto nulls = db_.Scalar(
      "SELECT COUNT(DISTINCT bfn_id) FROM payment_application_info WHERE actual_payment_amount "
      "IS NULL");
  ASSERT_TRUE(nulls.ok());
  EXPECT_EQ(*nulls, "6");

  // The one pipeline's answer carries the same array.
  std::string body;
  ASSERT_EQ(agent_.GetStatus("/api/pipelines/" + kPayment, &body), 200);
  auto one = json::Parse(body);
  ASSERT_TRUE(one.ok());
  ASSERT_NE(one->Find("drift"), nullptr) << body;
  EXPECT_EQ(json::Serialize(*one->Find("drift")), json::Serialize(*drift));

  // `ctl status` prints it under the table.
  const std::string out = dir_.Sub("ctl.out");
  ASSERT_EQ(
      testing::Run({kBinary, "--config", config, "--listen", agent_.address(), "ctl", "status"}, {},
                   out),
      0)
      << testing::ReadWholeFile(out);
  const std::string printed = testing::ReadWholeFile(out);
  EXPECT_NE(printed.find("drift: " + kPayment + "/bi_mysql " + kRef + " missing in 6 records"),
            std::string::npos)
      << printed;
  EXPECT_NE(printed.find(first), std::string::npos) << printed;
  std::printf("%s", printed.c_str());

  // Renamed back: the next request resolves it and the drift clears.
  dt_.RenameFormLabel("实付金额", "实际付款金额");
  dt_.AddInstance(Clock::Real()->NowMillis() - 10000);
  ASSERT_TRUE(testing::WaitFor([&] { return Applied() == initial + 7; }, 15000, 50)) << Tail(log());
  EXPECT_TRUE(
      testing::WaitFor([&] { return Drift().has_value() && Drift()->items().empty(); }, 5000, 50))
      << json::Serialize(*Drift());
  EXPECT_EQ(agent_.Terminate(15000).code, 0) << Tail(log());
}

}  // namespace
}  // namespace stagesync
