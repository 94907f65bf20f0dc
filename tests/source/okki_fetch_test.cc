// Integration tests: the OKKI source (seed 003 as shipped, pointed at the emulator) fetching
// over real HTTP (libcurl, loopback) into a real RocksDB staging log: seed 003 staged,
// start_time from the seed's template, soft-deleted products as tombstones, the bearer token
// re-requested on 401 (once per call), throttling within qps, products changing between pages,
// and scope/credential errors that must stop at once.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>

#include "connectors/kuaimai/kuaimai_client.h"
#include "emulators/okki_emulator.h"
#include "stagesync/fetch.h"
#include "testing/faulty_http_client.h"
#include "testing/pipeline_test.h"
#include "testing/seed_config.h"

namespace stagesync {
namespace {

using emulators::OkkiEmulator;
using testing::Num;
using testing::Str;

constexpr char kPipeline[] = "okki-product";

// The query value of `key` in a URL ("" when absent), still percent-encoded.
std::string QueryValue(const std::string& url, const std::string& key) {
  for (const char sep : {'?', '&'}) {
    size_t at = url.find(std::string(1, sep) + key + "=");
    if (at == std::string::npos) continue;
    at += key.size() + 2;
    return url.substr(at, url.find_first_of("&\n", at) - at);
  }
  return "";
}

class OkkiFetchTest : public testing::PipelineTest<testing::FaultyHttpClient> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(emu_.Start(0));
    // Upstream edits get an update time a little in the past, inside the next window.
    emu_.AdvanceClockMs(-5000);
  }

  void Configure(std::map<std::string, json::Value> source = {},
                 std::map<std::string, json::Value> connection = {}) {
    auto e = testing::EmulatorSeedEdits("okki", emu_.base_url(), dir_.Sub("state"),
                                        {{"qps", Num(500)}, {"retry_base_ms", Num(10)}});
    for (auto& [k, v] : connection) e.connection[k] = v;
    e.source = std::move(source);
    Load(testing::SeedConfigJson("003-okki-product-yida.json", e));
  }

  // Live products are staged with exactly their content; soft-deleted ones are tombstones
  // with their content when they were staged before, and absent when never staged.
  void ExpectStagingMatchesEmulator(const std::set<int64_t>& tombstones = {}) {
    int64_t live = 0;
    for (const auto& p : emu_.Products()) {
      auto r = log_->Get(kPipeline, std::to_string(p.product_id));
      ASSERT_TRUE(r.ok());
      const std::string want = json::Canonical(*json::Parse(emu_.ProductJson(p.product_id)));
      if (p.enable_flag != 0) {
        ++live;
        ASSERT_TRUE(r->has_value()) << "not staged: " << p.product_id;
        EXPECT_FALSE((*r)->deleted) << p.product_id;
        EXPECT_EQ((*r)->raw, want) << p.product_id;
      } else if (tombstones.contains(p.product_id)) {
        ASSERT_TRUE(r->has_value()) << "no tombstone: " << p.product_id;
        EXPECT_TRUE((*r)->deleted) << p.product_id;
        EXPECT_EQ((*r)->raw, want) << p.product_id;
      } else {
        EXPECT_FALSE(r->has_value()) << "deleted before it was ever staged: " << p.product_id;
      }
    }
    auto sum = log_->Summary(kPipeline);
    EXPECT_EQ(sum->records - sum->deleted, live);
    EXPECT_EQ(sum->deleted, static_cast<int64_t>(tombstones.size()));
  }

  int64_t Live() {
    int64_t n = 0;
    for (const auto& p : emu_.Products()) n += p.enable_flag != 0;
    return n;
  }

  int64_t ListRequests() { return emu_.RequestCount("/v1/product/list"); }

  OkkiEmulator emu_;
};

