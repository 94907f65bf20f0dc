// Run ids in log lines: the agent reserves a run's id when it starts (so every line of the run
// carries it) and the run history keeps that id when the run is stored, even when runs of a
// pipeline finish out of order. An id already taken falls back to the next free one.
#include <gtest/gtest.h>

#include "stagesync/stage.h"
#include "testing/temp_dir.h"

namespace stagesync {
namespace {

TEST(RunIdTest, ReservedIdsAreKeptAndTakenOnesFallBackToTheNext) {
  testing::TempDir dir;
  auto log = stage::StagingLog::Open(dir.Sub("state"));
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  auto append = [&](int64_t reserved) {
    stage::RunRecord r;
    r.id = reserved;
    r.started_ms = 1000 + reserved;
    r.ended_ms = 2000;
    r.outcome = "ok";
    EXPECT_TRUE((*log)->AppendRun("p", &r).ok());
    return r.id;
  };
  EXPECT_EQ(append(0), 1);  // none reserved: previous + 1
  EXPECT_EQ(append(3), 3);  // run 3 finished before run 2
  EXPECT_EQ(append(2), 2);  // run 2 keeps its id
  EXPECT_EQ(append(3), 4);  // taken: the next one
  auto runs = (*log)->Runs("p", 10);
  ASSERT_TRUE(runs.ok());
  std::vector<int64_t> ids;
  for (const auto& r : *runs) ids.push_back(r.id);
  EXPECT_EQ(ids, (std::vector<int64_t>{4, 3, 2, 1}));
}

TEST(RunIdTest, RunDetailIsRedactedBeforeItIsStored) {
  testing::TempDir dir;
  auto log = stage::StagingLog::Open(dir.Sub("state"));
  ASSERT_TRUE(log.ok());
  stage::RunRecord r;
  r.outcome = "failed";
  r.detail_json = R"({"fetch":{"error":"GET /x?access_token=tok-4411 refused"}})";
  ASSERT_TRUE((*log)->AppendRun("p", &r).ok());
  auto runs = (*log)->Runs("p", 1);
  ASSERT_TRUE(runs.ok() && runs->size() == 1u);
  EXPECT_EQ(runs->front().detail_json.find("tok-4411"), std::string::npos)
      << runs->front().detail_json;
  EXPECT_NE(runs->front().detail_json.find("access_token=***"), std::string::npos);
}

}  // namespace
}  // namespace stagesync
