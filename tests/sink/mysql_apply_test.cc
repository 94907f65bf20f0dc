// End to end for seed 000: DingTalk emulator -> staging -> MySQL sink -> a real MariaDB
// (started by the ctest fixture). Every column of every row is compared with rows computed
// independently from the emulator's state.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "connectors/connector.h"
#include "emulators/dingtalk_emulator.h"
#include "stagesync/apply.h"
#include "stagesync/fetch.h"
#include "stagesync/hash.h"
#include "testing/mariadb.h"
#include "testing/payment_pipeline.h"
#include "testing/pipeline_test.h"

namespace stagesync {
namespace {

class MySqlApplyTest : public testing::PipelineTest<> {
 protected:
  Runtime rt_;
  void SetUp() override {
    ASSERT_TRUE(db_.ok()) << "no MariaDB: is the mariadb fixture running?";
    Status ddl = db_.Source(STAGESYNC_SOURCE_DIR "/conf/sql/payment_application_info.sql");
    ASSERT_TRUE(ddl.ok()) << ddl.ToString();
    // A counter the test reads: every row write the table ever sees.
    ASSERT_TRUE(db_.AddPaymentWriteLog().ok());
    ASSERT_TRUE(emu_.Start(0));
  }

  void Configure(const testing::PaymentPipelineOptions& o = {}) {
    Load(testing::PaymentConfigJson(emu_.base_url(), dir_.Sub("state"), db_.port(), db_.name(), o));
  }

  std::map<std::string, testing::ExpectedRow> TableRows() {
    std::map<std::string, testing::ExpectedRow> out;
    auto r = db_.conn()->Query(std::string("SELECT ") + testing::kPaymentColumns +
                               " FROM payment_application_info");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return out;
    for (auto& row : r->rows) out[*row[0] + "|" + *row[1]] = row;
    return out;
  }

  void ExpectTableMatchesEmulator() {
    auto expected = testing::ExpectedPaymentRows(emu_.Instances());
    auto actual = TableRows();
    ASSERT_EQ(actual.size(), expected.size());
    const std::vector<std::string> names = [] {
      std::vector<std::string> v;
      std::string cols = testing::kPaymentColumns;
      size_t p = 0;
      while (p != std::string::npos) {
        size_t c = cols.find(',', p);
        v.push_back(cols.substr(p == 0 ? 0 : p, c == std::string::npos ? c : c - p));
        p = c == std::string::npos ? c : c + 2;
      }
      return v;
    }();
    for (const auto& [key, want] : expected) {
      auto it = actual.find(key);
      ASSERT_NE(it, actual.end()) << "missing row " << key;
      for (size_t c = 0; c < want.size(); ++c) {
        EXPECT_EQ(it->second[c], want[c]) << "row " << key << " column " << names[c];
      }
    }
  }

  int64_t Count(const std::string& sql) { return std::stoll(*db_.Scalar(sql)); }

