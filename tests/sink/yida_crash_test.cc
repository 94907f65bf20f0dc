// SIGKILL the real `stagesync sync` into Yida at random moments and exactly between the
// instance being created and stagesync recording it, 30+ times; then one clean sync: exactly
// one Yida instance per record, every intent resolved.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "emulators/dingtalk_emulator.h"
#include "stagesync/clock.h"
#include "stagesync/json.h"
#include "stagesync/stage.h"
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
  testing::KillLoopOptions kl;
  kl.binary = kBinary;
  kl.config = config;
  kl.pipeline = "payments-to-yida";
  kl.log_file = log_file;
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

  std::map<std::string, int> per;
  for (const auto& inst : emu.YidaInstances()) {
    auto v = json::Parse(inst.form_data_json);
    ASSERT_TRUE(v.ok());
    ++per[v->Find("textField_srcid")->text()];
  }
  auto instances = emu.Instances();
  EXPECT_EQ(per.size(), instances.size());
  for (const auto& inst : instances) EXPECT_EQ(per[inst.id], 1) << inst.id;
  EXPECT_EQ(emu.YidaCreatedCount(), static_cast<int64_t>(instances.size()));
  stage::StageOptions ro;
  ro.read_only = true;
  auto log = stage::StagingLog::Open(dir.Sub("state"), ro);
  ASSERT_TRUE(log.ok());
  EXPECT_TRUE((*log)->Intents("payments-to-yida", "yida_form")->empty());
  EXPECT_EQ((*log)->Outcomes("payments-to-yida", "yida_form")->size(), instances.size());
}

}  // namespace
}  // namespace stagesync
