// Integration tests: the Kuaimai source (seed 002 as shipped, pointed at the emulator) fetching
// over real HTTP (libcurl, loopback) into a real RocksDB staging log: day windows with a
// watermark per window, signatures, session refresh with rotating refresh tokens (saved before
// use, never reused, serialised across pipelines), throttling within qps, records changing
// between pages, and errors that must stop at once.
#include <gtest/gtest.h>

#include <atomic>
#include <ctime>
#include <map>
#include <set>
#include <thread>

#include "connectors/kuaimai/kuaimai_client.h"
#include "emulators/kuaimai_emulator.h"
#include "stagesync/fetch.h"
#include "testing/fake_clock.h"
#include "testing/faulty_http_client.h"
#include "testing/pipeline_test.h"
#include "testing/seed_config.h"

namespace stagesync {
namespace {

using emulators::KuaimaiEmulator;
using emulators::KuaimaiThrottleMode;
using testing::Num;
using testing::Str;

constexpr char kPipeline[] = "kuaimai-aftersale";

// The value of a form field in a request body ("" when absent).
std::string FormValue(const std::string& body, const std::string& key) {
  const std::string needle = key + "=";
  size_t p = body.rfind("\n") == std::string::npos ? 0 : body.rfind("\n") + 1;
  for (;;) {
    size_t at = body.find(needle, p);
    if (at == std::string::npos) return "";
    if (at == 0 || body[at - 1] == '&' || body[at - 1] == '\n') {
      size_t end = body.find('&', at);
      return body.substr(at + needle.size(),
                         end == std::string::npos ? std::string::npos : end - at - needle.size());
    }
    p = at + 1;
  }
}

class KuaimaiFetchTest : public testing::PipelineTest<testing::FaultyHttpClient> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(emu_.Start(0));
    // Upstream edits get a modified time a little in the past, inside the next window.
    emu_.AdvanceClockMs(-5000);
  }

  std::string ConfigJson(std::map<std::string, json::Value> source = {},
                         std::map<std::string, json::Value> connection = {}) {
    auto e = testing::EmulatorSeedEdits("kuaimai", emu_.base_url(), dir_.Sub("state"),
                                        {{"qps", Num(500)}, {"retry_base_ms", Num(10)}});
    for (auto& [k, v] : connection) e.connection[k] = v;
    e.source = {{"initial_lookback_days", Num(7)}, {"lag_s", Num(0)}, {"page_size", Num(50)}};
    for (auto& [k, v] : source) e.source[k] = v;
    return testing::SeedConfigJson("002-kuaimai-aftersale.json", e);
  }

  void Configure(std::map<std::string, json::Value> source = {},
                 std::map<std::string, json::Value> connection = {}) {
    Load(ConfigJson(std::move(source), std::move(connection)));
  }

  void OpenLog() {
    if (log_) return;
    auto log = stage::StagingLog::Open(cfg_.state_dir);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
  }

  void ExpectStagingMatchesEmulator(const std::string& pipeline = kPipeline) {
    auto orders = emu_.Orders();
    auto sum = log_->Summary(pipeline);
    ASSERT_TRUE(sum.ok());
    EXPECT_EQ(sum->records, static_cast<int64_t>(orders.size()));
    for (const auto& o : orders) {
      auto r = log_->Get(pipeline, std::to_string(o.id));
      ASSERT_TRUE(r.ok());
      ASSERT_TRUE(r->has_value()) << "not staged: " << o.id;
      EXPECT_EQ((*r)->raw, json::Canonical(*json::Parse(emu_.OrderJson(o.id)))) << o.id;
    }
  }

  std::string SavedTokens(const std::string& pipeline = kPipeline) {
    return *log_->GetState(pipeline, "source:kuaimai.tokens");
  }

  uint64_t LastSeq() { return log_->Summary(kPipeline)->last_seq; }

  KuaimaiEmulator emu_;
};

