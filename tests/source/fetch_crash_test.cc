// Crash safety of fetch: the real `stagesync fetch` process is SIGKILLed at random moments
// and at named crash points; after every kill the staging log must be consistent (no
// instance before the watermark missing) and a final clean fetch must stage every instance
// exactly once.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <random>
#include <thread>

#include "emulators/dingtalk_emulator.h"
#include "stagesync/clock.h"
#include "stagesync/stage.h"
#include "testing/dingtalk_pipeline.h"
#include "testing/subprocess.h"
#include "testing/temp_dir.h"

namespace stagesync {
namespace {

constexpr int64_t kHourMs = 3600000;
constexpr int64_t kDayMs = 24 * kHourMs;
const std::string kBinary = STAGESYNC_BINARY_DIR "/stagesync";

class FetchCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(emu_.Start(0));
    const int64_t now = Clock::Real()->NowMillis();
    // Instances over 20 days: with 2-day windows, the watermark moves ten times per fetch.
    emu_.Generate(kInstances, now - 20 * kDayMs, now - kHourMs, 42);
    // Many approvals still running: every fetch re-gets them, so every run has work to kill.
    for (int i = 0; i < 200; ++i) emu_.AddInstance(now - (19 - i % 19) * kDayMs - i, "RUNNING", "");
    emu_.SetLatencyMs(1);
    testing::DingTalkPipelineOptions o;
    o.qps = 300;
    o.lookback_days = 21;
    o.window_days = 2;
    config_file_ = dir_.Sub("config.json");
    std::ofstream(config_file_) << testing::DingTalkConfigJson(emu_.base_url(), dir_.Sub("state"),
                                                               o);
  }

  std::unique_ptr<stage::StagingLog> OpenReadOnly() {
    stage::StageOptions ro;
    ro.read_only = true;
    auto log = stage::StagingLog::Open(dir_.Sub("state"), ro);
    if (!log.ok()) return nullptr;
    return std::move(log).value();
  }

  // After any kill: every instance created before the watermark (and inside the first
  // window) is staged with the emulator's content. Returns the number staged.
  void CheckWatermarkNeverSkipped(int64_t first_start_ms) {
    auto log = OpenReadOnly();
    if (log == nullptr) return;  // killed before the database was created
    auto wm = log->Watermark("dingtalk-payment");
    ASSERT_TRUE(wm.ok());
    if (!wm->has_value()) return;
    for (const auto& inst : emu_.Instances()) {
      if (inst.create_time_ms < first_start_ms || inst.create_time_ms >= **wm) continue;
      auto r = log->Get("dingtalk-payment", inst.id);
      ASSERT_TRUE(r.ok());
      ASSERT_TRUE(r->has_value()) << "instance " << inst.id << " created before the watermark "
                                  << **wm << " is not staged";
    }
  }

  static constexpr int kInstances = 500;
  emulators::DingTalkEmulator emu_;
  testing::TempDir dir_;
  std::string config_file_;
};

TEST_F(FetchCrashTest, KilledAtRandomMomentsThenACleanFetchStagesEachInstanceExactlyOnce) {
  const int64_t first_start = Clock::Real()->NowMillis() - 21 * kDayMs + 60000;
  std::mt19937 rng(20261121);
  const std::string log_file = dir_.Sub("fetch.log");
  int killed_mid_run = 0;
  // 24 kills: 16 at random moments, 8 at named points right before/after a page commit.
  for (int i = 0; i < 24; ++i) {
    testing::Subprocess p;
    std::vector<std::string> env;
    std::string crash;
    if (i % 3 == 2) {
      crash = std::string("STAGESYNC_CRASH_AT=") +
              (i % 2 ? "fetch.after_commit:" : "fetch.before_commit:") +
              std::to_string(1 + rng() % 30);
      env.push_back(crash);
    }
    ASSERT_TRUE(
        p.Start({kBinary, "--config", config_file_, "fetch", "dingtalk-payment"}, env, log_file));
    int code = 0;
    if (crash.empty()) {
      auto deadline =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(30 + rng() % 550);
      bool exited = false;
      while (std::chrono::steady_clock::now() < deadline) {
        if ((exited = p.Poll(&code))) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      if (!exited) {
        p.Kill();
        code = p.Wait();
        ++killed_mid_run;
      }
    } else {
      code = p.Wait();
      killed_mid_run += code == 128 + SIGKILL;
    }
    ASSERT_TRUE(code == 0 || code == 128 + SIGKILL)
        << "exit code " << code << " (see " << log_file << ")";
    CheckWatermarkNeverSkipped(first_start);
    if (HasFatalFailure()) return;
    // Upstream keeps moving between runs: a few approvals complete.
    if (i % 4 == 3) {
      int n = 0;
      for (const auto& inst : emu_.Instances()) {
        if (inst.status == "RUNNING" && n++ < 5) emu_.Complete(inst.id, "agree");
      }
    }
  }
  EXPECT_GE(killed_mid_run, 20) << "too few runs were actually killed mid-fetch";

  ASSERT_EQ(
      testing::Run({kBinary, "--config", config_file_, "fetch", "dingtalk-payment"}, {}, log_file),
      0);
  auto log = OpenReadOnly();
  ASSERT_NE(log, nullptr);
  auto instances = emu_.Instances();
  auto sum = log->Summary("dingtalk-payment");
  ASSERT_TRUE(sum.ok());
  EXPECT_EQ(sum->records, static_cast<int64_t>(instances.size()));
  int completed_later = 0;
  for (const auto& inst : instances) {
    auto r = log->Get("dingtalk-payment", inst.id);
    ASSERT_TRUE(r.ok() && r->has_value()) << inst.id;
    EXPECT_EQ((*r)->raw, testing::ExpectedStaged(inst.id, emu_.InstanceJson(inst.id)));
    completed_later += inst.version > 0;
  }
  // Exactly once: each instance got one sequence number, plus one per upstream change.
  EXPECT_EQ(sum->last_seq, instances.size() + completed_later);
  auto changes = log->ReadChanges("dingtalk-payment", 0, 100000);
  ASSERT_TRUE(changes.ok());
  EXPECT_EQ(changes->size(), instances.size());  // one pending entry per record: versions coalesced
}

}  // namespace
}  // namespace stagesync
