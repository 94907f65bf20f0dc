// stagesync-audit beside a real `stagesync run` agent that holds the state dir (its flock and
// RocksDB's LOCK) and keeps applying seed 000 into the MariaDB fixture: audits taken while new
// and changed requests are being applied never report a false discrepancy, and a column edited
// behind the agent's back is still found and named.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "emulators/dingtalk_emulator.h"
#include "stagesync/clock.h"
#include "testing/agent_process.h"
#include "testing/mariadb.h"
#include "testing/payment_pipeline.h"
#include "testing/subprocess.h"
#include "testing/temp_dir.h"

namespace stagesync {
namespace {

constexpr int64_t kHourMs = 3600000;
constexpr int64_t kDayMs = 24 * kHourMs;

class AuditProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.ok()) << "no MariaDB: is the mariadb fixture running?";
    ASSERT_TRUE(db_.Source(STAGESYNC_SOURCE_DIR "/conf/sql/payment_application_info.sql").ok());
    ASSERT_TRUE(dt_.Start(0));
  }

  int64_t Applied() {
    auto n = db_.Scalar(
        "SELECT COUNT(*) FROM stagesync_ledger WHERE pipeline = 'dingtalk-payment' AND sink = "
        "'bi_mysql'");
    return n.ok() && *n != "NULL" ? std::stoll(*n) : -1;
  }

  // The audit binary's exit code; its stdout and stderr in *out.
  int Audit(std::string* out) {
    const std::string log = dir_.Sub("audit.log");
    std::remove(log.c_str());
    const int code =
        testing::Run({STAGESYNC_AUDIT_BIN, "--config", config_, "--format", "json"}, {}, log);
    *out = testing::ReadWholeFile(log);
    return code;
  }

  testing::TestDatabase db_;
  emulators::DingTalkEmulator dt_;
  testing::TempDir dir_;
  testing::AgentProcess agent_;
  std::string config_;
};

TEST_F(AuditProcessTest, AuditsBesideARunningAgentFindNoFalseDiscrepancyThenFindAnEdit) {
  const int64_t now = Clock::Real()->NowMillis();
  dt_.Generate(30, now - 10 * kDayMs, now - kHourMs, 31);
  config_ = dir_.Sub("config.json");
  std::ofstream(config_) << testing::AgentConfig(
      testing::PaymentConfigJson(dt_.base_url(), dir_.Sub("state"), db_.port(), db_.name()),
      "@every 1s");
  const std::string log = dir_.Sub("agent.log");
  ASSERT_TRUE(agent_.Start(STAGESYNC_BINARY_DIR "/stagesync", config_, log));
  ASSERT_TRUE(agent_.WaitReady()) << testing::ReadWholeFile(log);
  const int64_t initial = static_cast<int64_t>(dt_.Instances().size());
  ASSERT_TRUE(testing::WaitFor([&] { return Applied() == initial; }, 20000, 50))
      << testing::ReadWholeFile(log);

  // Upstream keeps changing while the agent applies and the audit reads.
  std::string out;
  const auto ids = dt_.Instances();
  for (int k = 0; k < 6; ++k) {
    ASSERT_TRUE(dt_.Modify(ids[static_cast<size_t>(k * 3)].id));
    dt_.AddInstance(Clock::Real()->NowMillis() - 20000 + k * 1000);
    EXPECT_EQ(Audit(&out), 0) << out;
    EXPECT_NE(out.find(R"("audited":true)"), std::string::npos) << out;
  }
  ASSERT_TRUE(testing::WaitFor([&] { return Applied() == initial + 6; }, 15000, 50))
      << testing::ReadWholeFile(log);

  const std::string id = ids[1].id;
  ASSERT_EQ(*db_.Scalar("SELECT COUNT(*) FROM payment_application_info WHERE bfn_id = '" + id +
                        "' AND detail_index = 1"),
            "1");
  ASSERT_TRUE(db_.conn()
                  ->Execute("UPDATE payment_application_info SET payee_name = 'someone else' "
                            "WHERE bfn_id = '" +
                            id + "' AND detail_index = 1")
                  .ok());
  EXPECT_EQ(Audit(&out), 1) << out;
  EXPECT_NE(out.find(R"("class":"drifted","key":")" + id + R"(","row":"detail_index=1")"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(R"("column":"payee_name")"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("target":"someone else")"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("discrepancies":1,)"), std::string::npos) << out;
  EXPECT_EQ(agent_.Terminate(15000).code, 0) << testing::ReadWholeFile(log);
}

}  // namespace
}  // namespace stagesync
