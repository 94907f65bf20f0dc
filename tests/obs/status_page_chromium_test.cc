// The status page as an ops person's browser shows it: the real `stagesync run` serving three
// pipelines against the DingTalk emulator and the MariaDB fixture (one idle with a record
// quarantined by a rule, whose value is `<script>alert(1)</script>`; one paused; one whose
// vendor is unreachable, so failing), read by headless Chromium (--dump-dom: the DOM after
// parsing, so a value that escaped its escaping would be a <script> node) and photographed
// (--screenshot, kept under build/test-artifacts/ for the closing note).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>

#include "emulators/dingtalk_emulator.h"
#include "stagesync/clock.h"
#include "stagesync/json.h"
#include "testing/agent_process.h"
#include "testing/mariadb.h"
#include "testing/payment_pipeline.h"
#include "testing/temp_dir.h"

namespace stagesync {
namespace {

constexpr int64_t kHourMs = 3600000;
constexpr int64_t kDayMs = 24 * kHourMs;
const std::string kBinary = STAGESYNC_BINARY_DIR "/stagesync";
const std::string kArtifacts = STAGESYNC_BINARY_DIR "/test-artifacts";
const char* kChromium = "/usr/bin/chromium";
const std::string kScript = "<script>alert(1)</script>";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
std::string Tail(const std::string& path, size_t n = 4000) {
  std::string s = ReadAll(path);
  return s.size() <= n ? s : "..." + s.substr(s.size() - n);
}

// Headless Chromium on `url` with `args` (--dump-dom or --screenshot=...), its own profile in
// `dir`, killed after 60 s. Returns its stdout (the DOM for --dump-dom).
std::string Chromium(const testing::TempDir& dir, const std::string& url, const std::string& args,
                     int* code) {
  static int n = 0;
  const std::string profile = dir.Sub("chromium-profile-" + std::to_string(++n));
  const std::string out = dir.Sub("chromium.out"), err = dir.Sub("chromium.err");
  const std::string cmd = std::string("timeout -k 5 60 ") + kChromium +
                          " --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
                          "--no-first-run --hide-scrollbars --user-data-dir=" +
                          profile + " " + args + " '" + url + "' >" + out + " 2>" + err;
  const int status = std::system(cmd.c_str());
  *code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (*code != 0) std::fprintf(stderr, "chromium stderr:\n%s\n", Tail(err).c_str());
  return ReadAll(out);
}

// The text of an HTML fragment (tags dropped, whitespace trimmed).
std::string TextOf(const std::string& html) {
  std::string t = std::regex_replace(html, std::regex("<[^>]*>"), "");
  const size_t a = t.find_first_not_of(" \n\t");
  return a == std::string::npos ? "" : t.substr(a, t.find_last_not_of(" \n\t") - a + 1);
}

// The overview's row of `pipeline` in the dumped DOM.
std::string RowOf(const std::string& dom, const std::string& pipeline) {
  const size_t at = dom.find("data-pipeline=\"" + pipeline + "\"");
  if (at == std::string::npos) return "";
  return dom.substr(at, dom.find("</tr>", at) - at);
}

// The text of the first element with class attribute `cls` inside `html`.
std::string CellText(const std::string& html, const std::string& cls) {
  const size_t at = html.find("class=\"" + cls + "\"");
  if (at == std::string::npos) return "<none>";
  const size_t start = html.find('>', at) + 1;
  return TextOf(html.substr(start, html.find("</td>", start) - start));
}

class StatusPageChromiumTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(kChromium, X_OK) != 0) GTEST_SKIP() << kChromium << " is not installed";
    ASSERT_TRUE(db_.ok()) << "no MariaDB: is the mariadb fixture running?";
    ASSERT_TRUE(db_.Source(STAGESYNC_SOURCE_DIR "/conf/sql/payment_application_info.sql").ok());
    for (const char* t : {"payment_copy", "payment_down"}) {
      ASSERT_TRUE(db_.conn()
                      ->Execute(std::string("CREATE TABLE ") + t + " LIKE payment_application_info")
                      .ok());
    }
    ASSERT_TRUE(dt_.Start(0));
    std::filesystem::create_directories(kArtifacts);
  }

  // dingtalk-payment (rule: no '<' in payee_name), payment-copy (same source, its own table,
  // no rule) and payment-down (a DingTalk connection to a port nothing listens on).
  std::string WriteConfig() {
    testing::PaymentPipelineOptions o;
    o.rules_json = R"({"payee_name": {"regex": "^[^<>]*$"}})";
    json::Value root = *json::Parse(
        testing::PaymentConfigJson(dt_.base_url(), dir_.Sub("state"), db_.port(), db_.name(), o));
    json::Value* conns = testing::Member(&root, "connections");
    json::Value down = *testing::Member(conns, "dingtalk");
    testing::SetMember(
        &down, "base_url",
        json::Value::String("http://127.0.0.1:" + std::to_string(testing::FreeLoopbackPort())));
    testing::SetMember(&down, "retry_budget_s", json::Value::Number("1"));
    testing::SetMember(conns, "dingtalk_down", std::move(down));

    json::Value* pipelines = testing::Member(&root, "pipelines");
    const json::Value payment = *testing::Member(pipelines, "dingtalk-payment");
    auto variant = [&](const std::string& table, const std::string& connection) {
      json::Value p = payment;
      json::Value* sink = testing::Member(testing::Member(&p, "sinks"), "bi_mysql");
      testing::SetMember(sink, "table", json::Value::String(table));
      std::erase_if(sink->mutable_members(), [](const auto& m) { return m.first == "rules"; });
      testing::SetMember(testing::Member(&p, "source"), "connection",
                         json::Value::String(connection));
      return p;
    };
    testing::SetMember(pipelines, "payment-copy", variant("payment_copy", "dingtalk"));
    testing::SetMember(pipelines, "payment-down", variant("payment_down", "dingtalk_down"));
    const std::string path = dir_.Sub("config.json");
    // A long backoff keeps payment-down failing (not retrying) while the browser reads the page.
    testing::AgentSection a;
    a.backoff_base_s = 600;
    a.backoff_max_s = 600;
    // New pipelines run once at start; a yearly schedule starts no second run while the browser
    // reads (an hourly one would at the top of the hour).
    std::ofstream(path) << testing::AgentConfig(json::Serialize(root), "0 3 1 1 *", a);
    return path;
  }

  testing::TestDatabase db_;
  emulators::DingTalkEmulator dt_;
  testing::TempDir dir_;
};

