// Unit tests of the applier's cursor rules (apply::Drain) on a fake Sink and a real StagingLog:
// each entry is applied once, in order; the cursor moves only after a batch committed; a
// target ahead of the cursor (a crash lost the cursor update) catches the cursor up without
// applying again; a target behind it never moves the cursor back.
#include <gtest/gtest.h>

#include "stagesync/apply.h"
#include "stagesync/hash.h"
#include "testing/fake_clock.h"
#include "testing/temp_dir.h"

namespace stagesync::apply {
namespace {

// Applies nothing anywhere: records what it was given, reports a scripted TargetOffset, and
// fails the batch number `fail_batch` (1-based; 0 = none).
class FakeSink final : public sink::Sink {
 public:
  Result<uint64_t> TargetOffset() override { return target_offset; }
  Status ApplyBatch(const std::vector<stage::StagedRecord>& records, uint64_t max_seq,
                    const sink::QuarantineFn&, sink::BatchStats* stats) override {
    if (++batches == fail_batch) return Unavailable("target went away");
    for (const auto& r : records) applied.push_back(r.source_id);
    max_seqs.push_back(max_seq);
    stats->applied += static_cast<int64_t>(records.size());
    return Status::Ok();
  }
  size_t batch_records() const override { return 2; }
  size_t batch_bytes() const override { return 1 << 20; }
  std::string MappingHash() const override { return mapping; }

  uint64_t target_offset = 0;
  int fail_batch = 0;
  int batches = 0;
  std::string mapping = "m1";
  std::vector<std::string> applied;
  std::vector<uint64_t> max_seqs;
};

class CursorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = stage::StagingLog::Open(dir_.path());
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
    // A second sink that never drains keeps every entry in the change log.
    ASSERT_TRUE(log_->RegisterSinks("p", {"s", "audit"}).ok());
  }
  // Stages records with these ids (seq 1, 2, ... in order of staging).
  void Stage(const std::vector<std::string>& ids, const std::string& version = "1") {
    stage::PageCommit page;
    for (const auto& id : ids) {
      std::string raw = "{\"id\":\"" + id + "\",\"v\":" + version + "}";
      page.records.push_back({id, HashBytes(raw), raw, false});
    }
    ASSERT_TRUE(log_->CommitPage("p", page, clock_.NowMillis()).ok());
  }
  Result<ApplySummary> Drain() { return apply::Drain("p", "s", &sink_, log_.get(), &clock_); }
  uint64_t Cursor() { return *log_->Cursor("p", "s"); }

  testing::TempDir dir_;
  testing::FakeClock clock_;
  std::unique_ptr<stage::StagingLog> log_;
  FakeSink sink_;
};

using Ids = std::vector<std::string>;

TEST_F(CursorTest, EachEntryIsAppliedOnceInOrderAndTheCursorMovesPerBatch) {
  Stage({"a", "b", "c", "d", "e"});
  auto sum = Drain();
  ASSERT_TRUE(sum.ok()) << sum.status().ToString();
  EXPECT_EQ(sink_.applied, (Ids{"a", "b", "c", "d", "e"}));
  EXPECT_EQ(sink_.max_seqs, (std::vector<uint64_t>{2, 4, 5}));
  EXPECT_EQ(Cursor(), 5u);
  EXPECT_EQ(sum->changes, 5);

  ASSERT_TRUE(Drain().ok());  // nothing new: nothing applied
  EXPECT_EQ(sink_.applied.size(), 5u);
}

TEST_F(CursorTest, AFailedBatchLeavesTheCursorAtTheLastCommittedOne) {
  Stage({"a", "b", "c", "d", "e"});
  sink_.fail_batch = 2;
  EXPECT_EQ(Drain().status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(Cursor(), 2u);
  ASSERT_TRUE(Drain().ok());
  EXPECT_EQ(sink_.applied, (Ids{"a", "b", "c", "d", "e"}));
  EXPECT_EQ(Cursor(), 5u);
}

TEST_F(CursorTest, ATargetAheadCatchesTheCursorUpWithoutApplyingAgain) {
  ASSERT_TRUE(Drain().ok());  // a first run (nothing staged yet) records the sink's mapping
  Stage({"a", "b", "c", "d", "e"});
  sink_.target_offset = 3;  // committed up to 3, then a crash lost the cursor update
  auto sum = Drain();
  ASSERT_TRUE(sum.ok()) << sum.status().ToString();
  EXPECT_EQ(sink_.applied, (Ids{"d", "e"}));
  EXPECT_EQ(sum->recovered, 3);
  EXPECT_EQ(Cursor(), 5u);
}

TEST_F(CursorTest, ATargetBehindNeverMovesTheCursorBack) {
  Stage({"a", "b", "c", "d"});
  ASSERT_TRUE(Drain().ok());
  sink_.applied.clear();
  sink_.target_offset = 1;  // e.g. the target restored from an older backup
  Stage({"e"});
  auto sum = Drain();
  ASSERT_TRUE(sum.ok()) << sum.status().ToString();
  EXPECT_EQ(sink_.applied, Ids{"e"});
  EXPECT_EQ(sum->recovered, 0);
  EXPECT_EQ(Cursor(), 5u);
}

TEST_F(CursorTest, AChangedRecordIsAppliedAgainAndOnlyItsNewestVersion) {
  Stage({"a", "b"});
  ASSERT_TRUE(Drain().ok());
  Stage({"a"}, "2");
  Stage({"a"}, "3");  // two versions before the next apply: one entry, the newest
  auto sum = Drain();
  ASSERT_TRUE(sum.ok());
  EXPECT_EQ(sink_.applied, (Ids{"a", "b", "a"}));
  EXPECT_EQ(sum->changes, 1);
  EXPECT_EQ(Cursor(), 4u);
}

TEST_F(CursorTest, AMappingChangeReappliesWhatTheCursorPassedAndNothingPendingTwice) {
  Stage({"a", "b", "c"});
  ASSERT_TRUE(Drain().ok());
  Stage({"d"});  // pending in the change log
  sink_.applied.clear();
  sink_.mapping = "m2";
  auto sum = Drain();
  ASSERT_TRUE(sum.ok()) << sum.status().ToString();
  EXPECT_EQ(sink_.applied, (Ids{"a", "b", "c", "d"}));
  EXPECT_EQ(sum->reapplied, 3);
  EXPECT_EQ(Cursor(), 4u);
}

}  // namespace
}  // namespace stagesync::apply
