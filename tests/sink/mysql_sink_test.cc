// The MySQL sink against a real MariaDB, fed from a staging log the test writes directly:
// records that stop matching `where`, two appliers on one target, rows the server cannot take,
// and a server that goes away. A trigger counts every row write the target table sees.
#include "connectors/mysql/mysql_sink.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "stagesync/apply.h"
#include "stagesync/hash.h"
#include "testing/fake_clock.h"
#include "testing/mariadb.h"
#include "testing/temp_dir.h"

namespace stagesync {
namespace {

using sink::mysql::MySqlSink;
using sink::mysql::MySqlSinkOptions;

constexpr const char* kPipeline = "p";
constexpr const char* kSink = "s";

std::unique_ptr<stage::StagingLog> OpenLog(const std::string& dir) {
  auto log = stage::StagingLog::Open(dir);
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  return log.ok() ? std::move(log).value() : nullptr;
}

// Stages records given as id -> JSON (a new or changed JSON gets a change-log entry).
void Stage(stage::StagingLog* log, const std::map<std::string, std::string>& records) {
  stage::PageCommit page;
  for (const auto& [id, raw] : records) {
    page.records.push_back({id, HashBytes(raw), raw, false});
  }
  auto c = log->CommitPage(kPipeline, page, Clock::Real()->NowMillis());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
}

std::string Item(const std::string& id, const std::string& status, int n_items = 0,
                 const std::string& payload = "x") {
  std::string items;
  for (int k = 0; k < n_items; ++k) {
    items += (k ? "," : "") + fmt::format(R"({{"sku":"{}-{}"}})", id, k);
  }
  return fmt::format(R"({{"id":"{}","items":[{}],"payload":"{}","status":"{}"}})", id, items,
                     payload, status);
}

// A plain sink (one row per record) or a flattened one (one row per item).
MySqlSinkOptions SinkOptions(const std::string& table, bool flatten, const std::string& where) {
  MySqlSinkOptions o;
  o.table = table;
  o.write_mode = "upsert";
  o.id_column = "id";
  o.mapping.path = "pipelines.p.sinks.s";
  o.mapping.where = where;
  if (flatten) {
    o.mapping.columns = {{"id", "{id}"}, {"sku", "{sku}"}, {"status", "{status}"}};
    o.mapping.flatten = "{items}";
  } else {
    o.mapping.columns = {
        {"id", "{id}"}, {"sku", "{status}"}, {"status", "{status}"}, {"payload", "{payload}"}};
  }
  o.retry_for_s = 30;
  o.batch_rows = 1000;  // the config's defaults (conf tables)
  o.batch_bytes = 4u << 20;
  o.on_unmatched = "delete";
  return o;
}

class MySqlSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.ok()) << "no MariaDB: is the mariadb fixture running?";
    log_ = OpenLog(dir_.Sub("state"));
    ASSERT_NE(log_, nullptr);
  }

  // `items` (plain, keyed by id) and `item_rows` (flattened, keyed by id and sku), each with
  // a trigger that logs every insert and update.
  static void CreateTables(testing::TestDatabase* db) {
    SqlConnection* c = db->conn();
    ASSERT_TRUE(c->Execute("CREATE TABLE items (id VARBINARY(700) NOT NULL PRIMARY KEY, sku "
                           "VARCHAR(64), status VARCHAR(16), payload LONGTEXT)")
                    .ok());
    ASSERT_TRUE(c->Execute("CREATE TABLE item_rows (id VARCHAR(64) NOT NULL, sku VARCHAR(64) "
                           "NOT NULL, status VARCHAR(16), PRIMARY KEY (id, sku))")
                    .ok());
    ASSERT_TRUE(c->Execute("CREATE TABLE write_log (n BIGINT AUTO_INCREMENT PRIMARY KEY, tbl "
                           "VARCHAR(16), id VARBINARY(700), sku VARCHAR(64), op CHAR(1))")
                    .ok());
    for (const char* t : {"items", "item_rows"}) {
      for (const char* op : {"INSERT", "UPDATE"}) {
        ASSERT_TRUE(c->Execute(fmt::format("CREATE TRIGGER {0}_{1} AFTER {1} ON {0} FOR EACH ROW "
                                           "INSERT INTO write_log (tbl, id, sku, op) VALUES "
                                           "('{0}', NEW.id, NEW.sku, '{2}')",
                                           t, op, op[0]))
                        .ok());
      }
    }
  }

  Result<apply::ApplySummary> Apply(const MySqlSinkOptions& o, stage::StagingLog* log = nullptr,
                                    const SqlOptions* conn = nullptr) {
    SS_ASSIGN_OR_RETURN(auto sink,
                        MySqlSink::Open(kPipeline, kSink, o, conn ? *conn : db_.Options(db_.name()),
                                        Clock::Real()));
    sink->set_notice([this](const std::string& m) {
      std::lock_guard<std::mutex> lock(mu_);
      notices_.push_back(m);
    });
    return apply::Drain(kPipeline, kSink, sink.get(), log ? log : log_.get(), Clock::Real(), {});
  }

  int64_t Count(const std::string& sql) { return std::stoll(*db_.Scalar(sql)); }
  std::string Notices() {
    std::lock_guard<std::mutex> lock(mu_);
    std::string all;
    for (const auto& n : notices_) all += n + "\n";
    return all;
  }

  testing::TestDatabase db_;
  testing::TempDir dir_;
  std::unique_ptr<stage::StagingLog> log_;
  std::mutex mu_;
  std::vector<std::string> notices_;
};

