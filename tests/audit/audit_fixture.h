// The fixture of the audit's integration tests: a seed pipeline against the emulators and the
// MariaDB fixture, audit::Run, and the stagesync-audit binary on the same config.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "audit/audit.h"
#include "emulators/kingdee_emulator.h"
#include "testing/mariadb.h"
#include "testing/pipeline_test.h"
#include "testing/seed_config.h"
#include "testing/subprocess.h"

namespace stagesync {

using testing::Num;

class AuditTest : public testing::PipelineTest<> {
 protected:
  void SetUp() override { ASSERT_TRUE(db_.ok()) << "no MariaDB: is the mariadb fixture running?"; }

  void LoadJson(const std::string& json) {
    json_ = json;
    PipelineTest::Load(json);
  }

  testing::SeedEdits Edits(const std::string& vendor, const std::string& url,
                           const std::string& mysql_connection) {
    auto e = testing::EmulatorSeedEdits(vendor, url, dir_.Sub("state"), {{"qps", Num(500)}});
    e.mysql_connection = mysql_connection;
    e.mysql_port = db_.port();
    e.mysql_database = db_.name();
    return e;
  }

  // Seed 004 with n generated materials, synced into the fixture.
  // `sink_option`/`sink_json`, when given, set one option of the sink (e.g. its columns).
  void SyncMaterials(emulators::KingdeeEmulator& emu, int n, uint64_t seed = 40,
                     const std::string& sink_option = "", const std::string& sink_json = "") {
    ASSERT_TRUE(db_.Source(STAGESYNC_SOURCE_DIR "/conf/sql/wk_wodtop_product.sql").ok());
    ASSERT_TRUE(emu.Start(0));
    emu.GenerateMaterials(n, seed);
    auto e = Edits("kingdee", emu.base_url(), "crm");
    if (!sink_option.empty()) {
      auto v = json::Parse(sink_json);
      ASSERT_TRUE(v.ok()) << sink_json;
      e.sink = {{sink_option, *v}};
    }
    LoadJson(testing::SeedConfigJson("004-kingdee-material.json", e));
    auto s = Sync();
    ASSERT_TRUE(s.ok()) << s.status().ToString();
  }

  // The materials seed 004 applies (org T00, audited, not forbidden).
  static std::vector<int64_t> AppliedMaterials(const emulators::KingdeeEmulator& emu) {
    std::vector<int64_t> ids;
    for (const auto& m : emu.Materials()) {
      if (m.use_org == "T00" && m.document_status == "C" && m.forbid_status == "A") {
        ids.push_back(m.master_id);
      }
    }
    return ids;
  }

  audit::AuditReport Audit(const audit::AuditOptions& o = {}) {
    auto r = audit::Run(cfg_, o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : audit::AuditReport{};
  }

  std::string Q(const std::string& sql) {
    auto v = db_.Scalar(sql);
    EXPECT_TRUE(v.ok()) << sql << ": " << v.status().ToString();
    return v.ok() ? *v : "";
  }

  void Exec(const std::string& sql) {
    Status s = db_.conn()->Execute(sql);
    ASSERT_TRUE(s.ok()) << sql << ": " << s.ToString();
  }

  // Runs the stagesync-audit binary on `json` written to a file; returns its exit code and
  // puts its stdout and stderr in *out.
  int RunTool(const std::string& json, const std::vector<std::string>& args, std::string* out) {
    const std::string conf = dir_.Sub("audit.json");
    const std::string log = dir_.Sub("audit.log");
    std::ofstream(conf) << json;
    std::remove(log.c_str());
    std::vector<std::string> argv = {STAGESYNC_AUDIT_BIN, "--config", conf};
    argv.insert(argv.end(), args.begin(), args.end());
    const int code = testing::Run(argv, {}, log);
    std::ifstream in(log);
    std::stringstream ss;
    ss << in.rdbuf();
    *out = ss.str();
    return code;
  }

  static const audit::Finding* Find(const audit::AuditReport& r, const std::string& cls,
                                    const std::string& key) {
    for (const auto& f : r.findings) {
      if (f.cls == cls && f.key == key) return &f;
    }
    return nullptr;
  }

  static int64_t Count(const audit::AuditReport& r, const std::string& cls) {
    int64_t n = 0;
    for (const auto& s : r.sinks) {
      auto it = s.counts.find(cls);
      if (it != s.counts.end()) n += it->second;
    }
    return n;
  }

  testing::TestDatabase db_;
  std::string json_;
};

}  // namespace stagesync
