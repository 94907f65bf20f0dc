// The real `stagesync run` as ops meet it: under systemd's notify protocol (READY=1, STATUS=,
// WATCHDOG=1, STOPPING=1 read from a NOTIFY_SOCKET the test creates), driven by `stagesync
// ctl`, reloaded with SIGHUP (a broken config keeps the old one and says why; a valid one adds
// and drops pipelines), and its control API's address and token rules. DingTalk -> Kingdee
// (seed 001) against the emulators; no database needed.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <fstream>
#include <set>

#include "emulators/dingtalk_emulator.h"
#include "emulators/kingdee_emulator.h"
#include "stagesync/clock.h"
#include "testing/agent_process.h"
#include "testing/exactly_once.h"
#include "testing/kingdee_pipeline.h"
#include "testing/mariadb.h"
#include "testing/temp_dir.h"

namespace stagesync {
namespace {

using testing::Member;
using testing::SetMember;

const std::string kBinary = STAGESYNC_BINARY_DIR "/stagesync";

// A datagram socket standing in for systemd's notify socket.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    ok_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    timeval tv{0, 100000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~NotifySocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return ok_; }
  // Reads datagrams until one contains `line` or `timeout_ms` passes; keeps what it read.
  bool WaitFor(const std::string& line, int64_t timeout_ms) {
    return testing::WaitFor(
        [&] {
          char buf[4096];
          ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
          if (n > 0) seen_ += std::string(buf, static_cast<size_t>(n)) + "\n";
          return seen_.find(line) != std::string::npos;
        },
        timeout_ms, 1);
  }
  const std::string& seen() const { return seen_; }

 private:
  std::string path_;
  int fd_ = -1;
  bool ok_ = false;
  std::string seen_;
};

class AgentCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dt_.Start(0));
    ASSERT_TRUE(kd_.Start(0));
    const int64_t now = Clock::Real()->NowMillis();
    dt_.Generate(20, now - 3 * 86400000LL, now - 3600000, 5);
    for (const auto& inst : dt_.Instances()) kd_.AddPayApply(inst.bill_number);
    config_ = dir_.Sub("config.json");
    log_file_ = dir_.Sub("agent.log");
  }

  // Seed 001 on `schedule`, edited by `edit`, written to config_.
  void WriteConfig(const std::string& schedule,
                   const std::function<void(json::Value*)>& edit = {}) {
    auto root = json::Parse(testing::AgentConfig(
        testing::KingdeePushConfigJson(dt_.base_url(), kd_.base_url(), dir_.Sub("state")),
        schedule));
    ASSERT_TRUE(root.ok());
    if (edit) edit(&*root);
    std::ofstream(config_, std::ios::trunc) << json::Serialize(*root);
  }

  // `stagesync --config config_ [--listen agent] ctl ARGS`: exit code, output in *out.
  int Ctl(const std::vector<std::string>& args, std::string* out,
          const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv = {kBinary,    "--config",       config_,
                                     "--listen", agent_.address(), "ctl"};
    argv.insert(argv.end(), args.begin(), args.end());
    const std::string file = dir_.Sub("ctl.out");
    std::remove(file.c_str());
    int code = testing::Run(argv, env, file);
    *out = testing::ReadWholeFile(file);
    return code;
  }

  emulators::DingTalkEmulator dt_;
  emulators::KingdeeEmulator kd_;
  testing::TempDir dir_;
  std::string config_, log_file_;
  testing::AgentProcess agent_;
};

