// Talks to OkkiEmulator over real HTTP and checks it against doc/vendors/okki.md.
#include "emulators/okki_emulator.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "testing/emulator_test.h"

namespace stagesync::emulators {
namespace {

constexpr std::string_view kTokenPath = "/v1/oauth2/access_token";
constexpr std::string_view kListPath = "/v1/product/list";

// Query-string value: spaces and ':' are the only specials the tests send.
std::string Q(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == ' ') {
      out += "%20";
    } else if (c == ':') {
      out += "%3A";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

class OkkiEmulatorTest : public EmulatorTest<OkkiEmulator> {
 protected:
  httplib::Result TokenForm(std::string_view scope = "product company",
                            std::string_view id = "demo-okki",
                            std::string_view secret = "demo-okki-secret",
                            std::string_view grant = "client_credentials") {
    std::string body =
        fmt::format("grant_type={}&client_id={}&client_secret={}", grant, id, secret);
    if (!scope.empty()) body += "&scope=" + Q(scope);
    return client_->Post(std::string(kTokenPath), body, "application/x-www-form-urlencoded");
  }

  std::string Token(std::string_view scope = "product company") {
    auto res = TokenForm(scope);
    if (!res || res->status != 200) return "";
    return std::string(std::string_view(Parse(res->body)["access_token"]));
  }

  httplib::Result List(const std::string& token, const std::string& query = "") {
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    return client_->Get(fmt::format("{}?{}", kListPath, query), headers);
  }

  // Product ids of one successful page; data.count into *total.
  std::vector<int64_t> Ids(const httplib::Result& res, int64_t* total = nullptr) {
    std::vector<int64_t> ids;
    if (!res || res->status != 200) {
      ADD_FAILURE() << (res ? res->body : "no response");
      return ids;
    }
    simdjson::dom::element root = Parse(res->body);
    EXPECT_EQ(int64_t(root["code"]), 0);
    if (total != nullptr) *total = int64_t(root["data"]["count"]);
    for (simdjson::dom::element p : simdjson::dom::array(root["data"]["list"])) {
      ids.push_back(int64_t(p["product_id"]));
    }
    return ids;
  }
};

TEST_F(OkkiEmulatorTest, BusyPortFailsAndRestartWorks) {
  OkkiEmulator other;
  ASSERT_NO_FATAL_FAILURE(StartBesideAndRestart(other));
  httplib::Client cli("127.0.0.1", other.port());
  cli.set_tcp_nodelay(true);
  auto res = cli.Post(std::string(kTokenPath),
                      "grant_type=client_credentials&client_id=demo-okki&"
                      "client_secret=demo-okki-secret&scope=product",
                      "application/x-www-form-urlencoded");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(OkkiEmulatorTest, TokenFlow) {
  auto res = TokenForm();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  simdjson::dom::element root = Parse(res->body);
  EXPECT_EQ(std::string_view(root["token_type"]), "Bearer");
  EXPECT_EQ(int64_t(root["expires_in"]), 28800);
  const std::string token{std::string_view(root["access_token"])};
  EXPECT_EQ(token.rfind("eyJ", 0), 0u);
  EXPECT_FALSE(std::string_view(root["refresh_token"]).empty());
  EXPECT_EQ(emu_.TokensIssued(), 1);

  // Re-requesting before expiry: same token, validity not extended.
  emu_.AdvanceClockMs(1000 * 1000);
  res = TokenForm("company product");
  root = Parse(res->body);
  EXPECT_EQ(std::string_view(root["access_token"]), token);
  EXPECT_EQ(int64_t(root["expires_in"]), 27800);
  // JSON bodies are accepted too.
  res = client_->Post(std::string(kTokenPath),
                      R"({"grant_type":"client_credentials","client_id":"demo-okki",)"
                      R"("client_secret":"demo-okki-secret","scope":"product company"})",
                      "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(std::string_view(Parse(res->body)["access_token"]), token);
  EXPECT_EQ(emu_.TokensIssued(), 1);
  // Other scopes: another token.
  EXPECT_NE(Token("product"), token);
  EXPECT_EQ(emu_.TokensIssued(), 2);

  // After expiry: 401 on use, a new token on request.
  emu_.AdvanceClockMs(27'800 * 1000);
  res = List(token);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  const std::string renewed = Token();
  EXPECT_NE(renewed, token);
  EXPECT_EQ(List(renewed)->status, 200);

  // OAuth errors.
  res = TokenForm("product", "demo-okki", "wrong");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_EQ(std::string_view(Parse(res->body)["error"]), "invalid_client");
  EXPECT_TRUE(HasKey(Parse(res->body), "error_description"));
  EXPECT_EQ(TokenForm("product", "nobody")->status, 401);
  res = TokenForm("product admin");
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(std::string_view(Parse(res->body)["error"]), "invalid_scope");
  res = TokenForm("product", "demo-okki", "demo-okki-secret", "password");
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(std::string_view(Parse(res->body)["error"]), "unsupported_grant_type");
  res = client_->Post(std::string(kTokenPath), "client_id=demo-okki",
                      "application/x-www-form-urlencoded");
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(std::string_view(Parse(res->body)["error"]), "invalid_request");
  res = client_->Post(std::string(kTokenPath), "{oops", "application/json");
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(emu_.TokensIssued(), 3);
}

TEST_F(OkkiEmulatorTest, ScopeRevocationAndTtl) {
  for (std::string_view scope : {"company", ""}) {
    auto res = List(Token(scope));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 403);
    simdjson::dom::element root = Parse(res->body);
    EXPECT_EQ(int64_t(root["code"]), 403);
    EXPECT_EQ(std::string_view(root["message"]), "no permission product scopes");
    EXPECT_TRUE(HasKey(root, "now"));
    EXPECT_TRUE(HasKey(root, "data"));
  }
  auto res = List("");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_EQ(std::string_view(Parse(res->body)["error"]), "access_denied");
  EXPECT_EQ(List("junk")->status, 401);
  res = client_->Get(std::string(kListPath), {{"Authorization", Token()}});  // no "Bearer "
  EXPECT_EQ(res->status, 401);

  const std::string token = Token();
  EXPECT_EQ(List(token)->status, 200);
  emu_.RevokeTokenNow();
  EXPECT_EQ(List(token)->status, 401);
  EXPECT_EQ(List(token)->status, 401) << "revocation sticks";
  const std::string fresh = Token();
  EXPECT_NE(fresh, token);
  EXPECT_EQ(List(fresh)->status, 200);

  emu_.SetTokenTtl(60);
  EXPECT_EQ(int64_t(Parse(TokenForm()->body)["expires_in"]), 60) << "applies to live tokens";
  emu_.AdvanceClockMs(61'000);
  EXPECT_EQ(List(fresh)->status, 401);
  res = TokenForm();
  EXPECT_EQ(int64_t(Parse(res->body)["expires_in"]), 60);
}

TEST_F(OkkiEmulatorTest, ListPagesByPageNumberWithContractShape) {
  const int64_t now = NowMs();
  emu_.Generate(57, now - 10 * kDayMs, now - kDayMs, 7);
  const std::vector<OkkiProduct> before = emu_.Products();
  ASSERT_TRUE(emu_.SoftDelete(before[5].product_id));
  const std::vector<OkkiProduct> products = emu_.Products();
  const std::string token = Token();

  std::vector<int64_t> ids;
  std::vector<size_t> sizes;
  bool saw_deleted = false;
  bool saw_stopped = false;
  for (int page = 1; page <= 7; ++page) {
    auto res = List(token, fmt::format("start_index={}&count=10", page));
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json; charset=UTF-8");
    const std::string body = res->body;
    simdjson::dom::element root = Parse(body);
    EXPECT_EQ(int64_t(root["code"]), 0);
    EXPECT_EQ(std::string_view(root["message"]), "success");
    EXPECT_EQ(std::string_view(root["now"]).size(), 19u);
    EXPECT_EQ(int64_t(root["data"]["count"]), 57);
    simdjson::dom::array list = root["data"]["list"];
    sizes.push_back(list.size());
    for (simdjson::dom::element p : list) {
      const int64_t id = int64_t(p["product_id"]);
      ids.push_back(id);
      EXPECT_NE(body.find(emu_.ProductJson(id)), std::string::npos) << "byte-identical element";
      for (const char* key :
           {"product_no",  "name",          "group_id",      "group_name",
            "cost",        "cost_with_tax", "cost_currency", "cost_unit",
            "enable_flag", "disable_flag",  "fob",           "minimum_order_quantity",
            "model",       "category_ids",  "unit",          "hs_code",
            "source_type", "pin_flag",      "info_json",     "update_time",
            "create_time", "product_type",  "product_remark"}) {
        EXPECT_TRUE(HasKey(p, key)) << key;
      }
      for (const char* key : {"price_currency", "price_min", "price_max", "price_unit"}) {
        EXPECT_TRUE(HasKey(p["fob"], key)) << key;
      }
      EXPECT_TRUE(p["cost"].is_string());
      EXPECT_TRUE(p["info_json"].is_object());
      EXPECT_TRUE(p["category_ids"].is_array());
      if (int64_t(p["enable_flag"]) == 0) saw_deleted = true;
      if (int64_t(p["disable_flag"]) == 0) saw_stopped = true;
    }
  }
  EXPECT_EQ(sizes, (std::vector<size_t>{10, 10, 10, 10, 10, 7, 0}));
  std::vector<int64_t> expected;
  for (const OkkiProduct& p : products) expected.push_back(p.product_id);
  EXPECT_EQ(ids, expected) << "ordered by update_time, then product_id";
  EXPECT_TRUE(saw_deleted) << "enable_flag=0 rows are listed";
  EXPECT_TRUE(saw_stopped);
  EXPECT_EQ(products.back().product_id, before[5].product_id) << "soft delete touches";
  EXPECT_EQ(products.back().enable_flag, 0);

  // Defaults and the page-size cap.
  EXPECT_EQ(Ids(List(token)).size(), 10u);
  EXPECT_EQ(Ids(List(token, "start_index=1")), std::vector<int64_t>(ids.begin(), ids.begin() + 10));
  emu_.Generate(100, now - 10 * kDayMs, now - kDayMs, 8);
  int64_t total = 0;
  EXPECT_EQ(Ids(List(token, "count=500"), &total).size(), 100u);
  EXPECT_EQ(total, 157);
}

TEST_F(OkkiEmulatorTest, TimeFiltersAndProductType) {
  const int64_t now = NowMs();
  emu_.Generate(80, now - 6 * kDayMs, now - kDayMs, 3);
  const std::vector<OkkiProduct> products = emu_.Products();
  const OkkiProduct& target = products[40];
  const std::string token = Token();
  auto total_of = [&](const std::string& query) {
    int64_t total = -1;
    Ids(List(token, query + "&count=100"), &total);
    return total;
  };
  auto count_if = [&](auto pred) {
    return static_cast<int64_t>(std::count_if(products.begin(), products.end(), pred));
  };
  // Datetime bounds are inclusive at both ends.
  EXPECT_EQ(
      total_of("time_type=1&start_time=" + Q(target.update_time)),
      count_if([&](const OkkiProduct& p) { return p.update_time_ms >= target.update_time_ms; }));
  EXPECT_EQ(
      total_of("time_type=1&end_time=" + Q(target.update_time)),
      count_if([&](const OkkiProduct& p) { return p.update_time_ms <= target.update_time_ms; }));
  EXPECT_GE(total_of("start_time=" + Q(target.update_time) + "&end_time=" + Q(target.update_time)),
            1);
  // Date-only bounds cover the whole day.
  const std::string day = target.update_time.substr(0, 10);
  EXPECT_EQ(total_of("time_type=1&start_time=" + day + "&end_time=" + day),
            count_if([&](const OkkiProduct& p) { return p.update_time.starts_with(day); }));
  // time_type 2 filters (and orders) on create_time.
  EXPECT_EQ(
      total_of("time_type=2&start_time=" + Q(target.create_time)),
      count_if([&](const OkkiProduct& p) { return p.create_time_ms >= target.create_time_ms; }));
  std::vector<int64_t> by_create = Ids(List(token, "time_type=2&count=100"));
  std::vector<OkkiProduct> sorted = products;
  std::sort(sorted.begin(), sorted.end(), [](const OkkiProduct& a, const OkkiProduct& b) {
    return std::pair(a.create_time_ms, a.product_id) < std::pair(b.create_time_ms, b.product_id);
  });
  ASSERT_EQ(by_create.size(), sorted.size());
  for (size_t i = 0; i < sorted.size(); ++i) EXPECT_EQ(by_create[i], sorted[i].product_id);
  for (int type = 1; type <= 3; ++type) {
    EXPECT_EQ(total_of(fmt::format("product_type={}", type)),
              count_if([&](const OkkiProduct& p) { return p.product_type == type; }));
  }
  EXPECT_EQ(total_of("start_time=2030-01-02&end_time=2030-01-01"), 0);

  for (const char* bad : {"time_type=3", "start_time=2024-13-01", "end_time=2024/01/01",
                          "start_time=2024-01-01T10:00:00", "start_index=0", "start_index=x",
                          "count=0", "product_type=4"}) {
    auto res = List(token, bad);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << bad;
    EXPECT_EQ(int64_t(Parse(res->body)["code"]), 400) << bad;
  }
}

TEST_F(OkkiEmulatorTest, FaultsLatencyAndStats) {
  emu_.Generate(5, NowMs() - kDayMs, NowMs(), 1);
  const std::string token = Token();
  emu_.ResetStats();

  emu_.Fail5xxNext(1);
  EXPECT_NE(Token(), "") << "the token endpoint is never faulted";
  auto res = List(token);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 502);
  EXPECT_EQ(res->body.rfind("<html>", 0), 0u);
  EXPECT_EQ(List(token)->status, 200);

  emu_.TruncateNext(1);
  res = List(token);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  simdjson::dom::element root;
  EXPECT_NE(parser_.parse(res->body).get(root), simdjson::SUCCESS);
  EXPECT_EQ(Ids(List(token)).size(), 5u);

  emu_.SetMaxQps(3);
  int throttled = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) {
    res = List(token);
    if (res && res->status == 429) {
      ++throttled;
      EXPECT_EQ(int64_t(Parse(res->body)["code"]), 429);
    }
  }
  if (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(900)) {
    EXPECT_GE(throttled, 4) << "10 calls span at most two one-second buckets";
  }
  emu_.SetMaxQps(0);
  EXPECT_EQ(emu_.RequestCount(std::string(kListPath)), 14);
  EXPECT_EQ(emu_.RequestCount("/v1/oauth2"), 1);
  EXPECT_EQ(emu_.RequestCount(), 15);
  EXPECT_GE(emu_.MaxRequestsInAnySecond(), 5);
  EXPECT_EQ(emu_.MaxRequestsInAnyWindowMs(60'000), 14);
  emu_.ResetStats();
  EXPECT_EQ(emu_.RequestCount(), 0);
  EXPECT_EQ(emu_.MaxRequestsInAnySecond(), 0);
  EXPECT_EQ(emu_.TokensIssued(), 0);

  emu_.SetLatencyMs(60);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(List(token)->status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(60));
}

TEST_F(OkkiEmulatorTest, MutationBetweenPagesMovesProductsToTheEnd) {
  const int64_t now = NowMs();
  emu_.Generate(30, now - 10 * kDayMs, now - kDayMs, 5);
  const std::vector<OkkiProduct> before = emu_.Products();
  const std::string token = Token();
  auto page = [&](int no) {
    int64_t total = 0;
    std::vector<int64_t> ids = Ids(List(token, fmt::format("start_index={}&count=10", no)), &total);
    EXPECT_EQ(total, 30);
    return ids;
  };
  emu_.MutateBetweenPagesNext(3);
  const std::vector<int64_t> p1 = page(1);
  ASSERT_EQ(p1.size(), 10u);
  EXPECT_EQ(p1[0], before[0].product_id);
  const std::vector<int64_t> p2 = page(2);
  ASSERT_EQ(p2.size(), 10u);
  EXPECT_EQ(p2[0], before[13].product_id) << "three unseen products slid onto page 1";
  const std::vector<int64_t> p3 = page(3);
  const std::set<int64_t> first3 = {before[0].product_id, before[1].product_id,
                                    before[2].product_id};
  EXPECT_EQ(std::set<int64_t>(p3.end() - 3, p3.end()), first3);
  const std::vector<OkkiProduct> after = emu_.Products();
  for (size_t i = after.size() - 3; i < after.size(); ++i) {
    EXPECT_TRUE(first3.contains(after[i].product_id));
    EXPECT_GE(after[i].update_time_ms, now - 1000);
    EXPECT_EQ(after[i].version, 1);
  }

  // An end_time before now leaves the mutated products out of the window altogether.
  emu_.MutateBetweenPagesNext(2);
  const std::string end = "&end_time=" + Q(after[after.size() - 4].update_time);
  int64_t total = 0;
  Ids(List(token, "start_index=1&count=10" + end), &total);
  EXPECT_EQ(total, 27);
  Ids(List(token, "start_index=2&count=10" + end), &total);
  EXPECT_EQ(total, 25);

  // Modify and SoftDelete by hand.
  const int64_t id = before[20].product_id;
  const std::string json = emu_.ProductJson(id);
  emu_.AdvanceClockMs(2000);
  EXPECT_TRUE(emu_.Modify(id));
  EXPECT_NE(emu_.ProductJson(id), json);
  EXPECT_EQ(emu_.Products().back().product_id, id);
  EXPECT_TRUE(emu_.SoftDelete(before[21].product_id));
  EXPECT_NE(emu_.ProductJson(before[21].product_id).find(R"("enable_flag":0)"), std::string::npos);
  EXPECT_FALSE(emu_.Modify(1));
  EXPECT_FALSE(emu_.SoftDelete(1));
  EXPECT_EQ(emu_.ProductJson(1), "");
}

TEST(OkkiEmulatorDataTest, SameSeedSameDataAndStringNumbers) {
  OkkiEmulator a;
  OkkiEmulator b;
  OkkiEmulator c;
  a.Generate(200, 1'700'000'000'000, 1'702'000'000'000, 42);
  b.Generate(200, 1'700'000'000'000, 1'702'000'000'000, 42);
  c.Generate(200, 1'700'000'000'000, 1'702'000'000'000, 43);
  const auto pa = a.Products();
  const auto pb = b.Products();
  ASSERT_EQ(pa.size(), 200u);
  ASSERT_EQ(pa.size(), pb.size());
  simdjson::dom::parser parser;
  bool saw_string_number = false;
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_EQ(pa[i].product_id, pb[i].product_id);
    EXPECT_EQ(a.ProductJson(pa[i].product_id), b.ProductJson(pb[i].product_id));
    EXPECT_GE(pa[i].update_time_ms, pa[i].create_time_ms);
    simdjson::dom::element p;
    ASSERT_EQ(parser.parse(a.ProductJson(pa[i].product_id)).get(p), simdjson::SUCCESS);
    if (pa[i].numbers_as_strings) {
      saw_string_number = true;
      EXPECT_TRUE(p["minimum_order_quantity"].is_string());
      EXPECT_TRUE(p["fob"]["price_min"].is_string());
    } else {
      EXPECT_TRUE(p["minimum_order_quantity"].is_int64());
      EXPECT_TRUE(p["fob"]["price_min"].is_number());
    }
  }
  EXPECT_TRUE(saw_string_number);
  EXPECT_NE(a.ProductJson(pa.front().product_id), c.ProductJson(c.Products().front().product_id));
  a.Clear();
  EXPECT_TRUE(a.Products().empty());
  EXPECT_EQ(a.ProductJson(pa.front().product_id), "");
}

TEST_F(OkkiEmulatorTest, ConcurrentClients) {
  emu_.Generate(100, NowMs() - 5 * kDayMs, NowMs(), 11);
  const std::string token = Token();
  EXPECT_EQ(
      CountConcurrentOk(8, 20,
                        [&](httplib::Client& cli, simdjson::dom::parser& parser, int t, int i) {
                          auto res = cli.Get(
                              fmt::format("{}?start_index={}&count=20", kListPath, 1 + (t + i) % 5),
                              {{"Authorization", "Bearer " + token}});
                          simdjson::dom::element root;
                          return res && res->status == 200 &&
                                 parser.parse(res->body).get(root) == simdjson::SUCCESS &&
                                 simdjson::dom::array(root["data"]["list"]).size() == 20;
                        }),
      160);
}

}  // namespace
}  // namespace stagesync::emulators