TEST_F(KuaimaiFetchTest, SeedFetchStagesEveryOrderInDayWindowsAndASecondRunNothing) {
  emu_.Generate(450, NowMs() - 6 * kDayMs, NowMs() - kHourMs, 1);
  emu_.SetMaxWindowMs(kDayMs);  // a longer window is refused ("99")
  Configure();
  auto first = Fetch();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->added, 450);
  EXPECT_EQ(first->fetched, 450);
  EXPECT_GE(first->windows, 7);
  EXPECT_LE(first->windows, 8);
  ExpectStagingMatchesEmulator();
  ASSERT_TRUE(first->watermark_ms.has_value());
  EXPECT_LE(NowMs() - *first->watermark_ms, 5000);
  EXPECT_EQ(emu_.SignatureFailures(), 0);
  EXPECT_EQ(emu_.RefreshCount(), 0);

  const uint64_t store_seq = log_->StoreSequence();
  auto second = Fetch();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->added + second->changed, 0);
  EXPECT_EQ(second->windows, 1);  // only the overlap since the watermark
  EXPECT_LE(log_->StoreSequence() - store_seq, 1u);
  EXPECT_EQ(LastSeq(), 450u);
}

// F18: start_at backfills from an absolute time on the first fetch (here 3 of 10 days, in the
// pipeline's zone), instead of initial_lookback_days back from now.
TEST_F(KuaimaiFetchTest, StartAtBackfillsFromAnAbsoluteTime) {
  emu_.Generate(300, NowMs() - 10 * kDayMs, NowMs() - kHourMs, 9);
  const int64_t start_ms = (NowMs() - 3 * kDayMs) / 1000 * 1000;
  // The pipeline's zone is Asia/Shanghai: local wall-clock time is UTC + 8 h.
  std::time_t t = static_cast<std::time_t>(start_ms / 1000 + 8 * 3600);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char local[32];
  std::strftime(local, sizeof local, "%Y-%m-%d %H:%M:%S", &tm);
  auto cfg = config::LoadString(ConfigJson({{"start_at", Str(local)}}), "");
  ASSERT_TRUE(cfg.ok());
  for (auto& p : cfg->pipelines) {
    auto& m = p.source.options.mutable_members();
    std::erase_if(m,
                  [](const json::Value::Member& x) { return x.first == "initial_lookback_days"; });
  }
  cfg_ = std::move(cfg).value();
  OpenLog();
  auto f = Fetch();
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  int64_t want = 0;
  for (const auto& o : emu_.Orders()) {
    auto r = log_->Get(kPipeline, std::to_string(o.id));
    ASSERT_TRUE(r.ok());
    if (o.modified_ms >= start_ms) {
      ++want;
      EXPECT_TRUE(r->has_value()) << "order " << o.id << " modified after start_at not staged";
    } else {
      EXPECT_FALSE(r->has_value()) << "order " << o.id << " modified before start_at staged";
    }
  }
  EXPECT_GT(want, 20);
  EXPECT_LT(want, static_cast<int64_t>(emu_.Orders().size()) - 20);
  EXPECT_EQ(f->added, want);
}

TEST_F(KuaimaiFetchTest, UpstreamChangesStageExactlyThose) {
  emu_.Generate(200, NowMs() - 3 * kDayMs, NowMs() - kHourMs, 2);
  Configure();
  ASSERT_TRUE(Fetch().ok());
  const uint64_t seq = LastSeq();
  auto orders = emu_.Orders();
  std::set<std::string> modified;
  for (size_t i : {size_t{0}, size_t{77}, size_t{150}}) {
    ASSERT_TRUE(emu_.Modify(orders[i].id));
    modified.insert(std::to_string(orders[i].id));
  }
  auto s = Fetch();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->changed, 3);
  EXPECT_EQ(s->added, 0);
  auto changes = log_->ReadChanges(kPipeline, seq, 100);
  ASSERT_TRUE(changes.ok());
  std::set<std::string> changed;
  for (const auto& c : *changes) changed.insert(c.source_id);
  EXPECT_EQ(changed, modified);
  ExpectStagingMatchesEmulator();
}

