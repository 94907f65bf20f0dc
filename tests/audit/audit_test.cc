// stagesync-audit against real parts: seeds 000 (DingTalk payments, 费用明细 flattened), 002
// (Kuaimai after-sales, items flattened) and 004 (Kingdee materials) synced by the real fetcher
// and MySQL sink into the MariaDB fixture, then audited; then the target is tampered with
// behind the sink's back and each change must be found and named. The tool binary runs beside
// this process, which holds the staging dir open read-write as a running agent would.
#include "audit/audit.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "audit/audit_fixture.h"
#include "audit/trail.h"
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

// --key: a material renamed twice in the emulator has three versions in staging, each with
// its changed fields (old -> new); the trail shows which of them the MySQL sink applied (the
// second, then after an apply the third), the cursor against the record's seq and the row.
TEST_F(AuditTest, Seed004KeyTrailShowsEachVersionItsChangesAndTheVersionApplied) {
  emulators::KingdeeEmulator emu;
  ASSERT_NO_FATAL_FAILURE(SyncMaterials(emu, 60));
  std::string id;
  for (const auto& m : emu.Materials()) {
    if (m.use_org == "T00" && m.document_status == "C" && m.forbid_status == "A") {
      id = std::to_string(m.master_id);
      break;
    }
  }
  ASSERT_FALSE(id.empty());
  const std::string first = Q("SELECT product_name FROM wk_wodtop_product WHERE data_id = " + id);
  ASSERT_FALSE(first.empty());
  ASSERT_TRUE(emu.UpdateMaterial(std::stoll(id), "第二版"));
  ASSERT_TRUE(Sync().ok());
  ASSERT_TRUE(emu.UpdateMaterial(std::stoll(id), "第三版"));
  ASSERT_TRUE(Fetch().ok());

  audit::AuditOptions o;
  o.key = id;
  auto trail = audit::Trail(cfg_, o);
  ASSERT_TRUE(trail.ok()) << trail.status().ToString();
  ASSERT_EQ(trail->size(), 1u);
  const audit::RecordTrail& t = (*trail)[0];
  ASSERT_TRUE(t.current.has_value());
  ASSERT_EQ(t.versions.size(), 3u) << audit::FormatTrailText(*trail);
  EXPECT_EQ(t.versions[0].kind, "created");
  EXPECT_EQ(t.versions[2].seq, t.current->seq);
  auto name_change = [](const stage::RecordVersion& v) -> const stage::FieldChange* {
    for (const auto& c : v.changes) {
      if (c.path == "FName") return &c;
    }
    return nullptr;
  };
  for (size_t i = 1; i < 3; ++i) {
    const stage::FieldChange* c = name_change(t.versions[i]);
    ASSERT_NE(c, nullptr) << audit::FormatTrailText(*trail);
    EXPECT_EQ(c->op, "changed");
    EXPECT_EQ(c->old_json, json::Quote(i == 1 ? first : "第二版"));
    EXPECT_EQ(c->new_json, json::Quote(i == 1 ? "第二版" : "第三版"));
  }
  ASSERT_EQ(t.sinks.size(), 1u);
  const audit::SinkTrail& s = t.sinks[0];
  EXPECT_EQ(s.sink, "crm_mysql");
  ASSERT_TRUE(s.has_applied);
  EXPECT_EQ(s.applied_version_seq, t.versions[1].seq);
  EXPECT_EQ(s.applied_hash, t.versions[1].hash.ToHex());
  EXPECT_FALSE(s.applied_at.empty());
  EXPECT_FALSE(s.cursor_passed);
  ASSERT_EQ(s.rows.size(), 1u);
  ASSERT_EQ(s.columns[2], "product_name");
  EXPECT_EQ(s.rows[0][2], "第二版");

  std::string out;
  EXPECT_EQ(RunTool(json_, {"--key", id}, &out), 0) << out;
  EXPECT_NE(out.find("versions kept: 3 (history_versions 10)"), std::string::npos) << out;
  EXPECT_NE(out.find("~ \"FName\": " + json::Quote(first) + " -> \"第二版\""), std::string::npos)
      << out;
  EXPECT_NE(out.find("~ \"FName\": \"第二版\" -> \"第三版\""), std::string::npos) << out;
  EXPECT_NE(out.find(fmt::format("seq {}: pending", t.current->seq)), std::string::npos) << out;
  EXPECT_NE(out.find(fmt::format("ledger holds version seq {}", t.versions[1].seq)),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("product_name=\"第二版\""), std::string::npos) << out;
  // No connection option (the Kingdee app secret, the MySQL password) reaches the output.
  for (const auto& [name, c] : cfg_.connections) {
    for (const auto& [k, v] : c.options.members()) {
      if (v.is_string() && v.text().size() >= 4 &&
          (k.find("secret") != std::string::npos || k.find("password") != std::string::npos)) {
        EXPECT_EQ(out.find(v.text()), std::string::npos) << name << "." << k;
      }
    }
  }

  EXPECT_EQ(RunTool(json_, {"--key", "no-such-id"}, &out), 0) << out;
  EXPECT_NE(out.find("trail of \"no-such-id\": not staged in any pipeline"), std::string::npos)
      << out;

  ASSERT_TRUE(Apply().ok());
  EXPECT_EQ(RunTool(json_, {"--key", id, "--format", "json"}, &out), 0) << out;
  EXPECT_NE(out.find(R"({"path":"FName","op":"changed","old":"第二版","new":"第三版"})"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(R"("applied":true,"holds":{"hash":")" + t.versions[2].hash.ToHex()),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(fmt::format(R"("version_seq":{}}})", t.versions[2].seq)), std::string::npos)
      << out;
  EXPECT_NE(out.find(R"("product_name":"第三版")"), std::string::npos) << out;
}

