// Seed 001 end to end: DingTalk approvals pushed down into Kingdee payment bills, exactly one
// AP_PAYBILL per approved CN_PAYAPPLY, through rejected bills, dropped replies, session loss,
// throttling, and a Kingdee outage that must neither block nor repeat the MySQL writes of the
// same stream.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "emulators/dingtalk_emulator.h"
#include "emulators/kingdee_emulator.h"
#include "stagesync/apply.h"
#include "stagesync/fetch.h"
#include "testing/kingdee_pipeline.h"
#include "testing/mariadb.h"
#include "testing/pipeline_test.h"

namespace stagesync {
namespace {

class KingdeePushTest : public testing::PipelineTest<> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dt_.Start(0));
    ASSERT_TRUE(kd_.Start(0));
  }
  // Every DingTalk request's bill exists in Kingdee as a CN_PAYAPPLY.
  void RegisterPayApplies() {
    for (const auto& inst : dt_.Instances()) {
      if (!known_.count(inst.bill_number)) {
        kd_.AddPayApply(inst.bill_number);
        known_.insert(inst.bill_number);
      }
    }
  }
  void Configure(const testing::KingdeePushOptions& o = {}) {
    Load(testing::KingdeePushConfigJson(dt_.base_url(), kd_.base_url(), dir_.Sub("state"), o));
  }
  Result<apply::ApplySummary> Sync() { return PipelineTest::Sync("kingdee_paybill"); }
  std::set<std::string> Approved() {
    std::set<std::string> out;
    for (const auto& i : dt_.Instances()) {
      if (i.status == "COMPLETED" && i.result == "agree") out.insert(i.bill_number);
    }
    return out;
  }
  // CN_PAYAPPLY number -> AP_PAYBILLs pushed from it (drafts included).
  std::map<std::string, int> BillsPerSource() {
    std::map<std::string, int> out;
    for (const auto& b : kd_.PayBills()) ++out[b.source_number];
    return out;
  }
  void ExpectExactlyOneBillPerApproved(const std::set<std::string>& rejected = {}) {
    auto per = BillsPerSource();
    auto approved = Approved();
    for (const auto& n : approved) EXPECT_EQ(per[n], 1) << n;
    EXPECT_EQ(per.size(), approved.size());
    int drafts = 0;
    for (const auto& b : kd_.PayBills()) drafts += b.document_status == "Z";
    EXPECT_EQ(drafts, static_cast<int>(rejected.size()));
    EXPECT_TRUE(log_->Intents("dingtalk-payment", "kingdee_paybill")->empty());
  }

  emulators::DingTalkEmulator dt_;
  emulators::KingdeeEmulator kd_;
  std::set<std::string> known_;
};

TEST_F(KingdeePushTest, ApprovedRequestsGetExactlyOneBillAndRejectedOnesAreQuarantined) {
  dt_.Generate(40, NowMs() - 10 * kDayMs, NowMs() - kHourMs, 41);
  RegisterPayApplies();
  auto approved = Approved();
  ASSERT_GE(approved.size(), 5u);
  auto it = approved.begin();
  std::set<std::string> rejected = {*it++, *it++};
  for (const auto& n : rejected) kd_.RejectPushOf(n, "结算方式是必填项");
  Configure();
  auto s = Sync();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->applied, static_cast<int64_t>(approved.size() - 2));
  EXPECT_EQ(s->filtered, 40 - static_cast<int64_t>(approved.size()));
  EXPECT_EQ(s->quarantined, 2);
  ExpectExactlyOneBillPerApproved(rejected);
  auto q = log_->Quarantined("dingtalk-payment");
  ASSERT_EQ(q->size(), 2u);
  for (const auto& e : *q) {
    EXPECT_EQ(e.stage, "kingdee_paybill");
    EXPECT_NE(e.error.find("结算方式是必填项"), std::string::npos) << e.error;
  }
  // Nothing more on a second run.
  int64_t pushes = kd_.PushCount();
  ASSERT_TRUE(Sync().ok());
  EXPECT_EQ(kd_.PushCount(), pushes);
}

TEST_F(KingdeePushTest, CommitThenDropTheReplyOnEveryCallStillOneBillEach) {
  dt_.Generate(30, NowMs() - 10 * kDayMs, NowMs() - kHourMs, 42);
  RegisterPayApplies();
  Configure();
  kd_.SetDropResponseAfterCommit(true);
  auto s = Sync();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ExpectExactlyOneBillPerApproved();
  kd_.SetDropResponseAfterCommit(false);
  ASSERT_TRUE(Sync().ok());
  ExpectExactlyOneBillPerApproved();
}