TEST_F(KuaimaiFetchTest, ALongGapIsSteppedWindowByWindowWithTheWatermarkPerWindow) {
  emu_.Generate(300, NowMs() - 6 * kDayMs, NowMs() - kHourMs, 3);
  emu_.SetMaxWindowMs(kDayMs);
  Configure({{"page_size", Num(200)}}, {{"max_attempts", Num(2)}});
  // The gateway goes down for good after four list calls (four windows of < 200 orders).
  std::atomic<int> lists{0};
  http_->SetHook([&](const HttpRequest& req, const Result<HttpResponse>&) {
    if (req.body.find("erp.aftersale.list.query") != std::string::npos && ++lists == 4) {
      emu_.Fail5xxNext(1000);
    }
  });
  auto broken = Fetch();
  ASSERT_FALSE(broken.ok());
  auto wm = log_->Watermark(kPipeline);
  ASSERT_TRUE(wm.ok() && wm->has_value());
  // The watermark is the end of the fourth day window (the first began 7 days ago).
  EXPECT_NEAR(static_cast<double>(**wm), static_cast<double>(NowMs() - 3 * kDayMs), 2000.0);
  const int64_t first_start_ms = **wm - 4 * kDayMs;
  // Every order modified inside the four finished windows is staged.
  int staged = 0;
  for (const auto& o : emu_.Orders()) {
    if (o.modified_ms < first_start_ms || o.modified_ms >= **wm) continue;
    auto r = log_->Get(kPipeline, std::to_string(o.id));
    ASSERT_TRUE(r.ok() && r->has_value()) << "order " << o.id << " before the watermark";
    ++staged;
  }
  EXPECT_GT(staged, 10);

  http_->SetHook(nullptr);
  emu_.Fail5xxNext(0);
  auto rest = Fetch();
  ASSERT_TRUE(rest.ok()) << rest.status().ToString();
  EXPECT_GE(rest->windows, 3);  // picked up where the watermark stood
  ExpectStagingMatchesEmulator();
}

TEST_F(KuaimaiFetchTest, ThrottlingSessionExpiryAndFaultsMidRunStillDeliverEverythingWithinQps) {
  emu_.Generate(450, NowMs() - 6 * kDayMs, NowMs() - kHourMs, 4);
  emu_.SetMaxQps(20);                                   // HTTP 429 + Retry-After above this
  emu_.ThrottleNext(2, KuaimaiThrottleMode::kMessage);  // success:false, 频繁 in msg
  emu_.Fail5xxNext(1);
  Configure({}, {{"qps", Num(20)}});
  std::atomic<int> lists{0};
  http_->SetHook([&](const HttpRequest& req, const Result<HttpResponse>&) {
    if (req.body.find("erp.aftersale.list.query") == std::string::npos) return;
    const int n = ++lists;
    if (n == 5 || n == 12) emu_.ExpireSessionNow();
    if (n == 7) emu_.TruncateNext(1);
    if (n == 9) emu_.NoListNext(1);
  });
  auto s = Fetch();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->added, 450);
  ExpectStagingMatchesEmulator();
  EXPECT_EQ(emu_.RefreshCount(), 2);
  EXPECT_EQ(emu_.RefreshTokenReuseCount(), 0);
  EXPECT_LE(emu_.MaxRequestsInAnySecond(), 20);
  // The rotated tokens are in staging.
  EXPECT_NE(SavedTokens().find(emu_.CurrentRefreshToken()), std::string::npos);
  EXPECT_NE(SavedTokens().find(emu_.CurrentAccessToken()), std::string::npos);
}

