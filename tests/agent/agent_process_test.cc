// The real `stagesync run` process: SIGTERM while a MySQL batch or a Kingdee push is in flight
// (exit 0 within shutdown_grace_s, nothing half-applied, the next start resumes), a SIGKILL loop
// of an agent serving two pipelines (nothing lost or doubled), the isolation of a failing source
// from another pipeline and of a failing sink from its sibling, and the one-shot commands'
// answer while an agent holds the state dir. Checked against the emulators' state, the MySQL
// table, the sinks' ledgers and write logs fed by triggers, and the staging log opened read-only.
#include "testing/agent_process.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "emulators/dingtalk_emulator.h"
#include "emulators/kingdee_emulator.h"
#include "stagesync/clock.h"
#include "stagesync/json.h"
#include "stagesync/stage.h"
#include "testing/exactly_once.h"
#include "testing/kingdee_materials.h"
#include "testing/kingdee_pipeline.h"
#include "testing/mariadb.h"
#include "testing/payment_pipeline.h"
#include "testing/subprocess.h"
#include "testing/temp_dir.h"

namespace stagesync {
namespace {

constexpr int64_t kHourMs = 3600000;
constexpr int64_t kDayMs = 24 * kHourMs;
const std::string kBinary = STAGESYNC_BINARY_DIR "/stagesync";
const std::string kPayment = "dingtalk-payment";
const std::string kMaterial = "kingdee-material";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The end of a log, for failure messages.
std::string Tail(const std::string& path, size_t n = 4000) {
  std::string s = ReadAll(path);
  return s.size() <= n ? s : "..." + s.substr(s.size() - n);
}

using Row = std::vector<std::optional<std::string>>;

// data_id -> the wk_wodtop_product row seed 004 must produce for the emulator's materials.
std::map<std::string, Row> ExpectedMaterialRows(const std::vector<emulators::KingdeeMaterial>& ms) {
  auto or_null = [](const std::string& s) {
    return s.empty() ? std::nullopt : std::optional<std::string>(s);
  };
  auto trimmed = [](const std::string& s) {
    size_t a = s.find_first_not_of(" \t\r\n");
    return a == std::string::npos ? std::string()
                                  : s.substr(a, s.find_last_not_of(" \t\r\n") - a + 1);
  };
  std::map<std::string, Row> out;
  for (const auto& m : ms) {
    if (!testing::InSeed004Filter(m)) continue;
    std::string date = m.modify_date;
    date[10] = ' ';
    out[std::to_string(m.master_id)] = {std::to_string(m.master_id),
                                        m.number,
                                        m.name,
                                        m.product_line,
                                        trimmed(m.specification),
                                        or_null(m.group_number),
                                        or_null(m.base_unit),
                                        date};
  }
  return out;
}

class AgentProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.ok()) << "no MariaDB: is the mariadb fixture running?";
    ASSERT_TRUE(db_.Source(STAGESYNC_SOURCE_DIR "/conf/sql/payment_application_info.sql").ok());
    ASSERT_TRUE(db_.AddPaymentWriteLog().ok());
    ASSERT_TRUE(dt_.Start(0));
    now_ = Clock::Real()->NowMillis();
  }

  std::string WriteConfig(const std::string& json_text) {
    const std::string path = dir_.Sub("config.json");
    std::ofstream(path) << json_text;
    return path;
  }
  std::string state() const { return dir_.Sub("state"); }
  std::string log() const { return dir_.Sub("agent.log"); }

  int64_t Count(const std::string& table) {
    auto n = db_.Scalar("SELECT COUNT(*) FROM " + table);
    return n.ok() && *n != "NULL" ? std::stoll(*n) : -1;
  }

  // Every approved request of the DingTalk emulator registered as a CN_PAYAPPLY in Kingdee.
  void RegisterBills(emulators::KingdeeEmulator* kd) {
    for (const auto& inst : dt_.Instances()) {
      if (registered_.insert(inst.bill_number).second) kd->AddPayApply(inst.bill_number);
    }
  }
  int Approved() {
    int n = 0;
    for (const auto& inst : dt_.Instances())
      n += inst.status == "COMPLETED" && inst.result == "agree";
    return n;
  }

  // payment_application_info equals the rows expected for the emulator's requests, exactly;
  // the write log shows each row written once.
  void ExpectPaymentTableExact() {
    auto expected = testing::ExpectedPaymentRows(dt_.Instances());
    auto rows = db_.conn()->Query(std::string("SELECT ") + testing::kPaymentColumns +
                                  " FROM payment_application_info");
    ASSERT_TRUE(rows.ok());
    ASSERT_EQ(rows->rows.size(), expected.size());
    for (const auto& row : rows->rows) {
      auto it = expected.find(*row[0] + "|" + *row[1]);
      ASSERT_NE(it, expected.end()) << "unexpected row " << *row[0];
      EXPECT_EQ(row, it->second) << *row[0];
    }
    ExpectNoRowWrittenTwice("write_log", "bfn_id, detail_index", expected.size());
  }

  void ExpectNoRowWrittenTwice(const std::string& write_log, const std::string& key, size_t rows) {
    auto twice = db_.conn()->Query("SELECT " + key + ", COUNT(*) FROM " + write_log + " GROUP BY " +
                                   key + " HAVING COUNT(*) > 1 LIMIT 5");
    ASSERT_TRUE(twice.ok());
    EXPECT_TRUE(twice->rows.empty()) << "row written twice: " << *twice->rows[0][0];
    EXPECT_EQ(Count(write_log), static_cast<int64_t>(rows));
  }

  // While the agent runs: STAGESYNC_AGENT names it.
  void ExpectAgentFile(testing::AgentProcess* agent, const std::string& config) {
    auto v = json::Parse(ReadAll(state() + "/STAGESYNC_AGENT"));
    ASSERT_TRUE(v.ok()) << "no readable " << state() << "/STAGESYNC_AGENT";
    EXPECT_EQ(testing::IntOf(&*v, "pid"), agent->process().pid());
    EXPECT_EQ(testing::TextOf(&*v, "listen"), agent->address());
    EXPECT_EQ(testing::TextOf(&*v, "config"), config);
  }

  // Makes every MySQL batch slow: a trigger sleeps 100 ms per row, so a batch of 10 requests
  // (~25 rows) takes about 2.5 s.
  void SlowDownInserts() {
    auto s = db_.conn()->Execute(
        "CREATE TRIGGER slow_insert BEFORE INSERT ON payment_application_info FOR EACH ROW SET "
        "@slept = SLEEP(0.1)");
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  // Waits for a batch to commit and the next one to start writing (the server's process list
  // shows the trigger sleeping inside it before it commits): that batch has ~2.5 s to go.
  bool NextBatchJustStarted() {
    const int64_t committed = Count("payment_application_info");
    auto writing = [&] {
      auto n = db_.Scalar("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = '" +
                          db_.name() +
                          "' AND ID <> CONNECTION_ID() AND COMMAND = 'Query' AND STATE = "
                          "'User sleep'");
      return n.ok() && *n != "0";
    };
    return testing::WaitFor([&] { return Count("payment_application_info") > committed; }, 20000,
                            5) &&
           testing::WaitFor(writing, 1000, 5);
  }

  testing::TestDatabase db_;
  emulators::DingTalkEmulator dt_;
  testing::TempDir dir_;
  int64_t now_ = 0;
  std::set<std::string> registered_;
};

