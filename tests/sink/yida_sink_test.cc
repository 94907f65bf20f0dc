// The Yida sink end to end over real HTTP: DingTalk approvals staged, then one Yida form
// instance per record, through dropped replies, throttling, 5xx, token expiry and search lag.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>

#include "emulators/dingtalk_emulator.h"
#include "stagesync/apply.h"
#include "stagesync/fetch.h"
#include "testing/faulty_http_client.h"
#include "testing/pipeline_test.h"
#include "testing/yida_pipeline.h"

namespace stagesync {
namespace {

class YidaSinkTest : public testing::PipelineTest<testing::FaultyHttpClient> {
 protected:
  void SetUp() override { ASSERT_TRUE(emu_.Start(0)); }
  void Configure(const testing::YidaPipelineOptions& o = {}) {
    Load(testing::YidaConfigJson(emu_.base_url(), dir_.Sub("state"), o));
  }
  // source id -> instances holding it
  std::map<std::string, int> InstancesPerRecord() {
    std::map<std::string, int> out;
    for (const auto& inst : emu_.YidaInstances()) {
      auto v = json::Parse(inst.form_data_json);
      if (!v.ok()) continue;
      if (const json::Value* id = v->Find("textField_srcid")) ++out[id->text()];
    }
    return out;
  }
  void ExpectExactlyOneInstancePerRecord() {
    auto per = InstancesPerRecord();
    auto instances = emu_.Instances();
    EXPECT_EQ(per.size(), instances.size());
    for (const auto& inst : instances) EXPECT_EQ(per[inst.id], 1) << inst.id;
    EXPECT_EQ(emu_.YidaCreatedCount(), static_cast<int64_t>(instances.size()));
    EXPECT_TRUE(log_->Intents("payments-to-yida", "yida_form")->empty());
  }

  emulators::DingTalkEmulator emu_;
};

TEST_F(YidaSinkTest, EveryRecordGetsExactlyOneInstanceAndUnchangedOnesAreNotTouched) {
  emu_.Generate(40, NowMs() - 10 * kDayMs, NowMs() - kHourMs, 31);
  Configure();
  auto s = Sync();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->applied, 40);
  ExpectExactlyOneInstancePerRecord();
  // The form data is the mapping's: a number goes as a number, the payee as text.
  auto inst = emu_.YidaInstances()[0];
  auto form = json::Parse(inst.form_data_json);
  ASSERT_TRUE(form.ok());
  EXPECT_TRUE(form->Find("numberField_total")->is_number()) << inst.form_data_json;
  int64_t starts = emu_.YidaRequestCount("start");
  auto again = Sync();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->applied, 0);
  EXPECT_EQ(emu_.YidaRequestCount("start"), starts);
  EXPECT_EQ(emu_.YidaRequestCount("update"), 0);
}

TEST_F(YidaSinkTest, AChangedRecordUpdatesItsInstance) {
  emu_.Generate(10, NowMs() - 10 * kDayMs, NowMs() - kHourMs, 32);
  std::string running = emu_.AddInstance(NowMs() - 5 * kDayMs, "RUNNING", "");
  Configure();
  ASSERT_TRUE(Sync().ok());
  ASSERT_TRUE(emu_.Complete(running, "agree"));
  auto s = Sync();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->applied, 1);
  EXPECT_EQ(emu_.YidaRequestCount("update"), 1);
  ExpectExactlyOneInstancePerRecord();
  for (const auto& inst : emu_.YidaInstances()) {
    if (inst.form_data_json.find(running) == std::string::npos) continue;
    EXPECT_NE(inst.form_data_json.find("\"COMPLETED\""), std::string::npos) << inst.form_data_json;
    EXPECT_EQ(inst.version, 2);
  }
}

TEST_F(YidaSinkTest, DroppedRepliesAndSearchLagStillGiveExactlyOneInstance) {
  emu_.Generate(25, NowMs() - 10 * kDayMs, NowMs() - kHourMs, 33);
  Configure();
  emu_.SetYidaDropResponseAfterCommit(true);  // every create happens, every reply is lost
  emu_.SetYidaSearchLagMs(200);               // and search trails the create
  auto s = Sync();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->applied, 25);
  ExpectExactlyOneInstancePerRecord();
  EXPECT_GE(emu_.YidaRequestCount("search"), 25);  // each unknown outcome was looked up
}

// Yida's text search may be fuzzy (the emulator: "contains"), newest first: an unknown outcome
// is looked up through every page, or a record found only on page 2 is created again.
TEST_F(YidaSinkTest, AnUnknownOutcomeIsFoundPastTheFirstPageOfResults) {
  emu_.Generate(1, NowMs() - kDayMs, NowMs() - kHourMs, 36);
  const std::string id = emu_.Instances()[0].id;
  Configure();
  emu_.SetYidaSearchTextContains(true);
  emu_.YidaDropResponseAfterCommitNext(1);  // the start happens, its reply is lost
  bool added = false;                       // then 120 newer instances whose id contains this one
  http_->SetHook([&](const HttpRequest& req, const Result<HttpResponse>&) {
    if (added || req.url.find("/instances/start") == std::string::npos) return;
    added = true;
    for (int i = 0; i < 120; ++i) {
      emu_.YidaAddInstance(fmt::format(R"({{"textField_srcid":"{}-{}"}})", id, i));
    }
  });
  auto s = Sync();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  int holding = 0;
  for (const auto& inst : emu_.YidaInstances()) {
    holding += inst.form_data_json.find("\"" + id + "\"") != std::string::npos;
  }
  EXPECT_TRUE(added);
  EXPECT_EQ(holding, 1) << "record " << id << " created again";
  EXPECT_EQ(emu_.YidaCreatedCount(), 1);
}

TEST_F(YidaSinkTest, ThrottlingTooFast5xxAndTokenExpiryStillGiveExactlyOne) {
  emu_.Generate(30, NowMs() - 10 * kDayMs, NowMs() - kHourMs, 34);
  Configure();
  ASSERT_TRUE(Sync().ok());  // a first round, then changes under fire
  emu_.Generate(20, NowMs() - 300000, NowMs() - 1000, 35);  // inside the next window
  emu_.YidaThrottleNext(3);
  emu_.YidaTooFastNext(2);
  emu_.YidaFail5xxNext(3);  // nothing performed: resolved as "not there", then created
  emu_.ExpireTokenNow();
  auto s = Sync();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ExpectExactlyOneInstancePerRecord();
  // No retry storm: each create was tried a bounded number of times.
  EXPECT_LE(emu_.YidaRequestCount("start"), 30 + 20 + 10);
}

TEST_F(YidaSinkTest, ABadSystemTokenStopsWithoutARetryStorm) {
  emu_.Generate(5, NowMs() - 10 * kDayMs, NowMs() - kHourMs, 36);
  auto text = testing::YidaConfigJson(emu_.base_url(), dir_.Sub("state"));
  text.replace(text.find("demo-system-token"), 17, "wrong-token-value");
  Load(text);
  auto s = Sync();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message().find("wrong-token-value"), std::string::npos)
      << s.status().message();
  EXPECT_LE(emu_.YidaRequestCount("start"), 1);
  EXPECT_EQ(emu_.YidaCreatedCount(), 0);
}

}  // namespace
}  // namespace stagesync