TEST_F(KuaimaiFetchTest, RotatedTokensAreSavedBeforeUseAndPreferredOnTheNextRun) {
  emu_.Generate(100, NowMs() - 2 * kDayMs, NowMs() - kHourMs, 5);
  Configure({{"initial_lookback_days", Num(3)}});
  emu_.ExpireSessionNow();
  // Whenever a list call carries a session other than the config's, staging already has it.
  std::atomic<int> checked{0};
  std::atomic<int> unsaved{0};
  http_->SetHook([&](const HttpRequest& req, const Result<HttpResponse>&) {
    if (req.body.find("erp.aftersale.list.query") == std::string::npos) return;
    const std::string session = FormValue(req.body, "session");
    if (session == "at-0") return;
    ++checked;
    if (SavedTokens().find(session) == std::string::npos) ++unsaved;
  });
  ASSERT_TRUE(Fetch().ok());
  EXPECT_EQ(emu_.RefreshCount(), 1);
  EXPECT_GT(checked, 0);
  EXPECT_EQ(unsaved, 0);

  // A new process: a fresh client, the config still names at-0/rt-0 (rt-0 is dead now).
  http_->SetHook(nullptr);
  emu_.ExpireSessionNow();
  auto fresh_http = NewCurlHttpClient();
  auto s = Fetch(Clock::Real(), fresh_http.get());
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(emu_.RefreshCount(), 2);
  EXPECT_EQ(emu_.RefreshTokenReuseCount(), 0);
  ExpectStagingMatchesEmulator();
}

TEST_F(KuaimaiFetchTest, PipelinesSharingAConnectionRefreshOnceBetweenThem) {
  emu_.Generate(300, NowMs() - 3 * kDayMs, NowMs() - kHourMs, 6);
  emu_.SetLatencyMs(5);
  // Seed 002 plus a second pipeline on the same connection.
  auto root = *json::Parse(ConfigJson({{"initial_lookback_days", Num(4)}}));
  json::Value* pipes = testing::Find(&root, "pipelines");
  json::Value copy = pipes->members().front().second;
  pipes->Add("kuaimai-aftersale-2", std::move(copy));
  auto cfg = config::LoadString(json::Serialize(root), "");
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  cfg_ = std::move(cfg).value();
  OpenLog();
  emu_.ExpireSessionNow();
  // One process, one Runtime: both pipelines get the connection's one client.
  Runtime rt(http_.get(), Clock::Real());
  Status a, b;
  std::thread t1([&] { a = fetch::RunFetch(cfg_, cfg_.pipelines[0], log_.get(), rt).status(); });
  std::thread t2([&] { b = fetch::RunFetch(cfg_, cfg_.pipelines[1], log_.get(), rt).status(); });
  t1.join();
  t2.join();
  ASSERT_TRUE(a.ok()) << a.ToString();
  ASSERT_TRUE(b.ok()) << b.ToString();
  EXPECT_EQ(emu_.RefreshCount(), 1);
  EXPECT_EQ(emu_.RefreshTokenReuseCount(), 0);
  ExpectStagingMatchesEmulator("kuaimai-aftersale");
  ExpectStagingMatchesEmulator("kuaimai-aftersale-2");
  // Both pipelines hold the rotated tokens.
  EXPECT_NE(SavedTokens("kuaimai-aftersale").find(emu_.CurrentRefreshToken()), std::string::npos);
  EXPECT_NE(SavedTokens("kuaimai-aftersale-2").find(emu_.CurrentRefreshToken()), std::string::npos);
}

TEST_F(KuaimaiFetchTest, AWindowThatChangesWhilePagedIsReadAgain) {
  // Orders modified mid-run move behind the later pages of the same window (their new time is
  // still inside it): page-number paging would skip as many not-yet-served orders.
  emu_.Generate(400, NowMs() - kDayMs + kHourMs, NowMs() - kHourMs, 7);
  Configure({{"initial_lookback_days", Num(1)}});
  emu_.MutateBetweenPagesNext(3, 2);
  auto s = Fetch();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_GT(s->fetched, 400);  // the window was read again
  ExpectStagingMatchesEmulator();

  // Orders modified mid-run leave the window (their new time is past its end): the total
  // shrinks, the window is read again, and the next fetch stages their new versions.
  emu_.AdvanceClockMs(10000);  // the emulator's clock runs 5 s ahead of ours now
  emu_.MutateBetweenPagesNext(3, 2);
  testing::ShiftedClock later(NowMs() + 1000);
  Configure({{"initial_lookback_days", Num(1)}, {"overlap_s", Num(kDayMs / 1000)}});
  auto again = Fetch(&later);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  testing::ShiftedClock much_later(NowMs() + 10000);
  ASSERT_TRUE(Fetch(&much_later).ok());
  ExpectStagingMatchesEmulator();
}