// A record the sink quarantines (a rule rejects its new name) is listed as quarantined, not
// compared (its old row stays in the target), and does not make the run fail.
TEST_F(AuditTest, Seed004AQuarantinedRecordIsListedButNotADiscrepancy) {
  emulators::KingdeeEmulator emu;
  ASSERT_NO_FATAL_FAILURE(
      SyncMaterials(emu, 60, 40, "rules", R"({"product_name": {"regex": "[^X].*"}})"));
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

// Seed 004: every batch extends the chain in the target; a ledger row edited by hand is a
// ledger_mismatch of that record and breaks the ledger's sum; an edited link and a deleted
// link are each named as the first broken one.
TEST_F(AuditTest, Seed004ChainFindsAnEditedLedgerRowAndAnEditedOrDeletedLink) {
  emulators::KingdeeEmulator emu;
  SyncMaterials(emu, 120, 41);
  if (HasFatalFailure()) return;
  const std::vector<int64_t> ids = AppliedMaterials(emu);
  ASSERT_GT(ids.size(), 10u);
  // Three more batches: the chain grows by one link each.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(emu.UpdateMaterial(ids[i], "第" + std::to_string(i) + "版"));
    ASSERT_TRUE(Sync().ok());
  }
  const std::string links = Q("SELECT COUNT(*) FROM stagesync_batches");
  ASSERT_GE(std::stoi(links), 4);
  auto clean = Audit();
  EXPECT_FALSE(clean.discrepancies()) << audit::FormatText(clean);
  ASSERT_EQ(clean.sinks.size(), 1u);
  EXPECT_EQ(std::to_string(clean.sinks[0].chain_links), links);
  EXPECT_EQ(clean.sinks[0].chain_head, Q("SELECT digest FROM stagesync_batches ORDER BY batch_no "
                                         "DESC LIMIT 1"));
  std::string out;
  EXPECT_EQ(RunTool(json_, {}, &out), 0) << out;
  EXPECT_NE(out.find("chain: " + links + " link(s) read"), std::string::npos) << out;

  // A ledger row edited: that record's ledger no longer names what was applied, and the
  // ledger no longer sums to the head's digest.
  const std::string victim = std::to_string(ids[7]);
  Exec("UPDATE stagesync_ledger SET content_hash = REPEAT('0', 32) WHERE source_id = '" + victim +
       "'");
  auto edited = Audit();
  EXPECT_TRUE(edited.discrepancies());
  EXPECT_NE(Find(edited, "ledger_mismatch", victim), nullptr) << audit::FormatText(edited);
  ASSERT_NE(Find(edited, "chain_broken", ""), nullptr) << audit::FormatText(edited);
  EXPECT_EQ(Find(edited, "chain_broken", "")->detail.rfind("stagesync_ledger", 0), 0u);
  EXPECT_NE(Find(edited, "chain_broken", "")->detail.find("no longer sums to the digest"),
            std::string::npos);
  EXPECT_EQ(RunTool(json_, {}, &out), 1) << out;
  EXPECT_NE(out.find("ledger_mismatch"), std::string::npos) << out;

  // A ledger row deleted: the row is there, the ledger entry is not.
  Exec("DELETE FROM stagesync_ledger WHERE source_id = '" + victim + "'");
  auto deleted = Audit();
  ASSERT_NE(Find(deleted, "ledger_mismatch", victim), nullptr) << audit::FormatText(deleted);
  EXPECT_NE(Find(deleted, "ledger_mismatch", victim)->detail.find("no entry"), std::string::npos);
  EXPECT_NE(Find(deleted, "chain_broken", ""), nullptr);

  // Put the ledger row back as the sink wrote it (from staging): the sum matches again.
  {
    auto rec = log_->Get(cfg_.pipelines[0].name, victim);
    ASSERT_TRUE(rec.ok() && rec->has_value());
    Exec("INSERT INTO stagesync_ledger SELECT pipeline, sink, '" + victim + "', '" +
         (*rec)->hash.ToHex() + "', mapping_hash, " + std::to_string((*rec)->seq) +
         ", NOW(3) FROM stagesync_ledger LIMIT 1");
  }
  auto restored = Audit();
  EXPECT_FALSE(restored.discrepancies()) << audit::FormatText(restored);

  // A link edited, then a link deleted: each named as the first broken link.
  Exec("UPDATE stagesync_batches SET records = records + 1 WHERE batch_no = 2");
  auto link_edited = Audit();
  ASSERT_NE(Find(link_edited, "chain_broken", ""), nullptr) << audit::FormatText(link_edited);
  EXPECT_NE(Find(link_edited, "chain_broken", "")->detail.find("link 2 "), std::string::npos)
      << Find(link_edited, "chain_broken", "")->detail;
  Exec("UPDATE stagesync_batches SET records = records - 1 WHERE batch_no = 2");
  EXPECT_FALSE(Audit().discrepancies());
  Exec("DELETE FROM stagesync_batches WHERE batch_no = 3");
  auto link_gone = Audit();
  ASSERT_NE(Find(link_gone, "chain_broken", ""), nullptr) << audit::FormatText(link_gone);
  EXPECT_NE(Find(link_gone, "chain_broken", "")->detail.find("link 3 is missing"),
            std::string::npos)
      << Find(link_gone, "chain_broken", "")->detail;
}

