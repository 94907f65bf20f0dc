// stagesync-audit on the HTTP sinks: seed 001 (approved DingTalk payment requests pushed down
// into Kingdee AP_PAYBILLs) and seed 003 (OKKI products into a Yida form), synced by the real
// fetcher and sinks over loopback to the emulators, audited clean, then tampered with in the
// emulators as a person (or a repeated push) would, and each change found and named.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "audit/audit.h"
#include "audit/audit_fixture.h"
#include "emulators/dingtalk_emulator.h"
#include "emulators/kingdee_emulator.h"
#include "emulators/okki_emulator.h"
#include "testing/kingdee_pipeline.h"
#include "testing/seed003.h"

namespace stagesync {
namespace {

constexpr const char* kSecrets[] = {"demo-app-secret", "demo-secret", "demo-system-token"};

void ExpectNoSecret(const std::string& out) {
  for (const char* s : kSecrets) EXPECT_EQ(out.find(s), std::string::npos) << s << " in " << out;
}

class HttpAuditTest : public AuditTest {
 protected:
  // Seed 000 + 001 on one DingTalk stream: the BI table and the Kingdee push, both synced.
  void SyncSeed001(int requests, uint64_t seed, int retry_budget_s = 600) {
    ASSERT_TRUE(db_.Source(STAGESYNC_SOURCE_DIR "/conf/sql/payment_application_info.sql").ok());
    ASSERT_TRUE(dt_.Start(0));
    ASSERT_TRUE(kd_.Start(0));
    dt_.Generate(requests, NowMs() - 10 * kDayMs, NowMs() - kHourMs, seed);
    for (const auto& inst : dt_.Instances()) kd_.AddPayApply(inst.bill_number);
    testing::KingdeePushOptions o;
    o.with_mysql = true;
    o.mysql_port = db_.port();
    o.database = db_.name();
    o.retry_budget_s = retry_budget_s;
    LoadJson(testing::KingdeePushConfigJson(dt_.base_url(), kd_.base_url(), dir_.Sub("state"), o));
    ASSERT_TRUE(Fetch().ok());
    auto mysql = Apply("bi_mysql");
    ASSERT_TRUE(mysql.ok()) << mysql.status().ToString();
    auto push = Apply("kingdee_paybill");
    ASSERT_TRUE(push.ok()) << push.status().ToString();
  }

  // CN_PAYAPPLY number -> the DingTalk request (the staged record's id) of approved requests.
  std::map<std::string, std::string> Approved() const {
    std::map<std::string, std::string> out;
    for (const auto& i : dt_.Instances()) {
      if (i.status == "COMPLETED" && i.result == "agree") out[i.bill_number] = i.id;
    }
    return out;
  }

  static const audit::SinkReport* SinkOf(const audit::AuditReport& r, const std::string& sink) {
    for (const auto& s : r.sinks) {
      if (s.sink == sink) return &s;
    }
    return nullptr;
  }

  static int64_t Count(const audit::SinkReport* s, const std::string& cls) {
    if (s == nullptr) return -1;
    auto it = s->counts.find(cls);
    return it == s->counts.end() ? 0 : it->second;
  }

