// Chaos for the HTTP sinks (issue 9): every fault knob at once, and the real `stagesync sync`
// SIGKILLed 30+ times. Between the agent and each emulator sits the fault proxy: replies
// dropped after commit on kept-alive connections, 502s without forwarding, resets and
// truncations mid-response. The emulators add throttling on the data endpoints, lost sessions
// and tokens with their alternative codes (Kingdee MsgCode 1 or only the lost-session text;
// DingTalk 40014 or 42001), their own commit-then-502, a UTF-8 BOM and string-typed status
// fields where Kingdee allows them (IsSuccess/MsgCode, doc/vendors/kingdee.md "Errors").
// Then one clean sync: exactly one target object per source record, every intent resolved.
// Token and login calls take the same throttling and 5xx, and a seeded storm of throttling,
// 502s and flood-guard pages hits every oapi call (issue 9 item B5).
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <set>

#include "emulators/dingtalk_emulator.h"
#include "emulators/kingdee_emulator.h"
#include "stagesync/clock.h"
#include "testing/exactly_once.h"
#include "testing/fault_proxy.h"
#include "testing/kill_loop.h"
#include "testing/kingdee_pipeline.h"
#include "testing/subprocess.h"
#include "testing/temp_dir.h"
#include "testing/yida_pipeline.h"

