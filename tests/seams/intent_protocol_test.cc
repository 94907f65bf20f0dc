// Unit tests of the intent protocol (IntentSink) on a FakeTarget, a real StagingLog in a temp
// dir and a fake clock: the four outcomes of a create (created, rejected, unknown then found,
// unknown then absent), and that no record is ever created twice, whatever the answers.
#include <gtest/gtest.h>

#include "connectors/common/intent_sink.h"
#include "stagesync/hash.h"
#include "testing/fake_clock.h"
#include "testing/fake_target.h"
#include "testing/temp_dir.h"

namespace stagesync::sink {
namespace {

using Outcome = testing::FakeTarget::Outcome;

class IntentProtocolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = stage::StagingLog::Open(dir_.path());
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
    auto target = std::make_unique<testing::FakeTarget>();
    target_ = target.get();
    IntentSinkOptions o;
    o.max_create_attempts = 3;
    sink_ = std::make_unique<IntentSink>("p", "s", std::move(target), log_.get(), &clock_, o);
  }

  Status Apply(const std::vector<std::string>& ids, const std::string& version = "1") {
    std::vector<stage::StagedRecord> recs;
    for (const auto& id : ids) {
      stage::StagedRecord r;
      r.source_id = id;
      r.raw = "{\"id\":\"" + id + "\",\"v\":" + version + "}";
      r.hash = HashBytes(r.raw);
      r.seq = recs.size() + 1;
      recs.push_back(r);
    }
    stats_ = {};
    auto quarantine = [this](const std::vector<stage::FetchFailure>& bad) {
      for (const auto& b : bad) quarantined_.push_back(b.source_id);
      return Status::Ok();
    };
    return sink_->ApplyBatch(recs, recs.size(), quarantine, &stats_);
  }
  std::string StoredTargetId(const std::string& id) {
    TargetOutcome o;
    auto stored = log_->Outcome("p", "s", id);
    return stored.ok() && TargetOutcome::FromJson(*stored, &o) ? o.target_id : "";
  }
  size_t OpenIntents() { return log_->Intents("p", "s")->size(); }

  testing::TempDir dir_;
  testing::FakeClock clock_;
  std::unique_ptr<stage::StagingLog> log_;
  testing::FakeTarget* target_ = nullptr;
  std::unique_ptr<IntentSink> sink_;
  BatchStats stats_;
  std::vector<std::string> quarantined_;
};

TEST_F(IntentProtocolTest, CreatedIsRecordedAfterADurableIntentAndNeverSentAgain) {
  std::vector<std::string> intents_at_call;
  target_->before_create = [&](const std::vector<TargetItem>&) {
    auto intents = log_->Intents("p", "s");
    ASSERT_TRUE(intents.ok());
    for (const auto& [id, value] : *intents) intents_at_call.push_back(id);
  };
  ASSERT_TRUE(Apply({"a", "b"}).ok());
  EXPECT_EQ(intents_at_call, (std::vector<std::string>{"a", "b"}));  // intent first
  EXPECT_EQ(StoredTargetId("a"), "T-a");
  EXPECT_EQ(OpenIntents(), 0u);
  EXPECT_EQ(stats_.applied, 2);

  ASSERT_TRUE(Apply({"a", "b"}).ok());  // the same versions again: the ledger skips them
  EXPECT_EQ(stats_.skipped, 2);
  EXPECT_EQ(target_->create_calls, 1);
  EXPECT_EQ(target_->objects["a"].creations, 1);
}

TEST_F(IntentProtocolTest, ALaterVersionChangesTheObjectInsteadOfCreatingItAgain) {
  ASSERT_TRUE(Apply({"a"}).ok());
  ASSERT_TRUE(Apply({"a"}, "2").ok());
  EXPECT_EQ(stats_.applied, 1);
  EXPECT_EQ(target_->create_calls, 1);
  EXPECT_EQ(target_->objects["a"].creations, 1);
  EXPECT_EQ(target_->objects["a"].payload, R"({"id":"a","v":2})");
}