// LOCAL is off between loads (see tests/env/mysql_local_infile_test.cc), but the server must
// still accept the sink's own load: it checks the capability the client announced at login.
TEST_F(MySqlSinkTest, TheRealServerStillTakesTheSinksOwnLocalLoad) {
  auto conn = ConnectMySql(db_.Options(db_.name()));
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  ASSERT_TRUE((*conn)->Execute("CREATE TABLE t (a INT, b VARCHAR(8))").ok());
  uint64_t warnings = 9;
  auto n = (*conn)->LoadDataLocal(
      "LOAD DATA LOCAL INFILE 'stagesync-stream' INTO TABLE t FIELDS TERMINATED BY '\\t' (a, b)",
      "1\tx\n2\ty\n", &warnings);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 2u);
  EXPECT_EQ(warnings, 0u);
  // A LOAD DATA LOCAL of a real file, outside LoadDataLocal, is refused by the client.
  auto other = (*conn)->Query("LOAD DATA LOCAL INFILE '/etc/hostname' INTO TABLE t (b)");
  EXPECT_FALSE(other.ok());
  EXPECT_EQ(Count("SELECT COUNT(*) FROM " + db_.name() + ".t"), 2);
}

TEST_F(MySqlSinkTest, ARecordThatStopsMatchingWhereLosesItsRowsUntilItMatchesAgain) {
  CreateTables(&db_);
  const auto o = SinkOptions("items", false, "status == 'open'");
  Stage(log_.get(), {{"a", Item("a", "open")}, {"b", Item("b", "open")}, {"c", Item("c", "open")}});
  auto s = Apply(o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(Count("SELECT COUNT(*) FROM items"), 3);

  Stage(log_.get(), {{"b", Item("b", "closed")}});
  s = Apply(o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->filtered, 1);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM items WHERE id = 'b'"), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM items"), 2);
  const int64_t writes = Count("SELECT COUNT(*) FROM write_log");
  // Nothing more to do for that version.
  s = Apply(o);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->applied + s->batches, 0);

  Stage(log_.get(), {{"b", Item("b", "open", 0, "again")}});
  s = Apply(o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(*db_.Scalar("SELECT payload FROM items WHERE id = 'b'"), "again");
  EXPECT_EQ(Count("SELECT COUNT(*) FROM write_log"), writes + 1);
}

TEST_F(MySqlSinkTest, OnUnmatchedKeepLeavesTheRows) {
  CreateTables(&db_);
  auto o = SinkOptions("items", false, "status == 'open'");
  o.on_unmatched = "keep";
  Stage(log_.get(), {{"a", Item("a", "open")}, {"b", Item("b", "open")}});
  ASSERT_TRUE(Apply(o).ok());
  Stage(log_.get(), {{"b", Item("b", "closed")}});
  auto s = Apply(o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->filtered, 1);
  EXPECT_EQ(*db_.Scalar("SELECT status FROM items WHERE id = 'b'"), "open");
}