TEST_F(KuaimaiFetchTest, WithoutTheTotalCheckPageNumberPagingLosesOrders) {
  // Why the re-read exists: the same mutation without it leaves orders unstaged.
  emu_.Generate(400, NowMs() - kDayMs + kHourMs, NowMs() - kHourMs, 7);
  Configure({{"initial_lookback_days", Num(1)}, {"check_total", json::Value::Bool(false)}});
  emu_.MutateBetweenPagesNext(3, 2);
  auto s = Fetch();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_LT(log_->Summary(kPipeline)->records, 400);
}

TEST_F(KuaimaiFetchTest, SignatureAndAuthErrorsStopAtOnceWithAClearMessageAndNoSecret) {
  emu_.Generate(50, NowMs() - 2 * kDayMs, NowMs() - kHourMs, 8);
  Configure({}, {{"app_secret", Str("wrong-secret-789")}});
  auto s = Fetch();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(s.status().message().find("signature"), std::string::npos) << s.status().message();
  EXPECT_NE(s.status().message().find("code 25"), std::string::npos) << s.status().message();
  EXPECT_EQ(s.status().message().find("wrong-secret-789"), std::string::npos);
  EXPECT_EQ(emu_.RequestCount(), 1);  // no retry storm

  emu_.ResetStats();
  Configure({}, {{"app_key", Str("nobody")}});
  s = Fetch();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(s.status().message().find("app_key"), std::string::npos) << s.status().message();
  EXPECT_EQ(emu_.RequestCount(), 1);

  // An expired session with a dead refresh token: one list call, one refresh, then stop.
  emu_.ResetStats();
  Configure({}, {{"refresh_token", Str("rt-dead-000")}});
  emu_.ExpireSessionNow();
  s = Fetch();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(s.status().message().find("open.token.refresh"), std::string::npos)
      << s.status().message();
  EXPECT_EQ(s.status().message().find("rt-dead-000"), std::string::npos);
  EXPECT_EQ(emu_.RequestCount("open.token.refresh"), 1);
  EXPECT_EQ(emu_.RequestCount("erp.aftersale.list.query"), 1);
  EXPECT_EQ(log_->Summary(kPipeline)->records, 0);
}

TEST_F(KuaimaiFetchTest, SuccessWithoutAListIsAnErrorNotAnEmptyPage) {
  emu_.Generate(50, NowMs() - 2 * kDayMs, NowMs() - kHourMs, 9);
  Configure({{"initial_lookback_days", Num(3)}}, {{"max_attempts", Num(3)}});
  emu_.NoListNext(100);
  auto s = Fetch();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("without a list"), std::string::npos) << s.status().message();
  EXPECT_EQ(emu_.RequestCount("erp.aftersale.list.query"), 3);
  EXPECT_EQ(log_->Summary(kPipeline)->records, 0);
  EXPECT_FALSE(log_->Watermark(kPipeline)->has_value());
}

TEST_F(KuaimaiFetchTest, EverySignMethodIsAccepted) {
  emu_.Generate(60, NowMs() - 2 * kDayMs, NowMs() - kHourMs, 10);
  for (const char* method : {"md5", "hmac", "hmac-sha256"}) {
    Configure({{"initial_lookback_days", Num(3)}}, {{"sign_method", Str(method)}});
    auto s = Fetch();
    ASSERT_TRUE(s.ok()) << method << ": " << s.status().ToString();
  }
  EXPECT_EQ(emu_.SignatureFailures(), 0);
  ExpectStagingMatchesEmulator();
}

