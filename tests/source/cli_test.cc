// The real `stagesync` binary against the vendor emulators: the whole config is validated
// before any command does work (issue 9 B9), `check --connect` logs in to every vendor once and
// names each failure's cause without a secret, and a Kuaimai fetch cut short resumes inside its
// day window instead of reading the window from its first page again (issue 9 F18).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <csignal>
#include <fstream>
#include <sstream>

#include "emulators/dingtalk_emulator.h"
#include "emulators/kingdee_emulator.h"
#include "emulators/kuaimai_emulator.h"
#include "emulators/okki_emulator.h"
#include "stagesync/clock.h"
#include "stagesync/hash.h"
#include "stagesync/stage.h"
#include "testing/seed_config.h"
#include "testing/subprocess.h"
#include "testing/temp_dir.h"

namespace stagesync {
namespace {

using testing::Num;
using testing::Str;

constexpr int64_t kHourMs = 3600000;
constexpr int64_t kDayMs = 24 * kHourMs;
const std::string kBinary = STAGESYNC_BINARY_DIR "/stagesync";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

class CliTest : public ::testing::Test {
 protected:
  // Runs the binary; returns its exit code, its output (stdout and stderr) in *out.
  int Stagesync(const std::vector<std::string>& args, std::string* out,
                const std::vector<std::string>& env = {}) {
    const std::string log = dir_.Sub("run" + std::to_string(++runs_) + ".log");
    std::vector<std::string> argv = {kBinary, "--config", config_file_};
    argv.insert(argv.end(), args.begin(), args.end());
    int code = testing::Run(argv, env, log);
    if (out != nullptr) *out = ReadAll(log);
    return code;
  }

  void WriteConfig(const std::string& text) {
    config_file_ = dir_.Sub("config.json");
    std::ofstream(config_file_) << text;
  }

  testing::TempDir dir_;
  std::string config_file_;
  int runs_ = 0;
};

// B9: a mapping error in the second sink fails fetch, apply, sync, map and requeue with its
// JSON path and exit 2 before anything is fetched or applied.
TEST_F(CliTest, ABrokenSecondSinkFailsEveryCommandBeforeAnyFetchOrApply) {
  emulators::KuaimaiEmulator emu;
  ASSERT_TRUE(emu.Start(0));
  const int64_t now = Clock::Real()->NowMillis();
  emu.Generate(50, now - 2 * kDayMs, now - kHourMs, 7);
  auto e = testing::EmulatorSeedEdits("kuaimai", emu.base_url(), dir_.Sub("state"));
  e.source = {{"initial_lookback_days", Num(3)}, {"lag_s", Num(0)}};
  e.mysql_connection = "bi";
  e.mysql_port = 1;  // never reached: nothing may run
  e.mysql_database = "nowhere";
  auto root = json::Parse(testing::SeedConfigJson("002-kuaimai-aftersale.json", e));
  ASSERT_TRUE(root.ok());
  // A second sink, after the good one, whose mapping has an unknown filter.
  json::Value* sinks = nullptr;
  for (auto& [name, p] : root->mutable_members()) {
    if (name != "pipelines") continue;
    for (auto& [pname, pv] : p.mutable_members()) {
      for (auto& [k, v] : pv.mutable_members()) {
        if (k == "sinks") sinks = &v;
      }
    }
  }
  ASSERT_NE(sinks, nullptr);
  ASSERT_FALSE(sinks->members().empty());
  json::Value broken = sinks->members()[0].second;
  for (auto& [k, v] : broken.mutable_members()) {
    if (k == "columns") v.Add("zz_late", json::Value::String("{refundMoney|nosuch}"));
  }
  sinks->Add("z_broken", std::move(broken));
  WriteConfig(json::Serialize(*root));

  const std::string want = "pipelines.kuaimai-aftersale.sinks.z_broken.columns.zz_late";
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"fetch", "kuaimai-aftersale"},
                                             {"apply", "kuaimai-aftersale"},
                                             {"sync", "kuaimai-aftersale"},
                                             {"apply", "kuaimai-aftersale", "--sink", "bi_mysql"},
                                             {"map", "kuaimai-aftersale", "--key", "1"},
                                             {"requeue", "kuaimai-aftersale"}}) {
    std::string out;
    EXPECT_EQ(Stagesync(args, &out), 2) << args[0] << ": " << out;
    EXPECT_NE(out.find(want), std::string::npos) << args[0] << ": " << out;
    EXPECT_NE(out.find("unknown filter |nosuch"), std::string::npos) << out;
  }
  EXPECT_EQ(emu.RequestCount(), 0) << "nothing may be fetched";
  EXPECT_FALSE(Exists(dir_.Sub("state"))) << "nothing may be staged or applied";
  std::string out;
  EXPECT_EQ(Stagesync({"check"}, &out), 2);
  EXPECT_NE(out.find(want), std::string::npos) << out;
}

