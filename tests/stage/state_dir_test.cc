// The state dir as the real binary sees it: exit codes (0 ok, 1 runtime, 2 config or usage,
// 75 state dir in use) and --wait, a lost CURRENT file, and a full disk (a small tmpfs).
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
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
constexpr char kPipeline[] = "dingtalk-payment";
const std::string kBinary = STAGESYNC_BINARY_DIR "/stagesync";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class StateDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(emu_.Start(0));
    const int64_t now = Clock::Real()->NowMillis();
    emu_.Generate(60, now - 5 * kDayMs, now - kHourMs, 7);
    WriteConfig(dir_.Sub("state"));
  }

  void WriteConfig(const std::string& state_dir, testing::DingTalkPipelineOptions o = {}) {
    state_dir_ = state_dir;
    o.qps = 1000;
    o.lookback_days = 10;
    o.concurrency = 8;
    config_file_ = dir_.Sub("config.json");
    std::ofstream(config_file_) << testing::DingTalkConfigJson(emu_.base_url(), state_dir, o);
  }

  // Runs `stagesync --config FILE args...`; its stdout and stderr go to *out.
  int Run(std::vector<std::string> args, std::string* out = nullptr) {
    const std::string log = dir_.Sub("run" + std::to_string(runs_++) + ".log");
    std::vector<std::string> argv = {kBinary, "--config", config_file_};
    argv.insert(argv.end(), args.begin(), args.end());
    int code = testing::Run(argv, {}, log);
    if (out != nullptr) *out = ReadFile(log);
    return code;
  }

  std::unique_ptr<stage::StagingLog> OpenReadOnly() {
    stage::StageOptions ro;
    ro.read_only = true;
    auto log = stage::StagingLog::Open(state_dir_, ro);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return log.ok() ? std::move(log).value() : nullptr;
  }

  // Every emulator instance is staged with exactly its content.
  void ExpectEverythingStaged() {
    auto log = OpenReadOnly();
    ASSERT_NE(log, nullptr);
    auto instances = emu_.Instances();
    EXPECT_EQ(log->Summary(kPipeline)->records, static_cast<int64_t>(instances.size()));
    for (const auto& inst : instances) {
      auto r = log->Get(kPipeline, inst.id);
      ASSERT_TRUE(r.ok() && r->has_value()) << "not staged: " << inst.id;
      EXPECT_EQ((*r)->raw, testing::ExpectedStaged(inst.id, emu_.InstanceJson(inst.id)));
    }
  }

  emulators::DingTalkEmulator emu_;
  testing::TempDir dir_;
  std::string config_file_, state_dir_;
  int runs_ = 0;
};

TEST_F(StateDirTest, ConfigAndUsageErrorsExit2RuntimeFailuresExit1) {
  std::string out;
  EXPECT_EQ(Run({"fetch", "no-such-pipeline"}, &out), 2) << out;
  EXPECT_EQ(Run({"frobnicate", kPipeline}, &out), 2) << out;
  // A bad source option is a config error, found before any work: no state dir appears.
  testing::DingTalkPipelineOptions bad;
  bad.window_days = 500;
  WriteConfig(dir_.Sub("state"), bad);
  EXPECT_EQ(Run({"fetch", kPipeline}, &out), 2) << out;
  EXPECT_NE(out.find("window_days"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("state")));
  // The vendor is down: a runtime failure.
  testing::DingTalkPipelineOptions down;
  down.max_attempts = 1;
  WriteConfig(dir_.Sub("state"), down);
  emu_.Stop();
  EXPECT_EQ(Run({"fetch", kPipeline}, &out), 1) << out;
}