// SIGTERM while the MySQL sink applies 3000 requests in batches of 10 (one transaction each):
// the agent commits the batch in flight and exits 0 well within the grace period; staging and
// MySQL agree (everything before the sink's cursor is in the ledger, every ledger row has all
// its table rows and nothing else is there); STAGESYNC_AGENT is gone; the next `run` finishes
// the job without writing any row twice.
TEST_F(AgentProcessTest, SigtermDuringAMySqlApplyExitsZeroWithinGraceAndTheNextStartResumes) {
  dt_.Generate(3000, now_ - 25 * kDayMs, now_ - kHourMs, 77);
  testing::PaymentPipelineOptions o;
  o.qps = 1000;
  o.batch_rows = 10;
  testing::AgentSection a;
  a.shutdown_grace_s = 10;
  const std::string config = WriteConfig(testing::AgentConfig(
      testing::PaymentConfigJson(dt_.base_url(), state(), db_.port(), db_.name(), o), "@every 2s",
      a));
  const auto expected = testing::ExpectedPaymentRows(dt_.Instances());
  const int64_t total = static_cast<int64_t>(expected.size());

  testing::AgentProcess agent;
  ASSERT_TRUE(agent.Start(kBinary, config, log()));
  ASSERT_TRUE(agent.WaitReady()) << Tail(log());
  ExpectAgentFile(&agent, config);
  int64_t seen = 0;
  ASSERT_TRUE(
      testing::WaitFor([&] { return (seen = Count("payment_application_info")) > 0; }, 40000, 5))
      << "no row applied: " << Tail(log());
  ASSERT_LT(seen, total) << "the apply finished before it could be interrupted";
  const auto stopped = agent.Terminate(30000);
  EXPECT_EQ(stopped.code, 0) << Tail(log());
  EXPECT_LT(stopped.elapsed_ms, a.shutdown_grace_s * 1000) << Tail(log());
  // One batch of 10 requests commits in far less: the stop must not wait for the whole apply.
  EXPECT_LT(stopped.elapsed_ms, 5000) << Tail(log());
  EXPECT_FALSE(std::filesystem::exists(state() + "/STAGESYNC_AGENT"));
  const int64_t after = Count("payment_application_info");
  EXPECT_GE(after, seen);
  EXPECT_LT(after, total) << "SIGTERM did not stop the apply after its batch in flight";
  std::printf("SIGTERM at %lld of %lld rows; %lld rows after the exit in %lld ms\n",
              static_cast<long long>(seen), static_cast<long long>(total),
              static_cast<long long>(after), static_cast<long long>(stopped.elapsed_ms));

  {
    stage::StageOptions ro;
    ro.read_only = true;
    auto staging = stage::StagingLog::Open(state(), ro);
    ASSERT_TRUE(staging.ok()) << staging.status().ToString();
    auto cursor = (*staging)->Cursor(kPayment, "bi_mysql");
    ASSERT_TRUE(cursor.ok());
    auto ledger = db_.conn()->Query(
        "SELECT source_id, seq FROM stagesync_ledger WHERE pipeline = 'dingtalk-payment' AND "
        "sink = 'bi_mysql'");
    ASSERT_TRUE(ledger.ok());
    std::set<std::string> ledger_ids;
    uint64_t max_seq = 0;
    for (const auto& r : ledger->rows) {
      ledger_ids.insert(*r[0]);
      max_seq = std::max<uint64_t>(max_seq, std::stoull(*r[1]));
    }
    ASSERT_FALSE(ledger_ids.empty());
    auto offset = db_.Scalar(
        "SELECT applied_seq FROM stagesync_offsets WHERE pipeline = 'dingtalk-payment' AND "
        "sink = 'bi_mysql'");
    ASSERT_TRUE(offset.ok());
    EXPECT_LE(*cursor, max_seq) << "the cursor passed records the ledger does not hold";
    // A graceful stop ends after the batch's cursor update: staging and the target agree.
    EXPECT_EQ(std::to_string(*cursor), *offset);
    // Everything the cursor has passed was applied.
    auto changes = (*staging)->ReadChanges(kPayment, 0, 1000000);
    ASSERT_TRUE(changes.ok());
    for (const auto& c : *changes) {
      if (c.seq <= *cursor) {
        EXPECT_TRUE(ledger_ids.count(c.source_id)) << c.source_id;
      }
    }
    // The table holds exactly the rows of the ledger's requests: no batch half-applied.
    std::map<std::string, Row> want;
    for (const auto& [key, row] : expected) {
      if (ledger_ids.count(*row[0])) want[key] = row;
    }
    auto rows = db_.conn()->Query(std::string("SELECT ") + testing::kPaymentColumns +
                                  " FROM payment_application_info");
    ASSERT_TRUE(rows.ok());
    EXPECT_EQ(rows->rows.size(), want.size());
    for (const auto& row : rows->rows) {
      auto it = want.find(*row[0] + "|" + *row[1]);
      ASSERT_NE(it, want.end()) << "row of a request the ledger does not hold: " << *row[0];
      EXPECT_EQ(row, it->second);
    }
  }

  // The next start resumes where the last batch ended.
  testing::AgentProcess again;
  ASSERT_TRUE(again.Start(kBinary, config, log()));
  ASSERT_TRUE(again.WaitReady()) << Tail(log());
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        if (Count("payment_application_info") != total) return false;
        auto p = again.Pipeline(kPayment);
        const json::Value* pending = p ? p->Find("pending") : nullptr;
        return testing::IntOf(pending, "bi_mysql") == 0;
      },
      40000, 50))
      << Tail(log());
  const auto second = again.Terminate(30000);
  EXPECT_EQ(second.code, 0) << Tail(log());
  ExpectPaymentTableExact();
  EXPECT_EQ(std::stoul(*db_.Scalar("SELECT COUNT(*) FROM stagesync_ledger")),
            dt_.Instances().size());
}