  testing::TestDatabase db_;
  emulators::DingTalkEmulator emu_;
};

// E17: a record whose flattened array goes 3 -> 0 -> 2 elements. null_row (the default) keeps
// one row of NULLs while it is empty, no_rows keeps none; both delete and recreate the child
// rows exactly, and the record beside it is untouched.
TEST_F(MySqlApplyTest, FlattenEmptyNullRowOrNoRowsAsAnArrayGoesThreeToZeroAndBack) {
  for (const char* t : {"flat_null", "flat_none"}) {
    ASSERT_TRUE(db_.conn()
                    ->Execute(std::string("CREATE TABLE ") + t +
                              " (id VARCHAR(64) NOT NULL, item_index INT NOT NULL, sku "
                              "VARCHAR(64), PRIMARY KEY (id, item_index))")
                    .ok());
  }
  const std::string conf = fmt::format(
      R"({{"state_dir": "{}", "connections": {{
        "km": {{"type": "kuaimai", "base_url": "http://127.0.0.1:1/router", "app_key": "k",
                "app_secret": "s", "session": "a", "refresh_token": "r"}},
        "bi": {{"type": "mysql", "host": "127.0.0.1", "port": {}, "user": "root",
                "password": "", "database": "{}", "tls_mode": "disabled"}}}},
      "pipelines": {{"orders": {{"source": {{"connection": "km"}}, "sinks": {{
        "null_row": {{"connection": "bi", "table": "flat_null", "flatten": "{{items}}",
          "id_column": "id", "write_mode": "replace",
          "columns": {{"id": "{{id}}", "item_index": "{{_row}}", "sku": "{{sku}}"}}}},
        "no_rows": {{"connection": "bi", "table": "flat_none", "flatten": "{{items}}",
          "flatten_empty": "no_rows", "id_column": "id", "write_mode": "replace",
          "columns": {{"id": "{{id}}", "item_index": "{{_row}}", "sku": "{{sku}}"}}}}}}}}}}}})",
      dir_.Sub("state"), db_.port(), db_.name());
  auto cfg = config::LoadString(conf, "");
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  const config::PipelineConfig& p = cfg->pipelines[0];
  auto log = stage::StagingLog::Open(cfg->state_dir);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->RegisterSinks("orders", {"null_row", "no_rows"}).ok());
  auto stage_and_apply = [&](const std::string& a_items) {
    stage::PageCommit page;
    for (auto [id, items] : {std::pair<std::string, std::string>{"A", a_items},
                             std::pair<std::string, std::string>{"B", R"([{"sku":"b1"}])"}}) {
      std::string raw = json::Canonical(
          *json::Parse(items.empty() ? R"({"id":")" + id + R"("})"
                                     : R"({"id":")" + id + R"(","items":)" + items + "}"));
      page.records.push_back({id, HashBytes(raw), raw, false});
    }
    ASSERT_TRUE((*log)->CommitPage("orders", page, NowMs()).ok());
    for (const auto& s : p.sinks) {
      Runtime rt;
      auto sum = apply::RunApply(*cfg, p, s, log->get(), rt);
      ASSERT_TRUE(sum.ok()) << s.name << ": " << sum.status().ToString();
    }
  };
  auto rows = [&](const char* table) {
    std::vector<std::string> out;
    auto r = db_.conn()->Query(std::string("SELECT id, item_index, COALESCE(sku, 'NULL') FROM ") +
                               table + " ORDER BY id, item_index");
    EXPECT_TRUE(r.ok());
    for (auto& row : r->rows) out.push_back(*row[0] + "/" + *row[1] + "/" + *row[2]);
    return out;
  };
  using V = std::vector<std::string>;
  stage_and_apply(R"([{"sku":"a1"},{"sku":"a2"},{"sku":"a3"}])");
  EXPECT_EQ(rows("flat_null"), (V{"A/1/a1", "A/2/a2", "A/3/a3", "B/1/b1"}));
  EXPECT_EQ(rows("flat_none"), (V{"A/1/a1", "A/2/a2", "A/3/a3", "B/1/b1"}));
  stage_and_apply("[]");
  EXPECT_EQ(rows("flat_null"), (V{"A/0/NULL", "B/1/b1"}));
  EXPECT_EQ(rows("flat_none"), (V{"B/1/b1"}));
  stage_and_apply("");  // the array absent altogether: the same
  EXPECT_EQ(rows("flat_null"), (V{"A/0/NULL", "B/1/b1"}));
  EXPECT_EQ(rows("flat_none"), (V{"B/1/b1"}));
  stage_and_apply(R"([{"sku":"a4"},{"sku":"a5"}])");
  EXPECT_EQ(rows("flat_null"), (V{"A/1/a4", "A/2/a5", "B/1/b1"}));
  EXPECT_EQ(rows("flat_none"), (V{"A/1/a4", "A/2/a5", "B/1/b1"}));
  EXPECT_EQ(Count("SELECT COUNT(*) FROM stagesync_ledger WHERE source_id = 'A'"), 2);
}

TEST_F(MySqlApplyTest, FullSyncGivesExactlyTheExpectedRowsAndLedger) {
  emu_.Generate(150, NowMs() - 20 * kDayMs, NowMs() - kHourMs, 21);
  Configure();
  auto s = Sync();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->applied, 150);
  ExpectTableMatchesEmulator();
  EXPECT_EQ(Count("SELECT COUNT(*) FROM stagesync_ledger"), 150);
  // The ledger holds each record's content hash as staged.
  auto rows = db_.conn()->Query("SELECT source_id, content_hash FROM stagesync_ledger");
  ASSERT_TRUE(rows.ok());
  for (const auto& r : rows->rows) {
    auto staged = log_->Get("dingtalk-payment", *r[0]);
    ASSERT_TRUE(staged.ok() && staged->has_value());
    EXPECT_EQ(*r[1], (*staged)->hash.ToHex());
  }
  EXPECT_EQ(*db_.Scalar("SELECT applied_seq FROM stagesync_offsets"),
            std::to_string(log_->Summary("dingtalk-payment")->last_seq));
  EXPECT_EQ(*log_->Cursor("dingtalk-payment", "bi_mysql"), 150u);
}