// A target from before the chain (no stagesync_batches): the audit says the chain starts with
// the next batch and is not broken; the next apply makes the table, and its first link covers
// the whole ledger as it stood.
TEST_F(AuditTest, Seed004ATargetWithoutTheChainGetsItOnTheNextApply) {
  emulators::KingdeeEmulator emu;
  SyncMaterials(emu, 60, 42);
  if (HasFatalFailure()) return;
  Exec("DROP TABLE stagesync_batches");
  auto before = Audit();
  EXPECT_FALSE(before.discrepancies()) << audit::FormatText(before);
  ASSERT_EQ(before.sinks.size(), 1u);
  EXPECT_EQ(before.sinks[0].chain_links, 0u);
  EXPECT_NE(before.sinks[0].chain_note.find("starts with the sink's next batch"),
            std::string::npos);
  const auto m = emu.Materials().front();
  ASSERT_TRUE(emu.UpdateMaterial(m.master_id, "链的开始"));
  ASSERT_TRUE(Sync().ok());
  EXPECT_EQ(Q("SELECT COUNT(*) FROM stagesync_batches"), "1");
  auto after = Audit();
  EXPECT_FALSE(after.discrepancies()) << audit::FormatText(after);
  EXPECT_EQ(after.sinks[0].chain_links, 1u);
}

