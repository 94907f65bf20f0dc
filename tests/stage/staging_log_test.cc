#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "stagesync/hash.h"
#include "stagesync/stage.h"
#include "testing/fake_clock.h"
#include "testing/temp_dir.h"

namespace stagesync::stage {
namespace {

IncomingRecord Rec(const std::string& id, const std::string& content) {
  IncomingRecord r;
  r.source_id = id;
  r.raw = content;
  r.hash = HashBytes(content);
  return r;
}

PageCommit Page(std::vector<IncomingRecord> recs) {
  PageCommit p;
  p.records = std::move(recs);
  return p;
}

class StagingLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = StagingLog::Open(dir_.path());
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
    ASSERT_TRUE(log_->RegisterSinks("p", {"mysql", "kingdee"}).ok());
  }
  std::vector<ChangeEntry> Changes(uint64_t after = 0) {
    auto c = log_->ReadChanges("p", after, 1000);
    EXPECT_TRUE(c.ok());
    return c.ok() ? *c : std::vector<ChangeEntry>{};
  }

  testing::TempDir dir_;
  std::unique_ptr<StagingLog> log_;
};

TEST_F(StagingLogTest, NewRecordsGetChangeEntriesInSequenceOrder) {
  auto st = log_->CommitPage("p", Page({Rec("a", "{\"v\":1}"), Rec("b", "{\"v\":2}")}), 1000);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->added, 2);
  auto ch = Changes();
  ASSERT_EQ(ch.size(), 2u);
  EXPECT_EQ(ch[0].seq, 1u);
  EXPECT_EQ(ch[0].source_id, "a");
  EXPECT_EQ(ch[1].seq, 2u);
  auto r = log_->Get("p", "b");
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ((*r)->raw, "{\"v\":2}");
  EXPECT_EQ((*r)->seq, 2u);
  EXPECT_EQ((*r)->fetched_at_ms, 1000);
  EXPECT_EQ((*r)->hash, HashBytes("{\"v\":2}"));
}

TEST_F(StagingLogTest, UnchangedRecordWritesNothing) {
  ASSERT_TRUE(log_->CommitPage("p", Page({Rec("a", "{\"v\":1}")}), 1000).ok());
  uint64_t before = log_->StoreSequence();
  auto st = log_->CommitPage("p", Page({Rec("a", "{\"v\":1}")}), 2000);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->unchanged, 1);
  EXPECT_EQ(st->added + st->changed, 0);
  EXPECT_EQ(log_->StoreSequence(), before);
  EXPECT_EQ(Changes().size(), 1u);
  EXPECT_EQ((*log_->Get("p", "a"))->fetched_at_ms, 1000);
}

TEST_F(StagingLogTest, VersionsOfOneKeyCoalesce) {
  ASSERT_TRUE(log_->CommitPage("p", Page({Rec("a", "1"), Rec("b", "1")}), 1).ok());
  ASSERT_TRUE(log_->CommitPage("p", Page({Rec("a", "2")}), 2).ok());
  auto st = log_->CommitPage("p", Page({Rec("a", "3")}), 3);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->changed, 1);
  auto ch = Changes();
  ASSERT_EQ(ch.size(), 2u);  // b@2 and only the newest a@4
  EXPECT_EQ(ch[0].source_id, "b");
  EXPECT_EQ(ch[1].source_id, "a");
  EXPECT_EQ(ch[1].seq, 4u);
  EXPECT_EQ((*log_->Get("p", "a"))->raw, "3");
}