TEST_F(StateDirTest, AStateDirInUseExits75AndWaitWaitsForIt) {
  ASSERT_EQ(Run({"fetch", kPipeline}), 0);
  auto holder = stage::StagingLog::Open(state_dir_);  // another writer holds the dir
  ASSERT_TRUE(holder.ok()) << holder.status().ToString();
  std::string out;
  EXPECT_EQ(Run({"fetch", kPipeline}, &out), 75) << out;
  EXPECT_NE(out.find("in use by another stagesync process"), std::string::npos) << out;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(Run({"--wait", "1", "fetch", kPipeline}, &out), 75) << out;
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(900));

  // --wait without a limit: the run starts once the holder lets go.
  testing::Subprocess waiting;
  const std::string log = dir_.Sub("waiting.log");
  ASSERT_TRUE(
      waiting.Start({kBinary, "--config", config_file_, "--wait", "fetch", kPipeline}, {}, log));
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  int code = 0;
  EXPECT_FALSE(waiting.Poll(&code)) << "exited " << code << " while the dir was held";
  holder->reset();
  EXPECT_EQ(waiting.Wait(), 0) << ReadFile(log);
  EXPECT_NE(ReadFile(log).find("waiting"), std::string::npos);
}

std::set<std::string> DataFiles(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.ends_with(".sst") || name.ends_with(".log") || name.rfind("MANIFEST-", 0) == 0) {
      out.insert(name);
    }
  }
  return out;
}

TEST_F(StateDirTest, ALostCurrentFileIsRefusedOnEveryRunAndNoDataFileIsDeleted) {
  ASSERT_EQ(Run({"fetch", kPipeline}), 0);
  ASSERT_TRUE(std::filesystem::remove(state_dir_ + "/CURRENT"));
  const auto before = DataFiles(state_dir_);
  ASSERT_FALSE(before.empty());
  for (int run = 0; run < 2; ++run) {
    std::string out;
    EXPECT_EQ(Run({"fetch", kPipeline}, &out), 1) << out;
    EXPECT_NE(out.find("CURRENT file is missing"), std::string::npos) << out;
    EXPECT_NE(out.find("Recovery:"), std::string::npos) << out;
    EXPECT_FALSE(std::filesystem::exists(state_dir_ + "/CURRENT")) << "run " << run;
    const auto now = DataFiles(state_dir_);
    for (const auto& f : before) EXPECT_TRUE(now.contains(f)) << f << " deleted by run " << run;
  }
}

// A full disk used to SIGABRT in RocksDB's file logger during its ENOSPC recovery. Now the run
// stops with a clear error naming the state dir, and once space is freed the next run stages
// everything.
TEST_F(StateDirTest, AFullDiskStopsTheRunClearlyAndTheNextRunCompletes) {
  const std::string mnt = dir_.Sub("small");
  std::filesystem::create_directories(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=48m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (" << std::strerror(errno)
                 << "); the full-disk test needs root or CAP_SYS_ADMIN";
  }
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{mnt};
  WriteConfig(mnt + "/state");
  ASSERT_EQ(Run({"fetch", kPipeline}), 0);
  // Many more instances than the space left can stage.
  const int64_t now = Clock::Real()->NowMillis();
  emu_.Generate(3000, now - 300000, now - 1000, 8);  // after the watermark
  {
    std::error_code ec;
    const auto space = std::filesystem::space(mnt, ec);
    ASSERT_FALSE(ec);
    std::ofstream filler(mnt + "/filler", std::ios::binary);
    const std::string block(64 * 1024, 'x');
    const uintmax_t keep = 512 * 1024;  // enough to open, not to stage 3000 instances
    for (uintmax_t n = 0; n + keep < space.available; n += block.size()) filler << block;
  }
  std::string out;
  const int code = Run({"fetch", kPipeline}, &out);
  EXPECT_EQ(code, 1) << out;  // not 134 (SIGABRT)
  EXPECT_NE(out.find("no space left on device"), std::string::npos) << out;
  EXPECT_NE(out.find(state_dir_), std::string::npos) << out;

  std::filesystem::remove(mnt + "/filler");
  ASSERT_EQ(Run({"fetch", kPipeline}, &out), 0) << out;
  ExpectEverythingStaged();
}

}  // namespace
}  // namespace stagesync
