// SIGKILL the real `stagesync sync` into Yida at random moments and exactly between the
// instance being created and stagesync recording it, 30+ times; then one clean sync: exactly
// one Yida instance per record, every intent resolved.
#include <gtest/gtest.h>

#include <fstream>

#include "emulators/dingtalk_emulator.h"
#include "stagesync/clock.h"
#include "testing/exactly_once.h"
#include "testing/kill_loop.h"
#include "testing/mariadb.h"
#include "testing/subprocess.h"
#include "testing/temp_dir.h"
#include "testing/yida_pipeline.h"

namespace stagesync {
namespace {

const std::string kBinary = STAGESYNC_BINARY_DIR "/stagesync";

TEST(YidaCrashTest, KilledAroundEveryCreateStillExactlyOneInstancePerRecord) {
  emulators::DingTalkEmulator emu;
  ASSERT_TRUE(emu.Start(0));
  const int64_t now = Clock::Real()->NowMillis();
  emu.Generate(250, now - 20 * 86400000LL, now - 3600000, 91);
  emu.SetLatencyMs(2);
  emu.SetYidaSearchLagMs(100);
  testing::TempDir dir;
  testing::YidaPipelineOptions o;
  o.search_lag_ms = 150;
  o.batch_rows = 10;
  const std::string config = dir.Sub("config.json");
  std::ofstream(config) << testing::YidaConfigJson(emu.base_url(), dir.Sub("state"), o);
  const std::string log_file = dir.Sub("sync.log");
  testing::KillLoopOptions kl{kBinary, config, "payments-to-yida", log_file};
  kl.crash_point_max_n = 6;
  kl.seed = 611;
  kl.after_run = [&](int i) {
    const int64_t t = Clock::Real()->NowMillis();
    emu.Generate(8, t - 60000, t - 1000, 100 + i);  // every run has creates to be killed around
  };
  auto loop = testing::RunKillLoop(kl);
  ASSERT_TRUE(loop.failure.empty()) << loop.failure << ": " << testing::ReadFileTrimmed(log_file);
  EXPECT_GE(loop.killed, 30);
  EXPECT_GE(loop.killed_after_call, 5);
  ASSERT_EQ(testing::Run({kBinary, "--config", config, "sync", "payments-to-yida"}, {}, log_file),
            0)
      << testing::ReadFileTrimmed(log_file);

  testing::ExpectOneInstancePerRecord(emu, dir.Sub("state"));
}

}  // namespace
}  // namespace stagesync