TEST_F(StatusPageChromiumTest, ListsEveryPipelineWithItsNumbersAndShowsTheScriptAsText) {
  const int64_t now = Clock::Real()->NowMillis();
  dt_.Generate(12, now - 5 * kDayMs, now - kHourMs, 1212);
  const std::string bad = dt_.Instances()[4].id;
  ASSERT_TRUE(dt_.SetPayeeName(bad, kScript));
  const std::string log = dir_.Sub("agent.log");
  testing::AgentProcess agent;
  ASSERT_TRUE(agent.Start(kBinary, WriteConfig(), log));
  ASSERT_TRUE(agent.WaitReady()) << Tail(log);

  // A new pipeline catches up at start; wait for the three first runs to be over.
  auto settled = [&] {
    for (const char* p : {"dingtalk-payment", "payment-copy", "payment-down"}) {
      auto v = agent.Pipeline(p);
      if (!v || testing::IntOf(v->Find("last_run"), "finished_ms") <= 0) return false;
      if (testing::TextOf(&*v, "state") == "running") return false;
    }
    return true;
  };
  ASSERT_TRUE(testing::WaitFor(settled, 30000, 100)) << Tail(log);
  ASSERT_EQ(agent.PostStatus("/api/pipelines/payment-copy/pause"), 200);

  // The numbers the page must show, as the API reports them, and as they must be.
  auto api = agent.Pipelines();
  ASSERT_TRUE(api.has_value());
  std::map<std::string, json::Value> by_name;
  for (const auto& p : api->Find("pipelines")->items()) by_name[testing::TextOf(&p, "name")] = p;
  ASSERT_EQ(by_name.size(), 3u);
  EXPECT_EQ(testing::IntOf(&by_name["dingtalk-payment"], "quarantined"), 1);
  EXPECT_EQ(testing::IntOf(&by_name["payment-copy"], "quarantined"), 0);
  EXPECT_EQ(testing::IntOf(by_name["dingtalk-payment"].Find("pending"), "bi_mysql"), 0);
  EXPECT_EQ(testing::TextOf(&by_name["payment-down"], "state"), "failing")
      << json::Serialize(by_name["payment-down"]);

  int code = 0;
  const std::string url = "http://" + agent.address();
  const std::string dom = Chromium(dir_, url + "/", "--dump-dom", &code);
  ASSERT_EQ(code, 0);
  ASSERT_NE(dom.find("</html>"), std::string::npos) << dom;
  // No script node anywhere; the value is on the page as text.
  EXPECT_EQ(dom.find("<script"), std::string::npos) << dom;
  EXPECT_NE(dom.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos) << dom;
  EXPECT_NE(dom.find("<meta http-equiv=\"refresh\" content=\"10\">"), std::string::npos);

  const std::map<std::string, std::string> states = {
      {"dingtalk-payment", "idle"}, {"payment-copy", "paused"}, {"payment-down", "failing"}};
  for (const auto& [name, p] : by_name) {
    SCOPED_TRACE(name);
    const std::string row = RowOf(dom, name);
    ASSERT_FALSE(row.empty()) << dom;
    EXPECT_NE(row.find("badge s-" + states.at(name)), std::string::npos) << row;
    EXPECT_EQ(CellText(row, "num quarantined"), std::to_string(testing::IntOf(&p, "quarantined")))
        << row;
    const json::Value* pending = p.Find("pending");
    ASSERT_NE(pending, nullptr);
    for (const auto& [sink, n] : pending->members()) {
      const size_t at = row.find("data-sink=\"" + sink + "\"");
      ASSERT_NE(at, std::string::npos) << row;
      const size_t start = row.find('>', at) + 1;
      EXPECT_EQ(TextOf(row.substr(start, row.find("</span>", start) - start)),
                sink + ": " + n.text())
          << row;
    }
  }
  // The quarantined record's error is listed under its pipeline.
  const size_t detail = dom.find("data-detail-of=\"dingtalk-payment\"");
  ASSERT_NE(detail, std::string::npos) << dom;
  const std::string detail_row = dom.substr(detail, dom.find("</tr>", detail) - detail);
  EXPECT_NE(detail_row.find(bad), std::string::npos) << detail_row;
  EXPECT_NE(detail_row.find("rule regex on column payee_name: '&lt;script&gt;alert(1)&lt;/"
                            "script&gt;' does not match"),
            std::string::npos)
      << detail_row;

  // The screenshot the closing note cites.
  const std::string png = kArtifacts + "/status-page.png";
  std::remove(png.c_str());
  Chromium(dir_, url + "/", "--screenshot=" + png + " --window-size=1280,900", &code);
  ASSERT_EQ(code, 0);
  const std::string image = ReadAll(png);
  ASSERT_GT(image.size(), 20000u) << png;
  EXPECT_EQ(image.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  std::printf("status page screenshot: %s (%zu bytes)\n", png.c_str(), image.size());

  // The pipeline's own page: its runs and the quarantined record, payload included, as text.
  const std::string page = Chromium(dir_, url + "/pipelines/dingtalk-payment", "--dump-dom", &code);
  ASSERT_EQ(code, 0);
  EXPECT_EQ(page.find("<script"), std::string::npos) << page;
  const size_t runs = page.find("<table class=\"runs\">");
  ASSERT_NE(runs, std::string::npos) << page;
  EXPECT_NE(page.find("o-ok", runs), std::string::npos) << page.substr(runs);
  const size_t q = page.find("<table class=\"quarantine\">");
  ASSERT_NE(q, std::string::npos) << page;
  const std::string qlist = page.substr(q);
  EXPECT_NE(qlist.find(bad), std::string::npos) << qlist;
  const size_t payload = qlist.find("<pre class=\"payload\">");
  ASSERT_NE(payload, std::string::npos) << qlist;
  EXPECT_NE(qlist.find("&lt;script&gt;alert(1)&lt;/script&gt;", payload), std::string::npos)
      << qlist;
  const std::string png2 = kArtifacts + "/status-page-pipeline.png";
  Chromium(dir_, url + "/pipelines/dingtalk-payment",
           "--screenshot=" + png2 + " --window-size=1280,900", &code);
  EXPECT_EQ(code, 0);
  EXPECT_GT(ReadAll(png2).size(), 20000u);

  // An unknown pipeline: an HTML 404 page, escaped.
  std::string body;
  EXPECT_EQ(agent.GetStatus("/pipelines/nope", &body), 404);
  EXPECT_NE(body.find("no pipeline named"), std::string::npos) << body;

  EXPECT_EQ(agent.Terminate(30000).code, 0) << Tail(log);
}

}  // namespace
}  // namespace stagesync
