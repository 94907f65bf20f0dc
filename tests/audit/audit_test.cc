// stagesync-audit against real parts: seeds 000 (DingTalk payments, 费用明细 flattened), 002
// (Kuaimai after-sales, items flattened) and 004 (Kingdee materials) synced by the real fetcher
// and MySQL sink into the MariaDB fixture, then audited; then the target is tampered with
// behind the sink's back and each change must be found and named. The tool binary runs beside
// this process, which holds the staging dir open read-write as a running agent would.
#include "audit/audit.h"

#include <gtest/gtest.h>

#include "audit/audit_fixture.h"
#include "emulators/dingtalk_emulator.h"
#include "emulators/kingdee_emulator.h"
#include "emulators/kuaimai_emulator.h"
#include "testing/payment_pipeline.h"

namespace stagesync {
namespace {

// Seed 004: clean, pending, then a drifted column, a deleted row and an extra row; the binary
// agrees (exit 0 then 1, JSON lines naming each).
TEST_F(AuditTest, Seed004CleanThenPendingThenEachTamperingFoundAndNamed) {
  ASSERT_TRUE(db_.Source(STAGESYNC_SOURCE_DIR "/conf/sql/wk_wodtop_product.sql").ok());
  emulators::KingdeeEmulator emu;
  ASSERT_TRUE(emu.Start(0));
  emu.GenerateMaterials(200, 40);
  LoadJson(testing::SeedConfigJson("004-kingdee-material.json",
                                   Edits("kingdee", emu.base_url(), "crm")));
  auto s = Sync();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  const int64_t rows = std::stoll(Q("SELECT COUNT(*) FROM wk_wodtop_product"));
  ASSERT_GT(rows, 50);

  auto clean = Audit();
  EXPECT_FALSE(clean.discrepancies());
  ASSERT_EQ(clean.sinks.size(), 1u);
  EXPECT_TRUE(clean.sinks[0].audited);
  EXPECT_EQ(Count(clean, "ok"), rows);
  std::string out;
  EXPECT_EQ(RunTool(json_, {}, &out), 0) << out;
  EXPECT_NE(out.find("ok " + std::to_string(rows)), std::string::npos) << out;

  // Staged but not applied: pending, counted apart, still exit 0.
  std::vector<int64_t> ids;
  for (const auto& m : emu.Materials()) {
    if (m.use_org == "T00" && m.document_status == "C" && m.forbid_status == "A") {
      ids.push_back(m.master_id);
    }
  }
  ASSERT_GT(ids.size(), 20u);
  ASSERT_TRUE(emu.UpdateMaterial(ids[3], "改过的名字"));
  ASSERT_TRUE(Fetch().ok());
  auto pending = Audit();
  EXPECT_FALSE(pending.discrepancies());
  EXPECT_EQ(Count(pending, "pending"), 1);
  EXPECT_EQ(Count(pending, "ok"), rows - 1);
  EXPECT_EQ(RunTool(json_, {}, &out), 0) << out;
  ASSERT_TRUE(Apply().ok());

  // Behind the sink's back.
  const std::string drifted = std::to_string(ids[5]);
  const std::string name =
      Q("SELECT product_name FROM wk_wodtop_product WHERE data_id = " + drifted);
  Exec("UPDATE wk_wodtop_product SET product_name = '篡改' WHERE data_id = " + drifted);
  const std::string gone = std::to_string(ids[9]);
  Exec("DELETE FROM wk_wodtop_product WHERE data_id = " + gone);
  Exec(
      "INSERT INTO wk_wodtop_product (data_id, product_number, product_name) VALUES (999999999, "
      "'X-1', 'nobody staged me')");

  auto bad = Audit();
  EXPECT_TRUE(bad.discrepancies());
  EXPECT_EQ(bad.findings.size(), 3u);
  const audit::Finding* d = Find(bad, "drifted", drifted);
  ASSERT_NE(d, nullptr);
  ASSERT_EQ(d->columns.size(), 1u);
  EXPECT_EQ(d->columns[0].column, "product_name");
  EXPECT_EQ(d->columns[0].mapped, name);
  EXPECT_EQ(d->columns[0].target, "篡改");
  EXPECT_NE(Find(bad, "missing", gone), nullptr);
  EXPECT_NE(Find(bad, "extra", "999999999"), nullptr);
  EXPECT_EQ(Count(bad, "ok"), rows - 2);

  EXPECT_EQ(RunTool(json_, {"--format", "json"}, &out), 1) << out;
  EXPECT_NE(out.find(R"("class":"drifted","key":")" + drifted), std::string::npos) << out;
  EXPECT_NE(out.find(R"({"column":"product_name","mapped":)" + json::Quote(name) +
                     R"(,"target":"篡改"})"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(R"("class":"missing","key":")" + gone), std::string::npos) << out;
  EXPECT_NE(out.find(R"("class":"extra","key":"999999999")"), std::string::npos) << out;
  EXPECT_NE(out.find(R"({"summary":{"findings":3,"discrepancies":3,)"), std::string::npos) << out;

  // --key: one record only.
  audit::AuditOptions one;
  one.key = drifted;
  auto single = Audit(one);
  ASSERT_EQ(single.findings.size(), 1u);
  EXPECT_EQ(single.findings[0].cls, "drifted");

  // A value carrying a terminal escape is shown escaped in the text report.
  const std::string esc = std::to_string(ids[11]);
  Exec(
      "UPDATE wk_wodtop_product SET product_name = CONCAT('a', CHAR(27), '[31m') WHERE "
      "data_id = " +
      esc);
  EXPECT_EQ(RunTool(json_, {"--key", esc}, &out), 1) << out;
  EXPECT_NE(out.find("target a\\x1b[31m"), std::string::npos) << out;
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
}

// A record the sink quarantines (a rule rejects its new name) is listed as quarantined, not
// compared (its old row stays in the target), and does not make the run fail.
TEST_F(AuditTest, Seed004AQuarantinedRecordIsListedButNotADiscrepancy) {
  ASSERT_TRUE(db_.Source(STAGESYNC_SOURCE_DIR "/conf/sql/wk_wodtop_product.sql").ok());
  emulators::KingdeeEmulator emu;
  ASSERT_TRUE(emu.Start(0));
  emu.GenerateMaterials(60, 40);
  auto e = Edits("kingdee", emu.base_url(), "crm");
  auto rules = json::Parse(R"({"product_name": {"regex": "[^X].*"}})");
  ASSERT_TRUE(rules.ok());
  e.sink = {{"rules", *rules}};
  LoadJson(testing::SeedConfigJson("004-kingdee-material.json", e));
  ASSERT_TRUE(Sync().ok());
  std::string id;
  for (const auto& m : emu.Materials()) {
    if (m.use_org == "T00" && m.document_status == "C" && m.forbid_status == "A") {
      id = std::to_string(m.master_id);
      ASSERT_TRUE(emu.UpdateMaterial(m.master_id, "X rejected by the rule"));
      break;
    }
  }
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(Sync().ok());
  auto q = log_->Quarantined("kingdee-material");
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->size(), 1u);

  auto r = Audit();
  EXPECT_FALSE(r.discrepancies()) << audit::FormatText(r);
  EXPECT_EQ(Count(r, "quarantined"), 1);
  EXPECT_NE(Find(r, "quarantined", id), nullptr);
  std::string out;
  EXPECT_EQ(RunTool(json_, {"--format", "json"}, &out), 0) << out;
  EXPECT_NE(out.find(R"("class":"quarantined","key":")" + id + "\""), std::string::npos) << out;
}

// The sink's mapping changed since the rows were written: every record is pending (the sink
// rewrites them on its next run), not drifted; once applied, the new mapping audits clean.
TEST_F(AuditTest, Seed004AChangedMappingMakesRecordsPendingUntilApplied) {
  ASSERT_TRUE(db_.Source(STAGESYNC_SOURCE_DIR "/conf/sql/wk_wodtop_product.sql").ok());
  emulators::KingdeeEmulator emu;
  ASSERT_TRUE(emu.Start(0));
  emu.GenerateMaterials(60, 40);
  auto e = Edits("kingdee", emu.base_url(), "crm");
  LoadJson(testing::SeedConfigJson("004-kingdee-material.json", e));
  ASSERT_TRUE(Sync().ok());
  const int64_t rows = std::stoll(Q("SELECT COUNT(*) FROM wk_wodtop_product"));
  ASSERT_GT(rows, 5);

  auto columns = json::Parse(R"({"data_id": "{FMasterId}", "product_number": "{FNumber}",
      "product_name": "{FNumber}", "product_line": "{F_ProductLine}",
      "specification_model": "{FSpecification|trim}",
      "material_group": "{{FMaterialGroup.FNumber}}", "base_unit": "{{FBaseUnitId.FNumber}}",
      "modify_date": "{FModifyDate|datetime}"})");
  ASSERT_TRUE(columns.ok());
  e.sink = {{"columns", *columns}};
  LoadJson(testing::SeedConfigJson("004-kingdee-material.json", e));
  auto before = Audit();
  EXPECT_FALSE(before.discrepancies()) << audit::FormatText(before);
  EXPECT_EQ(Count(before, "pending"), rows);

  ASSERT_TRUE(Apply().ok());
  EXPECT_EQ(Q("SELECT COUNT(*) FROM wk_wodtop_product WHERE product_name <> product_number"), "0");
  auto after = Audit();
  EXPECT_FALSE(after.discrepancies()) << audit::FormatText(after);
  EXPECT_EQ(Count(after, "ok"), rows);
}

// Seed 002: clean; a flattened item row removed is a missing child row, one added is extra.
TEST_F(AuditTest, Seed002CleanThenARemovedAndAnAddedItemRowAreFound) {
  ASSERT_TRUE(db_.Source(STAGESYNC_SOURCE_DIR "/conf/sql/aftersale_list_query.sql").ok());
  emulators::KuaimaiEmulator emu;
  ASSERT_TRUE(emu.Start(0));
  const int64_t now = Clock::Real()->NowMillis();
  emu.Generate(80, now - 5 * kDayMs, now - kHourMs, 41);
  auto e = Edits("kuaimai", emu.base_url(), "bi");
  e.source = {{"initial_lookback_days", Num(6)}, {"lag_s", Num(0)}};
  LoadJson(testing::SeedConfigJson("002-kuaimai-aftersale.json", e));
  auto s = Sync();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->applied, 80);