  emulators::DingTalkEmulator dt_;
  emulators::KingdeeEmulator kd_;
};

// Seed 001: every approved request has exactly one bill (ok, exit 0); then a repeated push (a
// double payment), a deleted bill and bills pushed from requests the sink does not push.
TEST_F(HttpAuditTest, Seed001CleanThenDuplicateMissingAndExtraBillsAreFound) {
  SyncSeed001(40, 61);
  const auto approved = Approved();
  ASSERT_GE(approved.size(), 6u);
  ASSERT_EQ(kd_.PayBills().size(), approved.size());

  auto clean = Audit();
  EXPECT_FALSE(clean.discrepancies()) << audit::FormatText(clean);
  EXPECT_TRUE(clean.findings.empty()) << audit::FormatText(clean);
  const audit::SinkReport* push = SinkOf(clean, "kingdee_paybill");
  ASSERT_NE(push, nullptr);
  EXPECT_TRUE(push->audited);
  EXPECT_EQ(Count(push, "ok"), static_cast<int64_t>(approved.size()));
  EXPECT_GT(Count(SinkOf(clean, "bi_mysql"), "ok"), 10);
  std::string out;
  EXPECT_EQ(RunTool(json_, {}, &out), 0) << out;
  EXPECT_NE(out.find(fmt::format("dingtalk-payment / kingdee_paybill (kingdee_push AP_PAYBILL "
                                 "bill): ok {} missing 0 drifted 0 duplicate 0 extra 0",
                                 approved.size())),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\nclean\n"), std::string::npos) << out;

  const auto bills = kd_.PayBills();
  const emulators::KingdeePayBill& twice = bills[1];
  const emulators::KingdeePayBill& gone = bills[3];
  const auto again = kd_.PushAgain(twice.source_number);
  ASSERT_TRUE(kd_.DeletePayBill(gone.fid));
  kd_.AddPayApply("FKSQ-NOT-STAGED");
  const auto stray = kd_.PushAgain("FKSQ-NOT-STAGED");
  std::string refused;  // a request staged but not approved: the sink never pushes it
  for (const auto& i : dt_.Instances()) {
    if (!approved.contains(i.bill_number)) refused = i.bill_number;
  }
  ASSERT_FALSE(refused.empty());
  const auto unapproved = kd_.PushAgain(refused);

  auto bad = Audit();
  EXPECT_EQ(bad.discrepancy_count(), 4) << audit::FormatText(bad);
  const audit::Finding* d = Find(bad, "duplicate", approved.at(twice.source_number));
  ASSERT_NE(d, nullptr) << audit::FormatText(bad);
  for (const auto& b : {twice, again}) {
    EXPECT_NE(d->detail.find(b.number + " (FID " + std::to_string(b.fid)), std::string::npos)
        << d->detail;
  }
  EXPECT_NE(Find(bad, "missing", approved.at(gone.source_number)), nullptr)
      << audit::FormatText(bad);
  const audit::Finding* x = Find(bad, "extra", "FKSQ-NOT-STAGED");
  ASSERT_NE(x, nullptr) << audit::FormatText(bad);
  EXPECT_NE(x->detail.find(stray.number), std::string::npos) << x->detail;
  const audit::Finding* u = Find(bad, "extra", refused);
  ASSERT_NE(u, nullptr) << audit::FormatText(bad);
  EXPECT_NE(u->detail.find(unapproved.number), std::string::npos) << u->detail;
  EXPECT_EQ(Count(SinkOf(bad, "kingdee_paybill"), "ok"), static_cast<int64_t>(approved.size()) - 2);

  EXPECT_EQ(RunTool(json_, {"--format", "json"}, &out), 1) << out;
  EXPECT_NE(out.find(R"("class":"duplicate","key":")" + approved.at(twice.source_number)),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(R"("discrepancies":4,)"), std::string::npos) << out;
  ExpectNoSecret(out);
  EXPECT_EQ(RunTool(json_, {}, &out), 1) << out;
  EXPECT_NE(out.find("discrepancies: 4"), std::string::npos) << out;
  ExpectNoSecret(out);

  // --key asks Kingdee about one record only.
  audit::AuditOptions one;
  one.key = approved.at(twice.source_number);
  auto single = Audit(one);
  ASSERT_EQ(single.findings.size(), 1u) << audit::FormatText(single);
  EXPECT_EQ(single.findings[0].cls, "duplicate");
}

// An unreachable Kingdee is "could not audit" (exit 2), naming the pipeline and sink, never a
// clean or partial report.
TEST_F(HttpAuditTest, UnreachableKingdeeExitsTwoNamingTheSink) {
  SyncSeed001(10, 62, /*retry_budget_s=*/2);
  kd_.Stop();
  std::string out;
  EXPECT_EQ(RunTool(json_, {}, &out), 2) << out;
  EXPECT_NE(out.find("pipeline dingtalk-payment, sink kingdee_paybill"), std::string::npos) << out;
  EXPECT_EQ(out.find("clean"), std::string::npos) << out;
  ExpectNoSecret(out);
}

class Seed003AuditTest : public AuditTest {
 protected:
  void SetUp() override {
    AuditTest::SetUp();
    ASSERT_TRUE(okki_.Start(0));
    ASSERT_TRUE(dt_.Start(0));
    okki_.Generate(40, NowMs() - 10 * kDayMs, NowMs() - kHourMs, 71);
    LoadJson(testing::Seed003Json(okki_.base_url(), dt_.base_url(), dir_.Sub("state")));
    auto s = Sync();
    ASSERT_TRUE(s.ok()) << s.status().ToString();
  }

  emulators::OkkiEmulator okki_;
  emulators::DingTalkEmulator dt_;
};

// Seed 003: one instance per product with the mapped fields (ok, exit 0); then an instance
// deleted, a field edited in the form, a second instance for one product and an instance for a
// product nobody staged.
TEST_F(Seed003AuditTest, CleanThenDeletedEditedDuplicateAndExtraInstancesAreFound) {
  auto by = testing::Seed003InstancesBySource(dt_);
  std::vector<emulators::OkkiProduct> live;
  for (const auto& p : okki_.Products()) {
    if (p.enable_flag != 0) live.push_back(p);
  }
  ASSERT_GE(live.size(), 5u);
  ASSERT_EQ(by.size(), live.size());

  auto clean = Audit();
  EXPECT_FALSE(clean.discrepancies()) << audit::FormatText(clean);
  EXPECT_TRUE(clean.findings.empty()) << audit::FormatText(clean);
  EXPECT_EQ(Count(clean, "ok"), static_cast<int64_t>(live.size()));
  std::string out;
  EXPECT_EQ(RunTool(json_, {}, &out), 0) << out;
  EXPECT_NE(out.find("\nclean\n"), std::string::npos) << out;

  const std::string deleted = std::to_string(live[0].product_id);
  const std::string edited = std::to_string(live[1].product_id);
  const std::string doubled = std::to_string(live[2].product_id);
  ASSERT_TRUE(dt_.YidaDeleteInstance(by[deleted][0].id));
  ASSERT_TRUE(dt_.YidaEditField(by[edited][0].id, "textField_lq0sj9h9", R"("篡改的名字")"));
  const std::string copy = dt_.YidaAddInstance(by[doubled][0].form_data_json);
  ASSERT_FALSE(copy.empty());
  ASSERT_FALSE(dt_.YidaAddInstance(R"({"textField_srcid001":"999999999","textField_lq0sj9h9":"x"})")
                   .empty());

  auto bad = Audit();
  EXPECT_EQ(bad.discrepancy_count(), 4) << audit::FormatText(bad);
  EXPECT_NE(Find(bad, "missing", deleted), nullptr) << audit::FormatText(bad);
  const audit::Finding* d = Find(bad, "drifted", edited);
  ASSERT_NE(d, nullptr) << audit::FormatText(bad);
  ASSERT_EQ(d->columns.size(), 1u);
  EXPECT_EQ(d->columns[0].column, "textField_lq0sj9h9");
  EXPECT_EQ(d->columns[0].mapped, live[1].name);
  EXPECT_EQ(d->columns[0].target, "篡改的名字");
  const audit::Finding* dup = Find(bad, "duplicate", doubled);
  ASSERT_NE(dup, nullptr) << audit::FormatText(bad);
  EXPECT_NE(dup->detail.find(by[doubled][0].id), std::string::npos) << dup->detail;
  EXPECT_NE(dup->detail.find(copy), std::string::npos) << dup->detail;
  EXPECT_NE(Find(bad, "extra", "999999999"), nullptr) << audit::FormatText(bad);
  EXPECT_EQ(Count(bad, "ok"), static_cast<int64_t>(live.size()) - 3);

  EXPECT_EQ(RunTool(json_, {"--format", "json"}, &out), 1) << out;
  EXPECT_NE(out.find(R"({"column":"textField_lq0sj9h9","mapped":)" + json::Quote(live[1].name) +
                     R"(,"target":"篡改的名字"})"),
            std::string::npos)
      << out;
  ExpectNoSecret(out);
}

}  // namespace
}  // namespace stagesync
