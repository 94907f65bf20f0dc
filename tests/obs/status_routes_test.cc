// The status page's routes on a real ControlServer (loopback, ephemeral port) over a fake agent
// and a real staging log: the API's bearer token guards them too, the pages are HTML that
// caches never keep, and an unknown or malformed pipeline gets an HTML error page.
#include "obs/status_routes.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <memory>
#include <string>

#include "agent/control_server.h"
#include "agent/fake_agent.h"
#include "stagesync/stage.h"
#include "testing/temp_dir.h"

namespace stagesync::obs {
namespace {

class StatusRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = stage::StagingLog::Open(dir_.Sub("state"));
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
    ASSERT_TRUE(log_->RegisterSinks("orders", {"db"}).ok());
    ASSERT_TRUE(log_->PutQuarantine("orders", "db", {{"o-1", "bad <b>value</b>", "{}"}}).ok());
    server_ = std::make_unique<agent::ControlServer>(
        &agent_, agent::ControlOptions{"127.0.0.1:0", "s3cret-token"});
    StatusPageOptions opts;
    opts.lang = Lang::kEn;
    InstallStatusPage(&server_->http(), &agent_, log_.get(), opts);
    ASSERT_TRUE(server_->Start().ok());
  }
  httplib::Result Get(const std::string& path, const std::string& token) {
    httplib::Client cli("127.0.0.1", server_->port());
    httplib::Headers h;
    if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
    return cli.Get(path, h);
  }

  testing::TempDir dir_;
  std::unique_ptr<stage::StagingLog> log_;
  agent::FakeAgent agent_;
  std::unique_ptr<agent::ControlServer> server_;
};

TEST_F(StatusRoutesTest, PagesNeedTheApiTokenLikeEveryOtherRoute) {
  for (const char* path : {"/", "/pipelines/orders"}) {
    auto none = Get(path, "");
    ASSERT_TRUE(none);
    EXPECT_EQ(none->status, 401) << path;
    EXPECT_EQ(none->body.find("<html"), std::string::npos);
    auto wrong = Get(path, "not-it");
    ASSERT_TRUE(wrong);
    EXPECT_EQ(wrong->status, 401) << path;
  }
}

TEST_F(StatusRoutesTest, OverviewAndPipelinePageAreUncachedHtmlWithStagingFacts) {
  auto all = Get("/", "s3cret-token");
  ASSERT_TRUE(all);
  EXPECT_EQ(all->status, 200);
  EXPECT_EQ(all->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(all->get_header_value("Cache-Control"), "no-store");
  EXPECT_NE(all->body.find("data-pipeline=\"orders\""), std::string::npos) << all->body;
  EXPECT_NE(all->body.find("data-pipeline=\"pay.v2\""), std::string::npos);
  // The newest quarantine error comes from staging, escaped.
  EXPECT_NE(all->body.find("bad &lt;b&gt;value&lt;/b&gt;"), std::string::npos) << all->body;
  EXPECT_EQ(all->body.find("s3cret-token"), std::string::npos);

  auto one = Get("/pipelines/orders", "s3cret-token");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->status, 200);
  EXPECT_NE(one->body.find("<table class=\"quarantine\">"), std::string::npos);
  EXPECT_NE(one->body.find("<code>o-1</code>"), std::string::npos) << one->body;
}

TEST_F(StatusRoutesTest, UnknownOrMalformedPipelineIsAnHtmlErrorPage) {
  auto unknown = Get("/pipelines/nope", "s3cret-token");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_NE(unknown->body.find("no such pipeline: nope"), std::string::npos) << unknown->body;
  EXPECT_NE(unknown->get_header_value("Content-Type").find("text/html"), std::string::npos);
  auto bad = Get("/pipelines/%3Cscript%3E", "s3cret-token");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(bad->body.find("<script"), std::string::npos);
}

}  // namespace
}  // namespace stagesync::obs
