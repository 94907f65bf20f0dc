// SIGKILL the real `stagesync sync` pushing approvals into Kingdee at random moments, right
// after Kingdee created the bill and before stagesync recorded it, and right after the intent,
// 30+ times (with some replies dropped after commit); then one clean sync: exactly one
// AP_PAYBILL per approved CN_PAYAPPLY and every intent resolved.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "emulators/dingtalk_emulator.h"
#include "emulators/kingdee_emulator.h"
#include "stagesync/clock.h"
#include "testing/exactly_once.h"
#include "testing/kill_loop.h"
#include "testing/kingdee_pipeline.h"
#include "testing/mariadb.h"
#include "testing/subprocess.h"
#include "testing/temp_dir.h"

namespace stagesync {
namespace {

const std::string kBinary = STAGESYNC_BINARY_DIR "/stagesync";

TEST(KingdeeCrashTest, KilledAroundEveryPushStillExactlyOneBillPerApprovedRequest) {
  emulators::DingTalkEmulator dt;
  emulators::KingdeeEmulator kd;
  ASSERT_TRUE(dt.Start(0));
  ASSERT_TRUE(kd.Start(0));
  std::set<std::string> registered;
  auto register_bills = [&] {
    for (const auto& inst : dt.Instances()) {
      if (registered.insert(inst.bill_number).second) kd.AddPayApply(inst.bill_number);
    }
  };
  const int64_t now = Clock::Real()->NowMillis();
  dt.Generate(200, now - 20 * 86400000LL, now - 3600000, 92);
  register_bills();
  kd.SetLatencyMs(2);
  testing::TempDir dir;
  testing::KingdeePushOptions o;
  o.batch_rows = 5;
  const std::string config = dir.Sub("config.json");
  std::ofstream(config) << testing::KingdeePushConfigJson(dt.base_url(), kd.base_url(),
                                                          dir.Sub("state"), o);
  const std::string log_file = dir.Sub("sync.log");
  testing::KillLoopOptions kl{kBinary, config, "dingtalk-payment", log_file};
  kl.crash_point_max_n = 4;
  kl.seed = 1201;
  kl.before_run = [&](int i) {
    if (i % 4 == 0) kd.DropResponseAfterCommitNext(2);
  };
  kl.after_run = [&](int i) {
    const int64_t t = Clock::Real()->NowMillis();
    dt.Generate(12, t - 60000, t - 1000, 300 + i);  // every run has new approvals to push
    register_bills();
  };
  auto loop = testing::RunKillLoop(kl);
  ASSERT_TRUE(loop.failure.empty()) << loop.failure << ": " << testing::ReadFileTrimmed(log_file);
  EXPECT_GE(loop.killed, 30);
  EXPECT_GE(loop.killed_after_call, 5);
  kd.DropResponseAfterCommitNext(0);
  ASSERT_EQ(testing::Run({kBinary, "--config", config, "sync", "dingtalk-payment"}, {}, log_file),
            0)
      << testing::ReadFileTrimmed(log_file);

  testing::ExpectOneBillPerApprovedRequest(dt, kd, dir.Sub("state"));
}

}  // namespace
}  // namespace stagesync