TEST_F(MySqlApplyTest, SecondSyncWithNothingChangedWritesNothing) {
  emu_.Generate(60, NowMs() - 10 * kDayMs, NowMs() - kHourMs, 22);
  Configure();
  ASSERT_TRUE(Sync().ok());
  int64_t writes = Count("SELECT COUNT(*) FROM write_log");
  std::string ledger_time = *db_.Scalar("SELECT MAX(applied_at) FROM stagesync_ledger");
  auto s = Sync();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->applied, 0);
  EXPECT_EQ(s->batches, 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM write_log"), writes);
  EXPECT_EQ(*db_.Scalar("SELECT MAX(applied_at) FROM stagesync_ledger"), ledger_time);
}

TEST_F(MySqlApplyTest, ThreeUpstreamChangesGiveExactlyThoseChangesInMySql) {
  emu_.Generate(40, NowMs() - 10 * kDayMs, NowMs() - kHourMs, 23);
  auto detail_rows = [&](const std::string& id) {
    for (const auto& inst : emu_.Instances()) {
      if (inst.id == id) return inst.detail_rows.size();
    }
    return size_t{0};
  };
  // Still-running requests get re-fetched every time; one of them will lose a detail row.
  std::vector<std::string> running;
  std::string shrinking;
  for (int i = 0; i < 40 && (running.size() < 2 || shrinking.empty()); ++i) {
    std::string id = emu_.AddInstance(NowMs() - 5 * kDayMs - i * 1000, "RUNNING", "");
    if (shrinking.empty() && detail_rows(id) >= 2) {
      shrinking = id;
    } else {
      running.push_back(id);
    }
  }
  ASSERT_FALSE(shrinking.empty());
  Configure();
  ASSERT_TRUE(Sync().ok());
  ExpectTableMatchesEmulator();
  const int64_t writes_before = Count("SELECT MAX(id) FROM write_log");
  const std::string where = " WHERE bfn_id = " + db_.conn()->Quote(shrinking);
  const int64_t rows_before = Count("SELECT COUNT(*) FROM payment_application_info" + where);

  ASSERT_TRUE(emu_.Complete(running[0], "agree"));
  ASSERT_TRUE(emu_.Modify(running[1]));
  ASSERT_TRUE(emu_.RemoveDetailRow(shrinking));
  auto s = Sync();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->applied, 3);
  ExpectTableMatchesEmulator();
  EXPECT_EQ(Count("SELECT COUNT(*) FROM payment_application_info" + where), rows_before - 1);
  // Only the three changed requests were written.
  auto written = db_.conn()->Query("SELECT DISTINCT bfn_id FROM write_log WHERE id > " +
                                   std::to_string(writes_before));
  ASSERT_TRUE(written.ok());
  std::set<std::string> ids;
  for (const auto& r : written->rows) ids.insert(*r[0]);
  EXPECT_EQ(ids, (std::set<std::string>{running[0], running[1], shrinking}));
}