// SIGTERM while the Kingdee push sink is mid-batch (150 ms per call): exit 0 within the grace,
// the batch in flight resolved (no intent left open), and after a clean `stagesync sync` exactly
// one AP_PAYBILL per approved request.
TEST_F(AgentProcessTest, SigtermDuringAKingdeePushBatchExitsZeroAndNoBillIsDoubled) {
  emulators::KingdeeEmulator kd;
  ASSERT_TRUE(kd.Start(0));
  dt_.Generate(150, now_ - 20 * kDayMs, now_ - kHourMs, 92);
  RegisterBills(&kd);
  kd.SetLatencyMs(150);
  testing::KingdeePushOptions o;
  o.batch_rows = 5;
  testing::AgentSection a;
  a.shutdown_grace_s = 10;
  const std::string config = WriteConfig(testing::AgentConfig(
      testing::KingdeePushConfigJson(dt_.base_url(), kd.base_url(), state(), o), "@every 2s", a));
  const size_t approved = static_cast<size_t>(Approved());
  ASSERT_GT(approved, 20u);

  testing::AgentProcess agent;
  ASSERT_TRUE(agent.Start(kBinary, config, log()));
  ASSERT_TRUE(agent.WaitReady()) << Tail(log());
  ASSERT_TRUE(testing::WaitFor([&] { return !kd.PayBills().empty(); }, 40000, 5))
      << "nothing pushed: " << Tail(log());
  // The next batch's push call (150 ms) is under way.
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  ASSERT_LT(kd.PayBills().size(), approved) << "the push finished before it could be interrupted";
  const int64_t pushes_at_term = kd.PushCount();
  const auto stopped = agent.Terminate(30000);
  EXPECT_EQ(stopped.code, 0) << Tail(log());
  EXPECT_LT(stopped.elapsed_ms, a.shutdown_grace_s * 1000) << Tail(log());
  EXPECT_LT(kd.PayBills().size(), approved) << "SIGTERM did not stop the push";
  std::printf("SIGTERM during push call %lld: %zu of %zu bills, %lld calls; stopped in %lld ms\n",
              static_cast<long long>(pushes_at_term + 1), kd.PayBills().size(), approved,
              static_cast<long long>(kd.PushCount()), static_cast<long long>(stopped.elapsed_ms));
  {
    // The batch in flight finished: every intent it recorded is resolved.
    stage::StageOptions ro;
    ro.read_only = true;
    auto staging = stage::StagingLog::Open(state(), ro);
    ASSERT_TRUE(staging.ok());
    auto open = (*staging)->Intents(kPayment, "kingdee_paybill");
    ASSERT_TRUE(open.ok());
    EXPECT_TRUE(open->empty()) << open->size() << " intent(s) left open by a graceful stop";
    EXPECT_EQ((*staging)->Outcomes(kPayment, "kingdee_paybill")->size(), kd.PayBills().size());
  }

  kd.SetLatencyMs(0);
  ASSERT_EQ(testing::Run({kBinary, "--config", config, "sync", kPayment}, {}, log()), 0)
      << Tail(log());
  testing::ExpectOneBillPerApprovedRequest(dt_, kd, state());
}