TEST_F(AgentCliTest, UnderSystemdItNotifiesReadyStatusWatchdogAndStoppingAndCtlDrivesIt) {
  WriteConfig("@every 1h");
  NotifySocket notify(dir_.Sub("notify.sock"));
  ASSERT_TRUE(notify.ok());
  ASSERT_TRUE(agent_.Start(kBinary, config_, log_file_,
                           {"NOTIFY_SOCKET=" + dir_.Sub("notify.sock"), "WATCHDOG_USEC=1000000"}));
  ASSERT_TRUE(agent_.WaitReady()) << testing::ReadWholeFile(log_file_);
  EXPECT_TRUE(notify.WaitFor("READY=1", 5000)) << notify.seen();
  EXPECT_TRUE(notify.WaitFor("STATUS=1 pipelines", 5000)) << notify.seen();
  EXPECT_TRUE(notify.WaitFor("WATCHDOG=1", 3000)) << notify.seen();  // every 0.5 s

  std::string out;
  // The first start catches up: one run, then nothing until the next hour.
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto p = agent_.Pipeline("dingtalk-payment");
        return p && p->Find("last_run")->Find("outcome")->text() == "ok";
      },
      20000))
      << testing::ReadWholeFile(log_file_);
  ASSERT_EQ(Ctl({"status"}, &out), 0) << out;
  EXPECT_NE(out.find("dingtalk-payment"), std::string::npos) << out;
  EXPECT_NE(out.find("ok"), std::string::npos) << out;

  ASSERT_EQ(Ctl({"pause", "dingtalk-payment"}, &out), 0) << out;
  EXPECT_EQ(agent_.Pipeline("dingtalk-payment")->Find("state")->text(), "paused");
  EXPECT_NE(Ctl({"run", "dingtalk-payment"}, &out), 0) << "a paused pipeline ran: " << out;
  ASSERT_EQ(Ctl({"resume", "dingtalk-payment"}, &out), 0) << out;
  const std::string before =
      agent_.Pipeline("dingtalk-payment")->Find("last_run")->Find("started_ms")->text();
  ASSERT_EQ(Ctl({"run", "dingtalk-payment"}, &out), 0) << out;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto p = agent_.Pipeline("dingtalk-payment");
        return p->Find("last_run")->Find("started_ms")->text() != before &&
               p->Find("state")->text() == "idle";
      },
      20000));
  ASSERT_EQ(Ctl({"requeue", "dingtalk-payment", "--sink", "kingdee_paybill"}, &out), 0) << out;
  EXPECT_NE(out.find("0"), std::string::npos) << out;
  EXPECT_EQ(Ctl({"run", "no-such-pipeline"}, &out), 2) << out;

  auto stopped = agent_.Terminate(15000);
  EXPECT_EQ(stopped.code, 0) << testing::ReadWholeFile(log_file_);
  EXPECT_TRUE(notify.WaitFor("STOPPING=1", 2000)) << notify.seen();
  testing::ExpectOneBillPerApprovedRequest(dt_, kd_, dir_.Sub("state"));
  // The run history survives the agent, for stagesync-dump.
  const std::string dump = dir_.Sub("dump.out");
  ASSERT_EQ(testing::Run({STAGESYNC_BINARY_DIR "/stagesync-dump", "--state", dir_.Sub("state"),
                          "--runs", "--pipeline", "dingtalk-payment"},
                         {}, dump),
            0);
  const std::string runs = testing::ReadWholeFile(dump);
  EXPECT_NE(runs.find("first run"), std::string::npos) << runs;
  EXPECT_NE(runs.find("api"), std::string::npos) << runs;
  // No agent answers any more.
  EXPECT_EQ(Ctl({"status"}, &out), 1);
  EXPECT_NE(out.find("no agent answers"), std::string::npos) << out;
}