// D15: a NUL in a config key is shown, not allowed to cut the message short.
TEST_F(CliTest, ErrorMessagesShowControlBytesInsteadOfStoppingAtThem) {
  WriteConfig(
      std::string("{\"state_dir\": \"s\", \"connections\": {}, \"pipelines\": {}, "
                  "\"bad\\u0000key\\u001b[31m\": 1}"));
  std::string out;
  EXPECT_EQ(Stagesync({"check"}, &out), 2);
  EXPECT_NE(out.find("bad\\x00key\\x1b[31m: unknown key"), std::string::npos) << out;
  EXPECT_EQ(out.find('\x1b'), std::string::npos);
}

// E16: check warns when a flattening sink's scoped label exists at both levels of a staged
// record (a form's 其他费用 beside a 其他费用 detail column).
TEST_F(CliTest, CheckWarnsAboutALabelAtBothLevelsOfAStagedRecord) {
  WriteConfig(fmt::format(
      R"({{"state_dir": "{}", "connections": {{
        "dt": {{"type": "dingtalk", "base_url": "http://127.0.0.1:1", "app_key": "k",
                "app_secret": "s", "max_attempts": 1, "retry_base_ms": 1}},
        "bi": {{"type": "mysql", "host": "127.0.0.1", "port": 1, "user": "u",
                "database": "d"}}}},
      "pipelines": {{"pay": {{"source": {{"connection": "dt", "process_code": "P"}},
        "sinks": {{"bi": {{"connection": "bi", "table": "t", "flatten": "{{{{费用明细}}}}",
          "columns": {{"id": "{{id}}", "fee": "{{{{form:其他费用}}}}",
                      "amount": "{{{{row:金额}}}}"}}}}}}}}}}}})",
      dir_.Sub("state")));
  std::string out;
  ASSERT_EQ(Stagesync({"check"}, &out), 0) << out;  // nothing staged: nothing to warn about
  EXPECT_EQ(out.find("both a form field"), std::string::npos) << out;
  {
    auto log = stage::StagingLog::Open(dir_.Sub("state"));
    ASSERT_TRUE(log.ok());
    const std::string raw = json::Canonical(*json::Parse(
        R"({"id":"p1","form_component_values":[{"name":"其他费用","value":"9"},
        {"name":"费用明细","value":"[{\"rowValue\":[{\"label\":\"其他费用\",\"value\":\"1\"},{\"label\":\"金额\",\"value\":\"2\"}]}]"}]})"));
    stage::PageCommit page;
    page.records.push_back({"p1", HashBytes(raw), raw, false});
    ASSERT_TRUE((*log)->CommitPage("pay", page, 0).ok());
  }
  ASSERT_EQ(Stagesync({"check"}, &out), 0) << out;
  EXPECT_NE(out.find("warning: pipelines.pay.sinks.bi.columns.fee: '其他费用' is both a form "
                     "field and a column of the flattened rows; {{form:其他费用}} reads the "
                     "form's (e.g. staged record p1)"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("columns.amount"), std::string::npos) << out;
  EXPECT_NE(out.find("pipeline pay: ok with warnings"), std::string::npos) << out;
  // A target down is a warning for check, a runtime failure (exit 1) for check --connect.
  EXPECT_NE(out.find("warning: pipelines.pay.sinks.bi: cannot reach the target"), std::string::npos)
      << out;
  EXPECT_EQ(Stagesync({"check", "--connect"}, &out), 1) << out;
  EXPECT_NE(out.find("error: pipelines.pay.sinks.bi: cannot reach the target"), std::string::npos)
      << out;
}