// `run` serving two pipelines (DingTalk -> MySQL + Kingdee push; Kingdee materials -> MySQL),
// both every second, SIGKILLed 20+ times at random moments and at the crash points between a
// MySQL commit and the cursor, and after a Kingdee call or intent, with new source data between
// kills; then a clean sync of each pipeline: every table exactly as expected, no row written
// twice, one bill per approved request, every intent resolved.
TEST_F(AgentProcessTest, SigkillLoopOfRunWithTwoPipelinesLosesAndDoublesNothing) {
  ASSERT_TRUE(db_.Source(STAGESYNC_SOURCE_DIR "/conf/sql/wk_wodtop_product.sql").ok());
  ASSERT_TRUE(db_.conn()
                  ->Execute("CREATE TABLE material_write_log (id BIGINT AUTO_INCREMENT PRIMARY "
                            "KEY, data_id BIGINT)")
                  .ok());
  for (std::string op : {"INSERT", "UPDATE"}) {
    ASSERT_TRUE(db_.conn()
                    ->Execute("CREATE TRIGGER mwl_" + op + " AFTER " + op +
                              " ON wk_wodtop_product FOR EACH ROW INSERT INTO material_write_log "
                              "(data_id) VALUES (NEW.data_id)")
                    .ok());
  }
  emulators::KingdeeEmulator kd;
  ASSERT_TRUE(kd.Start(0));
  kd.SetLatencyMs(2);
  kd.GenerateMaterials(400, 41);
  dt_.Generate(300, now_ - 20 * kDayMs, now_ - kHourMs, 93);
  RegisterBills(&kd);

  testing::KingdeePushOptions o;
  o.batch_rows = 5;
  o.with_mysql = true;
  o.mysql_port = db_.port();
  o.database = db_.name();
  json::Value root =
      *json::Parse(testing::KingdeePushConfigJson(dt_.base_url(), kd.base_url(), state(), o));
  testing::SetMember(testing::Member(testing::Member(&root, "connections"), "dingtalk"), "qps",
                     json::Value::Number("1000"));
  {
    // Seed 004 as shipped, into the same database through the `bi` connection.
    std::ifstream in(STAGESYNC_SOURCE_DIR "/conf/seeds/004-kingdee-material.json");
    json::Value seed = *json::Parse(
        std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()));
    json::Value material = *testing::Member(testing::Member(&seed, "pipelines"), kMaterial);
    json::Value* sink = testing::Member(testing::Member(&material, "sinks"), "crm_mysql");
    testing::SetMember(sink, "connection", json::Value::String("bi"));
    testing::SetMember(sink, "batch_rows", json::Value::Number("20"));
    testing::SetMember(testing::Member(&root, "pipelines"), kMaterial, std::move(material));
  }
  const std::string config = WriteConfig(testing::AgentConfig(json::Serialize(root), "@every 1s"));

  std::mt19937 rng(1301);
  int killed = 0, at_crash_point = 0;
  for (int i = 0; i < 60 && killed < 24; ++i) {
    const int mode = i % 4;  // 0: random moment; 1: after a MySQL commit; 2, 3: around a push
    std::vector<std::string> env;
    const std::string n = std::to_string(1 + rng() % 4);
    if (mode == 1) env.push_back("STAGESYNC_CRASH_AT=apply.after_commit:" + n);
    if (mode == 2) env.push_back("STAGESYNC_CRASH_AT=http_sink.after_call:" + n);
    if (mode == 3) env.push_back("STAGESYNC_CRASH_AT=http_sink.after_intent:" + n);
    if (i % 5 == 0) kd.DropResponseAfterCommitNext(2);
    testing::Subprocess p;
    ASSERT_TRUE(p.Start({kBinary, "--config", config, "run", "--listen",
                         "127.0.0.1:" + std::to_string(testing::FreeLoopbackPort())},
                        env, log()));
    // Random kills land 20-800 ms after the start; a crash point gets 2.5 s to be reached.
    const int64_t wait_ms = mode == 0 ? 20 + rng() % 780 : 2500;
    int code = 0;
    const bool died = testing::WaitFor([&] { return p.Poll(&code); }, wait_ms, 2);
    if (!died) {
      p.Kill();
      code = p.Wait();
    }
    ASSERT_EQ(code, 128 + SIGKILL) << "run " << i << " exited by itself: " << Tail(log());
    ++killed;
    at_crash_point += died;
    // New source data: approved requests to push, materials to copy.
    const int64_t t = Clock::Real()->NowMillis();
    for (int k = 0; k < 2; ++k) dt_.AddInstance(t - 60000 + k * 1000);
    RegisterBills(&kd);
    if (i % 3 == 0) kd.GenerateMaterials(10, 500 + i);
  }
  std::printf(
      "%d runs killed, %d of them at a crash point; %lld rows and %zu bills before the "
      "clean sync\n",
      killed, at_crash_point, static_cast<long long>(Count("payment_application_info")),
      kd.PayBills().size());
  EXPECT_GE(killed, 20);
  EXPECT_GE(at_crash_point, 5);

  kd.DropResponseAfterCommitNext(0);
  for (const std::string& p : {kPayment, kMaterial}) {
    ASSERT_EQ(testing::Run({kBinary, "--config", config, "sync", p}, {}, log()), 0)
        << p << ": " << Tail(log());
  }
  ExpectPaymentTableExact();
  const auto materials = ExpectedMaterialRows(kd.Materials());
  auto rows = db_.conn()->Query(
      "SELECT data_id, product_number, product_name, product_line, specification_model, "
      "material_group, base_unit, modify_date FROM wk_wodtop_product");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->rows.size(), materials.size());
  for (const auto& row : rows->rows) {
    auto it = materials.find(*row[0]);
    ASSERT_NE(it, materials.end()) << "unexpected material " << *row[0];
    EXPECT_EQ(row, it->second) << *row[0];
  }
  ExpectNoRowWrittenTwice("material_write_log", "data_id", materials.size());
  testing::ExpectOneBillPerApprovedRequest(dt_, kd, state());
  stage::StageOptions ro;
  ro.read_only = true;
  auto staging = stage::StagingLog::Open(state(), ro);
  ASSERT_TRUE(staging.ok());
  for (const std::string& p : {kPayment, kMaterial}) {
    auto sum = (*staging)->Summary(p);
    ASSERT_TRUE(sum.ok());
    for (const auto& s : sum->sinks) EXPECT_EQ(s.pending, 0) << p << "/" << s.name;
  }
}