// Seed 004: --repair puts a drifted and a missing row back through the applier (each written
// exactly once, counted by triggers), deletes an extra row only with --delete-extra, refuses
// while staging is held by another process, and the next audit is clean with the chain whole.
TEST_F(AuditTest, Seed004RepairRewritesEachRepairedRowOnceThenTheAuditIsClean) {
  emulators::KingdeeEmulator emu;
  SyncMaterials(emu, 100, 43);
  if (HasFatalFailure()) return;
  const std::string rows = Q("SELECT COUNT(*) FROM wk_wodtop_product");
  const std::string drifted = Q("SELECT MIN(data_id) FROM wk_wodtop_product");
  const std::string gone = Q("SELECT MAX(data_id) FROM wk_wodtop_product");
  ASSERT_NE(drifted, gone);
  Exec("CREATE TABLE writes (data_id BIGINT NOT NULL)");
  Exec(
      "CREATE TRIGGER count_ins AFTER INSERT ON wk_wodtop_product FOR EACH ROW INSERT INTO "
      "writes VALUES (NEW.data_id)");
  Exec(
      "CREATE TRIGGER count_upd AFTER UPDATE ON wk_wodtop_product FOR EACH ROW INSERT INTO "
      "writes VALUES (NEW.data_id)");
  Exec("UPDATE wk_wodtop_product SET product_name = '篡改' WHERE data_id = " + drifted);
  Exec("DELETE FROM wk_wodtop_product WHERE data_id = " + gone);
  Exec("INSERT INTO wk_wodtop_product (data_id, product_number) VALUES (999999991, 'X')");
  Exec("DELETE FROM writes");

  // This process holds staging read-write, as a running agent would: repair refuses.
  std::string out;
  EXPECT_EQ(RunTool(json_, {"--repair"}, &out), 2) << out;
  EXPECT_NE(out.find("stop the agent first"), std::string::npos) << out;
  EXPECT_EQ(RunTool(json_, {"--delete-extra"}, &out), 2) << out;

  log_.reset();
  EXPECT_EQ(RunTool(json_, {"--repair", "--delete-extra"}, &out), 1) << out;
  EXPECT_NE(out.find("drifted record " + drifted + " requeued"), std::string::npos) << out;
  EXPECT_NE(out.find("missing record " + gone + " requeued"), std::string::npos) << out;
  EXPECT_NE(out.find("deleted 1 extra row(s) from wk_wodtop_product where `data_id` = "
                     "'999999991'"),
            std::string::npos)
      << out;
  EXPECT_EQ(Q("SELECT COUNT(*) FROM writes"), "0");  // nothing written yet: the applier does it
  // Requeued, not yet applied: pending, no discrepancy.
  EXPECT_EQ(RunTool(json_, {}, &out), 0) << out;
  EXPECT_NE(out.find("pending 2"), std::string::npos) << out;

  LoadJson(json_);
  ASSERT_TRUE(Sync().ok());
  EXPECT_EQ(Q("SELECT GROUP_CONCAT(data_id ORDER BY data_id) FROM writes"), drifted + "," + gone);
  EXPECT_EQ(Q("SELECT COUNT(*) FROM wk_wodtop_product"), rows);
  auto after = Audit();
  EXPECT_FALSE(after.discrepancies()) << audit::FormatText(after);
  EXPECT_EQ(Count(after, "ok"), std::stoll(rows));
  EXPECT_EQ(Q("SELECT COUNT(*) FROM stagesync_batches WHERE kind = 'repair'"), "1");
  // A second sync writes nothing more.
  ASSERT_TRUE(Sync().ok());
  EXPECT_EQ(Q("SELECT COUNT(*) FROM writes"), "2");
}

// --repair SIGKILLed after requeueing in staging and before its target transaction commits:
// nothing is rewritten on the word of half a repair (the record is still drifted, never left
// pending forever), and repairing again finishes it with each row written once.
TEST_F(AuditTest, Seed004RepairKilledHalfWayIsFoundAgainAndFinishedByTheNextRepair) {
  emulators::KingdeeEmulator emu;
  SyncMaterials(emu, 60, 45);
  if (HasFatalFailure()) return;
  const std::string drifted = Q("SELECT MIN(data_id) FROM wk_wodtop_product");
  Exec("CREATE TABLE writes (data_id BIGINT NOT NULL)");
  Exec(
      "CREATE TRIGGER count_upd AFTER UPDATE ON wk_wodtop_product FOR EACH ROW INSERT INTO "
      "writes VALUES (NEW.data_id)");
  Exec("UPDATE wk_wodtop_product SET product_name = '篡改' WHERE data_id = " + drifted);
  Exec("DELETE FROM writes");
  log_.reset();
  for (const char* at : {"audit.repair.after_requeue", "audit.repair.before_commit"}) {
    const std::string conf = dir_.Sub("audit.json");
    std::ofstream(conf) << json_;
    const int code = testing::Run({STAGESYNC_AUDIT_BIN, "--config", conf, "--repair"},
                                  {std::string("STAGESYNC_CRASH_AT=") + at}, dir_.Sub("kill.log"));
    ASSERT_EQ(code, 128 + SIGKILL) << at;
    LoadJson(json_);
    ASSERT_TRUE(Sync().ok());
    EXPECT_EQ(Q("SELECT COUNT(*) FROM writes"), "0") << at;
    auto still = Audit();
    EXPECT_NE(Find(still, "drifted", drifted), nullptr) << at << "\n" << audit::FormatText(still);
    log_.reset();
  }
  std::string out;
  EXPECT_EQ(RunTool(json_, {"--repair"}, &out), 1) << out;
  LoadJson(json_);
  ASSERT_TRUE(Sync().ok());
  EXPECT_EQ(Q("SELECT GROUP_CONCAT(data_id) FROM writes"), drifted);
  auto after = Audit();
  EXPECT_FALSE(after.discrepancies()) << audit::FormatText(after);
}