// F18: check --connect logs in to every vendor connection once: all ok with the right secrets;
// with wrong ones each is reported failed with the vendor's cause, never with the secret.
TEST_F(CliTest, CheckConnectLogsInToEveryVendorAndNamesEachCauseWithoutSecrets) {
  emulators::DingTalkEmulator dt;
  emulators::KingdeeEmulator kd;
  emulators::KuaimaiEmulator km;
  emulators::OkkiEmulator ok;
  ASSERT_TRUE(dt.Start(0));
  ASSERT_TRUE(kd.Start(0));
  ASSERT_TRUE(km.Start(0));
  ASSERT_TRUE(ok.Start(0));
  auto config = [&](const std::string& dt_secret, const std::string& kd_secret,
                    const std::string& km_secret, const std::string& ok_secret) {
    return fmt::format(
        R"({{"state_dir": "{}", "connections": {{
          "dt": {{"type": "dingtalk", "base_url": "{}", "app_key": "demo-key",
                  "app_secret": "{}", "retry_base_ms": 10}},
          "kd": {{"type": "kingdee", "base_url": "{}", "acct_id": "demo-acct", "username": "api",
                  "app_id": "demo-app", "app_secret": "{}"}},
          "km": {{"type": "kuaimai", "base_url": "{}/router", "app_key": "demo-kuaimai",
                  "app_secret": "{}", "session": "at-0", "refresh_token": "rt-0"}},
          "ok": {{"type": "okki", "base_url": "{}", "client_id": "demo-okki",
                  "client_secret": "{}"}}}},
        "pipelines": {{
          "p-dt": {{"source": {{"connection": "dt", "process_code": "PROC-PAYMENT-0001"}},
                    "sinks": {{"kb": {{"connection": "kd", "type": "kingdee_push",
                                       "numbers": "{{{{form:单据编号}}}}", "is_enable_default_rule": true}}}}}},
          "p-km": {{"source": {{"connection": "km"}},
                    "sinks": {{"kb": {{"connection": "kd", "type": "kingdee_push",
                                       "numbers": "{{tid}}", "is_enable_default_rule": true}}}}}},
          "p-ok": {{"source": {{"connection": "ok"}},
                    "sinks": {{"kb": {{"connection": "kd", "type": "kingdee_push",
                                       "numbers": "{{product_no}}", "is_enable_default_rule": true}}}}}}}}}})",
        dir_.Sub("state"), dt.base_url(), dt_secret, kd.base_url(), kd_secret, km.base_url(),
        km_secret, ok.base_url(), ok_secret);
  };
  WriteConfig(config("demo-secret", "demo-app-secret", "demo-kuaimai-secret", "demo-okki-secret"));
  std::string out;
  ASSERT_EQ(Stagesync({"check"}, &out), 0) << out;
  EXPECT_EQ(out.find("connection "), std::string::npos) << "plain check logs in nowhere";
  ASSERT_EQ(Stagesync({"check", "--connect"}, &out), 0) << out;
  for (const char* line : {"connection dt (dingtalk): ok", "connection kd (kingdee): ok",
                           "connection km (kuaimai): ok", "connection ok (okki): ok"}) {
    EXPECT_NE(out.find(line), std::string::npos) << out;
  }
  EXPECT_EQ(km.RefreshCount(), 0);

  const std::vector<std::string> wrong = {"wrong-dt-s3cret", "wrong-kd-s3cret", "wrong-km-s3cret",
                                          "wrong-ok-s3cret"};
  WriteConfig(config(wrong[0], wrong[1], wrong[2], wrong[3]));
  ASSERT_EQ(Stagesync({"check"}, &out), 0) << "wrong secrets are not a config error: " << out;
  EXPECT_EQ(Stagesync({"check", "--connect"}, &out), 1) << out;
  std::printf("%s", out.c_str());  // the causes, for the record
  for (const char* line :
       {"connection dt (dingtalk): failed: ", "connection kd (kingdee): failed: ",
        "connection km (kuaimai): failed: ", "connection ok (okki): failed: "}) {
    EXPECT_NE(out.find(line), std::string::npos) << out;
  }
  for (const auto& s : wrong) EXPECT_EQ(out.find(s), std::string::npos) << out;
  EXPECT_EQ(Stagesync({"--json", "check", "--connect"}, &out), 1) << out;
  EXPECT_NE(out.find(R"({"connection":"kd","type":"kingdee","state":"failed","cause":)"),
            std::string::npos)
      << out;
  EXPECT_EQ(km.RefreshCount(), 0) << "check must not rotate Kuaimai's tokens";
}

