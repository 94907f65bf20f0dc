// The agent in one process against the DingTalk and Kingdee emulators (seed 001: approvals
// pushed into Kingdee): runs on schedule without a fetch ever overlapping the previous one,
// catches up once after a long stop, backs a failing pipeline off visibly and recovers,
// pause/resume/run/requeue, reload (added, dropped and refused configs), and 24 simulated hours
// of schedules on a fast clock with flat memory.
#include "agent/agent.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

#include "emulators/dingtalk_emulator.h"
#include "emulators/kingdee_emulator.h"
#include "stagesync/json.h"
#include "testing/exactly_once.h"
#include "testing/fake_clock.h"
#include "testing/kingdee_pipeline.h"
#include "testing/temp_dir.h"

namespace stagesync {
namespace {

using testing::Member;
using testing::SetMember;

constexpr int64_t kHourMs = 3600000;
constexpr int64_t kDayMs = 24 * kHourMs;

// Real time sped up `factor` times from the moment it is made: a day of schedules in seconds,
// while vendor calls still take real time.
class FastClock final : public Clock {
 public:
  explicit FastClock(int64_t factor)
      : factor_(factor),
        wall0_(Clock::Real()->NowMicros()),
        mono0_(Clock::Real()->MonotonicMicros()) {}
  int64_t NowMicros() override { return wall0_ + Elapsed() * factor_; }
  int64_t MonotonicMicros() override { return mono0_ + Elapsed() * factor_; }
  void SleepForMicros(int64_t micros) override { Clock::Real()->SleepForMicros(micros / factor_); }

 private:
  int64_t Elapsed() { return Clock::Real()->MonotonicMicros() - mono0_; }
  const int64_t factor_, wall0_, mono0_;
};

// Peak-free resident set size of this process, in KiB (from /proc/self/statm).
int64_t RssKiB() {
  std::ifstream in("/proc/self/statm");
  int64_t size = 0, resident = 0;
  in >> size >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

bool WaitFor(const std::function<bool()>& cond, int64_t timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dt_.Start(0));
    ASSERT_TRUE(kd_.Start(0));
    const int64_t now = Clock::Real()->NowMillis();
    dt_.Generate(30, now - 5 * kDayMs, now - kHourMs, 11);
    RegisterBills();
  }
  void TearDown() override { StopAgent(); }

  void RegisterBills() {
    for (const auto& inst : dt_.Instances()) {
      if (registered_.insert(inst.bill_number).second) kd_.AddPayApply(inst.bill_number);
    }
  }

  // Seed 001 against the emulators with `schedule`, edited further by `edit`.
  std::shared_ptr<const config::Config> Config(const std::string& schedule,
                                               const std::function<void(json::Value*)>& edit = {}) {
    auto root = json::Parse(
        testing::KingdeePushConfigJson(dt_.base_url(), kd_.base_url(), dir_.Sub("state")));
    EXPECT_TRUE(root.ok());
    json::Value* p = Member(Member(&*root, "pipelines"), "dingtalk-payment");
    SetMember(p, "schedule", json::Value::String(schedule));
    SetMember(&*root, "agent",
              *json::Parse(R"({"backoff_base_s": 1, "backoff_max_s": 2, "shutdown_grace_s": 10})"));
    if (edit) edit(&*root);
    auto cfg = config::LoadString(json::Serialize(*root), "");
    EXPECT_TRUE(cfg.ok()) << cfg.status().ToString();
    if (!cfg.ok()) return nullptr;
    return std::make_shared<const config::Config>(std::move(cfg).value());
  }

  void StartAgent(std::shared_ptr<const config::Config> cfg, Clock* clock = nullptr) {
    auto log = stage::StagingLog::Open(cfg->state_dir);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    rt_ = std::make_unique<Runtime>();
    agent::AgentOptions o;
    o.clock = clock;
    o.poll_ms = 20;
    o.log = [this](const std::string& line) {
      std::lock_guard<std::mutex> lock(log_mu_);
      lines_.push_back(line);
    };
    agent_ = std::make_unique<agent::Agent>(cfg, std::move(log).value(), rt_.get(), o);
    runner_ = std::thread([this] { clean_ = agent_->Run(); });
  }

