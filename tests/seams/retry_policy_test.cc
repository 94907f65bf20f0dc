// Unit tests of the one retry policy every vendor client shares (ApiEndpoint::Call): what is
// retried, for how long, what is refreshed, and what comes back as an unknown outcome. A
// FakeHttpClient behind a FaultyHttpClient and a fake clock, so no test sleeps.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "connectors/common/api_endpoint.h"
#include "connectors/dingtalk/dingtalk_client.h"
#include "testing/fake_clock.h"
#include "testing/fake_http_client.h"
#include "testing/faulty_http_client.h"

namespace stagesync::connectors {
namespace {

constexpr char kOk[] = R"({"errcode":0,"result":1})";
constexpr char kThrottled[] =
    R"({"errcode":88,"sub_code":"90002","errmsg":"ding talk error[subcode=90002]"})";

class ApiEndpointTest : public ::testing::Test {
 protected:
  ApiEndpoint Endpoint(RetryPolicy p = {}) {
    EndpointOptions o;
    o.name = "test";
    o.qps = 0;  // unlimited: the fake clock would otherwise pace
    o.retry = p;
    return ApiEndpoint(o, &faulty_, &clock_);
  }

  Result<json::Value> Call(ApiEndpoint& ep, bool idempotent = true, bool token_call = false) {
    auto build = []() -> Result<HttpRequest> {
      HttpRequest r;
      r.url = "http://127.0.0.1:1/x";
      return r;
    };
    auto classify = [token_call](const HttpResponse& r) {
      return dingtalk::ClassifyAnswer(r, token_call);
    };
    auto reauth = [this]() {
      ++reauths_;
      return Status::Ok();
    };
    return ep.Call(build, classify, reauth, "call", idempotent);
  }