TEST_F(MySqlApplyTest, HostileValuesAreByteExactOrQuarantinedWithTheMySqlError) {
  emu_.Generate(20, NowMs() - 5 * kDayMs, NowMs() - kHourMs, 24);
  // Under VARCHAR(64)'s 64 characters.
  const std::string nasty =
      "O'Brien \"q\" b\\s '); DROP TABLE payment_application_info; -- \xF0\x9F\x98\x80 张三";
  std::string a = emu_.AddInstance(NowMs() - 2 * kDayMs);
  std::string b = emu_.AddInstance(NowMs() - 2 * kDayMs + 1);
  std::string c = emu_.AddInstance(NowMs() - 2 * kDayMs + 2);
  ASSERT_TRUE(emu_.SetPayeeName(a, nasty));
  ASSERT_TRUE(emu_.SetPayeeName(b, std::string(1 << 20, 'x')));         // 1 MB for VARCHAR(64)
  ASSERT_TRUE(emu_.SetPayeeName(c, std::string("bad \xC3\x28 utf8")));  // invalid UTF-8
  Configure();
  auto s = Sync();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(*db_.Scalar("SELECT payee_name FROM payment_application_info WHERE bfn_id = " +
                        db_.conn()->Quote(a) + " LIMIT 1"),
            nasty);
  EXPECT_EQ(*db_.Scalar("SELECT HEX(payee_name) = HEX(" + db_.conn()->Quote(nasty) +
                        ") FROM payment_application_info WHERE bfn_id = " + db_.conn()->Quote(a) +
                        " LIMIT 1"),
            "1");
  EXPECT_EQ(
      Count("SELECT COUNT(*) FROM payment_application_info WHERE bfn_id = " + db_.conn()->Quote(b)),
      0);
  EXPECT_EQ(s->quarantined, 1);
  auto q = log_->Quarantined("dingtalk-payment");
  ASSERT_TRUE(q.ok());
  bool saw_b = false, saw_c = false;
  for (const auto& e : *q) {
    if (e.source_id == b) {
      saw_b = true;
      EXPECT_EQ(e.stage, "bi_mysql");
      EXPECT_NE(e.error.find("MySQL error 1406"), std::string::npos) << e.error;
      EXPECT_NE(e.error.find("payee_name"), std::string::npos) << e.error;
      EXPECT_NE(e.error.find("pipeline dingtalk-payment, record " + b), std::string::npos);
    }
    if (e.source_id == c) {
      // Invalid UTF-8 never gets past the JSON parser: parked at fetch, naming the record.
      saw_c = true;
      EXPECT_EQ(e.stage, "fetch");
      EXPECT_NE(e.error.find(c), std::string::npos) << e.error;
    }
  }
  EXPECT_TRUE(saw_b);
  EXPECT_TRUE(saw_c);
  // Everyone else is in.
  EXPECT_EQ(Count("SELECT COUNT(DISTINCT bfn_id) FROM payment_application_info"), 21);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM stagesync_ledger"), 21);

  // After a fix upstream, requeue puts the record back and it applies.
  ASSERT_TRUE(emu_.SetPayeeName(b, "fixed"));
  ASSERT_TRUE(emu_.SetPayeeName(c, "fixed too"));
  auto fixed = Sync();  // b is re-fetched only if listed: it is older than the overlap
  ASSERT_TRUE(fixed.ok());
  auto n = log_->Requeue("dingtalk-payment", "bi_mysql", b);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1);
  Runtime sdeps;
  auto again =
      apply::RunApply(cfg_, cfg_.pipelines[0], cfg_.pipelines[0].sinks[0], log_.get(), sdeps);
  ASSERT_TRUE(again.ok());
  // The staged (1 MB) version is still too long: quarantined again, nothing else written.
  EXPECT_EQ(again->quarantined, 1);
  EXPECT_EQ(*db_.Scalar("SELECT payee_name FROM payment_application_info WHERE bfn_id = " +
                        db_.conn()->Quote(c) + " LIMIT 1"),
            "fixed too");
}

TEST_F(MySqlApplyTest, AMappingChangeReappliesEveryRecordExactlyOnce) {
  emu_.Generate(30, NowMs() - 10 * kDayMs, NowMs() - kHourMs, 26);
  Configure();
  ASSERT_TRUE(Sync().ok());
  const int64_t rows = Count("SELECT COUNT(*) FROM payment_application_info");
  const int64_t writes = Count("SELECT COUNT(*) FROM write_log");
  ASSERT_EQ(writes, rows);

  testing::PaymentPipelineOptions changed;
  changed.column_overrides["purpose"] = "_function concat('[', {{form:用途}}, ']')";
  cfg_ = {};
  Configure(changed);
  std::vector<std::string> notices;
  apply::ApplyOptions opts;
  opts.on_notice = [&](const std::string& m) { notices.push_back(m); };
  Runtime sdeps;
  auto s =
      apply::RunApply(cfg_, cfg_.pipelines[0], cfg_.pipelines[0].sinks[0], log_.get(), sdeps, opts);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->reapplied, 30);
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_NE(notices[0].find("re-applying all 30 staged records"), std::string::npos) << notices[0];
  EXPECT_EQ(Count("SELECT COUNT(*) FROM write_log"), writes + rows);  // each row once more
  EXPECT_EQ(Count("SELECT COUNT(*) FROM payment_application_info WHERE purpose LIKE '[%]'"), rows);
  // And only once: the next apply writes nothing.
  auto again =
      apply::RunApply(cfg_, cfg_.pipelines[0], cfg_.pipelines[0].sinks[0], log_.get(), sdeps, opts);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->reapplied + again->applied, 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM write_log"), writes + rows);
}