TEST_F(StagingLogTest, EachSinkHasItsOwnCursorAndTrimWaitsForTheSlowest) {
  ASSERT_TRUE(log_->CommitPage("p", Page({Rec("a", "1"), Rec("b", "1"), Rec("c", "1")}), 1).ok());
  ASSERT_TRUE(log_->AdvanceCursor("p", "mysql", 3).ok());
  EXPECT_EQ(*log_->Cursor("p", "mysql"), 3u);
  EXPECT_EQ(*log_->Cursor("p", "kingdee"), 0u);
  EXPECT_EQ(Changes(0).size(), 3u);  // kingdee still needs them
  auto sum = log_->Summary("p");
  ASSERT_TRUE(sum.ok());
  ASSERT_EQ(sum->sinks.size(), 2u);
  for (const auto& s : sum->sinks) EXPECT_EQ(s.pending, s.name == "mysql" ? 0 : 3) << s.name;
  ASSERT_TRUE(log_->AdvanceCursor("p", "kingdee", 2).ok());
  auto ch = Changes(0);
  ASSERT_EQ(ch.size(), 1u);  // 1 and 2 trimmed: every sink passed them
  EXPECT_EQ(ch[0].seq, 3u);
  // Cursors never move back.
  ASSERT_TRUE(log_->AdvanceCursor("p", "mysql", 1).ok());
  EXPECT_EQ(*log_->Cursor("p", "mysql"), 3u);
}

TEST_F(StagingLogTest, WatermarkAndOpenIdsCommitWithThePage) {
  PageCommit p = Page({Rec("a", "1")});
  p.watermark = 12345;
  p.open_ids_add = {"a"};
  ASSERT_TRUE(log_->CommitPage("p", p, 1).ok());
  EXPECT_EQ(**log_->Watermark("p"), 12345);
  EXPECT_EQ(*log_->OpenIds("p"), std::vector<std::string>{"a"});
  PageCommit q = Page({Rec("a", "2")});
  q.open_ids_remove = {"a"};
  ASSERT_TRUE(log_->CommitPage("p", q, 2).ok());
  EXPECT_TRUE(log_->OpenIds("p")->empty());
  EXPECT_EQ(**log_->Watermark("p"), 12345);
}

TEST_F(StagingLogTest, FetchFailuresAreQuarantinedUntilCleared) {
  PageCommit p;
  p.failures.push_back({"x", "pipeline p, record x, field status: missing", "{}"});
  ASSERT_TRUE(log_->CommitPage("p", p, 1).ok());
  EXPECT_EQ(*log_->FailedIds("p"), std::vector<std::string>{"x"});
  auto q = log_->Quarantined("p");
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->size(), 1u);
  EXPECT_EQ((*q)[0].stage, "fetch");
  EXPECT_EQ((*q)[0].error, "pipeline p, record x, field status: missing");
  PageCommit fix = Page({Rec("x", "ok")});
  fix.failures_cleared = {"x"};
  ASSERT_TRUE(log_->CommitPage("p", fix, 2).ok());
  EXPECT_TRUE(log_->FailedIds("p")->empty());
  EXPECT_TRUE(log_->Quarantined("p")->empty());
}

TEST_F(StagingLogTest, TombstoneForUnknownRecordWritesNothing) {
  IncomingRecord del = Rec("ghost", "{}");
  del.deleted = true;
  uint64_t before = log_->StoreSequence();
  ASSERT_TRUE(log_->CommitPage("p", Page({del}), 1).ok());
  EXPECT_EQ(log_->StoreSequence(), before);
  ASSERT_TRUE(log_->CommitPage("p", Page({Rec("real", "{}")}), 1).ok());
  IncomingRecord del2 = Rec("real", "{}");
  del2.deleted = true;
  auto st = log_->CommitPage("p", Page({del2}), 2);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->changed, 1);
  EXPECT_TRUE((*log_->Get("p", "real"))->deleted);
}

TEST_F(StagingLogTest, ASecondWriterGetsAClearErrorAndReadersStillWork) {
  auto second = StagingLog::Open(dir_.path());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(second.status().message().find("in use by another stagesync process"),
            std::string::npos);
  ASSERT_TRUE(log_->CommitPage("p", Page({Rec("a", "1")}), 1).ok());
  StageOptions ro;
  ro.read_only = true;
  auto reader = StagingLog::Open(dir_.path(), ro);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto r = (*reader)->Get("p", "a");
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_FALSE((*reader)->CommitPage("p", Page({Rec("b", "1")}), 1).ok());
}

