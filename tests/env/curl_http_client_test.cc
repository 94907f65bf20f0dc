// The libcurl HttpClient on the wire, behind the fault proxy: a non-idempotent request is sent
// at most once even when a kept-alive connection dies after the server acted; and URLs are
// redacted (userinfo included) before they reach an error.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <thread>

#include "stagesync/http.h"
#include "testing/fault_proxy.h"

namespace stagesync {
namespace {

using testing::Fault;
using testing::FaultProxy;

class CurlHttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Post("/push", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content("{\"n\":" + std::to_string(++commits_) + "}", "application/json");
    });
    int port = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // bind_to_any_port already listens: connections queue until the accept loop runs.
    proxy_ = std::make_unique<FaultProxy>(port, FaultProxy::Mode::kHttp, 5);
    ASSERT_TRUE(proxy_->Start());
    http_ = NewCurlHttpClient();
  }
  void TearDown() override {
    proxy_->Stop();
    server_.stop();
    thread_.join();
  }
  Result<HttpResponse> Push(bool idempotent) {
    HttpRequest r;
    r.method = "POST";
    r.url = proxy_->base_url() + "/push";
    r.body = "{}";
    r.idempotent = idempotent;
    r.timeout_ms = 5000;
    return http_->Send(r);
  }

  httplib::Server server_;
  std::thread thread_;
  std::atomic<int> commits_{0};
  std::unique_ptr<FaultProxy> proxy_;
  std::unique_ptr<HttpClient> http_;
};

TEST_F(CurlHttpClientTest, NonIdempotentPostIsNotResentWhenAKeptAliveConnectionDies) {
  ASSERT_TRUE(Push(true).ok());  // a connection to reuse
  proxy_->AddRule({Fault::kDropAfterCommit, "/push", 1, 0});
  auto r = Push(/*idempotent=*/false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_EQ(commits_, 2);  // the server acted once; nobody sent it again
  ASSERT_TRUE(Push(true).ok());
  EXPECT_EQ(commits_, 3);
}

TEST_F(CurlHttpClientTest, EveryNonIdempotentPostReachesTheServerAtMostOnce) {
  // 1 in 5 answers lost after the commit, on connections kept alive between the calls.
  proxy_->AddRule({Fault::kDropAfterCommit, "/push", 0, 0.2});
  constexpr int kCalls = 150;
  int failed = 0;
  for (int i = 0; i < kCalls; ++i) failed += !Push(/*idempotent=*/false).ok();
  EXPECT_GT(proxy_->fired(Fault::kDropAfterCommit), 10);
  EXPECT_EQ(failed, proxy_->fired(Fault::kDropAfterCommit));  // each lost answer is reported
  EXPECT_EQ(commits_, kCalls);  // and none was sent again behind the caller's back
  EXPECT_EQ(proxy_->requests(), kCalls);
}

TEST(RedactUrlTest, UserinfoAndSecretParametersAreRedacted) {
  EXPECT_EQ(RedactUrl("http://user:s3cret@h.example:8080/k3cloud/x?a=1"),
            "http://***@h.example:8080/k3cloud/x?a=1");
  EXPECT_EQ(RedactUrl("https://only-user@h/"), "https://***@h/");
  // '@' after the authority is not userinfo.
  EXPECT_EQ(RedactUrl("http://h/p@q?x=a@b"), "http://h/p@q?x=a@b");
  // Both at once; a password containing '@' is cut at the last '@' of the authority.
  EXPECT_EQ(RedactUrl("http://u:p@ss@h/r?access_token=abc&page=2"),
            "http://***@h/r?access_token=***&page=2");
  EXPECT_EQ(RedactUrl("http://h/r?sign=zz"), "http://h/r?sign=***");
}

TEST(RedactUrlTest, TransportErrorsDoNotPrintUserinfo) {
  auto http = NewCurlHttpClient();
  HttpRequest r;
  r.url = "http://admin:hunter2@127.0.0.1:1/x";  // nothing listens on port 1
  r.connect_timeout_ms = 2000;
  auto res = http->Send(r);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.status().message().find("hunter2"), std::string::npos) << res.status().ToString();
  EXPECT_EQ(res.status().message().find("admin"), std::string::npos) << res.status().ToString();
}

}  // namespace
}  // namespace stagesync