TEST_F(MySqlSinkTest, AFlattenedRecordThatStopsMatchingLosesAllItsRows) {
  CreateTables(&db_);
  const auto o = SinkOptions("item_rows", true, "status == 'open'");
  Stage(log_.get(), {{"a", Item("a", "open", 3)}, {"b", Item("b", "open", 2)}});
  ASSERT_TRUE(Apply(o).ok());
  EXPECT_EQ(Count("SELECT COUNT(*) FROM item_rows"), 5);

  Stage(log_.get(), {{"a", Item("a", "closed", 3)}});
  auto s = Apply(o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(Count("SELECT COUNT(*) FROM item_rows WHERE id = 'a'"), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM item_rows WHERE id = 'b'"), 2);

  Stage(log_.get(), {{"a", Item("a", "open", 4)}});
  s = Apply(o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(Count("SELECT COUNT(*) FROM item_rows WHERE id = 'a'"), 4);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM item_rows"), 6);
}

TEST_F(MySqlSinkTest, TwoAppliersWithTheirOwnStagingNeverWriteARecordTwice) {
  CreateTables(&db_);
  // Two state dirs staged from the same source: same ids, same content, own numbering.
  std::map<std::string, std::string> records;
  for (int i = 0; i < 1500; ++i) {
    std::string id = fmt::format("r{:05}", i);
    records[id] = Item(id, "open");
  }
  auto other = OpenLog(dir_.Sub("state2"));
  ASSERT_NE(other, nullptr);
  Stage(other.get(), {{"early", Item("early", "open")}});  // numbering differs from log_'s
  Stage(log_.get(), records);
  Stage(other.get(), records);
  auto o = SinkOptions("items", false, "");
  o.batch_rows = 25;
  Result<apply::ApplySummary> a = Status(StatusCode::kInternal, "not run");
  Result<apply::ApplySummary> b = a;
  std::thread ta([&] { a = Apply(o, log_.get()); });
  std::thread tb([&] { b = Apply(o, other.get()); });
  ta.join();
  tb.join();
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(a->applied + b->applied, 1501);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM items"), 1501);
  auto twice = db_.conn()->Query(
      "SELECT id, COUNT(*) FROM write_log GROUP BY id HAVING COUNT(*) > 1 LIMIT 3");
  ASSERT_TRUE(twice.ok());
  EXPECT_TRUE(twice->rows.empty()) << "written twice: " << *twice->rows[0][0];
  EXPECT_EQ(Count("SELECT COUNT(*) FROM write_log"), 1501);
  EXPECT_NE(Notices().find("another agent"), std::string::npos) << Notices();

  // Each catches up with the other's work through the ledger, never through its offset.
  Stage(log_.get(), {{"late", Item("late", "open")}});
  auto again = Apply(o, log_.get());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->applied, 1);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM write_log"), 1502);
}

TEST_F(MySqlSinkTest, ARebuiltStateDirIsNamedAndWritesNothingTwice) {
  CreateTables(&db_);
  const auto o = SinkOptions("items", false, "");
  std::map<std::string, std::string> records;
  for (int i = 0; i < 40; ++i) records[fmt::format("r{}", i)] = Item(fmt::format("r{}", i), "o");
  Stage(log_.get(), records);
  ASSERT_TRUE(Apply(o).ok());
  // The state dir is lost and rebuilt: a new instance, numbering from 1 again, one new record
  // (its seq lies below the old target offset, so trusting that offset would skip it).
  auto rebuilt = OpenLog(dir_.Sub("rebuilt"));
  ASSERT_NE(rebuilt, nullptr);
  records["new"] = Item("new", "o");
  Stage(rebuilt.get(), {{"new", records["new"]}});
  Stage(rebuilt.get(), records);
  auto s = Apply(o, rebuilt.get());
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->applied, 1);
  EXPECT_EQ(s->skipped, 40);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM write_log"), 41);
  EXPECT_NE(Notices().find("a rebuilt state dir, or another agent"), std::string::npos)
      << Notices();
}

TEST_F(MySqlSinkTest, ARestoredCopyOfTheStateDirLosesNothingAndWritesNothingTwice) {
  CreateTables(&db_);
  auto o = SinkOptions("items", false, "");
  o.batch_rows = 1;
  std::map<std::string, std::string> records;
  for (int i = 0; i < 20; ++i) records[fmt::format("r{}", i)] = Item(fmt::format("r{}", i), "o");
  Stage(log_.get(), records);
  ASSERT_TRUE(Apply(o).ok());
  // Two backups of the state dir, then the live one moves on by one batch.
  log_.reset();
  for (const char* copy : {"copy1", "copy2"}) {
    std::filesystem::copy(dir_.Sub("state"), dir_.Sub(copy),
                          std::filesystem::copy_options::recursive);
  }
  log_ = OpenLog(dir_.Sub("state"));
  Stage(log_.get(), {{"live1", Item("live1", "o")}});
  ASSERT_TRUE(Apply(o).ok());
  // A restored copy stages something else under the same sequence number: the target's offset
  // (one batch past the copy's cursor, started from it) must not make it skip that.
  auto copy1 = OpenLog(dir_.Sub("copy1"));
  Stage(copy1.get(), {{"copy1", Item("copy1", "o")}});
  auto s = Apply(o, copy1.get());
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->applied, 1);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM items WHERE id = 'copy1'"), 1);
  // The live one runs on, two batches more; the second copy is further behind and is named.
  Stage(log_.get(), {{"live2", Item("live2", "o")}, {"live3", Item("live3", "o")}});
  ASSERT_TRUE(Apply(o).ok());
  auto copy2 = OpenLog(dir_.Sub("copy2"));
  Stage(copy2.get(), {{"copy2", Item("copy2", "o")}, {"live1", Item("live1", "o")}});
  s = Apply(o, copy2.get());
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->applied, 1);
  EXPECT_EQ(s->skipped, 1);
  EXPECT_NE(Notices().find("a restored or copied state dir"), std::string::npos) << Notices();
  EXPECT_EQ(Count("SELECT COUNT(*) FROM items"), 25);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM write_log"), 25);  // every row written once
}