TEST_F(StagingLogTest, StateSurvivesReopen) {
  PageCommit p = Page({Rec("a", "1"), Rec("b", "1")});
  p.watermark = 99;
  ASSERT_TRUE(log_->CommitPage("p", p, 1).ok());
  log_.reset();
  auto log = StagingLog::Open(dir_.path());
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(**(*log)->Watermark("p"), 99);
  auto st = (*log)->CommitPage("p", Page({Rec("c", "1")}), 2);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ((**(*log)->Get("p", "c")).seq, 3u);  // sequence continues after reopen
}

TEST_F(StagingLogTest, AnUnreadablePayloadKeepsItsExactBytesInQuarantine) {
  PageCommit p;
  const std::string raw = "{\"id\":7,\"name\":\"caf\xff\xfe\"}";
  p.failures.push_back({"7", "unreadable", raw});
  ASSERT_TRUE(log_->CommitPage("p", p, 1).ok());
  auto q = log_->Quarantined("p");
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->size(), 1u);
  EXPECT_EQ((*q)[0].payload, raw);
  EXPECT_EQ((*q)[0].error, "unreadable");
}

// Time comes from the Clock in StageOptions: a quarantine entry and a new dir's identity carry
// the injected clock's time, not the system's.
TEST(StagingLogClockTest, QuarantineAndIdentityTimesComeFromTheInjectedClock) {
  testing::TempDir dir;
  testing::FakeClock clock(1234567000);  // 1970: far from any real "now"
  StageOptions opts;
  opts.clock = &clock;
  auto log = StagingLog::Open(dir.path(), opts);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  ASSERT_TRUE((*log)->PutQuarantine("p", "mysql", {{"a", "bad", "{}"}}).ok());
  clock.Advance(5000000);
  ASSERT_TRUE((*log)->PutQuarantine("p", "mysql", {{"b", "bad", "{}"}}).ok());
  auto q = (*log)->Quarantined("p");
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->size(), 2u);
  EXPECT_EQ((*q)[0].source_id, "a");
  EXPECT_EQ((*q)[0].at_ms, 1234567);
  EXPECT_EQ((*q)[1].at_ms, 1239567);
  std::ifstream id(dir.Sub("STAGESYNC_ID"));
  std::string text((std::istreambuf_iterator<char>(id)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("\"created_at_ms\":1234567}"), std::string::npos) << text;
}

std::set<std::string> Files(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    out.insert(e.path().filename().string());
  }
  return out;
}

TEST_F(StagingLogTest, TheStateDirHasAnIdentityThatSurvivesReopen) {
  const std::string id = log_->InstanceId();
  EXPECT_EQ(id.size(), 32u);
  EXPECT_TRUE(std::filesystem::exists(dir_.Sub("STAGESYNC_ID")));
  log_.reset();
  auto again = StagingLog::Open(dir_.path());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->InstanceId(), id);
  testing::TempDir other;
  auto fresh = StagingLog::Open(other.Sub("new/state"));
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  EXPECT_NE((*fresh)->InstanceId(), id);
  struct stat st;
  ASSERT_EQ(::stat(other.Sub("new/state").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u) << "the state dir holds vendor tokens";
}

