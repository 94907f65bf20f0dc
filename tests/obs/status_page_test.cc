// The status page's pure parts: the one escape function, the renderers fed with JSON built
// here (the agent's shape, plus the "connections" and "drift" members other parts add), the
// `agent.lang` config key, and ReadFacts over a real staging log.
#include "obs/status_page.h"

#include <gtest/gtest.h>

#include <string>

#include "obs/status_routes.h"
#include "stagesync/config.h"
#include "stagesync/json.h"
#include "stagesync/stage.h"
#include "testing/fake_clock.h"
#include "testing/temp_dir.h"

namespace stagesync::obs {
namespace {

constexpr int64_t kNow = 1764640800000;  // 2025-12-02 02:00:00 UTC
const std::string kScript = "<script>alert(1)</script>";
const std::string kScriptEscaped = "&lt;script&gt;alert(1)&lt;/script&gt;";

json::Value Parse(const std::string& text) {
  auto v = json::Parse(text);
  EXPECT_TRUE(v.ok()) << v.status().ToString() << "\n" << text;
  return v.ok() ? std::move(v).value() : json::Value();
}

size_t Count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

// The row of one pipeline on the overview (from its <tr> to the row's end).
std::string RowOf(const std::string& html, const std::string& pipeline) {
  const size_t at = html.find("data-pipeline=\"" + pipeline + "\"");
  if (at == std::string::npos) return "";
  return html.substr(at, html.find("</tr>", at) - at);
}

// Two pipelines in the agent's JSON shape: one failing with a vendor error carrying markup, one
// idle with pending changes. `extra_agent` / `extra_pipeline` add members other parts report.
std::string AgentJson(const std::string& extra_agent = "", const std::string& extra_pipeline = "") {
  return R"({"agent":{"now_ms":)" + std::to_string(kNow) + R"(,"started_ms":)" +
         std::to_string(kNow - 7200000) +
         R"(,"config":"/etc/stagesync/config.json","stopping":false,"reloads":0,"reload_error":null},
    "pipelines":[
     {"name":"dingtalk-payment","state":"failing","schedule":"@every 5m","time_zone":"Asia/Shanghai",
      "paused":false,"last_run":{"started_ms":)" +
         std::to_string(kNow - 180000) + R"(,"finished_ms":)" + std::to_string(kNow - 170000) +
         R"(,"outcome":"partial"},"last_success_ms":)" + std::to_string(kNow - 600000) +
         R"(,"next_run":)" + std::to_string(kNow + 45000) +
         R"(,"backoff":{"failures":2,"until_ms":null},"last_error":"vendor said <b>no</b>",
      "waiting":null,"last_fetch":null,
      "sinks":[{"name":"bi_mysql","state":"failing","failures":2,"backoff_until_ms":null,
                "last_error":"rule regex on column payee_name: ')" +
         kScript + R"(' does not match","last_apply":null}],
      "records":40,"quarantined":3,"pending":{"bi_mysql":7})" +
         extra_pipeline + R"(},
     {"name":"kingdee-material","state":"idle","schedule":"@every 1m","time_zone":"UTC",
      "paused":false,"last_run":{"started_ms":null,"finished_ms":null,"outcome":null},
      "last_success_ms":null,"next_run":null,"backoff":{"failures":0,"until_ms":null},
      "last_error":null,"waiting":null,"last_fetch":null,
      "sinks":[{"name":"crm","state":"idle","failures":0,"backoff_until_ms":null,
                "last_error":null,"last_apply":null}],
      "records":0,"quarantined":0,"pending":{"crm":0,"kd_push":12}}
    ])" + extra_agent +
         "}";
}

std::map<std::string, PipelineFacts> Facts() {
  PipelineFacts f;
  f.watermark_ms = kNow - 240000;
  f.open_intents = {{"bi_mysql", 0}, {"kd_push", 2}};
  f.quarantined = 3;
  f.quarantine.push_back({"bi_mysql", "PI-" + kScript,
                          "rule regex: '" + kScript + "' does not match",
                          R"({"payee":")" + kScript + R"("})", kNow - 60000});
  return {{"dingtalk-payment", f}};
}

PageContext Ctx(Lang lang = Lang::kBoth) {
  PageContext ctx;
  ctx.lang = lang;
  ctx.now_ms = kNow;
  return ctx;
}

TEST(HtmlEscapeTest, EscapesEveryCharacterThatCanStartMarkupOrEndAnAttribute) {
  EXPECT_EQ(HtmlEscape(kScript), kScriptEscaped);
  EXPECT_EQ(HtmlEscape("a & b"), "a &amp; b");
  EXPECT_EQ(HtmlEscape("\" onmouseover='x'"), "&quot; onmouseover=&#39;x&#39;");
  EXPECT_EQ(HtmlEscape("&lt;"), "&amp;lt;");  // already-escaped text is shown as it is
  EXPECT_EQ(HtmlEscape(""), "");
}

TEST(HtmlEscapeTest, KeepsUtf8AndReplacesControlCharacters) {
  EXPECT_EQ(HtmlEscape("付款申请 – ok"), "付款申请 – ok");
  EXPECT_EQ(HtmlEscape("a\tb\nc"), "a\tb\nc");
  EXPECT_EQ(HtmlEscape(std::string("a\0b\x1b", 4)),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD");
}

TEST(LangTest, ParsesTheThreeChoicesAndNamesTheKeyOtherwise) {
  EXPECT_EQ(*ParseLang("zh"), Lang::kZh);
  EXPECT_EQ(*ParseLang("en"), Lang::kEn);
  EXPECT_EQ(*ParseLang("both"), Lang::kBoth);
  auto bad = ParseLang("fr");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("agent.lang"), std::string::npos);
}

TEST(LangTest, ConfigKeyDefaultsToBothAndRejectsOtherValuesNamingItsPath) {
  // The smallest config that loads; the agent section is appended.
  const std::string base = R"({"state_dir": "/tmp/state",
    "connections": {"dt": {"type": "dingtalk", "base_url": "http://127.0.0.1:1", "app_key": "k",
                           "app_secret": "s"},
                    "bi": {"type": "mysql", "host": "127.0.0.1"}},
    "pipelines": {"p": {"source": {"connection": "dt", "process_code": "P"},
                        "sinks": {"m": {"connection": "bi", "table": "t"}}}})";
  auto def = config::LoadString(base + "}", "/tmp");
  ASSERT_TRUE(def.ok()) << def.status().ToString();
  EXPECT_EQ(def->agent.lang, "both");
  auto zh = config::LoadString(base + R"(, "agent": {"lang": "zh"}})", "/tmp");
  ASSERT_TRUE(zh.ok()) << zh.status().ToString();
  EXPECT_EQ(zh->agent.lang, "zh");
  auto bad = config::LoadString(base + R"(, "agent": {"lang": "fr"}})", "/tmp");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("agent.lang"), std::string::npos) << bad.status().message();
}