// The HTML report is one self-contained page: every finding, the counts, the chain head, and
// no script or outside asset; target values are escaped.
TEST_F(AuditTest, Seed004HtmlReportIsSelfContainedAndListsEveryFinding) {
  emulators::KingdeeEmulator emu;
  SyncMaterials(emu, 80, 44);
  if (HasFatalFailure()) return;
  Exec("UPDATE wk_wodtop_product SET product_name = '<img src=x onerror=alert(1)>'");
  const int64_t rows = std::stoll(Q("SELECT COUNT(*) FROM wk_wodtop_product"));
  const std::string file = dir_.Sub("report.html");
  std::string out;
  EXPECT_EQ(RunTool(json_, {"--format", "html", "--out", file}, &out), 1) << out;
  EXPECT_NE(out.find("report written to " + file), std::string::npos) << out;
  EXPECT_NE(out.find("discrepancies: " + std::to_string(rows)), std::string::npos) << out;
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string html = ss.str();
  ASSERT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u) << html.substr(0, 200);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);  // escaped, never markup
  EXPECT_EQ(html.find("src=\""), std::string::npos);
  EXPECT_EQ(html.find("href=\""), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_NE(html.find("&lt;img src=x"), std::string::npos);
  EXPECT_NE(html.find(Q("SELECT digest FROM stagesync_batches ORDER BY batch_no DESC LIMIT 1")),
            std::string::npos);
  size_t drifted_rows = 0;
  for (size_t at = html.find("<td>drifted</td>"); at != std::string::npos;
       at = html.find("<td>drifted</td>", at + 1)) {
    ++drifted_rows;
  }
  EXPECT_EQ(static_cast<int64_t>(drifted_rows), rows);
}