TEST_F(StagingLogTest, ALostCurrentFileIsRefusedAndNothingIsDeleted) {
  ASSERT_TRUE(log_->CommitPage("p", Page({Rec("a", "1")}), 1).ok());
  log_.reset();
  ASSERT_TRUE(std::filesystem::remove(dir_.Sub("CURRENT")));
  const auto before = Files(dir_.path());
  for (int run = 0; run < 2; ++run) {
    auto log = StagingLog::Open(dir_.path());
    ASSERT_FALSE(log.ok());
    EXPECT_EQ(log.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(log.status().message().find("CURRENT file is missing"), std::string::npos)
        << log.status().message();
    EXPECT_NE(log.status().message().find("Recovery:"), std::string::npos);
    EXPECT_EQ(Files(dir_.path()), before) << "run " << run;
  }
  // The recovery the message describes brings every record back.
  std::string newest;
  for (const auto& f : before) {
    if (f.rfind("MANIFEST-", 0) == 0 && f > newest) newest = f;
  }
  std::ofstream(dir_.Sub("CURRENT")) << newest << "\n";
  auto log = StagingLog::Open(dir_.path());
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_TRUE((**(*log)->Get("p", "a")).raw == "1");
}

TEST_F(StagingLogTest, AStampedDirWhoseDatabaseIsGoneIsNotStartedAfresh) {
  ASSERT_TRUE(log_->CommitPage("p", Page({Rec("a", "1")}), 1).ok());
  const std::string id = log_->InstanceId();
  log_.reset();
  for (const auto& f : Files(dir_.path())) {
    if (f != "STAGESYNC_ID") std::filesystem::remove(dir_.Sub(f));
  }
  auto log = StagingLog::Open(dir_.path());
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("belongs to staging instance " + id), std::string::npos)
      << log.status().message();
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("CURRENT")));
}

TEST(StagingLogOpenTest, RefusesToCreateADatabaseInADirWithOtherFiles) {
  testing::TempDir dir;
  std::ofstream(dir.Sub("notes.txt")) << "mine";
  auto log = StagingLog::Open(dir.path());
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("is not empty"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("CURRENT")));
}

