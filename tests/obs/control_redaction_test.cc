// Control API answers are redacted after routing, for the agent's routes and for routes other
// modules add through ControlServer::http(), even when the client asks for compression (the
// server must then not compress, or the redaction would see compressed bytes). Real loopback
// HTTP against a FakeAgent.
#include <gtest/gtest.h>
#include <httplib.h>

#include <memory>
#include <string>

#include "agent/control_server.h"
#include "agent/fake_agent.h"
#include "obs/redact.h"

namespace stagesync::agent {
namespace {

constexpr const char* kSecret = "Ctl-Redact-Secret-93kq";

class ControlRedactionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    obs::Redactor::Global().AddSecret(kSecret);
    ControlOptions opts;
    opts.listen = "127.0.0.1:0";
    server_ = std::make_unique<ControlServer>(&agent_, opts);
    // A route another module adds (a status page, metrics): its body holds a secret, a
    // Kingdee session id and a DingTalk token, large enough to be worth compressing.
    server_->http().Get("/page", [](const httplib::Request&, httplib::Response& res) {
      std::string body = "<p>error: login with " + std::string(kSecret) +
                         " said {\"KDSVCSessionId\":\"sess-77x\"} via ?access_token=tok-55y</p>";
      body += std::string(4096, ' ');
      res.set_content(body, "text/html");
    });
    ASSERT_TRUE(server_->Start().ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(5, 0);
    client_->set_decompress(false);
  }

  FakeAgent agent_;
  std::unique_ptr<ControlServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(ControlRedactionTest, AddedRouteIsRedactedAndNotCompressed) {
  for (const char* encoding : {"", "gzip", "br", "gzip, deflate, br"}) {
    httplib::Headers h;
    if (*encoding) h.emplace("Accept-Encoding", encoding);
    auto r = client_->Get("/page", h);
    ASSERT_TRUE(r) << encoding;
    EXPECT_EQ(r->status, 200);
    EXPECT_FALSE(r->has_header("Content-Encoding")) << encoding;
    EXPECT_EQ(r->body.find(kSecret), std::string::npos) << r->body;
    EXPECT_EQ(r->body.find("sess-77x"), std::string::npos) << r->body;
    EXPECT_EQ(r->body.find("tok-55y"), std::string::npos) << r->body;
    EXPECT_NE(r->body.find("<p>error: login with *** said {\"KDSVCSessionId\":\"***\"} via "
                           "?access_token=***</p>"),
              std::string::npos)
        << r->body;
    // The length the server announced is the redacted body's.
    EXPECT_EQ(r->get_header_value("Content-Length"), std::to_string(r->body.size()));
  }
}

TEST_F(ControlRedactionTest, AgentAnswersAndErrorsAreRedacted) {
  // The agent's own routes: a NotFound error quoting the asked name, which holds the secret.
  auto r = client_->Get((std::string("/api/pipelines/") + kSecret).c_str(),
                        httplib::Headers{{"Accept-Encoding", "gzip"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body.find(kSecret), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("***"), std::string::npos) << r->body;
  // Answers without anything secret are untouched.
  r = client_->Get("/api/pipelines");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("\"orders\""), std::string::npos) << r->body;
}

}  // namespace
}  // namespace stagesync::agent
