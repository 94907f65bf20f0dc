// stagesync-dump as an engineer runs it: the HTTP sinks' outcomes and open intents (which bill
// a record produced), and no terminal escape sequence from vendor data reaching the output.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "stagesync/hash.h"
#include "stagesync/stage.h"
#include "testing/subprocess.h"
#include "testing/temp_dir.h"

namespace stagesync {
namespace {

const std::string kDump = STAGESYNC_BINARY_DIR "/stagesync-dump";

class DumpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = stage::StagingLog::Open(dir_.Sub("state"));
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    ASSERT_TRUE((*log)->RegisterSinks("p", {"kingdee_push", "bi"}).ok());
    stage::PageCommit page;
    for (const std::string& id : {std::string("A-1"), std::string("A-2"), kHostileId}) {
      // The raw JSON holds a C1 CSI (U+009B) and a DEL, which JSON does not escape.
      std::string raw =
          "{\"name\":\"x\xc2\x9b"
          "31m\x7fy\",\"id\":\"" +
          id + "\"}";
      page.records.push_back({id, HashBytes(raw), raw, false});
    }
    page.failures.push_back(
        {"Q\x1b]0;owned\x07", "bad record \x1b[2J here", "{\"a\":\"\x1b[31m\"}"});
    ASSERT_TRUE((*log)->CommitPage("p", page, 1000).ok());
    ASSERT_TRUE((*log)
                    ->PutIntents("p", "kingdee_push",
                                 {{"A-1", R"({"hash":"00","attempt":1,"at_ms":5,"payload":"{}"})"},
                                  {"A-2", R"({"hash":"00","attempt":2,"at_ms":6,"payload":"{}"})"}})
                    .ok());
    ASSERT_TRUE((*log)
                    ->CompleteIntent("p", "kingdee_push", "A-1",
                                     R"({"target_id":"100234","number":"FKD00000071","hash":"00",)"
                                     R"("mapping":"m","deleted":false,"changes_reported":0})")
                    .ok());
  }

