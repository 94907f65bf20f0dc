// Unit tests of a connection's daily_quota (DailyQuota and how ApiEndpoint and Connections use
// it): the count survives a restart, the day rolls over at midnight in the quota's time zone,
// a spent quota sends nothing and says when it resumes, and a connection without one is
// unaffected. Also that Connections hands every client the Runtime's stop flag. Fake clock and
// scripted HTTP; one test stores the count in a real StagingLog.
#include "connectors/common/daily_quota.h"

#include <gtest/gtest.h>

#include "connectors/common/api_endpoint.h"
#include "connectors/connector.h"
#include "connectors/dingtalk/dingtalk_client.h"
#include "stagesync/stage.h"
#include "testing/fake_clock.h"
#include "testing/fake_http_client.h"
#include "testing/temp_dir.h"

namespace stagesync::connectors {
namespace {

constexpr int64_t kShanghai = 480;
constexpr int64_t k2026_11_30T2350Z = 1796082600000;  // 2026-12-01 07:50 in Shanghai
constexpr int64_t k2026_12_01T0010Z = 1796083800000;  // UTC midnight has passed
constexpr int64_t k2026_12_01T1600Z = 1796140800000;  // 2026-12-02 00:00 in Shanghai
constexpr char kOk[] = R"({"errcode":0,"result":1})";

// A quota's store, as staging would keep it.
struct Store {
  std::string value;
  int saves = 0;
  DailyQuota::Load load() {
    return [this] { return Result<std::string>(value); };
  }
  DailyQuota::Save save() {
    return [this](const std::string& v) {
      value = v;
      ++saves;
      return Status::Ok();
    };
  }
};

class DailyQuotaTest : public ::testing::Test {
 protected:
  DailyQuotaTest() { clock_.SetNowMillis(k2026_11_30T2350Z); }

  std::shared_ptr<DailyQuota> Quota(int64_t limit) {
    return std::make_shared<DailyQuota>("dt", limit, kShanghai, &clock_, store_.load(),
                                        store_.save());
  }
  Result<json::Value> Call(ApiEndpoint& ep) {
    auto build = []() -> Result<HttpRequest> {
      HttpRequest r;
      r.url = "http://127.0.0.1:1/x";
      return r;
    };
    auto classify = [](const HttpResponse& r) { return dingtalk::ClassifyAnswer(r, false); };
    return ep.Call(build, classify, nullptr, "call");
  }
  std::unique_ptr<ApiEndpoint> Endpoint(std::shared_ptr<DailyQuota> quota) {
    EndpointOptions o;
    o.name = "dt";
    o.qps = 0;
    auto ep = std::make_unique<ApiEndpoint>(o, &http_, &clock_);
    ep->set_quota(std::move(quota));
    return ep;
  }

