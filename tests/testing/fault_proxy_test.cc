// The fault proxy itself, in front of a small cpp-httplib upstream, driven by the real libcurl
// client: each fault does what it says, keep-alive survives, framing is preserved.
#include "testing/fault_proxy.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <thread>

#include "stagesync/http.h"

namespace stagesync::testing {
namespace {

// 200 000 letters that gzip cannot shrink much (the upstream compresses for libcurl), so a
// cut after N bytes on the wire really lands inside the body.
std::string BigBody() {
  std::string out(200000, 'a');
  uint32_t x = 12345;
  for (char& c : out) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>('a' + (x >> 16) % 26);
  }
  return out;
}

class FaultProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Post("/commit", [this](const httplib::Request& req, httplib::Response& res) {
      int n = ++commits_;
      res.set_content("committed " + std::to_string(n) + " " + req.body, "text/plain");
    });
    server_.Get("/chunked", [](const httplib::Request&, httplib::Response& res) {
      res.set_chunked_content_provider("text/plain", [](size_t, httplib::DataSink& sink) {
        sink.write("hello ", 6);
        sink.write("chunked world", 13);
        sink.done();
        return true;
      });
    });
    server_.Get("/big", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(BigBody(), "text/plain");
    });
    upstream_port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(upstream_port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // bind_to_any_port already listens: connections queue until the accept loop runs.
    http_ = NewCurlHttpClient();
  }
  void TearDown() override {
    server_.stop();
    thread_.join();
  }
  Result<HttpResponse> Post(const FaultProxy& proxy, const std::string& body,
                            bool idempotent = true) {
    HttpRequest r;
    r.method = "POST";
    r.url = proxy.base_url() + "/commit";
    r.body = body;
    r.idempotent = idempotent;
    r.timeout_ms = 5000;
    return http_->Send(r);
  }
  Result<HttpResponse> Get(const FaultProxy& proxy, const std::string& path,
                           int timeout_ms = 5000) {
    HttpRequest r;
    r.url = proxy.base_url() + path;
    r.timeout_ms = timeout_ms;
    return http_->Send(r);
  }

  httplib::Server server_;
  std::thread thread_;
  int upstream_port_ = 0;
  std::atomic<int> commits_{0};
  std::unique_ptr<HttpClient> http_;
};

TEST_F(FaultProxyTest, ForwardsAndKeepsTheClientConnectionAlive) {
  FaultProxy proxy(upstream_port_);
  ASSERT_TRUE(proxy.Start());
  for (int i = 0; i < 5; ++i) {
    auto r = Post(proxy, "b" + std::to_string(i));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "committed " + std::to_string(i + 1) + " b" + std::to_string(i));
  }
  auto c = Get(proxy, "/chunked");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->body, "hello chunked world");
  auto big = Get(proxy, "/big");
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  EXPECT_EQ(big->body, BigBody());
  EXPECT_EQ(proxy.requests(), 7);
  EXPECT_EQ(proxy.connections(), 1);  // one kept-alive connection carried them all
}

TEST_F(FaultProxyTest, BadGatewayAnswersWithoutForwardingAndKeepsTheConnection) {
  FaultProxy proxy(upstream_port_);
  ASSERT_TRUE(proxy.Start());
  proxy.AddRule({Fault::kBadGateway, "/commit", 5, 0, "GET"});  // never a POST
  proxy.AddRule({Fault::kBadGateway, "/commit", 2, 0});
  for (int i = 0; i < 2; ++i) {
    auto r = Post(proxy, "x");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 502);
    EXPECT_NE(r->body.find("<html>"), std::string::npos);
  }
  EXPECT_EQ(commits_, 0);
  auto r = Post(proxy, "y");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(commits_, 1);
  EXPECT_EQ(proxy.fired(Fault::kBadGateway), 2);
  EXPECT_EQ(proxy.connections(), 1);
}