TEST_F(StagingLogTest, ARefusedSecondWriterTouchesNoFileAndTheDirIsPrivate) {
  ASSERT_TRUE(log_->CommitPage("p", Page({Rec("a", "1")}), 1).ok());
  std::map<std::string, std::filesystem::file_time_type> before;
  for (const auto& e : std::filesystem::directory_iterator(dir_.path())) {
    before[e.path().filename().string()] = e.last_write_time();
  }
  for (int i = 0; i < 3; ++i) {
    auto second = StagingLog::Open(dir_.path());
    ASSERT_FALSE(second.ok());
  }
  std::map<std::string, std::filesystem::file_time_type> after;
  for (const auto& e : std::filesystem::directory_iterator(dir_.path())) {
    after[e.path().filename().string()] = e.last_write_time();
  }
  EXPECT_EQ(before, after);
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("LOG"))) << "RocksDB's info log is on stderr";
  struct stat st;
  ASSERT_EQ(::stat(dir_.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  for (const auto& e : std::filesystem::directory_iterator(dir_.path())) {
    ASSERT_EQ(::stat(e.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 077, 0u) << e.path() << " is readable by others";
  }
}

RunRecord MakeRun(int64_t started_ms, const std::string& outcome, const std::string& detail = "") {
  RunRecord r;
  r.started_ms = started_ms;
  r.ended_ms = started_ms + 1500;
  r.outcome = outcome;
  r.detail_json = detail;
  return r;
}

TEST_F(StagingLogTest, RunsGetIncreasingIdsPerPipelineAndReadNewestFirst) {
  for (int i = 1; i <= 3; ++i) {
    RunRecord r = MakeRun(i * 1000, "ok", R"({"fetch":{"added":)" + std::to_string(i) + "}}");
    ASSERT_TRUE(log_->AppendRun("p", &r).ok());
    EXPECT_EQ(r.id, i);
  }
  RunRecord other = MakeRun(5, "failed");
  ASSERT_TRUE(log_->AppendRun("q", &other).ok());
  EXPECT_EQ(other.id, 1);  // each pipeline counts on its own

  auto runs = log_->Runs("p", 2);
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ((*runs)[0].id, 3);
  EXPECT_EQ((*runs)[0].started_ms, 3000);
  EXPECT_EQ((*runs)[0].ended_ms, 4500);
  EXPECT_EQ((*runs)[0].outcome, "ok");
  EXPECT_EQ((*runs)[0].detail_json, R"({"fetch":{"added":3}})");
  EXPECT_EQ((*runs)[1].id, 2);
  auto q = log_->Runs("q", 10);
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->size(), 1u);
  EXPECT_EQ((*q)[0].outcome, "failed");
  EXPECT_EQ((*q)[0].detail_json, "{}");
  // A pipeline known only by its runs is still listed.
  auto ps = log_->Pipelines();
  ASSERT_TRUE(ps.ok());
  EXPECT_EQ(*ps, (std::vector<std::string>{"p", "q"}));

  RunRecord bad = MakeRun(9, "ok", "[1,2]");
  const uint64_t before = log_->StoreSequence();
  EXPECT_EQ(log_->AppendRun("p", &bad).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(log_->StoreSequence(), before);
}

TEST_F(StagingLogTest, RunsSurviveReopenAndReadOnlyOpensReadThem) {
  RunRecord a = MakeRun(1000, "ok"), b = MakeRun(2000, "partial", R"({"error":"x"})");
  ASSERT_TRUE(log_->AppendRun("p", &a).ok());
  ASSERT_TRUE(log_->AppendRun("p", &b).ok());
  log_.reset();
  {
    StageOptions ro;
    ro.read_only = true;
    auto reader = StagingLog::Open(dir_.path(), ro);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    auto runs = (*reader)->Runs("p", 10);
    ASSERT_TRUE(runs.ok()) << runs.status().ToString();
    ASSERT_EQ(runs->size(), 2u);
    EXPECT_EQ((*runs)[0].outcome, "partial");
    EXPECT_EQ((*runs)[0].detail_json, R"({"error":"x"})");
    RunRecord c = MakeRun(3000, "ok");
    EXPECT_FALSE((*reader)->AppendRun("p", &c).ok());
  }
  auto log = StagingLog::Open(dir_.path());
  ASSERT_TRUE(log.ok());
  RunRecord c = MakeRun(3000, "stopped");
  ASSERT_TRUE((*log)->AppendRun("p", &c).ok());
  EXPECT_EQ(c.id, 3);  // ids continue after reopen
}

TEST(StagingLogRunsTest, HistoryKeepsTheNewest1000) {
  testing::TempDir dir;
  StageOptions opts;
  opts.sync = false;  // 1005 fsyncs would make this slow; trimming does not depend on them
  auto log = StagingLog::Open(dir.path(), opts);
  ASSERT_TRUE(log.ok());
  for (int i = 1; i <= 1005; ++i) {
    RunRecord r = MakeRun(i, "ok");
    ASSERT_TRUE((*log)->AppendRun("p", &r).ok());
    ASSERT_EQ(r.id, i);
  }
  RunRecord other = MakeRun(1, "ok");
  ASSERT_TRUE((*log)->AppendRun("q", &other).ok());
  auto runs = (*log)->Runs("p", 5000);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 1000u);
  EXPECT_EQ(runs->front().id, 1005);
  EXPECT_EQ(runs->back().id, 6);
  EXPECT_EQ(runs->back().started_ms, 6);
  EXPECT_EQ((*(*log)->Runs("q", 5000)).size(), 1u);  // another pipeline's history is untouched
}

TEST_F(StagingLogTest, QuotaCountsAreKeptPerConnectionAcrossReopen) {
  EXPECT_EQ(*log_->GetQuota("dt"), "");
  ASSERT_TRUE(log_->PutQuota("dt", R"({"day":"2026-12-01","used":7})").ok());
  ASSERT_TRUE(log_->PutQuota("kd", R"({"day":"2026-12-01","used":1})").ok());
  log_.reset();
  StageOptions ro;
  ro.read_only = true;
  auto reader = StagingLog::Open(dir_.path(), ro);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(*(*reader)->GetQuota("dt"), R"({"day":"2026-12-01","used":7})");
  EXPECT_EQ(*(*reader)->GetQuota("kd"), R"({"day":"2026-12-01","used":1})");
  auto ps = (*reader)->Pipelines();
  ASSERT_TRUE(ps.ok());
  EXPECT_EQ(*ps, std::vector<std::string>{"p"});  // a quota is no pipeline
}

}  // namespace
}  // namespace stagesync::stage