TEST_F(OkkiFetchTest, Seed003StagesEveryProductAndASecondRunNothing) {
  emu_.Generate(350, NowMs() - 10 * kDayMs, NowMs() - 2 * kHourMs, 1);
  Configure();  // the seed as shipped: count 100, start_time = LAST_SYNC_TIME - 30 min
  auto first = Fetch();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->fetched, 350);
  EXPECT_EQ(first->added, Live());
  EXPECT_LT(Live(), 350);  // some come soft-deleted: never staged
  EXPECT_EQ(first->pages, 4);
  ExpectStagingMatchesEmulator();
  // The first fetch reads everything: no start_time.
  EXPECT_EQ(QueryValue(http_->Requests().back(), "start_time"), "");
  EXPECT_EQ(QueryValue(http_->Requests().back(), "count"), "100");
  EXPECT_EQ(emu_.TokensIssued(), 1);

  const uint64_t store_seq = log_->StoreSequence();
  auto second = Fetch();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->fetched, 0);  // nothing was updated in the last 30 minutes
  EXPECT_LE(log_->StoreSequence() - store_seq, 1u);
  // start_time is the last sync time minus 30:01, in Beijing time.
  const std::string start = QueryValue(http_->Requests().back(), "start_time");
  const int64_t last_sync_s = *first->watermark_ms / 1000 - 1801;
  EXPECT_EQ(start, UrlEncode(connectors::kuaimai::FormatBeijingTime(last_sync_s * 1000)));
}

TEST_F(OkkiFetchTest, UpdatesAndSoftDeletesStageExactlyThose) {
  emu_.Generate(200, NowMs() - 5 * kDayMs, NowMs() - 2 * kHourMs, 2);
  Configure();
  ASSERT_TRUE(Fetch().ok());
  const uint64_t seq = log_->Summary(kPipeline)->last_seq;
  std::vector<int64_t> live;
  for (const auto& p : emu_.Products()) {
    if (p.enable_flag != 0) live.push_back(p.product_id);
  }
  ASSERT_TRUE(emu_.Modify(live[0]));
  ASSERT_TRUE(emu_.Modify(live[50]));
  ASSERT_TRUE(emu_.SoftDelete(live[10]));
  ASSERT_TRUE(emu_.SoftDelete(live[60]));
  auto s = Fetch();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->fetched, 4);
  EXPECT_EQ(s->changed, 4);
  auto changes = log_->ReadChanges(kPipeline, seq, 100);
  ASSERT_TRUE(changes.ok());
  EXPECT_EQ(changes->size(), 4u);
  ExpectStagingMatchesEmulator({live[10], live[60]});
}

TEST_F(OkkiFetchTest, ARevokedTokenIsReplacedMidRunAndEveryProductArrives) {
  emu_.Generate(300, NowMs() - 5 * kDayMs, NowMs() - 2 * kHourMs, 3);
  Configure({{"count", Num(20)}});
  std::atomic<int> lists{0};
  http_->SetHook([&](const HttpRequest& req, const Result<HttpResponse>&) {
    if (req.url.find("/v1/product/list") == std::string::npos) return;
    const int n = ++lists;
    if (n == 3 || n == 9) emu_.RevokeTokenNow();
  });
  auto s = Fetch();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->added, Live());
  ExpectStagingMatchesEmulator();
  EXPECT_EQ(emu_.TokensIssued(), 3);
  EXPECT_EQ(emu_.RequestCount("/v1/oauth2"), 3);
  EXPECT_EQ(ListRequests(), 15 + 2);  // 15 pages, two of them asked twice
}

TEST_F(OkkiFetchTest, ATokenRefusedRightAfterItWasIssuedStopsAfterOneRetry) {
  emu_.Generate(50, NowMs() - 5 * kDayMs, NowMs() - 2 * kHourMs, 4);
  Configure();
  http_->SetHook([&](const HttpRequest& req, const Result<HttpResponse>&) {
    if (req.url.find("/v1/oauth2") != std::string::npos) emu_.RevokeTokenNow();
  });
  auto s = Fetch();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(s.status().message().find("refused again"), std::string::npos) << s.status().message();
  EXPECT_EQ(ListRequests(), 2);  // re-token once per call
  EXPECT_EQ(emu_.RequestCount("/v1/oauth2"), 2);
}

TEST_F(OkkiFetchTest, ThrottlingAndFaultsStillDeliverEverythingWithinQps) {
  emu_.Generate(400, NowMs() - 5 * kDayMs, NowMs() - 2 * kHourMs, 5);
  emu_.SetMaxQps(15);  // HTTP 429 above this
  emu_.Fail5xxNext(2);
  emu_.TruncateNext(1);
  emu_.SetTokenTtl(1);  // the token also expires mid-run (401), and again
  Configure({{"count", Num(20)}}, {{"qps", Num(15)}});
  auto s = Fetch();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->added, Live());
  ExpectStagingMatchesEmulator();
  EXPECT_LE(emu_.MaxRequestsInAnySecond(), 15);
  EXPECT_GE(emu_.TokensIssued(), 2);
  EXPECT_GE(emu_.RequestCount("/v1/oauth2"), 2);
}