TEST_F(MySqlApplyTest, ARetargetedTableGetsEveryRecordOnceAndTheOldOneIsLeftAlone) {
  emu_.Generate(30, NowMs() - 10 * kDayMs, NowMs() - kHourMs, 31);
  Configure();
  ASSERT_TRUE(Sync().ok());
  const int64_t rows = Count("SELECT COUNT(*) FROM payment_application_info");
  const int64_t writes = Count("SELECT COUNT(*) FROM write_log");
  ASSERT_EQ(writes, rows);
  ASSERT_TRUE(db_.conn()->Execute("CREATE TABLE payment_copy LIKE payment_application_info").ok());
  for (const char* op : {"INSERT", "UPDATE"}) {
    ASSERT_TRUE(db_.conn()
                    ->Execute(fmt::format(
                        "CREATE TRIGGER copy_{0} AFTER {0} ON payment_copy FOR EACH ROW INSERT "
                        "INTO write_log (bfn_id, detail_index, op) VALUES (NEW.bfn_id, "
                        "NEW.detail_index, 'C')",
                        op))
                    .ok());
  }
  testing::PaymentPipelineOptions moved;
  moved.table = "payment_copy";
  cfg_ = {};
  Configure(moved);
  auto s = Sync();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->reapplied, 30);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM payment_copy"), rows);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM write_log WHERE op = 'C'"), rows);     // each row once
  EXPECT_EQ(Count("SELECT COUNT(*) FROM write_log WHERE op <> 'C'"), writes);  // old: untouched
  auto again = Sync();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->reapplied + again->applied, 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM write_log"), writes + rows);
}

TEST_F(MySqlApplyTest, ARetargetedDatabaseGetsEveryRecordOnce) {
  emu_.Generate(25, NowMs() - 10 * kDayMs, NowMs() - kHourMs, 32);
  Configure();
  ASSERT_TRUE(Sync().ok());
  const int64_t rows = Count("SELECT COUNT(*) FROM payment_application_info");
  testing::TestDatabase other;
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(other.Source(STAGESYNC_SOURCE_DIR "/conf/sql/payment_application_info.sql").ok());
  auto cfg = config::LoadString(
      testing::PaymentConfigJson(emu_.base_url(), dir_.Sub("state"), db_.port(), other.name()), "");
  ASSERT_TRUE(cfg.ok());
  cfg_ = std::move(cfg).value();
  auto s = Sync();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->reapplied, 25);
  EXPECT_EQ(std::stoll(*other.Scalar("SELECT COUNT(*) FROM payment_application_info")), rows);
  EXPECT_EQ(std::stoll(*other.Scalar("SELECT COUNT(*) FROM stagesync_ledger")), 25);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM write_log"), rows);  // the old database: untouched
}

TEST_F(MySqlApplyTest, RuleBreakersAreQuarantinedWithRuleAndValueAndTheRestApply) {
  emu_.Generate(40, NowMs() - 10 * kDayMs, NowMs() - kHourMs, 27);
  testing::PaymentPipelineOptions o;
  o.rules_json = R"({"total_amount": {"required": true, "max": 5000},
                     "status": {"enum": ["COMPLETED", "RUNNING", "TERMINATED", "NEW", "CANCELED"]}})";
  Configure(o);
  auto s = Sync();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  int over = 0;
  for (const auto& inst : emu_.Instances()) over += std::stod(inst.total_amount) > 5000;
  ASSERT_GT(over, 0);
  EXPECT_EQ(s->quarantined, over);
  EXPECT_EQ(s->rule_failures["max:total_amount"], over);
  EXPECT_EQ(Count("SELECT COUNT(DISTINCT bfn_id) FROM payment_application_info"), 40 - over);
  auto q = log_->Quarantined("dingtalk-payment");
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(static_cast<int>(q->size()), over);
  EXPECT_NE((*q)[0].error.find("rule max on column total_amount"), std::string::npos)
      << (*q)[0].error;
  EXPECT_NE((*q)[0].error.find("is above 5000"), std::string::npos) << (*q)[0].error;
}