// Pipeline A's source answers 502 to every data call (each fetch gives up after its 1 s retry
// budget); pipeline B, on the same schedule, keeps starting a run every second and its rows
// arrive, while A shows "failing" with its failures and backoff.
TEST_F(AgentProcessTest, OneSourceDownDoesNotDelayAnotherPipeline) {
  ASSERT_TRUE(db_.Source(STAGESYNC_SOURCE_DIR "/conf/sql/wk_wodtop_product.sql").ok());
  emulators::KingdeeEmulator kd;
  ASSERT_TRUE(kd.Start(0));
  kd.GenerateMaterials(300, 42);
  dt_.Generate(50, now_ - 5 * kDayMs, now_ - kHourMs, 94);
  dt_.Fail5xxNext(1000000);

  json::Value root =
      *json::Parse(testing::PaymentConfigJson(dt_.base_url(), state(), db_.port(), db_.name()));
  json::Value* dingtalk = testing::Member(testing::Member(&root, "connections"), "dingtalk");
  testing::SetMember(dingtalk, "retry_budget_s", json::Value::Number("1"));
  testing::SetMember(testing::Member(&root, "connections"), "kingdee",
                     testing::KingdeeConnection(kd.base_url()));
  {
    std::ifstream in(STAGESYNC_SOURCE_DIR "/conf/seeds/004-kingdee-material.json");
    json::Value seed = *json::Parse(
        std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()));
    json::Value material = *testing::Member(testing::Member(&seed, "pipelines"), kMaterial);
    testing::SetMember(testing::Member(testing::Member(&material, "sinks"), "crm_mysql"),
                       "connection", json::Value::String("bi"));
    testing::SetMember(testing::Member(&root, "pipelines"), kMaterial, std::move(material));
  }
  const std::string config = WriteConfig(testing::AgentConfig(json::Serialize(root), "@every 1s"));
  const int64_t products = static_cast<int64_t>(ExpectedMaterialRows(kd.Materials()).size());

  testing::AgentProcess agent;
  ASSERT_TRUE(agent.Start(kBinary, config, log()));
  ASSERT_TRUE(agent.WaitReady()) << Tail(log());
  // B's runs: every distinct last_run.started_ms seen over 6 s.
  std::vector<int64_t> b_starts;
  const int64_t until = testing::SteadyNowMs() + 6000;
  while (testing::SteadyNowMs() < until) {
    auto b = agent.Pipeline(kMaterial);
    ASSERT_TRUE(b.has_value()) << Tail(log());
    const int64_t started = testing::IntOf(b->Find("last_run"), "started_ms");
    if (started > 0 && (b_starts.empty() || b_starts.back() != started)) {
      b_starts.push_back(started);
    }
    EXPECT_NE(testing::TextOf(&*b, "state"), "failing") << json::Serialize(*b);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::printf("pipeline B started %zu runs in 6 s while A failed\n", b_starts.size());
  EXPECT_GE(b_starts.size(), 4u) << "pipeline B ran only " << b_starts.size() << " time(s) in 6 s";
  for (size_t i = 1; i < b_starts.size(); ++i) {
    EXPECT_LT(b_starts[i] - b_starts[i - 1], 2500) << "pipeline B's run " << i << " was late";
  }
  EXPECT_EQ(Count("wk_wodtop_product"), products);
  auto a_state = agent.Pipeline(kPayment);
  ASSERT_TRUE(a_state.has_value());
  EXPECT_EQ(testing::TextOf(&*a_state, "state"), "failing") << json::Serialize(*a_state);
  const json::Value* backoff = a_state->Find("backoff");
  EXPECT_GT(testing::IntOf(backoff, "failures"), 0) << json::Serialize(*a_state);
  EXPECT_GT(testing::IntOf(backoff, "until_ms"), 0) << json::Serialize(*a_state);
  EXPECT_FALSE(testing::TextOf(&*a_state, "last_error").empty()) << json::Serialize(*a_state);
  EXPECT_EQ(Count("payment_application_info"), 0);

  // A's source comes back: after its backoff (at most backoff_max_s) its rows arrive.
  dt_.Fail5xxNext(0);
  const int64_t rows = static_cast<int64_t>(testing::ExpectedPaymentRows(dt_.Instances()).size());
  EXPECT_TRUE(
      testing::WaitFor([&] { return Count("payment_application_info") == rows; }, 15000, 50))
      << Tail(log());
  const auto stopped = agent.Terminate(30000);
  EXPECT_EQ(stopped.code, 0) << Tail(log());
}

