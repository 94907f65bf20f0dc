// Issue 9 A1: a reply lost after the target committed, on a kept-alive connection, with no
// process killed. The fault proxy sits between the agent and the emulator and closes the
// connection without sending a byte after the upstream acted, 1 create in 5. libcurl would
// resend such a request by itself; the HTTP sinks must see the failure instead and resolve it
// through their intents: exactly one AP_PAYBILL per approved CN_PAYAPPLY, exactly one Yida
// instance per record.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "emulators/dingtalk_emulator.h"
#include "emulators/kingdee_emulator.h"
#include "stagesync/apply.h"
#include "stagesync/fetch.h"
#include "testing/fault_proxy.h"
#include "testing/kingdee_pipeline.h"
#include "testing/pipeline_test.h"
#include "testing/yida_pipeline.h"

namespace stagesync {
namespace {

using testing::Fault;
using testing::FaultProxy;

// Sync() fetches and applies the first pipeline's first sink.
class HttpSinkLostReplyTest : public testing::PipelineTest<> {};

TEST_F(HttpSinkLostReplyTest, KingdeePushOneBillPerApprovedRequestWhenRepliesAreDropped) {
  emulators::DingTalkEmulator dt;
  emulators::KingdeeEmulator kd;
  ASSERT_TRUE(dt.Start(0));
  ASSERT_TRUE(kd.Start(0));
  FaultProxy proxy(kd.port(), FaultProxy::Mode::kHttp, 901);
  ASSERT_TRUE(proxy.Start());
  dt.Generate(300, NowMs() - 20 * kDayMs, NowMs() - kHourMs, 901);
  std::set<std::string> approved;
  for (const auto& inst : dt.Instances()) {
    kd.AddPayApply(inst.bill_number);
    if (inst.status == "COMPLETED" && inst.result == "agree") approved.insert(inst.bill_number);
  }
  ASSERT_GE(approved.size(), 100u);
  testing::KingdeePushOptions o;
  o.batch_rows = 4;  // many pushes, each on a connection kept alive from the previous call
  ASSERT_NO_FATAL_FAILURE(
      Load(testing::KingdeePushConfigJson(dt.base_url(), proxy.base_url(), dir_.Sub("state"), o)));
  proxy.AddRule({Fault::kDropAfterCommit, "DynamicFormService.Push", 0, 0.2});

  auto s = Sync();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_GE(proxy.fired(Fault::kDropAfterCommit), 10);
  std::map<std::string, int> per;
  for (const auto& b : kd.PayBills()) ++per[b.source_number];
  int doubled = 0;
  for (const auto& n : approved) {
    EXPECT_GE(per[n], 1) << n;
    doubled += per[n] > 1;
  }
  EXPECT_EQ(doubled, 0) << "source bills with two or more AP_PAYBILLs";
  EXPECT_EQ(per.size(), approved.size());
  EXPECT_TRUE(log_->Intents("dingtalk-payment", "kingdee_paybill")->empty());
}

TEST_F(HttpSinkLostReplyTest, YidaOneInstancePerRecordWhenRepliesAreDropped) {
  emulators::DingTalkEmulator emu;
  ASSERT_TRUE(emu.Start(0));
  FaultProxy proxy(emu.port(), FaultProxy::Mode::kHttp, 902);
  ASSERT_TRUE(proxy.Start());
  emu.Generate(300, NowMs() - 20 * kDayMs, NowMs() - kHourMs, 902);
  testing::YidaPipelineOptions o;
  o.search_lag_ms = 50;
  ASSERT_NO_FATAL_FAILURE(Load(testing::YidaConfigJson(proxy.base_url(), dir_.Sub("state"), o)));
  proxy.AddRule({Fault::kDropAfterCommit, "/v1.0/yida/processes/instances/start", 0, 0.2});

  auto s = Sync();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_GE(proxy.fired(Fault::kDropAfterCommit), 20);
  std::map<std::string, int> per;
  for (const auto& inst : emu.YidaInstances()) {
    auto v = json::Parse(inst.form_data_json);
    ASSERT_TRUE(v.ok());
    ++per[v->Find("textField_srcid")->text()];
  }
  auto instances = emu.Instances();
  int doubled = 0;
  for (const auto& inst : instances) {
    EXPECT_GE(per[inst.id], 1) << inst.id;
    doubled += per[inst.id] > 1;
  }
  EXPECT_EQ(doubled, 0) << "records with two or more Yida instances";
  EXPECT_EQ(per.size(), instances.size());
  EXPECT_EQ(emu.YidaCreatedCount(), static_cast<int64_t>(instances.size()));
  EXPECT_TRUE(log_->Intents("payments-to-yida", "yida_form")->empty());
}

// An update is not idempotent on the wire either (the transport never resends it), but the
// Yida sink may repeat it after an unknown outcome: the same values are set again.
TEST_F(HttpSinkLostReplyTest, YidaUpdateWhoseReplyIsLostIsRepeatedByTheSink) {
  emulators::DingTalkEmulator emu;
  ASSERT_TRUE(emu.Start(0));
  FaultProxy proxy(emu.port(), FaultProxy::Mode::kHttp, 903);
  ASSERT_TRUE(proxy.Start());
  emu.Generate(10, NowMs() - 10 * kDayMs, NowMs() - kHourMs, 903);
  const std::string running = emu.AddInstance(NowMs() - 5 * kDayMs, "RUNNING", "");
  ASSERT_NO_FATAL_FAILURE(Load(testing::YidaConfigJson(proxy.base_url(), dir_.Sub("state"))));
  ASSERT_TRUE(Sync().ok());
  ASSERT_TRUE(emu.Complete(running, "agree"));
  proxy.AddRule({Fault::kDropAfterCommit, "/v1.0/yida/processes/instances", 2, 0});
  auto s = Sync();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(proxy.fired(Fault::kDropAfterCommit), 2);
  EXPECT_EQ(emu.YidaRequestCount("update"), 3);  // two lost replies, then the answer
  EXPECT_EQ(emu.YidaCreatedCount(), 11);
  for (const auto& inst : emu.YidaInstances()) {
    if (inst.form_data_json.find(running) == std::string::npos) continue;
    EXPECT_NE(inst.form_data_json.find("\"COMPLETED\""), std::string::npos) << inst.form_data_json;
  }
}

}  // namespace
}  // namespace stagesync