  void StopAgent() {
    if (!agent_) return;
    agent_->Stop();
    runner_.join();
    agent_.reset();
    rt_.reset();
  }

  std::vector<stage::RunRecord> Runs(const std::string& p = "dingtalk-payment") {
    auto runs = agent_->staging()->Runs(p, 1000);
    EXPECT_TRUE(runs.ok());
    return runs.ok() ? *runs : std::vector<stage::RunRecord>{};
  }

  json::Value PipelineState(const std::string& name) {
    auto all = json::Parse(agent_->PipelinesJson());
    EXPECT_TRUE(all.ok());
    for (const auto& p : all->Find("pipelines")->items()) {
      if (p.Find("name")->text() == name) return p;
    }
    return json::Value::Object();
  }

  std::string Logged() {
    std::lock_guard<std::mutex> lock(log_mu_);
    std::string out;
    for (const auto& l : lines_) out += l + "\n";
    return out;
  }

  emulators::DingTalkEmulator dt_;
  emulators::KingdeeEmulator kd_;
  std::set<std::string> registered_;
  testing::TempDir dir_;
  std::unique_ptr<Runtime> rt_;
  std::unique_ptr<agent::Agent> agent_;
  std::thread runner_;
  bool clean_ = false;
  std::mutex log_mu_;
  std::vector<std::string> lines_;
};

int64_t FetchField(const stage::RunRecord& r, const char* field) {
  auto d = json::Parse(r.detail_json);
  if (!d.ok() || d->Find("fetch") == nullptr || d->Find("fetch")->Find(field) == nullptr) return -1;
  int64_t v = -1;
  d->Find("fetch")->Find(field)->AsInt64(&v);
  return v;
}

std::string Trigger(const stage::RunRecord& r) {
  auto d = json::Parse(r.detail_json);
  return d.ok() && d->Find("trigger") ? d->Find("trigger")->text() : "";
}

TEST_F(AgentTest, RunsOnScheduleAndAFetchNeverOverlapsThePreviousOne) {
  dt_.SetLatencyMs(60);  // a fetch (listids + 30 gets) outlasts the 1 s interval
  StartAgent(Config("@every 1s"));
  ASSERT_TRUE(WaitFor([&] { return Runs().size() >= 3; }, 20000)) << Logged();
  StopAgent();
  StartAgent(Config("@every 1h"));  // reopen to read the history
  auto runs = Runs();
  std::sort(runs.begin(), runs.end(), [](auto& a, auto& b) { return a.id < b.id; });
  ASSERT_GE(runs.size(), 3u);
  for (size_t i = 1; i < runs.size(); ++i) {
    const int64_t prev_end = FetchField(runs[i - 1], "ended_ms");
    const int64_t start = FetchField(runs[i], "started_ms");
    ASSERT_GT(prev_end, 0) << runs[i - 1].detail_json;
    EXPECT_GE(start, prev_end) << "fetch " << runs[i].id << " overlapped " << runs[i - 1].id;
    // A run that outlasted its interval is followed at once by one more (not skipped ticks).
    EXPECT_LT(start - prev_end, 1500) << runs[i].detail_json;
    EXPECT_EQ(runs[i].outcome, "ok") << runs[i].detail_json;
  }
  testing::ExpectOneBillPerApprovedRequest(dt_, kd_, dir_.Sub("state"));
}

TEST_F(AgentTest, AfterALongStopAPipelineCatchesUpOnceNotOncePerMissedTick) {
  testing::FakeClock clock(Clock::Real()->NowMicros());
  auto cfg = Config("@every 1h");
  {
    auto log = stage::StagingLog::Open(cfg->state_dir);
    ASSERT_TRUE(log.ok());
    stage::RunRecord old;
    old.started_ms = clock.NowMillis() - 3 * kDayMs;  // 72 ticks missed
    old.ended_ms = old.started_ms + 1000;
    old.outcome = "ok";
    old.detail_json = "{}";
    ASSERT_TRUE((*log)->AppendRun("dingtalk-payment", &old).ok());
  }
  StartAgent(cfg, &clock);
  ASSERT_TRUE(WaitFor([&] { return Runs().size() == 2; }, 20000)) << Logged();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto runs = Runs();
  ASSERT_EQ(runs.size(), 2u) << Logged();
  EXPECT_EQ(Trigger(runs[0]), "catch-up");
  EXPECT_EQ(runs[0].outcome, "ok") << runs[0].detail_json;
  // The next tick is the next full hour (@every ticks are aligned to the epoch), not before.
  int64_t next = 0;
  ASSERT_TRUE(PipelineState("dingtalk-payment").Find("next_run")->AsInt64(&next));
  EXPECT_EQ(next, (clock.NowMillis() / kHourMs + 1) * kHourMs);
  clock.SetNowMillis(next - 1000);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(Runs().size(), 2u);
  clock.SetNowMillis(next + 1000);
  ASSERT_TRUE(WaitFor([&] { return Runs().size() == 3; }, 20000)) << Logged();
  EXPECT_EQ(Trigger(Runs()[0]), "schedule");

  // A pipeline that ran 10 minutes ago on an hourly schedule does not run at start.
  StopAgent();
  StartAgent(cfg, &clock);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  EXPECT_EQ(Runs().size(), 3u) << Logged();
}

TEST_F(AgentTest, AFailingFetchBacksOffVisiblyAndRecovers) {
  dt_.Fail5xxNext(1000000);
  auto cfg = Config("@every 1s", [](json::Value* root) {
    SetMember(Member(Member(root, "connections"), "dingtalk"), "retry_budget_s",
              json::Value::Number("0"));
  });
  StartAgent(cfg);
  ASSERT_TRUE(WaitFor(
      [&] {
        int64_t f = 0;
        const json::Value* v = PipelineState("dingtalk-payment").Find("backoff")->Find("failures");
        return v != nullptr && v->AsInt64(&f) && f >= 2;
      },
      20000))
      << Logged();
  json::Value st = PipelineState("dingtalk-payment");
  EXPECT_EQ(st.Find("state")->text(), "failing") << json::Serialize(st);
  EXPECT_FALSE(st.Find("backoff")->Find("until_ms")->is_null()) << json::Serialize(st);
  EXPECT_NE(st.Find("last_error")->text().find("502"), std::string::npos) << json::Serialize(st);
  // Backoff 1 s, 2 s, 2 s...: over 4 s of failures at most ~4 runs, not one per poll.
  const size_t before = Runs().size();
  std::this_thread::sleep_for(std::chrono::milliseconds(4000));
  EXPECT_LE(Runs().size() - before, 3u);
  EXPECT_EQ(Runs()[0].outcome, "failed");
  dt_.Fail5xxNext(0);
  ASSERT_TRUE(WaitFor([&] { return !Runs().empty() && Runs()[0].outcome == "ok"; }, 20000))
      << Logged();
  st = PipelineState("dingtalk-payment");
  EXPECT_EQ(st.Find("backoff")->Find("failures")->text(), "0");
  // The first ok run may be one whose Kingdee sink was still backing off (it counts as ok): the
  // bills follow within a run or two, and then exactly one per approved request.
  size_t approved = 0;
  for (const auto& inst : dt_.Instances()) {
    approved += inst.status == "COMPLETED" && inst.result == "agree";
  }
  EXPECT_TRUE(WaitFor([&] { return kd_.PayBills().size() >= approved; }, 20000)) << Logged();
  testing::ExpectOneBillPerApprovedRequest(dt_, kd_, dir_.Sub("state"));
}

TEST_F(AgentTest, ASpentDailyQuotaMakesThePipelineWaitUntilMidnightInItsZone) {
  auto cfg = Config("@every 1s", [](json::Value* root) {
    json::Value* dt = Member(Member(root, "connections"), "dingtalk");
    SetMember(dt, "daily_quota", json::Value::Number("5"));  // a fetch needs ~35 requests
    SetMember(dt, "quota_time_zone", json::Value::String("+08:00"));
  });
  StartAgent(cfg);
  ASSERT_TRUE(WaitFor(
      [&] { return PipelineState("dingtalk-payment").Find("state")->text() == "waiting"; }, 20000))
      << Logged();
  json::Value st = PipelineState("dingtalk-payment");
  EXPECT_NE(st.Find("waiting")->text().find("daily_quota of connection dingtalk spent"),
            std::string::npos)
      << json::Serialize(st);
  // Next run: the next midnight at +08:00 (16:00 UTC), not a backoff of seconds.
  int64_t next = 0;
  ASSERT_TRUE(st.Find("next_run")->AsInt64(&next)) << json::Serialize(st);
  const int64_t now = Clock::Real()->NowMillis();
  EXPECT_EQ((next + 8 * kHourMs) % kDayMs, 0) << next;
  EXPECT_GT(next, now);
  EXPECT_LE(next - now, kDayMs);
  const size_t runs = Runs().size();
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_EQ(Runs().size(), runs) << "ran again with the quota spent";
}

TEST_F(AgentTest, PauseResumeRunNowAndRequeue) {
  StartAgent(Config("@every 1s"));
  ASSERT_TRUE(WaitFor([&] { return Runs().size() >= 1; }, 20000)) << Logged();
  ASSERT_TRUE(agent_->Pause("dingtalk-payment").ok());
  ASSERT_TRUE(WaitFor(
      [&] { return PipelineState("dingtalk-payment").Find("state")->text() == "paused"; }, 20000));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // an in-flight run ends
  const size_t paused_at = Runs().size();
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_EQ(Runs().size(), paused_at) << "a paused pipeline ran";
  EXPECT_EQ(agent_->RunNow("dingtalk-payment").status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(agent_->Resume("dingtalk-payment").ok());
  ASSERT_TRUE(WaitFor([&] { return Runs().size() > paused_at; }, 20000));

  // Run now on an hourly schedule: exactly one extra run.
  ASSERT_TRUE(agent_->Reload(Config("@every 1h")).ok());
  ASSERT_TRUE(WaitFor(
      [&] { return PipelineState("dingtalk-payment").Find("state")->text() == "idle"; }, 20000));
  const size_t n = Runs().size();
  auto started = agent_->RunNow("dingtalk-payment");
  ASSERT_TRUE(started.ok());
  EXPECT_NE(started->find("\"started\":true"), std::string::npos) << *started;
  ASSERT_TRUE(WaitFor([&] { return Runs().size() == n + 1; }, 20000));
  EXPECT_EQ(Trigger(Runs()[0]), "api");

  EXPECT_EQ(agent_->RunNow("nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(agent_->Requeue("dingtalk-payment", "nope", "").status().code(), StatusCode::kNotFound);
  auto requeued = agent_->Requeue("dingtalk-payment", "", "");
  ASSERT_TRUE(requeued.ok());
  EXPECT_EQ(*requeued, "{\"requeued\":0}");
  auto one = agent_->PipelineJson("dingtalk-payment", 2);
  ASSERT_TRUE(one.ok());
  auto parsed = json::Parse(*one);
  ASSERT_TRUE(parsed.ok()) << *one;
  EXPECT_EQ(parsed->Find("runs")->items().size(), 2u);
  EXPECT_EQ(parsed->Find("pending")->Find("kingdee_paybill")->text(), "0") << *one;
}

TEST_F(AgentTest, ReloadAddsAndDropsPipelinesAndRefusesABrokenConfig) {
  StartAgent(Config("@every 1s"));
  ASSERT_TRUE(WaitFor([&] { return Runs().size() >= 1; }, 20000)) << Logged();
  // Broken: an unknown sink option. The running config stays and the error is shown.
  auto broken = Config("@every 1s", [](json::Value* root) {
    SetMember(Member(Member(Member(Member(root, "pipelines"), "dingtalk-payment"), "sinks"),
                     "kingdee_paybill"),
              "batch_rowz", json::Value::Number("3"));
  });
  Status s = agent_->Reload(broken);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("batch_rowz"), std::string::npos) << s.ToString();
  auto all = json::Parse(agent_->PipelinesJson());
  ASSERT_TRUE(all.ok());
  EXPECT_NE(all->Find("agent")->Find("reload_error")->text().find("batch_rowz"), std::string::npos);
  EXPECT_EQ(all->Find("pipelines")->items().size(), 1u);

  // Valid: the payment pipeline renamed (one added, one dropped); it selects nothing new.
  auto renamed = Config("@every 1s", [](json::Value* root) {
    json::Value* pipes = Member(root, "pipelines");
    json::Value p = *Member(pipes, "dingtalk-payment");
    *pipes = json::Value::Object();
    SetMember(pipes, "payments-v2", p);
  });
  ASSERT_TRUE(agent_->Reload(renamed).ok());
  all = json::Parse(agent_->PipelinesJson());
  EXPECT_TRUE(all->Find("agent")->Find("reload_error")->is_null());
  ASSERT_TRUE(WaitFor([&] { return Runs("payments-v2").size() >= 1; }, 20000)) << Logged();
  all = json::Parse(agent_->PipelinesJson());
  ASSERT_EQ(all->Find("pipelines")->items().size(), 1u);
  EXPECT_EQ(all->Find("pipelines")->items()[0].Find("name")->text(), "payments-v2");
  const size_t old_runs = Runs("dingtalk-payment").size();
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  EXPECT_EQ(Runs("dingtalk-payment").size(), old_runs) << "a dropped pipeline ran";
  EXPECT_EQ(agent_->RunNow("dingtalk-payment").status().code(), StatusCode::kNotFound);
}

// 24 hours of schedules in ~30 s: two pipelines (`@every 10m` and a cron every 15 minutes),
// each run a real fetch and push. Memory must stay flat; the sanitizer build checks leaks.
TEST_F(AgentTest, TwentyFourSimulatedHoursOfSchedulesKeepMemoryFlat) {
  FastClock clock(2880);
  auto cfg = Config("@every 10m", [](json::Value* root) {
    json::Value* pipes = Member(root, "pipelines");
    json::Value p = *Member(pipes, "dingtalk-payment");
    SetMember(&p, "schedule", json::Value::String("*/15 * * * *"));
    // The second pipeline reads the same approvals and pushes none (a where that selects none).
    SetMember(Member(Member(&p, "sinks"), "kingdee_paybill"), "where",
              json::Value::String("status == 'NEVER'"));
    SetMember(pipes, "quarter-hourly", p);
  });
  const int64_t start_ms = clock.NowMillis();
  StartAgent(cfg, &clock);
  int64_t rss_warm = 0;
  ASSERT_TRUE(WaitFor([&] { return clock.NowMillis() - start_ms >= 4 * kHourMs; }, 60000));
  rss_warm = RssKiB();
  ASSERT_TRUE(WaitFor([&] { return clock.NowMillis() - start_ms >= 24 * kHourMs; }, 60000));
  const int64_t rss_end = RssKiB();
  const size_t every10 = Runs("dingtalk-payment").size();
  const size_t quarter = Runs("quarter-hourly").size();
  StopAgent();
  EXPECT_TRUE(clean_);
  std::printf(
      "{\"bench\":\"agent_24h_fast_clock\",\"runs_every_10m\":%zu,\"runs_quarter_hourly\":"
      "%zu,\"rss_kib_at_4h\":%lld,\"rss_kib_at_24h\":%lld}\n",
      every10, quarter, static_cast<long long>(rss_warm), static_cast<long long>(rss_end));
  // 144 and 96 ticks in a day; a run of real HTTP may swallow a tick or two.
  EXPECT_GE(every10, 120u);
  EXPECT_LE(every10, 146u);
  EXPECT_GE(quarter, 80u);
  EXPECT_LE(quarter, 98u);
  // Under ASan, scripts/sanitize turns its quarantine off for this test: it would keep 256 MB
  // of freed blocks resident.
  EXPECT_LT(rss_end - rss_warm, 16 * 1024) << "RSS grew from " << rss_warm << " KiB";
}

}  // namespace
}  // namespace stagesync
