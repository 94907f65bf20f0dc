// `stagesync ctl` in process: RunCtl over the real curl client against a ControlServer with a
// FakeAgent, its output captured through a temporary FILE*.
#include "cli/ctl.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "agent/control_server.h"
#include "agent/fake_agent.h"

namespace stagesync::cli {
namespace {

std::string ReadAll(FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  return out;
}

class CtlTest : public ::testing::Test {
 protected:
  void StartAgent(const std::string& token) {
    server_ = std::make_unique<agent::ControlServer>(&agent_,
                                                     agent::ControlOptions{"127.0.0.1:0", token});
    ASSERT_TRUE(server_->Start().ok());
  }
  void SetUp() override { StartAgent(""); }

  // Runs `ctl args...` against the server with cfg.agent.token = `token`; fills out_ / err_.
  int Ctl(std::vector<std::string> args, bool as_json = false, const std::string& token = "",
          const std::string& sink = "", const std::string& key = "") {
    config::Config cfg;
    cfg.agent.listen = server_->address();
    cfg.agent.token = token;
    CtlOptions opts;
    opts.as_json = as_json;
    opts.sink = sink;
    opts.key = key;
    return CtlWith(cfg, std::move(args), opts);
  }
  int CtlWith(const config::Config& cfg, std::vector<std::string> args, CtlOptions opts) {
    FILE* out = std::tmpfile();
    FILE* err = std::tmpfile();
    opts.out = out;
    opts.err = err;
    opts.timeout_ms = 5000;
    int rc = RunCtl(cfg, args, opts);
    out_ = ReadAll(out);
    err_ = ReadAll(err);
    std::fclose(out);
    std::fclose(err);
    return rc;
  }