// Kingdee answers 502 to every business call and its connection retries for 600 s, so the
// push sink stays stuck in its first batch; the MySQL sink of the same pipeline keeps applying
// the requests that keep arriving, on schedule. SIGTERM then exits 0 within the grace period:
// the stuck vendor call's retries stop on shutdown.
TEST_F(AgentProcessTest, KingdeeDownWhileTheMySqlSinkOfTheSamePipelineKeepsApplying) {
  emulators::KingdeeEmulator kd;
  ASSERT_TRUE(kd.Start(0));
  dt_.Generate(40, now_ - 5 * kDayMs, now_ - kHourMs, 95);
  RegisterBills(&kd);
  kd.Fail5xxNext(1000000);
  testing::KingdeePushOptions o;
  o.batch_rows = 5;
  o.with_mysql = true;
  o.mysql_port = db_.port();
  o.database = db_.name();
  o.retry_budget_s = 600;
  testing::AgentSection a;
  a.shutdown_grace_s = 5;
  const std::string config = WriteConfig(testing::AgentConfig(
      testing::KingdeePushConfigJson(dt_.base_url(), kd.base_url(), state(), o), "@every 1s", a));

  testing::AgentProcess agent;
  ASSERT_TRUE(agent.Start(kBinary, config, log()));
  ASSERT_TRUE(agent.WaitReady()) << Tail(log());
  auto expected_rows = [&] {
    return static_cast<int64_t>(testing::ExpectedPaymentRows(dt_.Instances()).size());
  };
  ASSERT_TRUE(testing::WaitFor([&] { return Count("payment_application_info") == expected_rows(); },
                               15000, 20))
      << Tail(log());
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto p = agent.Pipeline(kPayment);
        return p && testing::TextOf(testing::SinkOf(*p, "kingdee_paybill"), "state") == "running";
      },
      10000, 50))
      << Tail(log());
  // New approvals keep arriving; each lands in MySQL within a couple of scheduled runs.
  for (int round = 0; round < 3; ++round) {
    const int64_t t = Clock::Real()->NowMillis();
    for (int k = 0; k < 3; ++k) dt_.AddInstance(t - 30000 + k * 1000);
    RegisterBills(&kd);
    EXPECT_TRUE(testing::WaitFor(
        [&] { return Count("payment_application_info") == expected_rows(); }, 5000, 20))
        << "round " << round << ": " << Tail(log());
  }
  // The MySQL sink catches up with staging (its cursor follows the commit by a moment) while
  // the Kingdee sink is still stuck in its first batch.
  std::optional<json::Value> p;
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        p = agent.Pipeline(kPayment);
        return p && testing::IntOf(p->Find("pending"), "bi_mysql") == 0;
      },
      3000, 20))
      << (p ? json::Serialize(*p) : "no answer");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(testing::TextOf(testing::SinkOf(*p, "kingdee_paybill"), "state"), "running")
      << json::Serialize(*p);
  EXPECT_GT(testing::IntOf(p->Find("pending"), "kingdee_paybill"), 0) << json::Serialize(*p);
  EXPECT_TRUE(kd.PayBills().empty());

  const auto stopped = agent.Terminate(30000);
  EXPECT_EQ(stopped.code, 0) << Tail(log());
  EXPECT_LT(stopped.elapsed_ms, a.shutdown_grace_s * 1000)
      << "the stuck Kingdee retries held the exit: " << Tail(log());
  std::printf("SIGTERM with the Kingdee sink stuck: stopped in %lld ms\n",
              static_cast<long long>(stopped.elapsed_ms));
  ExpectPaymentTableExact();
}