TEST(StatusPageTest, OverviewIsOneSelfContainedAutoRefreshingUtf8Page) {
  const std::string html = RenderOverview(Parse(AgentJson()), Facts(), Ctx());
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<meta charset=\"utf-8\">"), std::string::npos);
  EXPECT_NE(html.find("<meta http-equiv=\"refresh\" content=\"10\">"), std::string::npos);
  // No outside assets and no script at all: the agent may have no internet.
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("url("), std::string::npos);
}

TEST(StatusPageTest, OverviewEscapesEveryValueFromTheAgentAndStaging) {
  const std::string html = RenderOverview(Parse(AgentJson()), Facts(), Ctx());
  EXPECT_EQ(Count(html, "<script"), 0u);
  EXPECT_EQ(Count(html, "<b>no</b>"), 0u);
  EXPECT_NE(html.find("vendor said &lt;b&gt;no&lt;/b&gt;"), std::string::npos);
  // The sink's error and the newest quarantined record's id and error.
  EXPECT_GE(Count(html, kScriptEscaped), 3u) << html;
}

TEST(StatusPageTest, OverviewShowsStatePendingQuarantineIntentsAndTimes) {
  const std::string html = RenderOverview(Parse(AgentJson()), Facts(), Ctx(Lang::kEn));
  const std::string dt = RowOf(html, "dingtalk-payment");
  ASSERT_FALSE(dt.empty()) << html;
  EXPECT_NE(dt.find("href=\"/pipelines/dingtalk-payment\""), std::string::npos);
  EXPECT_NE(dt.find("class=\"badge s-failing\">failing<"), std::string::npos) << dt;
  EXPECT_NE(dt.find(">3 min ago</time> <span class=\"outcome o-partial\">partial<"),
            std::string::npos)
      << dt;
  EXPECT_NE(dt.find(">in 45 s</time>"), std::string::npos) << dt;
  EXPECT_NE(dt.find("watermark <time title=\"2025-12-02 09:56:00 +08:00\">4 min ago</time>"),
            std::string::npos)
      << dt;
  EXPECT_NE(dt.find("last success <time title=\"2025-12-02 09:50:00 +08:00\">10 min ago"),
            std::string::npos)
      << dt;
  EXPECT_NE(dt.find("data-sink=\"bi_mysql\">bi_mysql: <b class=\"warn\">7</b>"), std::string::npos)
      << dt;
  EXPECT_NE(dt.find("class=\"num quarantined\"><a class=\"bad\" "
                    "href=\"/pipelines/dingtalk-payment#quarantine\">3</a>"),
            std::string::npos)
      << dt;
  EXPECT_NE(dt.find("class=\"num intents\"><span class=\"warn\">2</span>"), std::string::npos)
      << dt;

  const std::string kd = RowOf(html, "kingdee-material");
  ASSERT_FALSE(kd.empty());
  EXPECT_NE(kd.find("class=\"badge s-idle\">idle<"), std::string::npos) << kd;
  EXPECT_NE(kd.find("data-sink=\"kd_push\">kd_push: <b class=\"warn\">12</b>"), std::string::npos)
      << kd;
  EXPECT_NE(kd.find("class=\"num quarantined\">0<"), std::string::npos) << kd;
  // No staging facts for it: its watermark and intents are unknown, not zero.
  EXPECT_NE(kd.find("class=\"num intents\">-<"), std::string::npos) << kd;
  EXPECT_NE(html.find("2 Pipelines · 1 idle · 1 failing"), std::string::npos);
}