  testing::FakeClock clock_;
  testing::FakeHttpClient http_;
  testing::FaultyHttpClient faulty_{&http_};
  int reauths_ = 0;
};

TEST_F(ApiEndpointTest, ThrottlingIsRetriedForTheBudgetNotForACount) {
  auto ep = Endpoint();
  // Twenty throttled answers in a row: more than any fixed count of tries wave 1 allowed.
  for (int i = 0; i < 20; ++i) http_.Answer(200, kThrottled);
  http_.Answer(200, kOk);
  auto r = Call(ep);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(http_.Sent().size(), 21u);
  EXPECT_EQ(ep.counters().throttled, 20);
  EXPECT_LE(clock_.slept_micros(), RetryPolicy{}.budget_ms * 1000);
}

TEST_F(ApiEndpointTest, GivingUpNamesTheAttemptsTheTimeAndTheCause) {
  RetryPolicy p;
  p.budget_ms = 10000;
  auto ep = Endpoint(p);
  for (int i = 0; i < 100; ++i) http_.Answer(502, "<html>bad gateway</html>");
  auto r = Call(ep);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("HTTP 502"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("gave up after"), std::string::npos);
  EXPECT_LE(clock_.slept_micros(), 10000 * 1000);
  EXPECT_GT(http_.Sent().size(), 3u);
  EXPECT_GT(http_.Left(), 0u);  // stopped by the budget, not by the script
}

TEST_F(ApiEndpointTest, MaxAttemptsStillCapsWhenSet) {
  RetryPolicy p;
  p.max_attempts = 3;
  auto ep = Endpoint(p);
  for (int i = 0; i < 10; ++i) http_.Answer(200, kThrottled);
  ASSERT_FALSE(Call(ep).ok());
  EXPECT_EQ(http_.Sent().size(), 3u);
}

TEST_F(ApiEndpointTest, TheFloodGuardsPagesBackOffAndHonourItsWait) {
  auto ep = Endpoint();
  http_.Answer(200, "<!DOCTYPE html><html><body>访问被拒绝</body></html>");
  http_.Answer(200, R"({"status":1111,"wait":5,"punish":"deny"})");
  http_.Answer(200, kOk);
  auto r = Call(ep);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_GE(clock_.slept_micros(), 5 * 1000000);  // the guard's own "wait"
}

TEST_F(ApiEndpointTest, ATokenCallThrottledIsRetriedAndARefusedOneIsNot) {
  auto ep = Endpoint();
  http_.Answer(200, kThrottled);
  http_.Answer(200, R"({"errcode":-1,"errmsg":"系统繁忙"})");
  http_.Answer(200, R"({"errcode":"0","access_token":"t","expires_in":7200})");
  ASSERT_TRUE(Call(ep, true, /*token_call=*/true).ok());

  http_.Answer(200, R"({"errcode":40089,"errmsg":"invalid appkey or appsecret"})");
  auto r = Call(ep, true, /*token_call=*/true);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(http_.Sent().size(), 4u);  // no retry of a refusal
}

TEST_F(ApiEndpointTest, AGarbledBodyIsTriedAFewTimesThenReportedAsABadPayload) {
  auto ep = Endpoint();
  for (int i = 0; i < 10; ++i) http_.Answer(200, R"({"errcode":0,"result":{"a":)");
  auto r = Call(ep);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kBadReply);
  EXPECT_EQ(http_.Sent().size(), static_cast<size_t>(RetryPolicy{}.max_garbled_attempts));
}

TEST_F(ApiEndpointTest, AnExpiredTokenIsRefreshedOnceAndARefusedRefreshStops) {
  auto ep = Endpoint();
  http_.Answer(200, R"({"errcode":40014,"errmsg":"invalid access_token"})");
  http_.Answer(200, kOk);
  ASSERT_TRUE(Call(ep).ok());
  EXPECT_EQ(reauths_, 1);

  for (int i = 0; i < 10; ++i) {
    http_.Answer(200, R"({"errcode":40014,"errmsg":"invalid access_token"})");
  }
  auto r = Call(ep);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(r.status().message().find("refused again after refreshing"), std::string::npos);
  EXPECT_EQ(reauths_, 1 + EndpointOptions{}.max_reauth);
}

// A vendor's code table in miniature (401 refresh, 403 refused, other 4xx bad request) over
// the shared HTTP status rules and body parser.
Result<json::Value> MiniVendorAnswer(const HttpResponse& r) {
  SS_RETURN_IF_ERROR(ClassifyHttpStatus(r));
  if (r.status == 401) return Status(StatusCode::kUnauthenticated, "HTTP 401");
  if (r.status == 403) return Status(StatusCode::kPermissionDenied, "HTTP 403");
  if (r.status >= 400) return InvalidArgument("HTTP " + std::to_string(r.status));
  return ParseBody(r);
}

struct RetryClassCase {
  const char* name;
  testing::HttpFault first;  // what the first send meets; the next one gets {"ok":1}
  bool idempotent;
  StatusCode code;  // kOk: the call retried and succeeded
};

TEST_F(ApiEndpointTest, EachRetryClassIsRetriedRefreshedOrReturnedAsItsCodeSays) {
  using K = testing::HttpFault::Kind;
  auto status = [](int s, const char* body = "{}") { return testing::HttpFault::Answer(s, body); };
  const RetryClassCase kCases[] = {
      {"reset", K::kUnavailable, true, StatusCode::kOk},
      {"timeout", K::kDeadlineExceeded, true, StatusCode::kOk},
      {"reply lost", K::kDropAfterDelivery, true, StatusCode::kOk},
      {"503", status(503), true, StatusCode::kOk},
      {"408", status(408), true, StatusCode::kOk},
      {"429", status(429), true, StatusCode::kOk},
      {"gateway page", status(200, "<html>busy</html>"), true, StatusCode::kOk},
      {"garbled", status(200, R"({"a":)"), true, StatusCode::kOk},
      {"401", status(401), true, StatusCode::kOk},
      {"403", status(403), true, StatusCode::kPermissionDenied},
      {"400", status(400), true, StatusCode::kInvalidArgument},
      // A create: whatever may have been carried out comes back, unsent again.
      {"create reset", K::kUnavailable, false, StatusCode::kUnavailable},
      {"create timeout", K::kDeadlineExceeded, false, StatusCode::kDeadlineExceeded},
      {"create reply lost", K::kDropAfterDelivery, false, StatusCode::kUnavailable},
      {"create 502", status(502), false, StatusCode::kUnavailable},
      {"create garbled", status(200, "{"), false, StatusCode::kBadReply},
      {"create 429", status(429), false, StatusCode::kOk},
      {"create 401", status(401), false, StatusCode::kOk},
      {"create 403", status(403), false, StatusCode::kPermissionDenied},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.name);
    testing::FakeHttpClient http;
    testing::FaultyHttpClient faulty(&http);
    testing::FakeClock clock;
    EndpointOptions o;
    o.qps = 0;
    ApiEndpoint ep(o, &faulty, &clock);
    http.Answer(200, R"({"ok":1})");
    http.Answer(200, R"({"ok":1})");
    faulty.FailNext(1, c.first);
    int reauths = 0;
    auto build = [] { return Result<HttpRequest>(HttpRequest{}); };
    auto reauth = [&] {
      ++reauths;
      return Status::Ok();
    };
    auto r = ep.Call(build, MiniVendorAnswer, reauth, "call", c.idempotent);
    EXPECT_EQ(r.status().code(), c.code) << r.status().ToString();
    const bool retried = c.code == StatusCode::kOk;
    EXPECT_EQ(faulty.Requests().size(), retried ? 2u : 1u);
    const bool delivered = c.first.kind == K::kDropAfterDelivery;  // the others never reach it
    EXPECT_EQ(http.Sent().size(), (retried ? 1u : 0u) + (delivered ? 1u : 0u));
    EXPECT_EQ(reauths, c.first.status == 401 ? 1 : 0);
    // Backoff before every retry but a refresh; never after a permanent answer.
    EXPECT_EQ(clock.slept_micros() > 0, retried && c.first.status != 401);
    const bool unknown = !c.idempotent && !retried && c.code != StatusCode::kPermissionDenied;
    EXPECT_EQ(ep.counters().unknown_outcome, unknown ? 1 : 0);
    EXPECT_EQ(r.status().message().find("outcome unknown") != std::string::npos, unknown);
  }
}