TEST_F(OkkiFetchTest, AWindowThatChangesWhilePagedIsReadAgain) {
  emu_.Generate(300, NowMs() - 5 * kDayMs, NowMs() - 2 * kHourMs, 6);
  Configure({{"count", Num(50)}});
  emu_.MutateBetweenPagesNext(3, 2);  // re-sorted behind the later pages
  auto s = Fetch();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_GT(s->fetched, 300);
  ExpectStagingMatchesEmulator();
}

TEST_F(OkkiFetchTest, WithoutTheTotalCheckPageNumberPagingLosesProducts) {
  emu_.Generate(300, NowMs() - 5 * kDayMs, NowMs() - 2 * kHourMs, 6);
  Configure({{"count", Num(50)}, {"check_total", json::Value::Bool(false)}});
  emu_.MutateBetweenPagesNext(3, 2);
  auto s = Fetch();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_LT(log_->Summary(kPipeline)->records, Live());
}

TEST_F(OkkiFetchTest, ScopeAndCredentialErrorsStopAtOnceWithAClearMessageAndNoSecret) {
  emu_.Generate(30, NowMs() - 5 * kDayMs, NowMs() - 2 * kHourMs, 7);
  // A token without the product scope: the list refuses it.
  Configure({}, {{"scope", Str("company")}});
  auto s = Fetch();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(s.status().message().find("no permission product scopes"), std::string::npos)
      << s.status().message();
  EXPECT_EQ(ListRequests(), 1);

  emu_.ResetStats();
  Configure({}, {{"scope", Str("product bogus")}});
  s = Fetch();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(s.status().message().find("invalid_scope"), std::string::npos) << s.status().message();
  EXPECT_EQ(emu_.RequestCount("/v1/oauth2"), 1);
  EXPECT_EQ(ListRequests(), 0);

  emu_.ResetStats();
  Configure({}, {{"client_secret", Str("wrong-secret-321")}});
  s = Fetch();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(s.status().message().find("invalid_client"), std::string::npos) << s.status().message();
  EXPECT_EQ(s.status().message().find("wrong-secret-321"), std::string::npos);
  EXPECT_EQ(emu_.RequestCount("/v1/oauth2"), 1);
  EXPECT_EQ(log_->Summary(kPipeline)->records, 0);
}

// A lone "\ud800" in one product and nesting past 64 in another: both quarantined with their
// exact bytes, every other product of their pages staged, the watermark moves.
TEST_F(OkkiFetchTest, UnreadableProductsAreQuarantinedAndTheRestOfTheirPagesStaged) {
  emu_.Generate(250, NowMs() - 10 * kDayMs, NowMs() - 2 * kHourMs, 5);
  std::vector<int64_t> live;
  for (const auto& p : emu_.Products()) {
    if (p.enable_flag != 0) live.push_back(p.product_id);
  }
  ASSERT_GT(live.size(), 150u);
  const int64_t surrogate = live[20], deep = live[150];
  ASSERT_TRUE(emu_.SetInfoJson(surrogate, R"({"note":"\ud800 alone"})"));
  ASSERT_TRUE(
      emu_.SetInfoJson(deep, "{\"d\":" + std::string(70, '[') + std::string(70, ']') + "}"));
  Configure();
  auto first = Fetch();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->failed, 2);
  ASSERT_TRUE(first->watermark_ms.has_value());
  auto q = log_->Quarantined(kPipeline);
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->size(), 2u);
  std::map<std::string, stage::QuarantineEntry> by_id;
  for (const auto& e : *q) by_id[e.source_id] = e;
  ASSERT_EQ(by_id.count(std::to_string(surrogate)), 1u);
  ASSERT_EQ(by_id.count(std::to_string(deep)), 1u);
  EXPECT_EQ(by_id[std::to_string(surrogate)].payload, emu_.ProductJson(surrogate));
  EXPECT_NE(by_id[std::to_string(surrogate)].error.find("lone surrogate"), std::string::npos);
  EXPECT_EQ(by_id[std::to_string(deep)].payload, emu_.ProductJson(deep));
  EXPECT_NE(by_id[std::to_string(deep)].error.find("nesting deeper than 64"), std::string::npos);
  for (int64_t id : live) {
    if (id == surrogate || id == deep) continue;
    EXPECT_TRUE(log_->Get(kPipeline, std::to_string(id))->has_value()) << id;
  }
  EXPECT_FALSE(log_->Get(kPipeline, std::to_string(deep))->has_value());
}

}  // namespace
}  // namespace stagesync
