// Seed 003 end to end: OKKI products (fetched over real HTTP from the OKKI emulator) into a
// Yida form (the DingTalk emulator's Yida API): exactly one instance per product, a changed
// product updates its instance, a deleted one (enable_flag 0) terminates it; and under a
// SIGKILL loop, still exactly one instance per product.
#include "testing/seed003.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "emulators/dingtalk_emulator.h"
#include "emulators/okki_emulator.h"
#include "stagesync/apply.h"
#include "stagesync/fetch.h"
#include "testing/kill_loop.h"
#include "testing/mariadb.h"
#include "testing/pipeline_test.h"
#include "testing/subprocess.h"

namespace stagesync {
namespace {

using testing::kDayMs;
using testing::NowMs;
const char* kPipeline = "okki-product";

using testing::Seed003InstancesBySource;

class Seed003Test : public testing::PipelineTest<> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(okki_.Start(0));
    ASSERT_TRUE(dt_.Start(0));
    Load(testing::Seed003Json(okki_.base_url(), dt_.base_url(), dir_.Sub("state")));
  }

  emulators::OkkiEmulator okki_;
  emulators::DingTalkEmulator dt_;
};

TEST_F(Seed003Test, EveryProductOneInstanceChangesUpdateDeletionsTerminate) {
  okki_.Generate(60, NowMs() - 10 * kDayMs, NowMs() - 3600000, 3);
  auto s = Sync();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  auto by = Seed003InstancesBySource(dt_);
  int live = 0;
  for (const auto& p : okki_.Products()) {
    if (p.enable_flag == 0) continue;  // deleted before we ever saw it: nothing to create
    ++live;
    ASSERT_EQ(by[std::to_string(p.product_id)].size(), 1u) << p.product_id;
    auto form = json::Parse(by[std::to_string(p.product_id)][0].form_data_json);
    EXPECT_EQ(form->Find("textField_lq0sj9h9")->text(), p.name);  // 产品名称 = {name}
  }
  EXPECT_EQ(static_cast<int>(by.size()), live);
  EXPECT_EQ(dt_.YidaCreatedCount(), live);

  // A change updates its instance; a deletion terminates it.
  int64_t changed = 0, deleted = 0;
  for (const auto& p : okki_.Products()) {
    if (p.enable_flag == 0) continue;
    if (changed == 0) {
      changed = p.product_id;
    } else if (deleted == 0) {
      deleted = p.product_id;
    }
  }
  ASSERT_TRUE(okki_.Modify(changed));
  ASSERT_TRUE(okki_.SoftDelete(deleted));
  auto s2 = Sync();
  ASSERT_TRUE(s2.ok()) << s2.status().ToString();
  by = Seed003InstancesBySource(dt_);
  EXPECT_EQ(dt_.YidaCreatedCount(), live);  // nothing created twice
  ASSERT_EQ(by[std::to_string(changed)].size(), 1u);
  EXPECT_EQ(by[std::to_string(changed)][0].version, 2);
  ASSERT_EQ(by[std::to_string(deleted)].size(), 1u);
  EXPECT_EQ(by[std::to_string(deleted)][0].status, "TERMINATED");
}

TEST(Seed003CrashTest, KilledAroundEveryCreateStillOneInstancePerProduct) {
  emulators::OkkiEmulator okki;
  emulators::DingTalkEmulator dt;
  ASSERT_TRUE(okki.Start(0));
  ASSERT_TRUE(dt.Start(0));
  okki.Generate(150, NowMs() - 10 * kDayMs, NowMs() - 3600000, 4);
  okki.SetLatencyMs(2);
  dt.SetYidaSearchLagMs(100);
  testing::TempDir dir;
  const std::string config = dir.Sub("config.json");
  std::ofstream(config) << testing::Seed003Json(okki.base_url(), dt.base_url(), dir.Sub("state"));
  const std::string log_file = dir.Sub("sync.log");
  const std::string binary = STAGESYNC_BINARY_DIR "/stagesync";
  testing::KillLoopOptions kl{binary, config, kPipeline, log_file};
  kl.max_random_ms = 400;
  kl.seed = 303;
  kl.before_run = [&](int i) {
    if (i % 4 == 0) dt.YidaDropResponseAfterCommitNext(2);
  };
  kl.after_run = [&](int i) {
    const int64_t t = NowMs();
    okki.Generate(8, t - 60000, t - 1000, 500 + i);  // new products for every run
  };
  auto loop = testing::RunKillLoop(kl);
  ASSERT_TRUE(loop.failure.empty()) << loop.failure << ": " << testing::ReadFileTrimmed(log_file);
  EXPECT_GE(loop.killed, 30);
  ASSERT_EQ(testing::Run({binary, "--config", config, "sync", kPipeline}, {}, log_file), 0)
      << testing::ReadFileTrimmed(log_file);
  auto by = Seed003InstancesBySource(dt);
  int live = 0;
  for (const auto& p : okki.Products()) {
    if (p.enable_flag == 0) continue;
    ++live;
    EXPECT_EQ(by[std::to_string(p.product_id)].size(), 1u) << p.product_id;
  }
  EXPECT_EQ(static_cast<int>(by.size()), live);
  EXPECT_EQ(dt.YidaCreatedCount(), live);
}

}  // namespace
}  // namespace stagesync