namespace stagesync {
namespace {

using testing::Fault;
using testing::FaultProxy;

const std::string kBinary = STAGESYNC_BINARY_DIR "/stagesync";
constexpr int64_t kDayMs = 86400000;
int64_t NowMs() { return Clock::Real()->NowMillis(); }

// The end of the runs' log, for a failure message.
std::string LogTail(const std::string& path) {
  std::ifstream in(path);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return s.size() > 3000 ? s.substr(s.size() - 3000) : s;
}

// The oapi throttling codes, in turn: 88/90002, -1 (busy), 90018 (per-app rate limit).
constexpr int kThrottleCodes[] = {88, -1, 90018};

// Wire faults common to both tests; `create` is the path of the non-idempotent call.
void AddWireFaults(FaultProxy* proxy, const std::string& create, const std::string& read) {
  proxy->AddRule({Fault::kDropAfterCommit, create, 0, 0.2});
  proxy->AddRule({Fault::kBadGateway, "", 0, 0.05});
  proxy->AddRule({Fault::kResetMidResponse, read, 0, 0.03});
  proxy->AddRule({Fault::kTruncateBody, read, 0, 0.03});
}

TEST(HttpSinkChaosTest, KingdeePushEveryFaultAtOnceAndKillsStillOneBillPerApprovedRequest) {
  emulators::DingTalkEmulator dt;
  emulators::KingdeeEmulator kd;
  ASSERT_TRUE(dt.Start(0));
  ASSERT_TRUE(kd.Start(0));
  FaultProxy dt_proxy(dt.port(), FaultProxy::Mode::kHttp, 1301);
  FaultProxy kd_proxy(kd.port(), FaultProxy::Mode::kHttp, 1302);
  ASSERT_TRUE(dt_proxy.Start());
  ASSERT_TRUE(kd_proxy.Start());
  std::set<std::string> registered;
  auto register_bills = [&] {
    for (const auto& inst : dt.Instances()) {
      if (registered.insert(inst.bill_number).second) kd.AddPayApply(inst.bill_number);
    }
  };
  dt.Generate(60, NowMs() - 20 * kDayMs, NowMs() - 3600000, 1303);
  register_bills();
  kd.SetLatencyMs(1);
  kd.BomAlways(true);
  kd.SetStatusFieldsAsStrings(true);
  kd.SetSessionExpiresAfterCalls(5);
  kd.SetFaultsOnLogin(true);       // logins are throttled and fail like any call (B5)
  dt.SetFaultsOnTokenCalls(true);  // and so is gettoken
  // A storm on every oapi call, gettoken included: throttling, 502s, the flood guard's page.
  dt.SetStorm({0.08, 0.03, 0.02, true, 1305});
  dt.SetBadTokenErrcode(42001);
  AddWireFaults(&kd_proxy, "DynamicFormService.Push", "ExecuteBillQuery");
  AddWireFaults(&dt_proxy, "/topapi/processinstance/get", "/topapi/processinstance/");

  testing::TempDir dir;
  testing::KingdeePushOptions o;
  o.batch_rows = 5;
  const std::string config = dir.Sub("config.json");
  std::ofstream(config) << testing::KingdeePushConfigJson(dt_proxy.base_url(), kd_proxy.base_url(),
                                                          dir.Sub("state"), o);
  const std::string log_file = dir.Sub("sync.log");
  testing::KillLoopOptions kl{kBinary, config, "dingtalk-payment", log_file};
  kl.crash_point_max_n = 4;
  kl.seed = 1304;
  kl.min_kills = 30;
  kl.before_run = [&](int i) {
    kd.ThrottleNext(2);                            // MsgCode 14 on queries and pushes
    kd.SetSessionLostMsgCode(i % 2 == 0 ? 1 : 0);  // the text alone must be enough
    if (i % 3 == 0) kd.ExpireSessionNow();
    if (i % 4 == 0) kd.DropResponseAfterCommitNext(1);  // the emulator's own commit-then-502
    kd.Fail5xxNext(1);
    dt.ThrottleNext(2, kThrottleCodes[i % 3]);
    dt.Fail5xxNext(1);
    dt.SetBadTokenErrcode(i % 2 == 0 ? 42001 : 40014);
    dt.ExpireTokenNow();
  };
  kl.after_run = [&](int i) {
    const int64_t t = NowMs();
    dt.Generate(6, t - 60000, t - 1000, 1400 + i);  // every run has new approvals to push
    register_bills();
  };
  auto loop = testing::RunKillLoop(kl);
  ASSERT_TRUE(loop.failure.empty()) << loop.failure << ": " << LogTail(log_file);
  EXPECT_GE(loop.killed, 30);
  EXPECT_GE(loop.killed_after_call, 5);
  EXPECT_GT(kd_proxy.fired(Fault::kBadGateway), 0);
  EXPECT_GT(dt_proxy.fired(Fault::kBadGateway), 0);
  EXPECT_GT(kd_proxy.fired(Fault::kResetMidResponse) + kd_proxy.fired(Fault::kTruncateBody), 0);
  // The faults stay on: a run that is not killed completes through them.
  dt.Generate(6, NowMs() - 60000, NowMs() - 1000, 1399);
  register_bills();
  ASSERT_EQ(testing::Run({kBinary, "--config", config, "sync", "dingtalk-payment"}, {}, log_file),
            0)
      << LogTail(log_file);
  std::cout << "runs " << loop.runs << ", killed " << loop.killed << ", after the call "
            << loop.killed_after_call << "; dropped after commit "
            << kd_proxy.fired(Fault::kDropAfterCommit) << ", pushes " << kd.PushCount() << "\n";
  EXPECT_GE(kd_proxy.fired(Fault::kDropAfterCommit), 5);  // of ~50 pushes
  kd_proxy.ClearRules();
  dt_proxy.ClearRules();
  kd.DropResponseAfterCommitNext(0);
  kd.ThrottleNext(0);
  kd.Fail5xxNext(0);
  dt.ThrottleNext(0);
  dt.Fail5xxNext(0);
  ASSERT_EQ(testing::Run({kBinary, "--config", config, "sync", "dingtalk-payment"}, {}, log_file),
            0)
      << LogTail(log_file);

  testing::ExpectOneBillPerApprovedRequest(dt, kd, dir.Sub("state"));
}

TEST(HttpSinkChaosTest, YidaEveryFaultAtOnceAndKillsStillOneInstancePerRecord) {
  emulators::DingTalkEmulator emu;
  ASSERT_TRUE(emu.Start(0));
  FaultProxy proxy(emu.port(), FaultProxy::Mode::kHttp, 1501);
  ASSERT_TRUE(proxy.Start());
  emu.Generate(40, NowMs() - 20 * kDayMs, NowMs() - 3600000, 1502);
  emu.SetLatencyMs(1);
  emu.SetYidaSearchLagMs(30);
  emu.SetFaultsOnTokenCalls(true);  // gettoken is throttled and fails like any call (B5)
  emu.SetStorm({0.08, 0.03, 0.02, true, 1504});  // on every oapi call, gettoken included
  AddWireFaults(&proxy, "/v1.0/yida/processes/instances/start", "/topapi/processinstance/");
  // Updates too: a PUT lost after commit is resent by the sink only (it is safe to repeat).
  proxy.AddRule({Fault::kDropAfterCommit, "/v1.0/yida/processes/instances", 0, 0.2, "PUT"});

  testing::TempDir dir;
  testing::YidaPipelineOptions o;
  o.search_lag_ms = 60;
  o.batch_rows = 2;  // 5 new records a run: 3 create calls, so a crash point 1..3 is reached
  const std::string config = dir.Sub("config.json");
  std::ofstream(config) << testing::YidaConfigJson(proxy.base_url(), dir.Sub("state"), o);
  const std::string log_file = dir.Sub("sync.log");
  // Approvals still RUNNING when their instances are created; completed after the loop, so
  // their instances are updated under the same faults.
  std::vector<std::string> running;
  for (int i = 0; i < 5; ++i) {
    running.push_back(emu.AddInstance(NowMs() - (i + 2) * kDayMs, "RUNNING", ""));
  }
  testing::KillLoopOptions kl{kBinary, config, "payments-to-yida", log_file};
  kl.crash_point_max_n = 3;
  kl.seed = 1503;
  kl.min_kills = 30;
  kl.before_run = [&](int i) {
    // Counted faults hit consecutive calls; spread over the runs to keep each run short.
    emu.YidaThrottleNext(1);
    if (i % 5 == 0) emu.YidaTooFastNext(1);  // answered by a 1 s pause: not every run
    if (i % 2 == 1) emu.YidaFail5xxNext(1);
    if (i % 3 == 0) emu.YidaDropResponseAfterCommitNext(1);
    emu.ThrottleNext(2, kThrottleCodes[i % 3]);
    emu.Fail5xxNext(1);
    emu.SetBadTokenErrcode(i % 2 == 0 ? 42001 : 40014);
    emu.ExpireTokenNow();
  };
  kl.after_run = [&](int i) {
    const int64_t t = NowMs();
    emu.Generate(5, t - 60000, t - 1000, 1600 + i);  // every run has creates to be killed around
  };
  // A first run, not killed, through every fault: the backlog, RUNNING ones included.
  kl.before_run(0);
  ASSERT_EQ(testing::Run({kBinary, "--config", config, "sync", "payments-to-yida"}, {}, log_file),
            0)
      << LogTail(log_file);
  auto loop = testing::RunKillLoop(kl);
  ASSERT_TRUE(loop.failure.empty()) << loop.failure << ": " << LogTail(log_file);
  EXPECT_GE(loop.killed, 30);
  EXPECT_GE(loop.killed_after_call, 5);
  // The faults stay on: a run that is not killed completes through them, updates included.
  for (const auto& id : running) ASSERT_TRUE(emu.Complete(id, "agree"));
  kl.before_run(1);
  ASSERT_EQ(testing::Run({kBinary, "--config", config, "sync", "payments-to-yida"}, {}, log_file),
            0)
      << LogTail(log_file);
  EXPECT_GT(proxy.fired(Fault::kDropAfterCommit), 10);
  EXPECT_GT(proxy.fired(Fault::kBadGateway), 0);
  std::cout << "runs " << loop.runs << ", killed " << loop.killed << ", after the call "
            << loop.killed_after_call << "; dropped after commit "
            << proxy.fired(Fault::kDropAfterCommit) << ", starts " << emu.YidaRequestCount("start")
            << ", updates " << emu.YidaRequestCount("update") << "\n";
  proxy.ClearRules();
  emu.YidaThrottleNext(0);
  emu.YidaTooFastNext(0);
  emu.YidaFail5xxNext(0);
  emu.YidaDropResponseAfterCommitNext(0);
  emu.ThrottleNext(0);
  emu.Fail5xxNext(0);
  ASSERT_EQ(testing::Run({kBinary, "--config", config, "sync", "payments-to-yida"}, {}, log_file),
            0)
      << LogTail(log_file);

  EXPECT_GE(emu.YidaRequestCount("update"), 5);
  testing::ExpectOneInstancePerRecord(emu, dir.Sub("state"));
}

}  // namespace
}  // namespace stagesync