// F18: every run of a Kuaimai fetch is killed right after its 4th committed page, fewer pages
// than one day window holds. Each run resumes at the page after the last committed one, so
// the windows progress run by run and every order is staged; without the resume position
// every run would restart its window at page 1 and no window would ever complete.
TEST_F(CliTest, KuaimaiRunsCutShortResumeInsideTheirWindow) {
  emulators::KuaimaiEmulator emu;
  ASSERT_TRUE(emu.Start(0));
  const int64_t now = Clock::Real()->NowMillis();
  emu.Generate(1400, now - 7 * kDayMs + 60000, now - kHourMs, 61);  // ~10 pages per day window
  emu.AdvanceClockMs(-5000);
  auto e = testing::EmulatorSeedEdits("kuaimai", emu.base_url(), dir_.Sub("state"),
                                      {{"qps", Num(1000)}});
  e.source = {{"initial_lookback_days", Num(7)}, {"lag_s", Num(0)}, {"page_size", Num(20)}};
  WriteConfig(testing::SeedConfigJson("002-kuaimai-aftersale.json", e));

  auto progress = [&]() -> std::string {  // watermark + resume position, as text
    stage::StageOptions ro;
    ro.read_only = true;
    auto log = stage::StagingLog::Open(dir_.Sub("state"), ro);
    if (!log.ok()) return "";
    auto wm = (*log)->Watermark("kuaimai-aftersale");
    auto resume = (*log)->GetState("kuaimai-aftersale", "source:kuaimai.resume");
    return std::to_string(wm.ok() && wm->has_value() ? **wm : 0) + "|" +
           (resume.ok() ? *resume : "?");
  };
  int runs = 0, killed = 0;
  std::string last = progress();
  for (; runs < 25; ++runs) {
    int code = Stagesync({"fetch", "kuaimai-aftersale"}, nullptr,
                         {"STAGESYNC_CRASH_AT=fetch.after_commit:4"});
    if (code == 0) break;
    ASSERT_EQ(code, 128 + SIGKILL) << ReadAll(dir_.Sub("run" + std::to_string(runs_) + ".log"));
    ++killed;
    std::string now_at = progress();
    EXPECT_NE(now_at, last) << "run " << runs << " made no progress";
    last = now_at;
  }
  ASSERT_LT(runs, 25) << "the fetch never completed in 25 runs cut short after 4 pages";
  EXPECT_GE(killed, 15);
  const int64_t list_calls = emu.RequestCount("erp.aftersale.list.query");
  std::printf("kuaimai resume: %d runs killed after 4 pages, then one finished; %lld list calls\n",
              killed, static_cast<long long>(list_calls));
  // About one call per page: no window was read again from its start.
  EXPECT_LE(list_calls, 1400 / 20 + 7 + killed);

  stage::StageOptions ro;
  ro.read_only = true;
  auto log = stage::StagingLog::Open(dir_.Sub("state"), ro);
  ASSERT_TRUE(log.ok());
  auto orders = emu.Orders();
  for (const auto& o : orders) {
    auto r = (*log)->Get("kuaimai-aftersale", std::to_string(o.id));
    ASSERT_TRUE(r.ok() && r->has_value()) << "order " << o.id << " not staged";
  }
  auto sum = (*log)->Summary("kuaimai-aftersale");
  ASSERT_TRUE(sum.ok());
  EXPECT_EQ(sum->records, static_cast<int64_t>(orders.size()));
  EXPECT_EQ(sum->last_seq, orders.size()) << "each order staged exactly once";
  auto resume = (*log)->GetState("kuaimai-aftersale", "source:kuaimai.resume");
  ASSERT_TRUE(resume.ok());
  EXPECT_EQ(*resume, "") << "a completed fetch leaves no resume position";
  auto page1 = (*log)->GetState("kuaimai-aftersale", "source:kuaimai.pass.1");
  ASSERT_TRUE(page1.ok());
  EXPECT_EQ(*page1, "") << "a completed window leaves no page ids behind";
}

}  // namespace
}  // namespace stagesync