TEST_F(KingdeePushTest, SessionLossMidBatchAndThrottlingNoDoublesNoRetryStorm) {
  dt_.Generate(40, NowMs() - 10 * kDayMs, NowMs() - kHourMs, 43);
  RegisterPayApplies();
  Configure();
  kd_.SetSessionExpiresAfterCalls(2);
  kd_.ThrottleNext(3);
  kd_.LockNext(1, "Push");
  auto s = Sync();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ExpectExactlyOneBillPerApproved();
  const int64_t calls = (40 + 9) / 10;  // change-log batches of 10 records, each one push
  // Every batch was pushed exactly once; retries are bounded by the faults injected (a session
  // loss every other call, 3 throttles, 1 lock).
  EXPECT_LE(kd_.PushCount(), calls);
  EXPECT_LE(kd_.RequestCount("Push"), 2 * calls + 4);
  EXPECT_LE(kd_.LoginCount(), kd_.RequestCount() / 2 + 3);
}

TEST_F(KingdeePushTest, AChangeAfterThePushIsReportedAndNeverPushedAgain) {
  dt_.Generate(10, NowMs() - 10 * kDayMs, NowMs() - kHourMs, 44);
  std::string fresh = dt_.AddInstance(NowMs() - 60000, "COMPLETED", "agree");  // in the overlap
  RegisterPayApplies();
  Configure();
  ASSERT_TRUE(Sync().ok());
  int64_t pushes = kd_.PushCount();
  ASSERT_TRUE(dt_.Modify(fresh));
  auto s = Sync();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->changes_reported, 1);
  // The --json summary tells scripts too.
  EXPECT_NE(apply::SummaryJson(*s).find("\"changes_reported\":1"), std::string::npos)
      << apply::SummaryJson(*s);
  EXPECT_EQ(kd_.PushCount(), pushes);
  ExpectExactlyOneBillPerApproved();
}

TEST_F(KingdeePushTest, AKingdeeOutageNeitherBlocksNorRepeatsMySqlAndKingdeeCatchesUp) {
  testing::TestDatabase db;
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(db.Source(STAGESYNC_SOURCE_DIR "/conf/sql/payment_application_info.sql").ok());
  ASSERT_TRUE(db.conn()
                  ->Execute("CREATE TABLE write_log (id BIGINT AUTO_INCREMENT PRIMARY KEY, "
                            "bfn_id VARCHAR(64))")
                  .ok());
  ASSERT_TRUE(db.conn()
                  ->Execute("CREATE TRIGGER wl AFTER INSERT ON payment_application_info FOR EACH "
                            "ROW INSERT INTO write_log (bfn_id) VALUES (NEW.bfn_id)")
                  .ok());
  dt_.Generate(30, NowMs() - 10 * kDayMs, NowMs() - kHourMs, 45);
  RegisterPayApplies();
  testing::KingdeePushOptions o;
  o.with_mysql = true;
  o.mysql_port = db.port();
  o.database = db.name();
  o.retry_budget_s = 2;  // give up on the outage in seconds, not the default 10 minutes
  Configure(o);
  kd_.Fail5xxNext(1000000);  // Kingdee is down
  ASSERT_TRUE(Fetch().ok());
  auto mysql = Apply("bi_mysql");
  ASSERT_TRUE(mysql.ok()) << mysql.status().ToString();
  auto kingdee = Apply("kingdee_paybill");
  EXPECT_FALSE(kingdee.ok());
  const std::string writes = *db.Scalar("SELECT COUNT(*) FROM write_log");
  EXPECT_NE(writes, "0");
  EXPECT_TRUE(kd_.PayBills().empty());

  kd_.Fail5xxNext(0);  // back
  dt_.Generate(5, NowMs() - 120000, NowMs() - 1000, 46);
  RegisterPayApplies();
  ASSERT_TRUE(Fetch().ok());
  auto mysql2 = Apply("bi_mysql");
  ASSERT_TRUE(mysql2.ok());
  EXPECT_EQ(mysql2->applied, 5);  // only the new requests: nothing repeated
  auto kingdee2 = Apply("kingdee_paybill");
  ASSERT_TRUE(kingdee2.ok()) << kingdee2.status().ToString();
  ExpectExactlyOneBillPerApproved();
  EXPECT_EQ(*db.Scalar("SELECT COUNT(DISTINCT bfn_id) FROM write_log"), "35");
  EXPECT_EQ(*db.Scalar("SELECT COUNT(*) FROM (SELECT bfn_id FROM write_log GROUP BY bfn_id, "
                       "id HAVING COUNT(*) > 1) d"),
            "0");
}

}  // namespace
}  // namespace stagesync