TEST_F(MySqlSinkTest, ASourceIdOverTheLedgerLimitIsQuarantinedAndTheRestApply) {
  CreateTables(&db_);
  const auto o = SinkOptions("items", false, "");
  const std::string long_id(600, 'L');
  Stage(log_.get(), {{"a", Item("a", "o")}, {long_id, Item(long_id, "o")}, {"z", Item("z", "o")}});
  auto s = Apply(o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->quarantined, 1);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM items"), 2);
  auto q = log_->Quarantined(kPipeline);
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->size(), 1u);
  EXPECT_EQ((*q)[0].source_id, long_id);
  EXPECT_NE((*q)[0].error.find("pipeline p, record LLLL"), std::string::npos) << (*q)[0].error;
  EXPECT_NE((*q)[0].error.find("field source id: 600 bytes"), std::string::npos) << (*q)[0].error;
  // Later runs are not blocked.
  Stage(log_.get(), {{"b", Item("b", "o")}});
  s = Apply(o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->applied, 1);
}

// Tests that need a server of their own (stopped, or with a small max_allowed_packet): one
// for the suite, since making its data dir takes seconds.
class MySqlSinkPrivateServerTest : public MySqlSinkTest {
 protected:
  static void SetUpTestSuite() {
    server_dir_ = new testing::TempDir();
    server_ = new testing::PrivateMariaDb(server_dir_->Sub("mariadb"));
  }
  static void TearDownTestSuite() {
    delete server_;
    delete server_dir_;
  }
  void SetUp() override {
    MySqlSinkTest::SetUp();
    ASSERT_GT(server_->port(), 0);
    private_db_ = std::make_unique<testing::TestDatabase>(server_->port());
    ASSERT_TRUE(private_db_->ok());
    CreateTables(private_db_.get());
  }
  static testing::TempDir* server_dir_;
  static testing::PrivateMariaDb* server_;
  std::unique_ptr<testing::TestDatabase> private_db_;
};
testing::TempDir* MySqlSinkPrivateServerTest::server_dir_ = nullptr;
testing::PrivateMariaDb* MySqlSinkPrivateServerTest::server_ = nullptr;

TEST_F(MySqlSinkPrivateServerTest, ARowOverMaxAllowedPacketIsQuarantinedNotRetried) {
  ASSERT_TRUE(private_db_->conn()->Execute("SET GLOBAL max_allowed_packet = 1048576").ok());
  auto o = SinkOptions("items", false, "");
  o.retry_for_s = 5;
  const SqlOptions conn = private_db_->Options(private_db_->name());
  Stage(log_.get(), {{"a", Item("a", "o")}, {"big", Item("big", "o")}, {"z", Item("z", "o")}});
  ASSERT_TRUE(Apply(o, nullptr, &conn).ok());
  // The new version of "big" updates its row with a statement over the packet limit.
  const std::string big(1200 * 1024, 'b');  // fits LONGTEXT, not one 1 MiB packet
  Stage(log_.get(), {{"big", Item("big", "o2", 0, big)}, {"z", Item("z", "o2")}});
  const int64_t t0 = Clock::Real()->MonotonicMicros();
  auto s = Apply(o, nullptr, &conn);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_LT(Clock::Real()->MonotonicMicros() - t0, 4 * 1000000) << "it waited for retries";
  EXPECT_EQ(s->quarantined, 1);
  EXPECT_EQ(s->retries, 0);
  EXPECT_EQ(*private_db_->Scalar("SELECT GROUP_CONCAT(status ORDER BY id) FROM items"), "o,o,o2");
  auto q = log_->Quarantined(kPipeline);
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->size(), 1u);
  EXPECT_EQ((*q)[0].source_id, "big");
  EXPECT_NE((*q)[0].error.find("pipeline p, record big: field payload"), std::string::npos)
      << (*q)[0].error;
  EXPECT_NE((*q)[0].error.find("max_allowed_packet of 1048576 bytes"), std::string::npos)
      << (*q)[0].error;
  EXPECT_TRUE(private_db_->conn()->Execute("SET GLOBAL max_allowed_packet = 67108864").ok());
}