  // Runs stagesync-dump --state DIR args...; returns its stdout.
  std::string Dump(std::vector<std::string> args, int* code = nullptr) {
    const std::string out = dir_.Sub("dump" + std::to_string(runs_++) + ".out");
    std::vector<std::string> argv = {kDump, "--state", dir_.Sub("state")};
    argv.insert(argv.end(), args.begin(), args.end());
    int rc = testing::Run(argv, {}, out);
    if (code != nullptr) *code = rc;
    std::ifstream in(out, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  static void ExpectNoControlBytes(const std::string& out) {
    for (size_t i = 0; i < out.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(out[i]);
      ASSERT_FALSE(c < 0x20 && c != '\n' && c != '\t') << "control byte " << int(c) << " at " << i;
      ASSERT_NE(c, 0x7F) << "DEL at " << i;
      if (c == 0xC2 && i + 1 < out.size()) {
        const unsigned char d = static_cast<unsigned char>(out[i + 1]);
        ASSERT_FALSE(d >= 0x80 && d <= 0x9F) << "C1 control at " << i;
      }
    }
  }

  inline static const std::string kHostileId = "B\x1b[31mred";
  testing::TempDir dir_;
  int runs_ = 0;
};

TEST_F(DumpTest, OutcomesAndIntentsShowWhichBillARecordProduced) {
  int code = 0;
  std::string out = Dump({"--outcomes"}, &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out, "p\tkingdee_push\tA-1\ttarget_id=100234\tnumber=FKD00000071\n");
  out = Dump({"--intents"}, &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out, "p\tkingdee_push\tA-2\tattempt=2\tsince=1970-01-01T00:00:00.006Z\n");
  out = Dump({"--outcomes", "--pipeline", "p", "--key", "A-2"});
  EXPECT_EQ(out, "");  // no outcome yet: only an intent
  out = Dump({"--intents", "--pipeline", "p", "--key", "A-2", "--format", "jsonl"});
  EXPECT_NE(out.find(R"("key":"A-2","intent":{"hash":"00","attempt":2)"), std::string::npos) << out;
  out = Dump({"--outcomes", "--sink", "bi"});
  EXPECT_EQ(out, "");
  out = Dump({"--pipeline", "p", "--key", "A-1"});
  EXPECT_NE(out.find("sink kingdee_push: target_id=100234 number=FKD00000071"), std::string::npos)
      << out;
  out = Dump({"--pipeline", "p", "--key", "A-1", "--format", "jsonl"});
  EXPECT_NE(out.find(R"("sinks":{"kingdee_push":{"outcome":{"target_id":"100234")"),
            std::string::npos)
      << out;
}

// --key lists the record's kept versions with the fields each changed, escaped like the rest.
TEST_F(DumpTest, KeyListsTheRecordsVersionsWithTheFieldsEachChanged) {
  {
    auto log = stage::StagingLog::Open(dir_.Sub("state"));
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    stage::PageCommit page;
    const std::string raw = R"({"\u001b[2Jk":1,"id":"A-2","name":"z"})";
    page.records.push_back({"A-2", HashBytes(raw), raw, false});
    ASSERT_TRUE((*log)->CommitPage("p", page, 2000).ok());
  }
  int code = 0;
  std::string out = Dump({"--pipeline", "p", "--key", "A-2"}, &code);
  EXPECT_EQ(code, 0) << out;
  ExpectNoControlBytes(out);
  EXPECT_NE(out.find("version:    seq 2 1970-01-01T00:00:01.000Z created\n"
                     "version:    seq 4 1970-01-01T00:00:02.000Z changed (name, \\x1b[2Jk)\n"),
            std::string::npos)
      << out;
  out = Dump({"--pipeline", "p", "--key", "A-2", "--format", "jsonl"});
  EXPECT_NE(out.find(R"("kind":"changed","fields":["name","\u001b[2Jk"]}])"), std::string::npos)
      << out;
}

TEST_F(DumpTest, VendorDataCannotDriveTheTerminal) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {},
           {"--quarantine"},
           {"--quarantine", "--format", "jsonl"},
           {"--pending"},
           {"--pending", "--format", "jsonl"},
           {"--pipeline", "p", "--key", kHostileId},
           {"--pipeline", "p", "--key", kHostileId, "--format", "jsonl"}}) {
    int code = 0;
    const std::string out = Dump(args, &code);
    std::string what;
    for (const auto& a : args) what += a + " ";
    EXPECT_EQ(code, 0) << what << out;
    EXPECT_FALSE(out.empty()) << what;
    ExpectNoControlBytes(out);
    if (HasFatalFailure()) FAIL() << "with " << what;
  }
  const std::string q = Dump({"--quarantine"});
  EXPECT_NE(q.find("Q\\x1b]0;owned\\x07"), std::string::npos) << q;
  EXPECT_NE(q.find("bad record \\x1b[2J here"), std::string::npos) << q;
  const std::string rec = Dump({"--pipeline", "p", "--key", kHostileId});
  EXPECT_NE(rec.find("key:        B\\x1b[31mred"), std::string::npos) << rec;
  EXPECT_NE(rec.find("x\\u009b31m\\x7fy"), std::string::npos) << rec;
  const std::string jl = Dump({"--pipeline", "p", "--key", "A-1", "--format", "jsonl"});
  EXPECT_NE(jl.find(R"("name":"x\u009b31m\u007fy")"), std::string::npos) << jl;
}

TEST_F(DumpTest, RunsNewestFirstPerPipelineWithASummary) {
  {
    auto log = stage::StagingLog::Open(dir_.Sub("state"));
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    stage::RunRecord a{0, 1796082600000, 1796082661500, "ok",
                       R"({"fetch":{"added":3,"changed":1},"apply":{"bi":{"rows":4}}})"};
    stage::RunRecord b{0, 1796082700000, 1796082700300, "failed",
                       R"({"error":"vendor said \u001b[2J no"})"};
    stage::RunRecord c{0, 1796082800000, 1796082800000, "skipped", ""};
    ASSERT_TRUE((*log)->AppendRun("p", &a).ok());
    ASSERT_TRUE((*log)->AppendRun("p", &b).ok());
    ASSERT_TRUE((*log)->AppendRun("q", &c).ok());  // a pipeline with nothing staged
  }
  int code = 0;
  std::string out = Dump({"--runs"}, &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out,
            "p\t2\t2026-11-30T23:51:40.000Z\t2026-11-30T23:51:40.300Z\t0.3s\tfailed\t"
            "error: vendor said \\x1b[2J no\n"
            "p\t1\t2026-11-30T23:50:00.000Z\t2026-11-30T23:51:01.500Z\t61.5s\tok\t"
            "fetch.added=3 fetch.changed=1 apply.bi.rows=4\n"
            "q\t1\t2026-11-30T23:53:20.000Z\t2026-11-30T23:53:20.000Z\t0.0s\tskipped\t\n");
  out = Dump({"--runs", "--pipeline", "p", "--limit", "1", "--format", "jsonl"}, &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out, R"({"pipeline":"p","id":2,"started_ms":1796082700000,"ended_ms":1796082700300,)"
                 R"("outcome":"failed","detail":{"error":"vendor said \u001b[2J no"}})"
                 "\n");
  ExpectNoControlBytes(Dump({"--runs"}));
  Dump({"--runs", "--pending"}, &code);
  EXPECT_EQ(code, 2);
}

}  // namespace
}  // namespace stagesync