TEST(StatusPageTest, ConnectionsAreShownWhenTheAgentReportsThemAndADashOtherwise) {
  const std::string absent = RenderOverview(Parse(AgentJson()), Facts(), Ctx(Lang::kEn));
  const size_t table = absent.find("<table class=\"connections\">");
  ASSERT_NE(table, std::string::npos);
  EXPECT_NE(absent.find("<tr class=\"absent\"><td>-</td>", table), std::string::npos);

  const std::string html = RenderOverview(Parse(AgentJson(R"(,"connections":[
        {"name":"dingtalk","requests":1200,"throttled":4,"errors":0,"requests_per_min":37.5,
         "quota_remaining":null},
        {"name":"kingdee<x>","requests":10,"throttled":0,"errors":2,"requests_per_min":1,
         "quota_remaining":9990}])")),
                                          Facts(), Ctx(Lang::kEn));
  const size_t at = html.find("data-connection=\"dingtalk\"");
  ASSERT_NE(at, std::string::npos) << html;
  const std::string row = html.substr(at, html.find("</tr>", at) - at);
  EXPECT_NE(row.find(">37.5<"), std::string::npos) << row;
  EXPECT_NE(row.find(">1200<"), std::string::npos) << row;
  EXPECT_NE(row.find("class=\"num bad throttled\">4<"), std::string::npos) << row;
  EXPECT_NE(row.find("class=\"num errors\">0<"), std::string::npos) << row;
  EXPECT_EQ(row.substr(row.size() - 22), "<td class=\"num\">-</td>") << row;  // quota null
  EXPECT_NE(html.find("data-connection=\"kingdee&lt;x&gt;\""), std::string::npos);
  EXPECT_NE(html.find(">9990<"), std::string::npos);
  EXPECT_EQ(html.find("class=\"absent\""), std::string::npos);
}

