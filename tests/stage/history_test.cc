// Per-record history in staging: kept versions, field-level diffs, trimming, history off, no
// write for an unchanged record, and a history entry durable exactly when its record is.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "stage/record_history.h"
#include "stagesync/hash.h"
#include "stagesync/stage.h"
#include "testing/temp_dir.h"

namespace stagesync::stage {
namespace {

IncomingRecord Rec(const std::string& id, const std::string& content, bool deleted = false) {
  IncomingRecord r;
  r.source_id = id;
  r.raw = content;
  r.hash = HashBytes(content);
  r.deleted = deleted;
  return r;
}

PageCommit Page(std::vector<IncomingRecord> recs, uint32_t keep = kDefaultHistoryVersions) {
  PageCommit p;
  p.records = std::move(recs);
  p.history_versions = keep;
  return p;
}

std::string Show(const std::vector<FieldChange>& cs) {
  std::string out;
  for (const auto& c : cs) {
    out += c.op + " " + c.path + " " + c.old_json + " -> " + c.new_json + "\n";
  }
  return out;
}

TEST(RecordDiffTest, NamesEachNestedFieldAddedRemovedOrChangedWithOldAndNewValues) {
  auto d = DiffRecords(
      R"({"a":1,"b":{"c":"x","d":[1,2],"e":true},"gone":"old","items":[{"q":1},{"q":2}]})",
      R"({"a":1,"b":{"c":"y","d":[1,2,3],"f":null},"items":[{"q":1},{"q":5}],"new":{"k":1}})");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(Show(*d),
            "changed b.c \"x\" -> \"y\"\n"
            "changed b.d [1,2] -> [1,2,3]\n"
            "removed b.e true -> \n"
            "added b.f  -> null\n"
            "removed gone \"old\" -> \n"
            "changed items[1].q 2 -> 5\n"
            "added new  -> {\"k\":1}\n");
  auto same = DiffRecords(R"({"a":{"b":1.50}})", R"({"a":{"b":1.50}})");
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(same->empty());
  EXPECT_FALSE(DiffRecords("{", "{}").ok());
}

TEST(RecordDiffTest, EncodedVersionReadsBack) {
  RecordVersion v;
  v.seq = 7;
  v.staged_at_ms = 1234;
  v.hash = HashBytes("x");
  v.kind = "changed";
  v.changes = {{"a.b", "changed", "\"x\"", "\"y\""}, {"c", "removed", "null", ""}};
  auto back = DecodeVersion(EncodeVersion(v), "p/a");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->seq, 7u);
  EXPECT_EQ(back->staged_at_ms, 1234);
  EXPECT_EQ(back->hash, v.hash);
  EXPECT_EQ(back->kind, "changed");
  EXPECT_EQ(Show(back->changes), Show(v.changes));
  EXPECT_EQ(DecodeVersion("{}", "p/a").status().code(), StatusCode::kDataLoss);
}

class HistoryTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    log_.reset();
    auto log = StagingLog::Open(dir_.path());
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
  }
  void Commit(std::vector<IncomingRecord> recs, int64_t now_ms,
              uint32_t keep = kDefaultHistoryVersions) {
    auto st = log_->CommitPage("p", Page(std::move(recs), keep), now_ms);
    ASSERT_TRUE(st.ok()) << st.status().ToString();
  }
  std::vector<RecordVersion> History(const std::string& id) {
    auto h = log_->History("p", id);
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    return h.ok() ? *h : std::vector<RecordVersion>{};
  }

  testing::TempDir dir_;
  std::unique_ptr<StagingLog> log_;
};

TEST_F(HistoryTest, EachVersionKeptWithTimeSeqHashAndFieldDiff) {
  Commit({Rec("a", R"({"name":"bolt","price":"1.00"})"), Rec("b", R"({"name":"nut"})")}, 1000);
  Commit({Rec("a", R"({"name":"bolt","price":"1.20"})")}, 2000);
  Commit({Rec("a", R"({"name":"bolt M6","price":"1.20","unit":"pcs"})")}, 3000);
  Commit({Rec("a", "{}", true)}, 4000);
  Commit({Rec("a", R"({"name":"bolt M6"})")}, 5000);
  auto h = History("a");
  ASSERT_EQ(h.size(), 5u);
  EXPECT_EQ(h[0].kind, "created");
  EXPECT_EQ(h[0].seq, 1u);
  EXPECT_EQ(h[0].staged_at_ms, 1000);
  EXPECT_EQ(h[0].hash, HashBytes(R"({"name":"bolt","price":"1.00"})"));
  EXPECT_TRUE(h[0].changes.empty());
  EXPECT_EQ(h[1].kind, "changed");
  EXPECT_EQ(h[1].seq, 3u);
  EXPECT_EQ(h[1].staged_at_ms, 2000);
  EXPECT_EQ(Show(h[1].changes), "changed price \"1.00\" -> \"1.20\"\n");
  EXPECT_EQ(Show(h[2].changes), "changed name \"bolt\" -> \"bolt M6\"\nadded unit  -> \"pcs\"\n");
  EXPECT_EQ(h[3].kind, "deleted");
  EXPECT_EQ(h[4].kind, "restored");
  EXPECT_EQ(h[4].seq, (*log_->Get("p", "a"))->seq);
  // Another record's history is its own, also for an id that extends this one.
  EXPECT_EQ(History("b").size(), 1u);
  Commit({Rec(std::string("a\0", 2) + "1234567", R"({"x":1})")}, 6000);
  EXPECT_EQ(History("a").size(), 5u);
  // Read back by a read-only open, as the audit does.
  StageOptions ro;
  ro.read_only = true;
  auto reader = StagingLog::Open(dir_.path(), ro);
  ASSERT_TRUE(reader.ok());
  auto hr = (*reader)->History("p", "a");
  ASSERT_TRUE(hr.ok());
  EXPECT_EQ(hr->size(), 5u);
}

