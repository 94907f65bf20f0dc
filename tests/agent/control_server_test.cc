// The control API against a FakeAgent over real loopback HTTP: every route and status code,
// what reaches the agent, auth, the listen rules and the body limit.
#include "agent/control_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <memory>
#include <string>

#include "agent/fake_agent.h"

namespace stagesync::agent {
namespace {

class ControlServerTest : public ::testing::Test {
 protected:
  void StartServer(std::string token = "") {
    ControlOptions opts;
    opts.listen = "127.0.0.1:0";
    opts.token = std::move(token);
    server_ = std::make_unique<ControlServer>(&agent_, opts);
    ASSERT_TRUE(server_->Start().ok());
    ASSERT_GT(server_->port(), 0);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(5, 0);
  }
  void SetUp() override { StartServer(); }

  FakeAgent agent_;
  std::unique_ptr<ControlServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(ControlServerTest, HealthzIsPlainOk) {
  auto r = client_->Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ok\n");
  EXPECT_TRUE(agent_.calls().empty());  // liveness does not ask the agent
}

TEST_F(ControlServerTest, ReadyzReportsWhyNot) {
  auto r = client_->Get("/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "{\"ready\":true}");
  agent_.SetNotReady("staging not open");
  r = client_->Get("/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, "{\"ready\":false,\"why\":\"staging not open\"}");
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
}

TEST_F(ControlServerTest, ListsPipelinesAsJson) {
  auto r = client_->Get("/api/pipelines");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  EXPECT_NE(r->body.find("\"name\":\"orders\""), std::string::npos);
  EXPECT_EQ(agent_.last_call(), "list");
}

TEST_F(ControlServerTest, OnePipelinePassesTheLimit) {
  auto r = client_->Get("/api/pipelines/orders?limit=5");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("\"runs\""), std::string::npos);
  EXPECT_EQ(agent_.last_call(), "get orders 5");
  r = client_->Get("/api/pipelines/pay.v2");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(agent_.last_call(), "get pay.v2 20");  // the default
}

TEST_F(ControlServerTest, BadLimitIs400AndNeverReachesTheAgent) {
  for (const char* q : {"limit=0", "limit=abc", "limit=1001", "limit=", "limit=5x"}) {
    auto r = client_->Get(std::string("/api/pipelines/orders?") + q);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << q;
    EXPECT_NE(r->body.find("\"error\":\"limit must be"), std::string::npos) << r->body;
  }
  EXPECT_TRUE(agent_.calls().empty());
}

TEST_F(ControlServerTest, UnknownPipelineIs404WithJsonError) {
  auto r = client_->Get("/api/pipelines/nope");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body, "{\"error\":\"no such pipeline: nope\"}");
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
}

TEST_F(ControlServerTest, BadPipelineNameIs400) {
  const std::string too_long(65, 'a');
  for (const std::string& name : {std::string("a%20b"), std::string("a%24b"), too_long}) {
    auto r = client_->Post("/api/pipelines/" + name + "/run", "", "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << name;
    EXPECT_EQ(r->body, "{\"error\":\"bad pipeline name\"}");
  }
  EXPECT_TRUE(agent_.calls().empty());
  auto r = client_->Get("/api/pipelines/" + std::string(64, 'a'));  // the longest allowed
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

TEST_F(ControlServerTest, ActionsReachTheAgent) {
  auto r = client_->Post("/api/pipelines/orders/run", "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "{\"started\":true,\"run_id\":7}");
  EXPECT_EQ(agent_.last_call(), "run orders");

  r = client_->Post("/api/pipelines/orders/pause", "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("\"state\":\"paused\""), std::string::npos);
  EXPECT_EQ(agent_.last_call(), "pause orders");

  r = client_->Post("/api/pipelines/orders/run", "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409);  // FailedPrecondition: paused
  EXPECT_EQ(r->body, "{\"error\":\"orders is paused\"}");

  r = client_->Post("/api/pipelines/orders/resume", "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("\"state\":\"idle\""), std::string::npos);
  EXPECT_EQ(agent_.last_call(), "resume orders");

  r = client_->Post("/api/pipelines/nope/pause", "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);

  r = client_->Post("/api/pipelines/broken/run", "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);  // any other code
  EXPECT_EQ(r->body, "{\"error\":\"disk on fire\"}");
}

TEST_F(ControlServerTest, RequeueTakesQueryOrJsonBody) {
  auto r = client_->Post("/api/pipelines/orders/requeue", "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "{\"requeued\":3}");
  EXPECT_EQ(agent_.last_call(), "requeue orders sink= key=");

  r = client_->Post("/api/pipelines/orders/requeue?sink=bi&key=A%2F1", "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(agent_.last_call(), "requeue orders sink=bi key=A/1");

  r = client_->Post("/api/pipelines/orders/requeue", "{\"sink\":\"bi\",\"key\":\"K 2\"}",
                    "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(agent_.last_call(), "requeue orders sink=bi key=K 2");

  r = client_->Post("/api/pipelines/orders/requeue", "{\"sink\":\"other\"}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);  // the agent's NotFound for the sink
  EXPECT_EQ(r->body, "{\"error\":\"no such sink: other\"}");
}

TEST_F(ControlServerTest, BadRequeueBodiesAre400) {
  const auto before = agent_.calls().size();
  for (const char* body :
       {"{\"sink\":", "[1]", "{\"sink\":1}", "{\"table\":\"x\"}", "{\"sink\":\"crm\"}"}) {
    // The last: the query says bi, the body crm.
    auto r = client_->Post("/api/pipelines/orders/requeue?sink=bi", body, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << body;
    EXPECT_NE(r->body.find("\"error\":"), std::string::npos);
  }
  EXPECT_EQ(agent_.calls().size(), before);
}

TEST_F(ControlServerTest, UnknownRouteIs404WrongMethodIs405) {
  auto r = client_->Get("/api/nothing");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  EXPECT_NE(r->body.find("\"error\":\"no such route"), std::string::npos);

  r = client_->Post("/api/pipelines/orders/explode", "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);

  r = client_->Get("/api/pipelines/orders/run");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->get_header_value("Allow"), "POST");

  r = client_->Post("/healthz", "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->get_header_value("Allow"), "GET");

  r = client_->Delete("/api/pipelines/orders");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  r = client_->Put("/api/pipelines/orders/run", "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_NE(r->body.find("\"error\":\"method PUT not allowed"), std::string::npos);
  EXPECT_TRUE(agent_.calls().empty());
}

TEST_F(ControlServerTest, BodyOverTheLimitIs413) {
  const std::string big(70 * 1024, ' ');
  auto r = client_->Post("/api/pipelines/orders/requeue", big, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_TRUE(agent_.calls().empty());
  // Just under the limit is read (and rejected as JSON, not for its size).
  httplib::Client fresh("127.0.0.1", server_->port());
  r = fresh.Post("/api/pipelines/orders/requeue", std::string(60 * 1024, ' '), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
}

TEST_F(ControlServerTest, AddressNamesTheBoundPort) {
  EXPECT_EQ(server_->address(), "127.0.0.1:" + std::to_string(server_->port()));
  server_->Stop();
  EXPECT_EQ(server_->port(), 0);
  EXPECT_FALSE(client_->Get("/healthz"));  // nobody listens any more
  server_->Stop();                         // idempotent
}

TEST_F(ControlServerTest, IntegratorRoutesShareAuthAndErrors) {
  server_->Stop();
  FakeAgent agent;
  ControlServer s(&agent, {"127.0.0.1:0", "tok"});
  s.http().Get("/metrics", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("m 1\n", "text/plain");
  });
  ASSERT_TRUE(s.Start().ok());
  httplib::Client c("127.0.0.1", s.port());
  auto r = c.Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  r = c.Get("/metrics", {{"Authorization", "Bearer tok"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "m 1\n");
}

// ---- auth ----

class ControlServerAuthTest : public ControlServerTest {
 protected:
  void SetUp() override { StartServer("s3cret-token"); }
};

TEST_F(ControlServerAuthTest, NoHeaderIs401WithChallenge) {
  auto r = client_->Get("/api/pipelines");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(r->get_header_value("WWW-Authenticate"), "Bearer realm=\"stagesync\"");
  EXPECT_EQ(r->body, "{\"error\":\"bearer token required\"}");
  r = client_->Get("/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_TRUE(agent_.calls().empty());
}

TEST_F(ControlServerAuthTest, WrongTokenIs401AndNothingRuns) {
  for (const char* h : {"Bearer s3cret-tokeN", "Bearer s3cret-token-and-more", "Bearer s3cret",
                        "Basic s3cret-token", "s3cret-token", "Bearer "}) {
    auto r =
        client_->Post("/api/pipelines/orders/run", {{"Authorization", h}}, "", "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << h;
    EXPECT_NE(r->get_header_value("WWW-Authenticate").find("Bearer realm="), std::string::npos);
    EXPECT_EQ(r->body.find("s3cret"), std::string::npos);  // never echoed
  }
  EXPECT_TRUE(agent_.calls().empty());
}

TEST_F(ControlServerAuthTest, RightTokenPasses) {
  auto r = client_->Post("/api/pipelines/orders/run", {{"Authorization", "Bearer s3cret-token"}},
                         "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(agent_.last_call(), "run orders");
  // The scheme is case-insensitive (RFC 7235).
  r = client_->Get("/api/pipelines", {{"Authorization", "bearer s3cret-token"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ControlServerAuthTest, HealthzStaysOpen) {
  auto r = client_->Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ControlServerAuthTest, AuthComesBeforeRoutingAndTheBody) {
  auto r = client_->Get("/no/such/route");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);  // the route table is not revealed
  r = client_->Post("/api/pipelines/orders/requeue", std::string(70 * 1024, ' '),
                    "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
}

// ---- listen rules ----

TEST(ControlServerListenTest, NonLoopbackNeedsAToken) {
  FakeAgent agent;
  for (const char* listen : {"0.0.0.0:0", "[::]:0", "10.1.2.3:9464", "example.com:9464"}) {
    ControlServer s(&agent, {listen, ""});
    Status st = s.Start();
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << listen;
    EXPECT_NE(st.message().find("agent.listen"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("not a loopback address"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("agent.token"), std::string::npos) << st.message();
    EXPECT_EQ(s.port(), 0);
  }
  // With a token the same address is allowed.
  ControlServer s(&agent, {"0.0.0.0:0", "tok"});
  ASSERT_TRUE(s.Start().ok());
  EXPECT_GT(s.port(), 0);
  httplib::Client c("127.0.0.1", s.port());
  auto r = c.Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(ControlServerListenTest, LoopbackForms) {
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.200.3.4"));
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_TRUE(IsLoopbackHost("LocalHost"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_TRUE(IsLoopbackHost("::ffff:127.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("128.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackHost("::"));
  EXPECT_FALSE(IsLoopbackHost("::ffff:10.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("localhost.example.com"));
  EXPECT_FALSE(IsLoopbackHost("127.0.0.1.example.com"));
  EXPECT_FALSE(IsLoopbackHost(""));
}

TEST(ControlServerListenTest, ParsesListenAddresses) {
  std::string host;
  int port = -1;
  ASSERT_TRUE(ParseListen("127.0.0.1:9464", &host, &port).ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 9464);
  ASSERT_TRUE(ParseListen("[::1]:80", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 80);
  ASSERT_TRUE(ParseListen(":0", &host, &port).ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 0);
  for (const char* bad : {"127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
                          "127.0.0.1:80x", "::1:80", "[::1:80", ""}) {
    Status st = ParseListen(bad, &host, &port);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(st.message().rfind("agent.listen: ", 0), 0u) << st.message();
  }
}

TEST(ControlServerListenTest, PortInUseIsAClearError) {
  FakeAgent agent;
  ControlServer first(&agent, {"127.0.0.1:0", ""});
  ASSERT_TRUE(first.Start().ok());
  const std::string addr = "127.0.0.1:" + std::to_string(first.port());
  ControlServer second(&agent, {addr, ""});
  Status st = second.Start();
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_NE(st.message().find("cannot listen on " + addr), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("in use"), std::string::npos) << st.message();
  // The first still answers (no SO_REUSEPORT sharing).
  httplib::Client c("127.0.0.1", first.port());
  for (int i = 0; i < 4; ++i) {
    auto r = c.Get("/healthz");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
}

TEST(ControlServerListenTest, StartTwiceIsRefused) {
  FakeAgent agent;
  ControlServer s(&agent, {"127.0.0.1:0", ""});
  ASSERT_TRUE(s.Start().ok());
  EXPECT_EQ(s.Start().code(), StatusCode::kFailedPrecondition);
}

// ---- constant-time compare ----

TEST(ConstantTimeEqualsTest, EqualUnequalAndDifferentLengths) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("s3cret-token", "s3cret-token"));
  EXPECT_TRUE(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0b", 3)));
  EXPECT_FALSE(ConstantTimeEquals("s3cret-token", "s3cret-tokeN"));
  EXPECT_FALSE(ConstantTimeEquals("s3cret-token", "X3cret-token"));
  EXPECT_FALSE(ConstantTimeEquals("s3cret-token", "s3cret"));
  EXPECT_FALSE(ConstantTimeEquals("s3cret", "s3cret-token"));
  EXPECT_FALSE(ConstantTimeEquals("", "x"));
  EXPECT_FALSE(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0c", 3)));
  EXPECT_FALSE(ConstantTimeEquals(std::string("a\0b", 3), "a"));  // no C-string cut at NUL
}

}  // namespace
}  // namespace stagesync::agent