  agent::FakeAgent agent_;
  std::unique_ptr<agent::ControlServer> server_;
  std::string out_, err_;
};

TEST_F(CtlTest, StatusPrintsATable) {
  ASSERT_EQ(Ctl({"status"}), 0) << err_;
  EXPECT_EQ(err_, "");
  // Times are relative to the agent's now_ms: last run 5 min ago, next in 2 min, backoff
  // until 90 s from now.
  EXPECT_NE(out_.find("PIPELINE  STATE    LAST RUN   NEXT RUN  BACKOFF"), std::string::npos)
      << out_;
  EXPECT_NE(out_.find("orders    idle     5m ago ok  in 2m     -"), std::string::npos) << out_;
  EXPECT_NE(out_.find("bi=3 crm=0"), std::string::npos) << out_;
  EXPECT_NE(out_.find("pay.v2    failing  -          -         2 failures, 1m left  kd=12"),
            std::string::npos)
      << out_;
  EXPECT_EQ(agent_.last_call(), "list");
}

TEST_F(CtlTest, StatusOfOnePipelineShowsRecentRuns) {
  ASSERT_EQ(Ctl({"status", "orders"}), 0) << err_;
  EXPECT_NE(out_.find("orders"), std::string::npos);
  EXPECT_EQ(out_.find("pay.v2"), std::string::npos);
  EXPECT_NE(out_.find("recent runs:\n  10m ago failed: vendor said no"), std::string::npos) << out_;
  EXPECT_EQ(agent_.last_call(), "get orders 20");
}

TEST_F(CtlTest, StatusJsonIsTheAgentsJson) {
  ASSERT_EQ(Ctl({"status"}, /*as_json=*/true), 0) << err_;
  EXPECT_EQ(out_, agent_.PipelinesJson() + "\n");
}

TEST_F(CtlTest, ActionsPrintOneLine) {
  ASSERT_EQ(Ctl({"run", "orders"}), 0) << err_;
  EXPECT_EQ(out_, "run orders: started (run 7)\n");
  EXPECT_EQ(agent_.last_call(), "run orders");

  ASSERT_EQ(Ctl({"pause", "orders"}), 0) << err_;
  EXPECT_EQ(out_, "pause orders: paused (state paused)\n");
  EXPECT_EQ(agent_.last_call(), "pause orders");

  EXPECT_EQ(Ctl({"run", "orders"}), 1);  // 409: paused
  EXPECT_EQ(out_, "");
  EXPECT_NE(err_.find("orders is paused (HTTP 409)"), std::string::npos) << err_;

  ASSERT_EQ(Ctl({"resume", "orders"}), 0) << err_;
  EXPECT_EQ(out_, "resume orders: resumed (state idle)\n");

  ASSERT_EQ(Ctl({"requeue", "orders"}, false, "", "bi", "K1"), 0) << err_;
  EXPECT_EQ(out_, "requeue orders: 3 record(s) back in the change log\n");
  EXPECT_EQ(agent_.last_call(), "requeue orders sink=bi key=K1");

  ASSERT_EQ(Ctl({"run", "orders"}, /*as_json=*/true), 0) << err_;
  EXPECT_EQ(out_, "{\"started\":true,\"run_id\":7}\n");
}

TEST_F(CtlTest, UnknownPipelineIsAUsageError) {
  EXPECT_EQ(Ctl({"run", "nope"}), 2);
  EXPECT_EQ(err_, "stagesync: error: no such pipeline: nope\n");
  EXPECT_EQ(Ctl({"status", "nope"}), 2);
  EXPECT_EQ(Ctl({"requeue", "orders"}, false, "", "other"), 2);
  EXPECT_EQ(err_, "stagesync: error: no such sink: other\n");
}

TEST_F(CtlTest, BadArgumentsNeverReachTheAgent) {
  EXPECT_EQ(Ctl({}), 2);
  EXPECT_EQ(Ctl({"run"}), 2);
  EXPECT_EQ(Ctl({"explode", "orders"}), 2);
  EXPECT_EQ(Ctl({"status", "a", "b"}), 2);
  EXPECT_EQ(Ctl({"run", "a/b"}), 2);
  EXPECT_EQ(Ctl({"run", "orders"}, false, "", "bi"), 2);  // --sink goes with requeue
  EXPECT_TRUE(agent_.calls().empty());
}

TEST_F(CtlTest, NoAgentAnswers) {
  const std::string addr = server_->address();
  server_->Stop();
  config::Config cfg;
  cfg.agent.listen = addr;
  EXPECT_EQ(CtlWith(cfg, {"status"}, {}), 1);
  EXPECT_EQ(err_,
            "stagesync: error: no agent answers at " + addr + " (is `stagesync run` running?)\n");
  EXPECT_EQ(out_, "");
}

TEST_F(CtlTest, ListenOverrideWinsOverTheConfig) {
  config::Config cfg;
  cfg.agent.listen = "127.0.0.1:1";  // nobody there
  CtlOptions opts;
  opts.listen = server_->address();
  EXPECT_EQ(CtlWith(cfg, {"run", "orders"}, opts), 0) << err_;
  EXPECT_EQ(out_, "run orders: started (run 7)\n");
}

TEST_F(CtlTest, IgnoresProxiesFromTheEnvironment) {
  // A proxy cannot reach the agent's loopback: ctl must connect directly.
  ::setenv("http_proxy", "http://127.0.0.1:1", 1);
  ::setenv("ALL_PROXY", "http://127.0.0.1:1", 1);
  const int rc = Ctl({"run", "orders"});
  ::unsetenv("http_proxy");
  ::unsetenv("ALL_PROXY");
  EXPECT_EQ(rc, 0) << err_;
  EXPECT_EQ(agent_.last_call(), "run orders");
}

TEST_F(CtlTest, BearerTokenFromTheConfig) {
  server_.reset();
  StartAgent("tok-123");
  EXPECT_EQ(Ctl({"run", "orders"}), 1);
  EXPECT_EQ(err_, "stagesync: error: the agent refused the token; set agent.token (none is set)\n");
  EXPECT_EQ(Ctl({"run", "orders"}, false, "tok-12"), 1);
  EXPECT_EQ(err_,
            "stagesync: error: the agent refused the token; set agent.token to the agent's\n");
  EXPECT_EQ(err_.find("tok-12"), std::string::npos);
  EXPECT_TRUE(agent_.calls().empty());
  ASSERT_EQ(Ctl({"run", "orders"}, false, "tok-123"), 0) << err_;
  EXPECT_EQ(agent_.last_call(), "run orders");
}

}  // namespace
}  // namespace stagesync::cli