TEST_F(HistoryTest, OldestVersionsTrimmedAtTheLimitAlsoWithinOnePage) {
  for (int i = 1; i <= 6; ++i) {
    Commit({Rec("a", "{\"v\":" + std::to_string(i) + "}")}, i, 3);
  }
  auto h = History("a");
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(Show(h[0].changes), "changed v 3 -> 4\n");
  EXPECT_EQ(Show(h[2].changes), "changed v 5 -> 6\n");
  // Two versions of one id in a page: each diffed against the one before it.
  Commit({Rec("a", R"({"v":7})"), Rec("a", R"({"v":8})")}, 10, 3);
  h = History("a");
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(Show(h[1].changes), "changed v 6 -> 7\n");
  EXPECT_EQ(Show(h[2].changes), "changed v 7 -> 8\n");
  // A new id three times in one page, two kept: the first copy's version is trimmed in the page.
  Commit({Rec("n", R"({"v":1})"), Rec("n", R"({"v":2})"), Rec("n", R"({"v":3})")}, 10, 2);
  h = History("n");
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(Show(h[0].changes), "changed v 1 -> 2\n");
  EXPECT_EQ(Show(h[1].changes), "changed v 2 -> 3\n");
  // A smaller limit trims at the record's next change.
  Commit({Rec("a", R"({"v":9})")}, 11, 1);
  h = History("a");
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(Show(h[0].changes), "changed v 8 -> 9\n");
}

TEST_F(HistoryTest, UnchangedRecordWritesNoHistory) {
  Commit({Rec("a", R"({"v":1})")}, 1);
  const uint64_t before = log_->StoreSequence();
  Commit({Rec("a", R"({"v":1})")}, 2);
  EXPECT_EQ(log_->StoreSequence(), before);
  EXPECT_EQ(History("a").size(), 1u);
}

TEST_F(HistoryTest, ZeroVersionsWritesNone) {
  Commit({Rec("a", R"({"v":1})")}, 1, 0);
  Commit({Rec("a", R"({"v":2})")}, 2, 0);
  EXPECT_TRUE(History("a").empty());
  EXPECT_EQ((*log_->Get("p", "a"))->raw, R"({"v":2})");
  // Turned on later: history starts at the next change, diffed from the staged version.
  Commit({Rec("a", R"({"v":3})")}, 3);
  auto h = History("a");
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(Show(h[0].changes), "changed v 2 -> 3\n");
}

// A writer killed at any moment leaves every record with its newest history entry: both are in
// one write batch. (Written apart, a kill between the two syncs leaves a record without it.)
TEST(HistoryCrashTest, KilledWriterLeavesEachRecordWithItsNewestVersion) {
  testing::TempDir dir;
  for (int round = 0; round < 5; ++round) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto log = StagingLog::Open(dir.path());
      if (!log.ok()) _exit(3);
      for (int i = 0;; ++i) {
        std::vector<IncomingRecord> recs;
        for (int k = 0; k < 20; ++k) {
          recs.push_back(Rec("r" + std::to_string(k), "{\"round\":" + std::to_string(round) +
                                                          ",\"i\":" + std::to_string(i) + "}"));
        }
        if (!(*log)->CommitPage("p", Page(std::move(recs), 4), i).ok()) _exit(4);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + 37 * round));
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the writer stopped by itself: " << status;
    auto log = StagingLog::Open(dir.path());
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    for (int k = 0; k < 20; ++k) {
      const std::string id = "r" + std::to_string(k);
      auto rec = (*log)->Get("p", id);
      auto h = (*log)->History("p", id);
      ASSERT_TRUE(rec.ok() && h.ok());
      if (!*rec) continue;
      ASSERT_FALSE(h->empty()) << id;
      EXPECT_EQ(h->back().seq, (**rec).seq) << id << " round " << round;
      EXPECT_EQ(h->back().hash, (**rec).hash) << id << " round " << round;
      EXPECT_LE(h->size(), 4u);
    }
  }
}

}  // namespace
}  // namespace stagesync::stage