  testing::FakeClock clock_;
  testing::FakeHttpClient http_;
  Store store_;
};

TEST_F(DailyQuotaTest, TheCountSurvivesARestart) {
  {
    auto q = Quota(5);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(q->Take().ok());
    EXPECT_EQ(q->remaining(), 2);
  }
  EXPECT_EQ(store_.saves, 3);  // stored on every take
  auto q = Quota(5);           // the process restarted
  EXPECT_EQ(q->remaining(), 2);
  EXPECT_EQ(q->limit(), 5);
  ASSERT_TRUE(q->Take().ok());
  ASSERT_TRUE(q->Take().ok());
  EXPECT_EQ(q->Take().code(), StatusCode::kResourceExhausted);
}

TEST_F(DailyQuotaTest, TheDayRollsOverAtMidnightInTheQuotasZoneNotUtc) {
  auto q = Quota(2);
  ASSERT_TRUE(q->Take().ok());
  ASSERT_TRUE(q->Take().ok());
  EXPECT_EQ(q->SpentUntilMs(), k2026_12_01T1600Z);
  clock_.SetNowMillis(k2026_12_01T0010Z);  // a new UTC day, the same Shanghai day
  Status s = q->Take();
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(s.message(),
            "connection dt: daily_quota of 2 requests spent; resumes at 2026-12-02T00:00+08:00");
  EXPECT_EQ(s.retry_after_ms(), k2026_12_01T1600Z - k2026_12_01T0010Z);
  EXPECT_TRUE(IsDailyQuotaSpent(s));
  EXPECT_EQ(q->remaining(), 0);
  EXPECT_EQ(q->SpentUntilMs(), k2026_12_01T1600Z);

  clock_.SetNowMillis(k2026_12_01T1600Z - 1);
  EXPECT_FALSE(q->Take().ok());
  clock_.SetNowMillis(k2026_12_01T1600Z);  // midnight in Shanghai
  EXPECT_EQ(q->SpentUntilMs(), std::nullopt);
  EXPECT_EQ(q->remaining(), 2);
  ASSERT_TRUE(q->Take().ok());
  EXPECT_EQ(q->remaining(), 1);
  // A restart on the new day reads the new day's count.
  EXPECT_EQ(Quota(2)->remaining(), 1);
}

TEST_F(DailyQuotaTest, ACountStoredOnAnEarlierDayStartsTheNewDayAtZero) {
  store_.value = R"({"day":"2026-11-30","used":9})";
  EXPECT_EQ(Quota(10)->remaining(), 10);
  store_.value = R"({"day":"2026-12-01","used":9})";
  EXPECT_EQ(Quota(10)->remaining(), 1);
  store_.value = "garbage";
  EXPECT_EQ(Quota(10)->Take().code(), StatusCode::kDataLoss);
}

TEST_F(DailyQuotaTest, ASpentQuotaSendsNothingAndDoesNotWait) {
  auto ep = Endpoint(Quota(1));
  http_.Answer(200, kOk);
  http_.Answer(200, kOk);
  ASSERT_TRUE(Call(*ep).ok());
  auto r = Call(*ep);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find("connection dt: daily_quota of 1 requests spent"),
            std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("resumes at 2026-12-02T00:00+08:00"), std::string::npos);
  EXPECT_TRUE(IsDailyQuotaSpent(r.status()));
  EXPECT_EQ(http_.Sent().size(), 1u);  // the second call never reached the vendor
  EXPECT_EQ(clock_.slept_micros(), 0);
  EXPECT_EQ(ep->quota()->SpentUntilMs(), k2026_12_01T1600Z);
}

TEST_F(DailyQuotaTest, EveryRetryIsTakenFromTheQuota) {
  auto ep = Endpoint(Quota(2));
  for (int i = 0; i < 5; ++i) http_.Answer(502, "<html>bad gateway</html>");
  auto r = Call(*ep);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(IsDailyQuotaSpent(r.status())) << r.status().ToString();
  EXPECT_EQ(http_.Sent().size(), 2u);  // the third attempt was not sent
}

TEST_F(DailyQuotaTest, ACountThatCannotBeStoredIsNotSent) {
  auto q = std::make_shared<DailyQuota>(
      "dt", 5, kShanghai, &clock_, store_.load(), [](const std::string&) {
        return Status(StatusCode::kResourceExhausted, "no space left on device");
      });
  auto ep = Endpoint(q);
  http_.Answer(200, kOk);
  auto r = Call(*ep);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no space left"), std::string::npos);
  EXPECT_EQ(http_.Sent().size(), 0u);
  EXPECT_EQ(q->remaining(), 5);
}

config::ConnectionConfig DingTalk(std::optional<int64_t> daily_quota, std::string time_zone = "") {
  config::ConnectionConfig c{"dt", "dingtalk", json::Value::Object(), "connections.dt"};
  c.options.Add("base_url", json::Value::String("http://127.0.0.1:1"));
  c.options.Add("app_key", json::Value::String("k"));
  c.options.Add("app_secret", json::Value::String("s"));
  if (daily_quota) c.options.Add("daily_quota", json::Value::Number(std::to_string(*daily_quota)));
  if (!time_zone.empty()) c.options.Add("quota_time_zone", json::Value::String(time_zone));
  return c;
}

TEST_F(DailyQuotaTest, TheOptionsAreCheckedLikeEveryOther) {
  EXPECT_TRUE(dingtalk::ReadClientOptions(DingTalk(100, "+09:00")).ok());
  auto big = dingtalk::ReadClientOptions(DingTalk(100000001));
  EXPECT_EQ(big.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(big.status().message().find("connections.dt.daily_quota"), std::string::npos);
  auto tz = dingtalk::ReadClientOptions(DingTalk(100, "Mars/Olympus"));
  EXPECT_EQ(tz.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(tz.status().message().find("connections.dt.quota_time_zone"), std::string::npos);
  auto o = dingtalk::ReadClientOptions(DingTalk(100, "+09:00"));
  EXPECT_EQ(o->quota.daily_quota, 100);
  EXPECT_EQ(o->quota.tz_offset_minutes, 540);
}

TEST_F(DailyQuotaTest, AConnectionWithoutDailyQuotaIsUnaffected) {
  Runtime rt(&http_, &clock_);
  auto plain = rt.connections().Get(DingTalk(std::nullopt));
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  ApiEndpoint* ep = (*plain)->endpoint();
  ASSERT_NE(ep, nullptr);
  EXPECT_EQ(ep->quota(), nullptr);
  for (int i = 0; i < 3; ++i) http_.Answer(200, kOk);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Call(*ep).ok());
  EXPECT_EQ(http_.Sent().size(), 3u);

  auto limited = rt.connections().Get(DingTalk(7));  // new options: a new client
  ASSERT_TRUE(limited.ok());
  ASSERT_NE((*limited)->endpoint()->quota(), nullptr);
  EXPECT_EQ((*limited)->endpoint()->quota()->limit(), 7);
}

TEST_F(DailyQuotaTest, TheCountSurvivesReopeningStaging) {
  testing::TempDir dir;
  for (int run = 0; run < 2; ++run) {
    auto log = stage::StagingLog::Open(dir.path());
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    Runtime rt(&http_, &clock_);
    rt.set_staging(log->get());
    auto client = rt.connections().Get(DingTalk(3));
    ASSERT_TRUE(client.ok());
    ApiEndpoint* ep = (*client)->endpoint();
    if (run == 0) {
      http_.Answer(200, kOk);
      http_.Answer(200, kOk);
      ASSERT_TRUE(Call(*ep).ok());
      ASSERT_TRUE(Call(*ep).ok());
      EXPECT_EQ(ep->quota()->remaining(), 1);
      auto stored = (*log)->GetQuota("dt");
      ASSERT_TRUE(stored.ok());
      EXPECT_EQ(*stored, R"({"day":"2026-12-01","used":2})");
    } else {
      EXPECT_EQ(ep->quota()->remaining(), 1);  // counted before the restart
      http_.Answer(200, kOk);
      ASSERT_TRUE(Call(*ep).ok());
      EXPECT_TRUE(IsDailyQuotaSpent(Call(*ep).status()));
      EXPECT_EQ(http_.Sent().size(), 3u);
    }
  }
}

TEST_F(DailyQuotaTest, ConnectionsHandEveryClientTheRuntimesStopFlag) {
  Runtime rt(&http_, &clock_);
  config::ConnectionConfig yida = DingTalk(std::nullopt);
  yida.name = "yd";
  yida.type = "yida";
  for (const auto& conn : {DingTalk(std::nullopt), DingTalk(5), yida}) {
    auto client = rt.connections().Get(conn);
    ASSERT_TRUE(client.ok()) << conn.type << ": " << client.status().ToString();
    rt.RequestStop();
    http_.Answer(200, kOk);
    EXPECT_EQ(Call(*(*client)->endpoint()).status().code(), StatusCode::kCancelled) << conn.type;
    // Logins too (Yida's go through its own token endpoint).
    EXPECT_EQ((*client)->CheckLogin({}).code(), StatusCode::kCancelled) << conn.type;
  }
  EXPECT_TRUE(http_.Sent().empty());
  EXPECT_TRUE(rt.stopping());
}

}  // namespace
}  // namespace stagesync::connectors