  auto clean = Audit();
  EXPECT_FALSE(clean.discrepancies()) << audit::FormatText(clean);
  EXPECT_EQ(Count(clean, "ok"), 80);

  const std::string id =
      Q("SELECT id FROM aftersale_list_query GROUP BY id HAVING COUNT(*) >= 2 ORDER BY id LIMIT 1");
  ASSERT_FALSE(id.empty());
  Exec("DELETE FROM aftersale_list_query WHERE id = " + id + " AND item_index = 2");
  const std::string other = Q("SELECT MAX(id) FROM aftersale_list_query");
  // A copy of one of its item rows under an index no item has.
  Exec("CREATE TEMPORARY TABLE copied AS SELECT * FROM aftersale_list_query WHERE id = " + other +
       " ORDER BY item_index LIMIT 1");
  Exec("UPDATE copied SET item_index = 77");
  Exec("INSERT INTO aftersale_list_query SELECT * FROM copied");

  auto bad = Audit();
  const audit::Finding* m = Find(bad, "missing", id);
  ASSERT_NE(m, nullptr) << audit::FormatText(bad);
  EXPECT_EQ(m->row, "item_index=2");
  const audit::Finding* x = Find(bad, "extra", other);
  ASSERT_NE(x, nullptr) << audit::FormatText(bad);
  EXPECT_EQ(x->row, "item_index=77");
  std::string out;
  EXPECT_EQ(RunTool(json_, {}, &out), 1) << out;
  EXPECT_NE(out.find("missing kuaimai-aftersale"), std::string::npos) << out;
}

// Seed 000: clean; a money column edited in one flattened detail row is drifted, naming the
// column and both values.
TEST_F(AuditTest, Seed000CleanThenAnEditedAmountIsDrifted) {
  ASSERT_TRUE(db_.Source(STAGESYNC_SOURCE_DIR "/conf/sql/payment_application_info.sql").ok());
  emulators::DingTalkEmulator emu;
  ASSERT_TRUE(emu.Start(0));
  emu.Generate(40, NowMs() - 10 * kDayMs, NowMs() - kHourMs, 22);
  LoadJson(testing::PaymentConfigJson(emu.base_url(), dir_.Sub("state"), db_.port(), db_.name()));
  auto s = Sync();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  auto clean = Audit();
  EXPECT_FALSE(clean.discrepancies()) << audit::FormatText(clean);
  EXPECT_GT(Count(clean, "ok"), 10);

  const std::string id =
      Q("SELECT bfn_id FROM payment_application_info GROUP BY bfn_id HAVING COUNT(*) >= 2 ORDER BY "
        "bfn_id LIMIT 1");
  ASSERT_FALSE(id.empty());
  const std::string where = " WHERE bfn_id = '" + id + "' AND detail_index = 2";
  const std::string amount = Q("SELECT amount FROM payment_application_info" + where);
  Exec("UPDATE payment_application_info SET amount = 123456.78" + where);
  auto bad = Audit();
  ASSERT_EQ(bad.findings.size(), 1u) << audit::FormatText(bad);
  const auto& f = bad.findings[0];
  EXPECT_EQ(f.cls, "drifted");
  EXPECT_EQ(f.key, id);
  EXPECT_EQ(f.row, "detail_index=2");
  ASSERT_EQ(f.columns.size(), 1u);
  EXPECT_EQ(f.columns[0].column, "amount");
  EXPECT_EQ(f.columns[0].mapped, amount);
  EXPECT_EQ(f.columns[0].target, "123456.78");
}

// Bad input: exit 2 and a message naming what could not be audited.
TEST_F(AuditTest, UnknownPipelineUnreachableMySqlAndMissingStagingExitTwo) {
  ASSERT_TRUE(db_.Source(STAGESYNC_SOURCE_DIR "/conf/sql/wk_wodtop_product.sql").ok());
  emulators::KingdeeEmulator emu;
  ASSERT_TRUE(emu.Start(0));
  emu.GenerateMaterials(20, 40);
  LoadJson(testing::SeedConfigJson("004-kingdee-material.json",
                                   Edits("kingdee", emu.base_url(), "crm")));
  ASSERT_TRUE(Sync().ok());
  std::string out;
  EXPECT_EQ(RunTool(json_, {"--pipeline", "no-such"}, &out), 2) << out;
  EXPECT_NE(out.find("unknown pipeline 'no-such' (the config has: kingdee-material)"),
            std::string::npos)
      << out;

  auto e = Edits("kingdee", emu.base_url(), "crm");
  e.mysql_port = 1;  // nothing listens there
  EXPECT_EQ(RunTool(testing::SeedConfigJson("004-kingdee-material.json", e), {}, &out), 2) << out;
  EXPECT_NE(out.find("sink crm_mysql: cannot reach MySQL at 127.0.0.1:1"), std::string::npos)
      << out;

  e = Edits("kingdee", emu.base_url(), "crm");
  e.state_dir = dir_.Sub("nothing-here");
  EXPECT_EQ(RunTool(testing::SeedConfigJson("004-kingdee-material.json", e), {}, &out), 2) << out;
  EXPECT_NE(out.find("cannot open the staging log in " + e.state_dir), std::string::npos) << out;
}

}  // namespace
}  // namespace stagesync