TEST_F(IntentProtocolTest, RejectedIsQuarantinedItsIntentClearedAndNotRetried) {
  target_->Script({Outcome::kRejected, Outcome::kCreated});
  ASSERT_TRUE(Apply({"a", "b"}).ok());
  EXPECT_EQ(quarantined_, std::vector<std::string>{"a"});
  EXPECT_EQ(stats_.quarantined, 1);
  EXPECT_EQ(StoredTargetId("a"), "");
  EXPECT_EQ(StoredTargetId("b"), "T-b");
  EXPECT_EQ(OpenIntents(), 0u);
  EXPECT_EQ(target_->create_calls, 1);
  EXPECT_EQ(target_->lookups, 0);  // a clear answer needs no asking
}

TEST_F(IntentProtocolTest, UnknownThenFoundIsRecordedWithoutASecondCreate) {
  target_->Script({Outcome::kUnknownButCreated});
  ASSERT_TRUE(Apply({"a"}).ok());
  EXPECT_EQ(target_->lookups, 1);
  EXPECT_EQ(target_->create_calls, 1);
  EXPECT_EQ(target_->objects["a"].creations, 1);
  EXPECT_EQ(StoredTargetId("a"), "T-a");
  EXPECT_EQ(OpenIntents(), 0u);
  EXPECT_EQ(stats_.applied, 1);
  EXPECT_EQ(stats_.retries, 1);
}

TEST_F(IntentProtocolTest, UnknownThenAbsentIsCreatedAgainAfterABackoff) {
  target_->Script({Outcome::kUnknownNotCreated});
  ASSERT_TRUE(Apply({"a"}).ok());
  EXPECT_EQ(target_->lookups, 1);
  EXPECT_EQ(target_->create_calls, 2);
  EXPECT_EQ(target_->objects["a"].creations, 1);
  EXPECT_EQ(StoredTargetId("a"), "T-a");
  EXPECT_EQ(clock_.slept_micros(), IntentSinkOptions{}.retry_base_ms * 1000);
}

TEST_F(IntentProtocolTest, UnknownEveryTimeLeavesTheIntentForTheNextRunToResolve) {
  target_->Script(std::vector<Outcome>(3, Outcome::kUnknownNotCreated));
  Status s = Apply({"a"});
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_EQ(target_->create_calls, 3);  // max_create_attempts
  EXPECT_EQ(OpenIntents(), 1u);

  // The last call went through after all; the next run finds it before anything else.
  target_->Put("a");
  ASSERT_TRUE(Apply({}).ok());
  EXPECT_EQ(StoredTargetId("a"), "T-a");
  EXPECT_EQ(OpenIntents(), 0u);
  EXPECT_EQ(target_->create_calls, 3);
  EXPECT_EQ(target_->objects["a"].creations, 1);
}

TEST_F(IntentProtocolTest, AnOpenIntentTheTargetCannotAnswerForBlocksEveryCreate) {
  target_->Script({Outcome::kUnknownButCreated});
  target_->lookup_error = Unavailable("lookup: connection refused");
  EXPECT_EQ(Apply({"a"}).code(), StatusCode::kUnavailable);
  EXPECT_EQ(Apply({"a", "b"}).code(), StatusCode::kUnavailable);
  EXPECT_EQ(target_->create_calls, 1);
  EXPECT_EQ(OpenIntents(), 1u);

  target_->lookup_error = Status::Ok();
  ASSERT_TRUE(Apply({"a", "b"}).ok());
  EXPECT_EQ(target_->objects["a"].creations, 1);
  EXPECT_EQ(StoredTargetId("b"), "T-b");
  EXPECT_EQ(stats_.skipped, 1);  // a: resolved from the open intent, then found in the ledger
}

}  // namespace
}  // namespace stagesync::sink