TEST_F(FaultProxyTest, DropAfterCommitClosesAfterTheUpstreamActed) {
  FaultProxy proxy(upstream_port_);
  ASSERT_TRUE(proxy.Start());
  proxy.AddRule({Fault::kDropAfterCommit, "/commit", 1, 0});
  // A fresh connection (nothing to reuse yet): libcurl reports the empty reply.
  auto r = Post(proxy, "x", /*idempotent=*/false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_EQ(commits_, 1);
  EXPECT_EQ(proxy.fired(Fault::kDropAfterCommit), 1);
}

// The libcurl behaviour the proxy exists to expose: on a reused connection that dies before the
// first response byte, libcurl sends the POST again by itself. The idempotent request shows
// it happening (two commits, one success); the non-idempotent one must never be sent twice.
TEST_F(FaultProxyTest, DropOnAKeptAliveConnectionMakesLibcurlResendAnIdempotentPost) {
  FaultProxy proxy(upstream_port_);
  ASSERT_TRUE(proxy.Start());
  ASSERT_TRUE(Post(proxy, "warm").ok());  // opens the connection to reuse
  proxy.AddRule({Fault::kDropAfterCommit, "/commit", 1, 0});
  auto r = Post(proxy, "again", /*idempotent=*/true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(commits_, 3);  // warm-up, the dropped one, and libcurl's silent resend
  EXPECT_EQ(proxy.fired(Fault::kDropAfterCommit), 1);
}

TEST_F(FaultProxyTest, ResetMidResponseTruncateAndStallFailTheCall) {
  FaultProxy proxy(upstream_port_);
  ASSERT_TRUE(proxy.Start());
  ASSERT_TRUE(Get(proxy, "/big").ok());
  proxy.AddRule({Fault::kResetMidResponse, "/big", 1, 0});
  auto reset = Get(proxy, "/big");
  ASSERT_FALSE(reset.ok());
  EXPECT_EQ(reset.status().code(), StatusCode::kUnavailable) << reset.status().ToString();

  proxy.AddRule({Fault::kTruncateBody, "/big", 1, 0});
  auto cut = Get(proxy, "/big");
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.status().code(), StatusCode::kUnavailable) << cut.status().ToString();

  proxy.SetStallMs(1500);
  proxy.AddRule({Fault::kStall, "/chunked", 1, 0});
  auto slow = Get(proxy, "/chunked", 300);
  ASSERT_FALSE(slow.ok());
  EXPECT_EQ(slow.status().code(), StatusCode::kDeadlineExceeded) << slow.status().ToString();
  auto fine = Get(proxy, "/chunked");
  ASSERT_TRUE(fine.ok()) << fine.status().ToString();
  EXPECT_EQ(fine->body, "hello chunked world");
  EXPECT_EQ(proxy.fired(Fault::kResetMidResponse), 1);
  EXPECT_EQ(proxy.fired(Fault::kTruncateBody), 1);
  EXPECT_EQ(proxy.fired(Fault::kStall), 1);
}

TEST_F(FaultProxyTest, ProbabilityIsSeededAndFiltersByPath) {
  auto run = [&](uint32_t seed) {
    FaultProxy proxy(upstream_port_, FaultProxy::Mode::kHttp, seed);
    EXPECT_TRUE(proxy.Start());
    proxy.AddRule({Fault::kBadGateway, "/commit", 0, 0.25});
    std::string pattern;
    for (int i = 0; i < 80; ++i) {
      auto r = Post(proxy, "p");
      EXPECT_TRUE(r.ok());
      pattern += r.ok() && r->status == 502 ? 'F' : '.';
      EXPECT_TRUE(Get(proxy, "/chunked").ok());  // not matched: never faulted
    }
    EXPECT_EQ(proxy.fired(Fault::kBadGateway), std::count(pattern.begin(), pattern.end(), 'F'));
    return pattern;
  };
  std::string a = run(7), b = run(7), c = run(8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  const auto faults = std::count(a.begin(), a.end(), 'F');
  EXPECT_GT(faults, 5);
  EXPECT_LT(faults, 40);
}

TEST_F(FaultProxyTest, TcpModeForwardsBytesAndResetsAfterN) {
  FaultProxy proxy(upstream_port_, FaultProxy::Mode::kTcp);
  ASSERT_TRUE(proxy.Start());
  auto ok = Get(proxy, "/big");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->body, BigBody());
  proxy.ResetAfterBytes(1000, 1);
  HttpRequest r;
  r.url = proxy.base_url() + "/big";
  auto fresh = NewCurlHttpClient();  // a new connection, so the reset one is the one used
  auto cut = fresh->Send(r);
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.status().code(), StatusCode::kUnavailable) << cut.status().ToString();
  EXPECT_EQ(proxy.fired(Fault::kResetMidResponse), 1);
  EXPECT_TRUE(fresh->Send(r).ok());  // only one connection was armed
}

}  // namespace
}  // namespace stagesync::testing