TEST_F(AgentCliTest, SighupWithABrokenConfigKeepsTheOldOneAndAValidOneAddsAndDropsPipelines) {
  WriteConfig("@every 1s");
  ASSERT_TRUE(agent_.Start(kBinary, config_, log_file_));
  ASSERT_TRUE(agent_.WaitReady()) << testing::ReadWholeFile(log_file_);

  std::ofstream(config_, std::ios::trunc) << "{\"state_dir\": ";  // cut short
  agent_.process().Signal(SIGHUP);
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto all = agent_.Pipelines();
        return all && !all->Find("agent")->Find("reload_error")->is_null();
      },
      10000))
      << testing::ReadWholeFile(log_file_);
  auto all = agent_.Pipelines();
  EXPECT_NE(all->Find("agent")->Find("reload_error")->text().find("config"), std::string::npos);
  ASSERT_EQ(all->Find("pipelines")->items().size(), 1u);
  EXPECT_NE(testing::ReadWholeFile(log_file_).find("reload refused"), std::string::npos)
      << testing::ReadWholeFile(log_file_);
  // The old config keeps running on its schedule.
  const std::string last =
      agent_.Pipeline("dingtalk-payment")->Find("last_run")->Find("started_ms")->text();
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return agent_.Pipeline("dingtalk-payment")->Find("last_run")->Find("started_ms")->text() !=
               last;
      },
      10000));

  // Valid: the pipeline under a new name (one added, one dropped).
  WriteConfig("@every 1s", [](json::Value* root) {
    json::Value* pipes = Member(root, "pipelines");
    json::Value p = *Member(pipes, "dingtalk-payment");
    *pipes = json::Value::Object();
    SetMember(pipes, "payments-v2", p);
  });
  agent_.process().Signal(SIGHUP);
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto p = agent_.Pipeline("payments-v2");
        return p && !p->Find("last_run")->Find("outcome")->is_null();
      },
      15000))
      << testing::ReadWholeFile(log_file_);
  all = agent_.Pipelines();
  EXPECT_TRUE(all->Find("agent")->Find("reload_error")->is_null());
  ASSERT_EQ(all->Find("pipelines")->items().size(), 1u);
  EXPECT_FALSE(agent_.Pipeline("dingtalk-payment").has_value());
  EXPECT_EQ(agent_.Terminate(15000).code, 0) << testing::ReadWholeFile(log_file_);
}

TEST_F(AgentCliTest, ANonLoopbackListenerNeedsATokenAndAWrongTokenIsRefused) {
  WriteConfig("@every 1h");
  // 0.0.0.0 without a token: refused before anything runs.
  const std::string out_file = dir_.Sub("refused.out");
  int code =
      testing::Run({kBinary, "--config", config_, "run", "--listen", "0.0.0.0:9"}, {}, out_file);
  EXPECT_EQ(code, 2);
  EXPECT_NE(testing::ReadWholeFile(out_file).find("token"), std::string::npos)
      << testing::ReadWholeFile(out_file);

  // With a token (from the environment): no token and a wrong one are refused, the right one
  // is served; /healthz needs none.
  WriteConfig("@every 1h", [](json::Value* root) {
    SetMember(Member(root, "agent"), "token", json::Value::String("${TEST_AGENT_TOKEN}"));
  });
  ASSERT_TRUE(agent_.Start(kBinary, config_, log_file_, {"TEST_AGENT_TOKEN=s3cret-Token"}));
  ASSERT_TRUE(testing::WaitFor([&] { return agent_.GetStatus("/healthz") == 200; }, 15000));
  EXPECT_EQ(agent_.GetStatus("/api/pipelines"), 401);
  std::string out;
  EXPECT_EQ(Ctl({"status"}, &out, {"TEST_AGENT_TOKEN=wrong"}), 1);
  EXPECT_NE(out.find("refused the token"), std::string::npos) << out;
  EXPECT_EQ(Ctl({"status"}, &out, {"TEST_AGENT_TOKEN=s3cret-Token"}), 0) << out;
  EXPECT_EQ(Ctl({"run", "dingtalk-payment"}, &out, {"TEST_AGENT_TOKEN=s3cret-Token"}), 0) << out;
  EXPECT_EQ(agent_.Terminate(15000).code, 0);
  // The token is a secret: never in the agent's log.
  EXPECT_EQ(testing::ReadWholeFile(log_file_).find("s3cret-Token"), std::string::npos);
}

}  // namespace
}  // namespace stagesync