TEST(KuaimaiClientTest, SignatureMatchesTheGatewaysForEveryMethod) {
  const connectors::kuaimai::Params p = {{"method", "erp.aftersale.list.query"},
                                         {"appKey", "k"},
                                         {"timestamp", "2024-05-01 10:11:12"},
                                         {"pageNo", "1"},
                                         {"empty", ""},
                                         {"tid", "中文"}};
  for (const char* m : {"md5", "hmac", "hmac-sha256"}) {
    auto mine = connectors::kuaimai::Sign(p, "secret", m);
    ASSERT_TRUE(mine.ok());
    EXPECT_EQ(*mine, emulators::KuaimaiSign(p, "secret", m)) << m;
  }
  EXPECT_FALSE(connectors::kuaimai::Sign(p, "secret", "sha1").ok());
  // Throttle words, and codes from the table.
  using connectors::kuaimai::BodyStatus;
  EXPECT_EQ(BodyStatus(*json::Parse(R"({"success":false,"code":"7","msg":"调用过于频繁"})")).code(),
            StatusCode::kResourceExhausted);
  EXPECT_EQ(BodyStatus(*json::Parse(R"({"success":false,"code":"106","msg":"x"})")).code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(BodyStatus(*json::Parse(R"({"success":false,"code":25,"msg":"x"})")).code(),
            StatusCode::kPermissionDenied);
  EXPECT_TRUE(BodyStatus(*json::Parse(R"({"success":true,"list":[]})")).ok());
}

// One order with invalid UTF-8 used to fail its page on every run (the whole reply was one
// document); now it is quarantined with its exact bytes, the rest of its page is staged and
// the watermark moves; fixed at the source, it is staged and leaves the quarantine.
TEST_F(KuaimaiFetchTest, AnUnreadableOrderIsQuarantinedAndTheRestOfItsPageIsStaged) {
  emu_.Generate(120, NowMs() - 2 * kDayMs, NowMs() - kHourMs, 3);
  const auto orders = emu_.Orders();
  const int64_t bad = orders[60].id;
  ASSERT_TRUE(emu_.SetTextReason(bad, "broken \xff\xfe reason"));
  Configure();
  auto first = Fetch();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->failed, 1);
  EXPECT_EQ(first->added, 119);
  ASSERT_TRUE(first->watermark_ms.has_value());
  EXPECT_EQ(**log_->Watermark(kPipeline), *first->watermark_ms);
  EXPECT_FALSE(log_->Get(kPipeline, std::to_string(bad))->has_value());
  auto q = log_->Quarantined(kPipeline);
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->size(), 1u);
  EXPECT_EQ((*q)[0].stage, "fetch");
  EXPECT_EQ((*q)[0].source_id, std::to_string(bad));
  EXPECT_EQ((*q)[0].payload, emu_.OrderJson(bad));  // the exact bytes served
  EXPECT_NE((*q)[0].error.find("invalid UTF-8"), std::string::npos) << (*q)[0].error;
  EXPECT_NE((*q)[0].error.find("pipeline kuaimai-aftersale"), std::string::npos);
  EXPECT_NE((*q)[0].error.find(", item "), std::string::npos) << (*q)[0].error;
  for (const auto& o : orders) {
    if (o.id != bad) {
      EXPECT_TRUE(log_->Get(kPipeline, std::to_string(o.id))->has_value());
    }
  }

  // A readable reason, and a modification so the next window lists the order again (Modify
  // alone rewrites the reason only of an order already final).
  ASSERT_TRUE(emu_.SetTextReason(bad, "不想要了"));
  ASSERT_TRUE(emu_.Modify(bad));
  auto second = Fetch();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->failed, 0);
  EXPECT_TRUE(log_->Quarantined(kPipeline)->empty());
  ExpectStagingMatchesEmulator();
}

}  // namespace
}  // namespace stagesync