// A slow MySQL batch (SlowDownInserts): SIGTERM waits for the batch in flight to commit rather than
// rolling it back; on the next start a second signal ends the agent at once, mid-batch; then a
// clean sync writes every row exactly once.
TEST_F(AgentProcessTest, SigtermLetsTheSlowBatchInFlightCommitAndASecondSignalExitsAtOnce) {
  SlowDownInserts();
  dt_.Generate(60, now_ - 5 * kDayMs, now_ - kHourMs, 97);
  testing::PaymentPipelineOptions o;
  o.batch_rows = 10;
  testing::AgentSection a;
  a.shutdown_grace_s = 20;
  const std::string config = WriteConfig(testing::AgentConfig(
      testing::PaymentConfigJson(dt_.base_url(), state(), db_.port(), db_.name(), o), "@every 1s",
      a));
  const int64_t total = static_cast<int64_t>(testing::ExpectedPaymentRows(dt_.Instances()).size());
  testing::AgentProcess agent;
  ASSERT_TRUE(agent.Start(kBinary, config, log()));
  ASSERT_TRUE(agent.WaitReady()) << Tail(log());
  ASSERT_TRUE(NextBatchJustStarted()) << Tail(log());
  const int64_t before = Count("payment_application_info");
  const auto stopped = agent.Terminate(30000);
  EXPECT_EQ(stopped.code, 0) << Tail(log());
  EXPECT_LT(stopped.elapsed_ms, a.shutdown_grace_s * 1000) << Tail(log());
  const int64_t committed = Count("payment_application_info");
  EXPECT_GT(committed, before) << "the batch in flight at SIGTERM was not committed";
  EXPECT_LT(committed, total);
  std::printf("first SIGTERM: %lld rows committed before, %lld after the exit in %lld ms\n",
              static_cast<long long>(before), static_cast<long long>(committed),
              static_cast<long long>(stopped.elapsed_ms));

  testing::AgentProcess again;
  ASSERT_TRUE(again.Start(kBinary, config, log()));
  ASSERT_TRUE(again.WaitReady()) << Tail(log());
  ASSERT_TRUE(NextBatchJustStarted()) << Tail(log());
  again.process().Signal(SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(again.Exited()) << "the first signal did not wait for the batch in flight";
  const auto second = again.Terminate(30000);  // the second signal
  EXPECT_LT(second.elapsed_ms, 1000) << "a second signal must end the agent at once";
  EXPECT_NE(second.code, 128 + SIGKILL) << Tail(log());
  std::printf("second signal: exit %d after %lld ms\n", second.code,
              static_cast<long long>(second.elapsed_ms));

  ASSERT_TRUE(db_.conn()->Execute("DROP TRIGGER slow_insert").ok());
  ASSERT_EQ(testing::Run({kBinary, "--config", config, "sync", kPayment}, {}, log()), 0)
      << Tail(log());
  ExpectPaymentTableExact();
}

// A batch that outlasts shutdown_grace_s (1 s, the batch takes ~2.5 s): the agent still exits 0,
// at the end of the grace period, its STAGESYNC_AGENT file removed; the batch it left is rolled
// back by the server and redone by the next sync, each row written once.
TEST_F(AgentProcessTest, ABatchOutlastingTheGraceEndsTheAgentAtTheGraceAndIsRedoneOnce) {
  SlowDownInserts();
  dt_.Generate(30, now_ - 5 * kDayMs, now_ - kHourMs, 98);
  testing::PaymentPipelineOptions o;
  o.batch_rows = 10;
  testing::AgentSection a;
  a.shutdown_grace_s = 1;
  const std::string config = WriteConfig(testing::AgentConfig(
      testing::PaymentConfigJson(dt_.base_url(), state(), db_.port(), db_.name(), o), "@every 1s",
      a));
  testing::AgentProcess agent;
  ASSERT_TRUE(agent.Start(kBinary, config, log()));
  ASSERT_TRUE(agent.WaitReady()) << Tail(log());
  ASSERT_TRUE(NextBatchJustStarted()) << Tail(log());
  const auto stopped = agent.Terminate(30000);
  EXPECT_EQ(stopped.code, 0) << Tail(log());
  EXPECT_GE(stopped.elapsed_ms, 900) << "it did not wait for the batch in flight: " << Tail(log());
  EXPECT_LT(stopped.elapsed_ms, 2000) << "it outstayed its grace period: " << Tail(log());
  EXPECT_FALSE(std::filesystem::exists(state() + "/STAGESYNC_AGENT"));
  std::printf("grace of 1 s over: exit %d after %lld ms\n", stopped.code,
              static_cast<long long>(stopped.elapsed_ms));

  ASSERT_TRUE(db_.conn()->Execute("DROP TRIGGER slow_insert").ok());
  ASSERT_EQ(testing::Run({kBinary, "--config", config, "sync", kPayment}, {}, log()), 0)
      << Tail(log());
  ExpectPaymentTableExact();
}

// A one-shot command against a state dir the agent holds exits 75 at once and says which agent
// (its pid) and what to ask it instead; once the agent is gone, the same command works.
TEST_F(AgentProcessTest, OneShotSyncWhileTheAgentRunsSaysSoClearly) {
  dt_.Generate(20, now_ - 5 * kDayMs, now_ - kHourMs, 96);
  const std::string config = WriteConfig(testing::AgentConfig(
      testing::PaymentConfigJson(dt_.base_url(), state(), db_.port(), db_.name()), "@every 1h"));
  testing::AgentProcess agent;
  ASSERT_TRUE(agent.Start(kBinary, config, log()));
  ASSERT_TRUE(agent.WaitReady()) << Tail(log());
  ExpectAgentFile(&agent, config);
  const pid_t pid = agent.process().pid();

  const std::string sync_log = dir_.Sub("sync.log");
  const int64_t start = testing::SteadyNowMs();
  EXPECT_EQ(testing::Run({kBinary, "--config", config, "sync", kPayment}, {}, sync_log), 75)
      << ReadAll(sync_log);
  EXPECT_LT(testing::SteadyNowMs() - start, 5000) << "it should not wait for the agent";
  const std::string said = ReadAll(sync_log);
  EXPECT_NE(said.find("pid " + std::to_string(pid)), std::string::npos) << said;
  EXPECT_NE(said.find("ctl run " + kPayment), std::string::npos) << said;
  EXPECT_NE(said.find(agent.address()), std::string::npos) << said;

  const auto stopped = agent.Terminate(30000);
  EXPECT_EQ(stopped.code, 0) << Tail(log());
  EXPECT_FALSE(std::filesystem::exists(state() + "/STAGESYNC_AGENT"));
  EXPECT_EQ(testing::Run({kBinary, "--config", config, "sync", kPayment}, {}, sync_log), 0)
      << Tail(sync_log);
  ExpectPaymentTableExact();
}

}  // namespace
}  // namespace stagesync