TEST_F(ApiEndpointTest, AWaitBeyondTheBudgetGivesUpAtOnceInsteadOfSleeping) {
  RetryPolicy p;
  p.budget_ms = 10000;
  auto ep = Endpoint(p);
  http_.Answer(429, "", {{"retry-after", "60"}});
  http_.Answer(200, kOk);
  auto r = Call(ep);
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(http_.Sent().size(), 1u);
  EXPECT_EQ(clock_.slept_micros(), 0);
}

TEST_F(ApiEndpointTest, AStopCutsABackoffShortWithinASliceAndNeverStartsAnotherAttempt) {
  EndpointOptions o;
  o.name = "dt";
  o.qps = 0;
  o.retry.base_ms = 5000;  // the first backoff alone is 2.5-5 s: longer than the bound below
  o.retry.budget_ms = 600 * 1000;
  ApiEndpoint ep(o, &http_, Clock::Real());  // real sleeps: the stop comes from another thread
  std::atomic<bool> stop{false};
  ep.set_stop(&stop);
  for (int i = 0; i < 100; ++i) http_.Answer(502, "<html>bad gateway</html>");
  Result<json::Value> r = Internal("not run");
  std::thread call([&] { r = Call(ep); });
  for (int i = 0; i < 2000 && http_.Sent().empty(); ++i) Clock::Real()->SleepForMicros(1000);
  Clock::Real()->SleepForMicros(50 * 1000);  // well inside the first backoff
  const int64_t asked_us = Clock::Real()->MonotonicMicros();
  stop = true;
  call.join();
  const int64_t took_ms = (Clock::Real()->MonotonicMicros() - asked_us) / 1000;
  EXPECT_LT(took_ms, 1000);
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled);
  EXPECT_EQ(r.status().message(), "dt: stopping: call not retried");
  EXPECT_EQ(http_.Sent().size(), 1u);
}

TEST_F(ApiEndpointTest, AStopAlreadyAskedForSendsNothing) {
  auto ep = Endpoint();
  std::atomic<bool> stop{true};
  ep.set_stop(&stop);
  http_.Answer(200, kOk);
  auto r = Call(ep);
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled);
  EXPECT_TRUE(http_.Sent().empty());
  EXPECT_EQ(clock_.slept_micros(), 0);
}

TEST(RetryPolicyTest, BackoffGrowsWithJitterHonoursRetryAfterAndStaysUnderItsCap) {
  RetryPolicy p;
  Status throttled(StatusCode::kResourceExhausted, "x");
  for (uint64_t rnd : {0ull, 7ull, 123456789ull}) {
    int64_t prev_cap = 0;
    for (int attempt = 1; attempt <= 30; ++attempt) {
      int64_t w = BackoffMillis(p, attempt, throttled, rnd);
      int64_t cap = std::min(p.max_backoff_ms, p.throttle_base_ms << std::min(attempt - 1, 20));
      EXPECT_GE(w, cap / 2);
      EXPECT_LE(w, cap);
      EXPECT_GE(cap, prev_cap);
      prev_cap = cap;
    }
  }
  Status after = Status(StatusCode::kResourceExhausted, "x").set_retry_after_ms(45000);
  EXPECT_EQ(BackoffMillis(p, 1, after, 0), 45000);
  EXPECT_TRUE(RetryFits(p, 100, 0, p.budget_ms));
  EXPECT_FALSE(RetryFits(p, 100, 1, p.budget_ms));
}

}  // namespace
}  // namespace stagesync::connectors