TEST_F(MySqlSinkPrivateServerTest, AnOutageIsReportedWhileRetriedAndTheFinalErrorSaysWhy) {
  auto o = SinkOptions("items", false, "");
  o.retry_for_s = 2;
  Stage(log_.get(), {{"a", Item("a", "o")}});
  const SqlOptions conn = private_db_->Options(private_db_->name());
  auto sink = MySqlSink::Open(kPipeline, kSink, o, conn, Clock::Real());
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();
  (*sink)->set_notice([this](const std::string& m) { notices_.push_back(m); });
  // A second sink on simulated time, for a long outage.
  testing::FakeClock clock;
  auto long_o = o;
  long_o.retry_for_s = 200;
  auto long_sink = MySqlSink::Open(kPipeline, kSink, long_o, conn, &clock);
  ASSERT_TRUE(long_sink.ok()) << long_sink.status().ToString();
  std::vector<std::string> long_notices;
  (*long_sink)->set_notice([&](const std::string& m) { long_notices.push_back(m); });
  ASSERT_EQ(server_->Stop(), 0);
  auto s = apply::Drain(kPipeline, kSink, sink->get(), log_.get(), Clock::Real(), {});
  ASSERT_FALSE(s.ok());
  const std::string e = s.status().message();
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable) << e;
  EXPECT_NE(e.find("gave up after "), std::string::npos) << e;
  EXPECT_NE(e.find("(retry_for_s 2)"), std::string::npos) << e;
  EXPECT_NE(e.find("reconnecting: connecting to mysql root@127.0.0.1"), std::string::npos) << e;
  EXPECT_NE(e.find("MySQL error 200"), std::string::npos) << e;  // 2002/2003: refused
  ASSERT_FALSE(notices_.empty());
  EXPECT_NE(notices_[0].find("pipeline p, sink s: "), std::string::npos) << notices_[0];
  EXPECT_NE(notices_[0].find("retrying for up to 2 s ("), std::string::npos) << notices_[0];
  EXPECT_NE(notices_[0].find(" s so far): "), std::string::npos) << notices_[0];
  EXPECT_NE(notices_.back().find("giving up"), std::string::npos) << notices_.back();

  // A long outage is reported on the first retry and then every 30 s, not on every retry.
  auto long_run = apply::Drain(kPipeline, kSink, long_sink->get(), log_.get(), &clock, {});
  ASSERT_FALSE(long_run.ok());
  EXPECT_NE(long_run.status().message().find("gave up after 20"), std::string::npos)
      << long_run.status().message();
  int retrying = 0;
  for (const auto& n : long_notices) retrying += n.find("retrying for up to 200 s") != n.npos;
  EXPECT_GE(retrying, 5);
  EXPECT_LE(retrying, 7);  // 0, 30, ..., 180 s
  EXPECT_NE(long_notices[0].find("(0.0 s so far)"), std::string::npos) << long_notices[0];
  EXPECT_NE(long_notices[1].find("(3"), std::string::npos) << long_notices[1];

  // Back within the window: the retried batch completes, and its retries were reported.
  notices_.clear();
  o.retry_for_s = 60;
  ASSERT_EQ(server_->Start(), 0);
  auto sink2 = MySqlSink::Open(kPipeline, kSink, o, conn, Clock::Real());
  ASSERT_TRUE(sink2.ok());
  (*sink2)->set_notice([this](const std::string& m) { notices_.push_back(m); });
  ASSERT_EQ(server_->Stop(), 0);
  std::thread back([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    server_->Start();
  });
  auto ok = apply::Drain(kPipeline, kSink, sink2->get(), log_.get(), Clock::Real(), {});
  back.join();
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->applied, 1);
  ASSERT_FALSE(notices_.empty());
  EXPECT_NE(notices_[0].find("retrying for up to 60 s"), std::string::npos) << notices_[0];
}

}  // namespace
}  // namespace stagesync