TEST(StatusPageTest, DriftIsARedLineNamingTheReferenceAndTheFirstRecord) {
  const std::string html = RenderOverview(
      Parse(AgentJson("", R"(,"drift":[{"sink":"bi_mysql","reference":"{{收款人<姓名>}}",
          "first_missing_key":"PI-0042","missing_streak":17}])")),
      Facts(), Ctx(Lang::kEn));
  const size_t at = html.find("<div class=\"drift\">");
  ASSERT_NE(at, std::string::npos) << html;
  const std::string line = html.substr(at, html.find("</div>", at) - at);
  EXPECT_NE(line.find("sink bi_mysql: reference <code>{{收款人&lt;姓名&gt;}}</code> resolves to "
                      "nothing since record PI-0042 (17 in a row)"),
            std::string::npos)
      << line;
  EXPECT_EQ(RenderOverview(Parse(AgentJson()), Facts(), Ctx()).find("class=\"drift\">"),
            std::string::npos);
}

TEST(StatusPageTest, LangPicksTheLabels) {
  const std::string zh = RenderOverview(Parse(AgentJson()), Facts(), Ctx(Lang::kZh));
  const std::string en = RenderOverview(Parse(AgentJson()), Facts(), Ctx(Lang::kEn));
  const std::string both = RenderOverview(Parse(AgentJson()), Facts(), Ctx(Lang::kBoth));
  EXPECT_NE(zh.find("<th>隔离</th>"), std::string::npos);
  EXPECT_EQ(zh.find("Quarantined"), std::string::npos);
  EXPECT_NE(zh.find("<html lang=\"zh-CN\">"), std::string::npos);
  EXPECT_NE(zh.find(">失败中<"), std::string::npos);
  EXPECT_NE(zh.find("3分钟前"), std::string::npos);
  EXPECT_NE(en.find("<th>Quarantined</th>"), std::string::npos);
  EXPECT_EQ(en.find("隔离"), std::string::npos);
  EXPECT_NE(en.find("<html lang=\"en\">"), std::string::npos);
  EXPECT_NE(both.find("<th>隔离<span class=\"en\">Quarantined</span></th>"), std::string::npos);
}

TEST(StatusPageTest, PipelinePageListsRunsSinksAndTheQuarantineEscaped) {
  const std::string one = R"({"name":"dingtalk-payment","state":"idle","schedule":"@every 5m",
    "time_zone":"Asia/Shanghai","last_run":{"started_ms":)" +
                          std::to_string(kNow - 60000) + R"(,"finished_ms":)" +
                          std::to_string(kNow - 58000) + R"(,"outcome":"ok"},
    "last_success_ms":)" + std::to_string(kNow - 60000) +
                          R"(,"next_run":null,"backoff":{"failures":0,"until_ms":null},
    "sinks":[{"name":"bi_mysql","state":"idle","failures":0,"last_error":null,
              "last_apply":{"applied":11,"quarantined":1}}],
    "records":12,"quarantined":1,"pending":{"bi_mysql":0},
    "runs":[{"id":2,"started_ms":)" +
                          std::to_string(kNow - 60000) + R"(,"ended_ms":)" +
                          std::to_string(kNow - 58000) +
                          R"(,"outcome":"ok","detail":{"trigger":"api",
               "fetch":{"result":{"fetched":12,"new":0,"changed":1,"failed":0}},
               "sinks":{"bi_mysql":{"applied":11,"skipped":0,"quarantined":1}}}},
            {"id":1,"started_ms":)" +
                          std::to_string(kNow - 3600000) + R"(,"ended_ms":)" +
                          std::to_string(kNow - 3590000) +
                          R"(,"outcome":"failed","detail":{"trigger":"schedule",
               "fetch":{"error":"HTTP 502 <html>"},"sinks":{}}}]})";
  PipelineFacts f = Facts()["dingtalk-payment"];
  const std::string html = RenderPipeline(Parse(one), f, Ctx(Lang::kEn));
  EXPECT_EQ(Count(html, "<script"), 0u);
  EXPECT_EQ(Count(html, "<html>"), 0u);
  EXPECT_NE(html.find("<meta http-equiv=\"refresh\" content=\"10\">"), std::string::npos);
  EXPECT_NE(html.find("href=\"/\""), std::string::npos);
  // Runs, newest first, with their fetch counts and errors.
  const size_t runs = html.find("<table class=\"runs\">");
  ASSERT_NE(runs, std::string::npos);
  const size_t run2 = html.find("<td class=\"num\">2</td>", runs);
  const size_t run1 = html.find("<td class=\"num\">1</td>", runs);
  ASSERT_NE(run2, std::string::npos);
  ASSERT_NE(run1, std::string::npos);
  EXPECT_LT(run2, run1);
  EXPECT_NE(html.find("2025-12-02 09:59:00 +08:00"), std::string::npos);
  EXPECT_NE(html.find(">2.0 s<"), std::string::npos);
  EXPECT_NE(html.find("12 fetched · 0 new · 1 changed · 0 failed"), std::string::npos);
  EXPECT_NE(html.find("bi_mysql: 11 applied · <span class=\"bad\">1 quarantined</span>"),
            std::string::npos);
  EXPECT_NE(html.find("HTTP 502 &lt;html&gt;"), std::string::npos);
  EXPECT_NE(html.find("class=\"outcome o-failed\">failed<"), std::string::npos);
  // The sink's pending and intents; the quarantine list with its payload.
  EXPECT_NE(html.find("<tr data-sink=\"bi_mysql\">"), std::string::npos);
  const size_t q = html.find("<table class=\"quarantine\">");
  ASSERT_NE(q, std::string::npos);
  EXPECT_NE(
      html.find(
          "<pre class=\"payload\">{&quot;payee&quot;:&quot;" + kScriptEscaped + "&quot;}</pre>", q),
      std::string::npos)
      << html.substr(q);
  EXPECT_NE(html.find("3 in all; the newest shown (1)"), std::string::npos);
}

