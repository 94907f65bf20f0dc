// Crash safety of sync into MySQL: the real `stagesync sync` process is SIGKILLed at random
// moments and exactly between the MySQL commit and the staging cursor update (and just before
// the commit), at least 30 times; then one clean sync. The table must equal the expected rows,
// the ledger hold one row per request with the right hash, and a trigger-fed counter show that
// no row was written twice, and the audit to find the batch chain whole.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <random>
#include <thread>

#include "emulators/dingtalk_emulator.h"
#include "stagesync/clock.h"
#include "stagesync/stage.h"
#include "testing/mariadb.h"
#include "testing/payment_pipeline.h"
#include "testing/subprocess.h"
#include "testing/temp_dir.h"

namespace stagesync {
namespace {

constexpr int64_t kHourMs = 3600000;
constexpr int64_t kDayMs = 24 * kHourMs;
const std::string kBinary = STAGESYNC_BINARY_DIR "/stagesync";

TEST(ApplyCrashTest, KilledAtRandomMomentsAndBetweenCommitAndCursorNothingLostOrDoubled) {
  testing::TestDatabase db;
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(db.Source(STAGESYNC_SOURCE_DIR "/conf/sql/payment_application_info.sql").ok());
  ASSERT_TRUE(db.AddPaymentWriteLog().ok());
  emulators::DingTalkEmulator emu;
  ASSERT_TRUE(emu.Start(0));
  const int64_t now = Clock::Real()->NowMillis();
  emu.Generate(3000, now - 25 * kDayMs, now - kHourMs, 77);
  testing::TempDir dir;
  testing::PaymentPipelineOptions o;
  o.qps = 1000;
  o.batch_rows = 10;  // many transactions: kills land between them
  const std::string config = dir.Sub("config.json");
  std::ofstream(config) << testing::PaymentConfigJson(emu.base_url(), dir.Sub("state"), db.port(),
                                                      db.name(), o);
  const std::string log_file = dir.Sub("sync.log");
  std::mt19937 rng(1121);
  int killed = 0, between_commit_and_cursor = 0;
  for (int i = 0; i < 90 && killed < 32; ++i) {
    testing::Subprocess p;
    std::vector<std::string> env;
    const int mode = i % 4;  // 0,1: random moment; 2: after MySQL commit; 3: before it
    if (mode == 2) {
      env.push_back("STAGESYNC_CRASH_AT=apply.after_commit:" + std::to_string(1 + rng() % 8));
    } else if (mode == 3) {
      env.push_back("STAGESYNC_CRASH_AT=apply.before_commit:" + std::to_string(1 + rng() % 8));
    }
    ASSERT_TRUE(p.Start({kBinary, "--config", config, "sync", "dingtalk-payment"}, env, log_file));
    int code = 0;
    if (mode >= 2) {
      code = p.Wait();
      between_commit_and_cursor += mode == 2 && code == 128 + SIGKILL;
    } else {
      auto deadline =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(20 + rng() % 700);
      bool exited = false;
      while (std::chrono::steady_clock::now() < deadline && !(exited = p.Poll(&code))) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      if (!exited) {
        p.Kill();
        code = p.Wait();
      }
    }
    killed += code == 128 + SIGKILL;
    ASSERT_TRUE(code == 0 || code == 128 + SIGKILL)
        << "exit " << code << ": " << testing::ReadFileTrimmed(log_file);
  }
  EXPECT_GE(killed, 30);
  EXPECT_GE(between_commit_and_cursor, 5);

  ASSERT_EQ(testing::Run({kBinary, "--config", config, "sync", "dingtalk-payment"}, {}, log_file),
            0)
      << "see " << log_file;

  // The table equals the expected rows exactly.
  auto expected = testing::ExpectedPaymentRows(emu.Instances());
  auto rows = db.conn()->Query(std::string("SELECT ") + testing::kPaymentColumns +
                               " FROM payment_application_info");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->rows.size(), expected.size());
  for (const auto& row : rows->rows) {
    auto it = expected.find(*row[0] + "|" + *row[1]);
    ASSERT_NE(it, expected.end()) << "unexpected row " << *row[0];
    EXPECT_EQ(row, it->second) << *row[0];
  }
  // One ledger row per request, with the staged hash.
  stage::StageOptions ro;
  ro.read_only = true;
  auto log = stage::StagingLog::Open(dir.Sub("state"), ro);
  ASSERT_TRUE(log.ok());
  auto ledger = db.conn()->Query("SELECT source_id, content_hash FROM stagesync_ledger");
  ASSERT_TRUE(ledger.ok());
  EXPECT_EQ(ledger->rows.size(), emu.Instances().size());
  for (const auto& r : ledger->rows) {
    auto staged = (*log)->Get("dingtalk-payment", *r[0]);
    ASSERT_TRUE(staged.ok() && staged->has_value());
    EXPECT_EQ(*r[1], (*staged)->hash.ToHex());
  }
  // Nothing upstream changed, so every row was written exactly once, ever.
  auto twice = db.conn()->Query(
      "SELECT bfn_id, detail_index, COUNT(*) FROM write_log GROUP BY bfn_id, detail_index "
      "HAVING COUNT(*) > 1 LIMIT 5");
  ASSERT_TRUE(twice.ok());
  EXPECT_TRUE(twice->rows.empty()) << "row written twice: " << *twice->rows[0][0];
  EXPECT_EQ(std::stoul(*db.Scalar("SELECT COUNT(*) FROM write_log")), expected.size());
  EXPECT_EQ(*(*log)->Cursor("dingtalk-payment", "bi_mysql"),
            (*log)->Summary("dingtalk-payment")->last_seq);
  // The batch chain was written in each batch's transaction: whatever the kills, it is whole,
  // one link per committed batch, and the ledger sums to its head.
  const std::string audit_log = dir.Sub("audit.log");
  EXPECT_EQ(
      testing::Run({STAGESYNC_BINARY_DIR "/stagesync-audit", "--config", config}, {}, audit_log), 0)
      << testing::ReadWholeFile(audit_log);
  const std::string audit_out = testing::ReadWholeFile(audit_log);
  EXPECT_EQ(audit_out.find("chain_broken"), std::string::npos) << audit_out;
  EXPECT_NE(audit_out.find(*db.Scalar("SELECT COUNT(*) FROM stagesync_batches") + " link(s) read"),
            std::string::npos)
      << audit_out;
  EXPECT_GT(std::stoi(*db.Scalar("SELECT COUNT(*) FROM stagesync_batches")), 100);
}

// Two agents, each with its own state dir fetched from the same source, sync into one
// database at the same time (and one of them is killed part-way and run again): the target
// arbitrates, so every row is written exactly once.
TEST(ApplyCrashTest, TwoAgentsWithTheirOwnStateDirsOnOneTargetWriteEveryRowOnce) {
  testing::TestDatabase db;
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(db.Source(STAGESYNC_SOURCE_DIR "/conf/sql/payment_application_info.sql").ok());
  ASSERT_TRUE(db.AddPaymentWriteLog().ok());
  emulators::DingTalkEmulator emu;
  ASSERT_TRUE(emu.Start(0));
  const int64_t now = Clock::Real()->NowMillis();
  emu.Generate(1500, now - 20 * kDayMs, now - kHourMs, 78);
  testing::TempDir dir;
  testing::PaymentPipelineOptions o;
  o.qps = 1000;
  o.batch_rows = 10;
  std::vector<std::string> configs;
  for (const char* agent : {"a", "b"}) {
    configs.push_back(dir.Sub(std::string(agent) + ".json"));
    std::ofstream(configs.back()) << testing::PaymentConfigJson(
        emu.base_url(), dir.Sub(std::string("state-") + agent), db.port(), db.name(), o);
  }
  const std::string log_file = dir.Sub("sync.log");
  testing::Subprocess a, b;
  ASSERT_TRUE(
      a.Start({kBinary, "--config", configs[0], "sync", "dingtalk-payment"}, {}, log_file + ".a"));
  ASSERT_TRUE(b.Start({kBinary, "--config", configs[1], "sync", "dingtalk-payment"},
                      {"STAGESYNC_CRASH_AT=apply.after_commit:40"}, log_file + ".b"));
  EXPECT_EQ(a.Wait(), 0) << testing::ReadFileTrimmed(log_file + ".a");
  EXPECT_EQ(b.Wait(), 128 + SIGKILL) << testing::ReadFileTrimmed(log_file + ".b");
  ASSERT_EQ(testing::Run({kBinary, "--config", configs[1], "sync", "dingtalk-payment"}, {},
                         log_file + ".b2"),
            0)
      << testing::ReadFileTrimmed(log_file + ".b2");

  auto expected = testing::ExpectedPaymentRows(emu.Instances());
  EXPECT_EQ(std::stoul(*db.Scalar("SELECT COUNT(*) FROM payment_application_info")),
            expected.size());
  auto twice = db.conn()->Query(
      "SELECT bfn_id, detail_index, COUNT(*) FROM write_log GROUP BY bfn_id, detail_index "
      "HAVING COUNT(*) > 1 LIMIT 5");
  ASSERT_TRUE(twice.ok());
  EXPECT_TRUE(twice->rows.empty()) << "row written twice: " << *twice->rows[0][0];
  EXPECT_EQ(std::stoul(*db.Scalar("SELECT COUNT(*) FROM write_log")), expected.size());
  EXPECT_EQ(std::stoul(*db.Scalar("SELECT COUNT(*) FROM stagesync_ledger")),
            emu.Instances().size());
}

}  // namespace
}  // namespace stagesync