// A column written with the time of the write ({{CURRENT_TIME}}) cannot be known afterwards:
// it is listed as not compared, never drifted, while an edit of another column is still found.
TEST_F(AuditTest, Seed004AColumnWrittenWithTheWriteTimeIsNotComparedButTheOthersAre) {
  emulators::KingdeeEmulator emu;
  ASSERT_NO_FATAL_FAILURE(SyncMaterials(emu, 40, 46, "columns",
                                        R"({"data_id": "{FMasterId}", "product_number": "{FNumber}",
      "product_name": "{FName}", "modify_date": "{{CURRENT_TIME|datetime}}"})"));
  // The write time is in the past now: a compared column would differ from the audit's time.
  Exec("UPDATE wk_wodtop_product SET modify_date = '2001-01-01 00:00:00'");
  auto r = Audit();
  EXPECT_FALSE(r.discrepancies()) << audit::FormatText(r);
  ASSERT_EQ(r.sinks.size(), 1u);
  EXPECT_EQ(r.sinks[0].uncompared, std::vector<std::string>{"modify_date"});
  EXPECT_NE(audit::FormatText(r).find("not compared (written with the time of the write): "
                                      "modify_date"),
            std::string::npos);
  const std::string id = Q("SELECT MIN(data_id) FROM wk_wodtop_product");
  Exec("UPDATE wk_wodtop_product SET product_name = '篡改' WHERE data_id = " + id);
  auto edited = Audit();
  const audit::Finding* f = Find(edited, "drifted", id);
  ASSERT_NE(f, nullptr) << audit::FormatText(edited);
  ASSERT_EQ(f->columns.size(), 1u);
  EXPECT_EQ(f->columns[0].column, "product_name");
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
  emulators::KingdeeEmulator emu;
  ASSERT_NO_FATAL_FAILURE(SyncMaterials(emu, 20));
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

// Audits taken while another thread syncs (fetch, then apply) a few hundred materials that keep
// changing and growing: a record staged or applied after an audit's snapshot is pending, never
// missing, drifted or extra. Afterwards the audit is clean and counts every row ok.
TEST_F(AuditTest, Seed004AuditsWhileSyncAppliesFindNoFalseDiscrepancy) {
  emulators::KingdeeEmulator emu;
  SyncMaterials(emu, 300);
  if (HasFatalFailure()) return;
  const std::vector<int64_t> ids = AppliedMaterials(emu);
  ASSERT_GT(ids.size(), 100u);
  emulators::KingdeeMaterial model;
  for (const auto& m : emu.Materials()) {
    if (m.master_id == ids[0]) model = m;
  }

  std::atomic<int> audits = 0, rounds = 0;
  std::atomic<bool> done = false;
  Status failed;
  std::thread writer([&] {
    for (int r = 0; r < 60 && (r < 6 || audits < 6); ++r) {
      for (size_t i = static_cast<size_t>(r) % 5; i < ids.size(); i += 5) {
        emu.UpdateMaterial(ids[i], fmt::format("第{}轮改名 {}", r, i));
      }
      emulators::KingdeeMaterial added = model;  // a new material as well
      added.master_id = 0;
      added.number.clear();
      added.modify_date.clear();
      added.name = fmt::format("第{}轮新物料", r);
      emu.AddMaterial(added);
      auto s = Sync();
      if (!s.ok()) {
        failed = s.status();
        break;
      }
      ++rounds;
    }
    done = true;
  });
  int64_t pending = 0;
  while (!done) {
    auto r = audit::Run(cfg_, {});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) break;
    EXPECT_FALSE(r->discrepancies()) << audit::FormatText(*r);
    pending += Count(*r, "pending");
    ++audits;
  }
  writer.join();
  ASSERT_TRUE(failed.ok()) << failed.ToString();
  EXPECT_GE(rounds, 6);
  EXPECT_GE(audits, 6);
  std::cerr << audits << " audits beside " << rounds << " syncs saw " << pending
            << " pending records\n";

  auto last = Audit();
  EXPECT_FALSE(last.discrepancies()) << audit::FormatText(last);
  EXPECT_EQ(Count(last, "ok"), std::stoll(Q("SELECT COUNT(*) FROM wk_wodtop_product")));
}

// Corrupt staging: copies of the state dir with the middle of their table files garbled (found
// only when the records are read: the open reads just the files' ends) or with CURRENT
// garbled (found at open). The audit exits 2 with an error naming the copy's dir.
TEST_F(AuditTest, CorruptStagingExitsTwoNamingTheStateDir) {
  emulators::KingdeeEmulator emu;
  SyncMaterials(emu, 200);
  if (HasFatalFailure()) return;
  namespace fs = std::filesystem;
  // A copy whose records are in table files: opening it read-write flushes its log into one.
  auto copy_of_state = [&](const std::string& name) {
    const std::string copy = dir_.Sub(name);
    fs::copy(dir_.Sub("state"), copy, fs::copy_options::recursive);
    fs::remove(copy + "/LOCK");
    auto log = stage::StagingLog::Open(copy);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return copy;
  };
  auto audit_of = [&](const std::string& state, std::string* out) {
    auto e = Edits("kingdee", emu.base_url(), "crm");
    e.state_dir = state;
    return RunTool(testing::SeedConfigJson("004-kingdee-material.json", e), {}, out);
  };
  std::string out;
  const std::string cut = copy_of_state("cut");
  ASSERT_EQ(audit_of(cut, &out), 0) << out;
  int tables = 0;
  for (const auto& f : fs::directory_iterator(cut)) {
    if (f.path().extension() != ".sst" || f.file_size() < 8192) continue;
    std::fstream io(f.path(), std::ios::in | std::ios::out | std::ios::binary);
    io.seekp(static_cast<std::streamoff>(f.file_size() / 3));
    io << std::string(512, 'Z');
    ++tables;
  }
  ASSERT_GT(tables, 0);
  EXPECT_EQ(audit_of(cut, &out), 2) << out;
  EXPECT_NE(out.find("reading the staging log in " + cut), std::string::npos) << out;
  EXPECT_NE(out.find("orrupt"), std::string::npos) << out;

  const std::string garbled = copy_of_state("garbled");
  std::ofstream(garbled + "/CURRENT", std::ios::trunc) << "MANIFEST-999999\n";
  EXPECT_EQ(audit_of(garbled, &out), 2) << out;
  EXPECT_NE(out.find("cannot open the staging log in " + garbled), std::string::npos) << out;
}

}  // namespace
}  // namespace stagesync