TEST(StatusPageTest, ErrorPageEscapesItsMessage) {
  const std::string html = RenderError("no pipeline named '" + kScript + "'", Ctx());
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_NE(html.find(kScriptEscaped), std::string::npos);
}

TEST(ReadFactsTest, NewestQuarantinedFirstWithTheTotalWatermarkAndIntents) {
  testing::TempDir dir;
  testing::FakeClock clock(kNow * 1000);
  stage::StageOptions so;
  so.clock = &clock;
  auto log = stage::StagingLog::Open(dir.Sub("state"), so);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  stage::StagingLog& s = **log;
  ASSERT_TRUE(s.RegisterSinks("p", {"a", "b"}).ok());
  stage::PageCommit page;
  page.watermark = kNow - 5000;
  ASSERT_TRUE(s.CommitPage("p", page, kNow).ok());
  ASSERT_TRUE(s.PutQuarantine("p", "a", {{"old", "first error", "{}"}}).ok());
  clock.Advance(1000 * 1000);
  ASSERT_TRUE(s.PutQuarantine("p", "a", {{"new", "second error", "{\"x\":1}"}}).ok());
  clock.Advance(1000 * 1000);
  ASSERT_TRUE(s.PutQuarantine("p", "b", {{"newest", "third error", "{}"}}).ok());
  ASSERT_TRUE(s.PutIntents("p", "b", {{"id1", "v"}, {"id2", "v"}}).ok());

  auto f = ReadFacts(&s, "p", 2);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->quarantined, 3);
  ASSERT_EQ(f->quarantine.size(), 2u);
  EXPECT_EQ(f->quarantine[0].source_id, "newest");
  EXPECT_EQ(f->quarantine[0].stage, "b");
  EXPECT_EQ(f->quarantine[1].source_id, "new");
  EXPECT_EQ(f->quarantine[1].error, "second error");
  EXPECT_EQ(f->quarantine[1].at_ms, kNow + 1000);
  ASSERT_TRUE(f->watermark_ms.has_value());
  EXPECT_EQ(*f->watermark_ms, kNow - 5000);
  EXPECT_EQ(f->open_intents["a"], 0);
  EXPECT_EQ(f->open_intents["b"], 2);
}

}  // namespace
}  // namespace stagesync::obs