TEST_F(MySqlApplyTest, WhereSkipsRecordsUntilAVersionMatches) {
  emu_.Generate(30, NowMs() - 10 * kDayMs, NowMs() - kHourMs, 28);
  std::string running = emu_.AddInstance(NowMs() - 3 * kDayMs, "RUNNING", "");
  testing::PaymentPipelineOptions o;
  o.where = "status == 'COMPLETED' and result == 'agree'";
  Configure(o);
  auto s = Sync();
  ASSERT_TRUE(s.ok());
  int approved = 0;
  for (const auto& inst : emu_.Instances()) {
    approved += inst.status == "COMPLETED" && inst.result == "agree";
  }
  EXPECT_EQ(s->applied, approved);
  EXPECT_EQ(s->filtered, 31 - approved);
  EXPECT_EQ(s->quarantined, 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM payment_application_info WHERE bfn_id = " +
                  db_.conn()->Quote(running)),
            0);
  ASSERT_TRUE(emu_.Complete(running, "agree"));
  auto later = Sync();
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->applied, 1);
  EXPECT_GT(Count("SELECT COUNT(*) FROM payment_application_info WHERE bfn_id = " +
                  db_.conn()->Quote(running)),
            0);
}

TEST_F(MySqlApplyTest, CheckReportsATargetTableThatDoesNotMatchTheMapping) {
  Configure();
  const auto& p = cfg_.pipelines[0];
  EXPECT_TRUE(connectors::CheckSink(cfg_, p, p.sinks[0], &rt_).ok());
  ASSERT_TRUE(
      db_.conn()->Execute("ALTER TABLE payment_application_info DROP COLUMN biz_action").ok());
  Status s = connectors::CheckSink(cfg_, p, p.sinks[0], &rt_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("pipelines.dingtalk-payment.sinks.bi_mysql.columns.biz_action: "
                             "table 'payment_application_info' has no column 'biz_action'"),
            std::string::npos)
      << s.message();
  ASSERT_TRUE(db_.conn()->Execute("DROP TABLE payment_application_info").ok());
  s = connectors::CheckSink(cfg_, p, p.sinks[0], &rt_);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("conf/sql/"), std::string::npos) << s.message();
}

TEST_F(MySqlApplyTest, MariaDbRestartedMidApplyCompletesWhenItIsBack) {
  testing::PrivateMariaDb server(dir_.Sub("mariadb"));
  ASSERT_GT(server.port(), 0);
  testing::TestDatabase db(server.port());
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(db.Source(STAGESYNC_SOURCE_DIR "/conf/sql/payment_application_info.sql").ok());
  emu_.Generate(1500, NowMs() - 20 * kDayMs, NowMs() - kHourMs, 25);
  testing::PaymentPipelineOptions o;
  o.batch_rows = 10;  // many small transactions, so the restart lands mid-apply
  Load(testing::PaymentConfigJson(emu_.base_url(), dir_.Sub("state"), server.port(), db.name(), o));
  ASSERT_TRUE(Fetch().ok());

  std::atomic<int64_t> batches{0};
  apply::ApplyOptions opts;
  opts.on_batch = [&](const apply::ApplySummary& s) { batches = s.batches; };
  Result<apply::ApplySummary> result = Status(StatusCode::kInternal, "not run");
  std::thread applier([&] {
    Runtime sdeps;
    result = apply::RunApply(cfg_, cfg_.pipelines[0], cfg_.pipelines[0].sinks[0], log_.get(), sdeps,
                             opts);
  });
  while (batches < 5) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(server.Restart(), 0);
  applier.join();
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_GT(result->retries, 0);  // it did see the server go away
  testing::TestDatabase check(server.port());
  auto reconnect = ConnectMySql(db.Options(db.name()));
  ASSERT_TRUE(reconnect.ok());
  auto n = (*reconnect)
               ->Query(
                   "SELECT COUNT(DISTINCT bfn_id), (SELECT COUNT(*) FROM stagesync_ledger) FROM "
                   "payment_application_info");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n->rows[0][0], "1500");
  EXPECT_EQ(*n->rows[0][1], "1500");
}

}  // namespace
}  // namespace stagesync
