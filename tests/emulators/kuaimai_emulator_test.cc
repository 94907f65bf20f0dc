// Talks to KuaimaiEmulator over real HTTP and checks it against doc/vendors/kuaimai.md.
#include "emulators/kuaimai_emulator.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "testing/emulator_test.h"

namespace stagesync::emulators {
namespace {

using Params = std::map<std::string, std::string>;

constexpr std::string_view kList = kKuaimaiMethodAftersaleList;
constexpr std::string_view kRefresh = kKuaimaiMethodTokenRefresh;

std::string UrlEncode(std::string_view s) {
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      fmt::format_to(std::back_inserter(out), "%{:02X}", u);
    }
  }
  return out;
}

std::string Form(const Params& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out.push_back('&');
    out += UrlEncode(k) + "=" + UrlEncode(v);
  }
  return out;
}

class KuaimaiEmulatorTest : public EmulatorTest<KuaimaiEmulator> {
 protected:
  // Public parameters for `method`, timestamp from the emulator's (shifted) clock.
  Params Base(std::string_view method, std::string_view session = "at-0") {
    Params p{{"appKey", "demo-kuaimai"},
             {"method", std::string(method)},
             {"timestamp", KuaimaiFormatTime(NowMs() + clock_offset_ms_)},
             {"version", "1.0"},
             {"format", "json"},
             {"sign_method", "hmac"}};
    if (!session.empty()) p["session"] = session;
    return p;
  }

  Params ListParams(int64_t page_no, int64_t page_size, std::string_view session = "at-0") {
    Params p = Base(kList, session);
    p["pageNo"] = std::to_string(page_no);
    p["pageSize"] = std::to_string(page_size);
    return p;
  }

  // Signs with p["sign_method"] (hmac when absent) and posts the form.
  httplib::Result Call(Params p, std::string_view secret = "demo-kuaimai-secret") {
    const std::string method = p.contains("sign_method") ? p["sign_method"] : "hmac";
    p["sign"] = KuaimaiSign(p, secret, method);
    return PostRaw(p);
  }

  httplib::Result PostRaw(const Params& p) {
    return client_->Post("/router", Form(p), "application/x-www-form-urlencoded");
  }

  // "" for success:true, the code otherwise, "http-N" for a non-200 reply.
  std::string Code(const httplib::Result& res) {
    if (!res) return "no-response";
    if (res->status != 200) return fmt::format("http-{}", res->status);
    simdjson::dom::element root = Parse(res->body);
    if (bool(root["success"])) return "";
    return std::string(std::string_view(root["code"]));
  }

  std::string Msg(const httplib::Result& res) {
    return std::string(std::string_view(Parse(res->body)["msg"]));
  }

  int64_t clock_offset_ms_ = 0;
};

TEST(KuaimaiSignTest, MatchesOpensslVectors) {
  // Expected values from `openssl dgst` over the same strings.
  Params p{{"appKey", "demo-kuaimai"},
           {"format", "json"},
           {"method", "erp.aftersale.list.query"},
           {"pageNo", "1"},
           {"session", "at-0"},
           {"timestamp", "2024-05-01 10:11:12"},
           {"version", "1.0"}};
  p["sign_method"] = "md5";
  EXPECT_EQ(KuaimaiSign(p, "demo-kuaimai-secret", "md5"), "9176F933D27CA16A98B7EEF6A770E7CD");
  p["sign_method"] = "hmac";
  EXPECT_EQ(KuaimaiSign(p, "demo-kuaimai-secret", "hmac"), "254CC90E81D60FE6A2607AE5D45A1AA2");
  p["sign_method"] = "hmac-sha256";
  EXPECT_EQ(KuaimaiSign(p, "demo-kuaimai-secret", "hmac-sha256"),
            "DCE5FC6A91FC12D36B2ED5B9645D6B4FE8A8EB27D73AD82A596BF2503F4B01F0");
  // sign itself and empty values are not signed.
  Params extra = p;
  extra["sign"] = "ABC";
  extra["tid"] = "";
  EXPECT_EQ(KuaimaiSign(extra, "demo-kuaimai-secret", "hmac-sha256"),
            KuaimaiSign(p, "demo-kuaimai-secret", "hmac-sha256"));
  EXPECT_EQ(KuaimaiSign(p, "demo-kuaimai-secret", "sha1"), "");
  EXPECT_EQ(KuaimaiFormatTime(1'714'529'472'000), "2024-05-01 10:11:12");  // UTC+8
}

TEST_F(KuaimaiEmulatorTest, BusyPortFailsAndRestartWorks) {
  KuaimaiEmulator other;
  ASSERT_NO_FATAL_FAILURE(StartBesideAndRestart(other));
  httplib::Client cli("127.0.0.1", other.port());
  cli.set_tcp_nodelay(true);
  Params p = ListParams(1, 10);
  p["sign"] = KuaimaiSign(p, "demo-kuaimai-secret", "hmac");
  auto res = cli.Post("/router", Form(p), "application/x-www-form-urlencoded");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(Code(res), "");
}

TEST_F(KuaimaiEmulatorTest, VerifiesEverySignMethod) {
  for (const char* method : {"md5", "hmac", "hmac-sha256"}) {
    Params p = ListParams(1, 10);
    p["sign_method"] = method;
    auto res = Call(p);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json;charset=UTF-8");
    EXPECT_EQ(Code(res), "") << method << " " << res->body;
  }
  // sign_method absent: hmac is the default.
  Params p = ListParams(1, 10);
  p.erase("sign_method");
  EXPECT_EQ(Code(Call(p)), "");
  // Empty values are sent but not signed; non-ASCII values are signed decoded.
  p = ListParams(1, 10);
  p["tid"] = "";
  p["userIds"] = "店铺 1&2=3";
  EXPECT_EQ(Code(Call(p)), "");
  EXPECT_EQ(emu_.SignatureFailures(), 0);

  auto res = Call(ListParams(1, 10), "wrong-secret");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  simdjson::dom::element root = Parse(res->body);
  EXPECT_FALSE(bool(root["success"]));
  EXPECT_EQ(std::string_view(root["code"]), "25");
  EXPECT_EQ(std::string_view(root["msg"]), "签名无效");

  p = ListParams(1, 10);
  p["sign"] = KuaimaiSign(p, "demo-kuaimai-secret", "hmac");
  p["pageNo"] = "2";  // tampered after signing
  EXPECT_EQ(Code(PostRaw(p)), kKuaimaiErrBadSign);
  p = ListParams(1, 10);
  std::string lower = KuaimaiSign(p, "demo-kuaimai-secret", "hmac");
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  p["sign"] = lower;
  EXPECT_EQ(Code(PostRaw(p)), kKuaimaiErrBadSign) << "upper-case hex only";
  p = ListParams(1, 10);
  p["sign_method"] = "md5";
  p["sign"] = KuaimaiSign(p, "demo-kuaimai-secret", "hmac");  // right secret, wrong algorithm
  EXPECT_EQ(Code(PostRaw(p)), kKuaimaiErrBadSign);
  p = ListParams(1, 10);
  p["sign_method"] = "sha1";
  EXPECT_EQ(Code(Call(p)), kKuaimaiErrBadSign);
  EXPECT_EQ(Code(PostRaw(ListParams(1, 10))), kKuaimaiErrBadSign) << "no sign at all";
  EXPECT_EQ(emu_.SignatureFailures(), 6);
}

TEST_F(KuaimaiEmulatorTest, PublicParameterErrors) {
  Params p = ListParams(1, 10);
  p["appKey"] = "nope";
  EXPECT_EQ(Code(Call(p)), kKuaimaiErrBadAppKey);

  p = ListParams(1, 10);
  p["timestamp"] = KuaimaiFormatTime(NowMs() - 11 * 60'000);
  auto res = Call(p);
  EXPECT_EQ(Code(res), kKuaimaiErrBadTimestamp);
  EXPECT_NE(Msg(res).find("10分钟"), std::string::npos);
  p["timestamp"] = KuaimaiFormatTime(NowMs() + 11 * 60'000);
  EXPECT_EQ(Code(Call(p)), kKuaimaiErrBadTimestamp);
  p["timestamp"] = KuaimaiFormatTime(NowMs() - 9 * 60'000);
  EXPECT_EQ(Code(Call(p)), "");
  p["timestamp"] = "2024/05/01 10:11:12";
  EXPECT_EQ(Code(Call(p)), kKuaimaiErrBadTimestamp);
  p["timestamp"] = std::to_string(NowMs());
  EXPECT_EQ(Code(Call(p)), kKuaimaiErrBadTimestamp);

  // The check follows the emulator's clock.
  emu_.AdvanceClockMs(20 * 60'000);
  EXPECT_EQ(Code(Call(ListParams(1, 10))), kKuaimaiErrBadTimestamp);
  clock_offset_ms_ = 20 * 60'000;
  EXPECT_EQ(Code(Call(ListParams(1, 10))), "");

  p = ListParams(1, 10);
  p["format"] = "xml";
  EXPECT_EQ(Code(Call(p)), kKuaimaiErrInvalidFormat);
  p = ListParams(1, 10);
  p["version"] = "2.0";
  EXPECT_EQ(Code(Call(p)), kKuaimaiErrBadVersion);
  EXPECT_EQ(Code(Call(Base("erp.trade.list.query"))), kKuaimaiErrInvalidMethod);
  p = ListParams(1, 10);
  p.erase("method");
  EXPECT_EQ(Code(Call(p)), kKuaimaiErrInvalidMethod);
  EXPECT_EQ(Code(Call(ListParams(1, 10, ""))), kKuaimaiErrMissingSession);
  EXPECT_EQ(Code(Call(ListParams(1, 10, "at-unknown"))), kKuaimaiErrSessionExpired);
}

TEST_F(KuaimaiEmulatorTest, ListPagesInModifiedOrderWithContractShape) {
  const int64_t now = NowMs();
  emu_.Generate(45, now - 10 * kDayMs, now - kDayMs, 7);
  const std::vector<KuaimaiOrder> orders = emu_.Orders();
  ASSERT_EQ(orders.size(), 45u);
  for (size_t i = 1; i < orders.size(); ++i) {
    EXPECT_TRUE(
        orders[i - 1].modified_ms < orders[i].modified_ms ||
        (orders[i - 1].modified_ms == orders[i].modified_ms && orders[i - 1].id < orders[i].id));
  }

  std::vector<int64_t> ids;
  std::vector<size_t> sizes;
  std::vector<bool> has_next;
  std::set<int64_t> types;
  bool saw_empty_items = false;
  bool saw_null_finished = false;
  bool saw_finished = false;
  for (int64_t page = 1; page <= 4; ++page) {
    Params p = ListParams(page, 20);
    p["startModified"] = KuaimaiFormatTime(now - 11 * kDayMs);
    p["endModified"] = KuaimaiFormatTime(now);
    auto res = Call(p);
    ASSERT_EQ(Code(res), "") << res->body;
    const std::string body = res->body;
    simdjson::dom::element root = Parse(body);
    EXPECT_EQ(int64_t(root["total"]), 45);
    simdjson::dom::array list = root["list"];
    sizes.push_back(list.size());
    has_next.push_back(bool(root["hasNext"]));
    for (simdjson::dom::element o : list) {
      const int64_t id = int64_t(o["id"]);
      ids.push_back(id);
      EXPECT_NE(body.find(emu_.OrderJson(id)), std::string::npos) << "byte-identical element";
      for (const char* key :
           {"tid", "sid", "shortId", "status", "afterSaleType", "refundMoney", "rawRefundMoney",
            "textReason", "created", "modified", "finished", "shopName", "source", "goodStatus",
            "refundWarehouseName", "refundExpressId", "items"}) {
        EXPECT_TRUE(HasKey(o, key)) << key;
      }
      EXPECT_TRUE(o["tid"].is_string());
      EXPECT_TRUE(o["refundMoney"].is_string());
      EXPECT_EQ(std::string_view(o["modified"]).size(), 19u);
      const int64_t type = int64_t(o["afterSaleType"]);
      types.insert(type);
      simdjson::dom::array items = o["items"];
      if (items.size() == 0) {
        saw_empty_items = true;
        EXPECT_TRUE(type == 1 || type == 5) << "only refund-only tickets lack items";
      }
      for (simdjson::dom::element item : items) {
        for (const char* key : {"mainOuterId", "outerId", "title", "receivableCount", "itemRealQty",
                                "price", "payment", "goodItemCount", "badItemCount", "type"}) {
          EXPECT_TRUE(HasKey(item, key)) << key;
        }
        EXPECT_TRUE(item["price"].is_string());
      }
      if (o["finished"].is_null()) {
        saw_null_finished = true;
      } else {
        saw_finished = true;
      }
    }
  }
  EXPECT_EQ(sizes, (std::vector<size_t>{20, 20, 5, 0}));
  EXPECT_EQ(has_next, (std::vector<bool>{true, true, false, false}));
  std::vector<int64_t> expected;
  for (const KuaimaiOrder& o : orders) expected.push_back(o.id);
  EXPECT_EQ(ids, expected) << "ordered by modified, then id";
  EXPECT_TRUE(types.contains(1) && types.contains(2) && types.contains(5));
  EXPECT_TRUE(saw_empty_items);
  EXPECT_TRUE(saw_null_finished);
  EXPECT_TRUE(saw_finished);

  // pageSize absent: 20.
  Params p = ListParams(1, 20);
  p.erase("pageSize");
  auto res = Call(p);
  ASSERT_EQ(Code(res), "");
  EXPECT_EQ(simdjson::dom::array(Parse(res->body)["list"]).size(), 20u);
  res = Call(ListParams(1, 200));
  EXPECT_EQ(simdjson::dom::array(Parse(res->body)["list"]).size(), 45u);
}

TEST_F(KuaimaiEmulatorTest, WindowIsStartInclusiveEndExclusiveAndFiltersApply) {
  const int64_t now = NowMs();
  emu_.Generate(60, now - 5 * kDayMs, now - kDayMs, 3);
  const std::vector<KuaimaiOrder> orders = emu_.Orders();
  const KuaimaiOrder& target = orders[30];
  auto count_in = [&](const Params& extra) {
    Params p = ListParams(1, 200);
    for (const auto& [k, v] : extra) p[k] = v;
    auto res = Call(p);
    EXPECT_EQ(Code(res), "") << res->body;
    simdjson::dom::element root = Parse(res->body);
    const int64_t total = int64_t(root["total"]);
    EXPECT_EQ(static_cast<int64_t>(simdjson::dom::array(root["list"]).size()), total);
    return total;
  };
  int64_t at_or_after = 0;
  int64_t before = 0;
  for (const KuaimaiOrder& o : orders) {
    (o.modified_ms >= target.modified_ms ? at_or_after : before)++;
  }
  EXPECT_EQ(count_in({{"startModified", target.modified}}), at_or_after);
  EXPECT_EQ(count_in({{"endModified", target.modified}}), before);
  EXPECT_EQ(count_in({{"startModified", target.modified},
                      {"endModified", KuaimaiFormatTime(target.modified_ms + 1000)}}),
            static_cast<int64_t>(std::count_if(orders.begin(), orders.end(), [&](const auto& o) {
              return o.modified_ms == target.modified_ms;
            })));
  EXPECT_EQ(count_in({{"startModified", target.modified}, {"endModified", target.modified}}), 0);

  EXPECT_EQ(count_in({{"tid", target.tid}}), 1);
  EXPECT_EQ(count_in({{"id", std::to_string(target.id)}}), 1);
  EXPECT_EQ(count_in({{"afterSaleType", std::to_string(target.after_sale_type)}}),
            std::count_if(orders.begin(), orders.end(), [&](const KuaimaiOrder& o) {
              return o.after_sale_type == target.after_sale_type;
            }));
  EXPECT_EQ(count_in({{"startApplyTime", target.created}}),
            std::count_if(orders.begin(), orders.end(), [&](const KuaimaiOrder& o) {
              return o.created_ms >= target.created_ms;
            }));
  EXPECT_EQ(count_in({{"userIds", "1,2"}, {"warehouseIds", "9"}, {"suiteSingle", "1"}}), 60)
      << "accepted and ignored";
}

TEST_F(KuaimaiEmulatorTest, BusinessParameterErrors) {
  Params p = ListParams(1, 10);
  p.erase("pageNo");
  auto res = Call(p);
  EXPECT_EQ(Code(res), kKuaimaiErrBadParam);
  EXPECT_EQ(Msg(res), "页码不能为空");
  EXPECT_EQ(Code(Call(ListParams(0, 10))), kKuaimaiErrBadParam);
  EXPECT_EQ(Code(Call(ListParams(1, 201))), kKuaimaiErrBadParam);
  EXPECT_EQ(Code(Call(ListParams(1, 0))), kKuaimaiErrBadParam);
  EXPECT_EQ(Code(Call(ListParams(1, 200))), "");
  p = ListParams(1, 10);
  p["startModified"] = "2024-05-01";
  EXPECT_EQ(Code(Call(p)), kKuaimaiErrBadParam);
  p["startModified"] = "2024-05-02 00:00:00";
  p["endModified"] = "2024-05-01 00:00:00";
  EXPECT_EQ(Code(Call(p)), kKuaimaiErrBadParam);
  p = ListParams(1, 10);
  p["asVersion"] = "3";
  EXPECT_EQ(Code(Call(p)), kKuaimaiErrBadParam);

  emu_.SetMaxWindowMs(kDayMs);
  p = ListParams(1, 10);
  p["startModified"] = "2024-05-01 00:00:00";
  p["endModified"] = "2024-05-03 00:00:00";
  EXPECT_EQ(Code(Call(p)), kKuaimaiErrBadParam);
  p["endModified"] = "2024-05-02 00:00:00";
  EXPECT_EQ(Code(Call(p)), "");
}

TEST_F(KuaimaiEmulatorTest, SessionExpiryAndRefreshRotation) {
  EXPECT_EQ(emu_.CurrentAccessToken(), "at-0");
  EXPECT_EQ(emu_.CurrentRefreshToken(), "rt-0");
  EXPECT_EQ(Code(Call(ListParams(1, 10))), "");
  emu_.ExpireSessionNow();
  auto res = Call(ListParams(1, 10));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(Code(res), "27");

  Params r = Base(kRefresh, "");
  r["refreshToken"] = "rt-0";
  res = Call(r);
  ASSERT_EQ(Code(res), "") << res->body;
  simdjson::dom::element session = Parse(res->body)["session"];
  const std::string at{std::string_view(session["accessToken"])};
  const std::string rt{std::string_view(session["refreshToken"])};
  EXPECT_GT(int64_t(session["expireTime"]), NowMs() + 29 * kDayMs);
  EXPECT_NE(at, "at-0");
  EXPECT_NE(rt, "rt-0");
  EXPECT_EQ(emu_.CurrentAccessToken(), at);
  EXPECT_EQ(emu_.CurrentRefreshToken(), rt);
  EXPECT_EQ(emu_.RefreshCount(), 1);
  EXPECT_EQ(Code(Call(ListParams(1, 10, at))), "");
  EXPECT_EQ(Code(Call(ListParams(1, 10, "at-0"))), "27") << "expired stays expired";

  // The old refresh token is dead; reusing it is counted.
  res = Call(r);
  EXPECT_EQ(Code(res), kKuaimaiErrRefreshTokenInvalid);
  EXPECT_EQ(emu_.RefreshTokenReuseCount(), 1);
  r["refreshToken"] = "rt-never-issued";
  EXPECT_EQ(Code(Call(r)), kKuaimaiErrRefreshTokenInvalid);
  EXPECT_EQ(emu_.RefreshTokenReuseCount(), 1) << "unknown tokens are not reuse";
  r.erase("refreshToken");
  EXPECT_EQ(Code(Call(r)), kKuaimaiErrBadParam);
  r["refreshToken"] = rt;
  r["session"] = at;  // a session may be sent along; it is not required
  res = Call(r);
  ASSERT_EQ(Code(res), "");
  const std::string at2{std::string_view(Parse(res->body)["session"]["accessToken"])};
  EXPECT_EQ(emu_.RefreshCount(), 2);
  EXPECT_EQ(Code(Call(ListParams(1, 10, at))), "") << "older access token works until it expires";
  EXPECT_EQ(Code(Call(ListParams(1, 10, at2))), "");

  // Configurable expired code and TTL-driven expiry.
  emu_.SetSessionExpiredCode("105");
  emu_.ExpireSessionNow();
  EXPECT_EQ(Code(Call(ListParams(1, 10, at2))), "105");
  emu_.SetSessionExpiredCode("106");
  EXPECT_EQ(Code(Call(ListParams(1, 10, at2))), "106");
  r["refreshToken"] = emu_.CurrentRefreshToken();
  ASSERT_EQ(Code(Call(r)), "");
  const std::string at3 = emu_.CurrentAccessToken();
  EXPECT_EQ(Code(Call(ListParams(1, 10, at3))), "");
  emu_.AdvanceClockMs(31 * kDayMs);
  clock_offset_ms_ = 31 * kDayMs;
  EXPECT_EQ(Code(Call(ListParams(1, 10, at3))), "106");

  // Refresh is never faulted.
  emu_.Fail5xxNext(1);
  r = Base(kRefresh, "");  // a fresh timestamp on the shifted clock
  r["refreshToken"] = emu_.CurrentRefreshToken();
  EXPECT_EQ(Code(Call(r)), "");
  EXPECT_EQ(Code(Call(ListParams(1, 10, emu_.CurrentAccessToken()))), "http-502");
  EXPECT_EQ(emu_.RequestCount(std::string(kRefresh)), 7);
}

TEST(KuaimaiEmulatorOptionsTest, RefreshCanKillOldAccessTokens) {
  KuaimaiEmulatorOptions opts;
  opts.access_token = "a";
  opts.refresh_token = "r";
  opts.app_secret = "s3";
  opts.refresh_kills_old_access_tokens = true;
  KuaimaiEmulator emu(opts);
  ASSERT_TRUE(emu.Start());
  httplib::Client cli("127.0.0.1", emu.port());
  cli.set_tcp_nodelay(true);
  simdjson::dom::parser parser;
  auto call = [&](Params p) {
    p["appKey"] = "demo-kuaimai";
    p["timestamp"] = KuaimaiFormatTime(NowMs());
    p["sign_method"] = "hmac-sha256";
    p["sign"] = KuaimaiSign(p, "s3", "hmac-sha256");
    auto res = cli.Post("/router", Form(p), "application/x-www-form-urlencoded");
    simdjson::dom::element root;
    if (!res || parser.parse(res->body).get(root) != simdjson::SUCCESS) return std::string("?");
    return bool(root["success"]) ? std::string() : std::string(std::string_view(root["code"]));
  };
  EXPECT_EQ(call({{"method", std::string(kList)}, {"session", "a"}, {"pageNo", "1"}}), "");
  EXPECT_EQ(call({{"method", std::string(kRefresh)}, {"refreshToken", "r"}}), "");
  EXPECT_EQ(call({{"method", std::string(kList)}, {"session", "a"}, {"pageNo", "1"}}), "27");
  EXPECT_EQ(
      call(
          {{"method", std::string(kList)}, {"session", emu.CurrentAccessToken()}, {"pageNo", "1"}}),
      "");
}

TEST_F(KuaimaiEmulatorTest, ThrottleModes) {
  emu_.ThrottleNext(2);
  for (int i = 0; i < 2; ++i) {
    auto res = Call(ListParams(1, 10));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 429);
    EXPECT_EQ(res->get_header_value("Retry-After"), "1");
  }
  EXPECT_EQ(Code(Call(ListParams(1, 10))), "");
  emu_.ThrottleNext(1, KuaimaiThrottleMode::kMessage);
  auto res = Call(ListParams(1, 10));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(Code(res), kKuaimaiErrThrottled);
  EXPECT_NE(Msg(res).find("频繁"), std::string::npos);
  EXPECT_EQ(Code(Call(ListParams(1, 10))), "");
  // Gateway faults come before any parameter check.
  emu_.ThrottleNext(1);
  EXPECT_EQ(Code(Call(ListParams(1, 10), "wrong-secret")), "http-429");
  EXPECT_EQ(emu_.SignatureFailures(), 0);
}

TEST_F(KuaimaiEmulatorTest, Http5xxTruncatedAndListlessReplies) {
  emu_.Generate(5, NowMs() - kDayMs, NowMs(), 1);
  emu_.Fail5xxNext(1);
  auto res = Call(ListParams(1, 10));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 502);
  EXPECT_EQ(res->body.rfind("<html>", 0), 0u);
  EXPECT_EQ(Code(Call(ListParams(1, 10))), "");

  emu_.TruncateNext(1);
  res = Call(ListParams(1, 10));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  simdjson::dom::element root;
  EXPECT_NE(parser_.parse(res->body).get(root), simdjson::SUCCESS);
  EXPECT_EQ(Code(Call(ListParams(1, 10))), "");

  emu_.NoListNext(2);
  emu_.ExpireSessionNow();
  EXPECT_EQ(Code(Call(ListParams(1, 10))), "27") << "NoList only replaces successes";
  Params r = Base(kRefresh, "");
  r["refreshToken"] = "rt-0";
  ASSERT_EQ(Code(Call(r)), "");
  const std::string at = emu_.CurrentAccessToken();
  for (int i = 0; i < 2; ++i) {
    res = Call(ListParams(1, 10, at));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body, R"({"success":true})");
  }
  res = Call(ListParams(1, 10, at));
  EXPECT_EQ(int64_t(Parse(res->body)["total"]), 5);
}

TEST_F(KuaimaiEmulatorTest, MaxQpsLatencyAndStats) {
  emu_.ResetStats();
  emu_.SetMaxQps(3);
  int throttled = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) {
    auto res = Call(ListParams(1, 10));
    if (res && res->status == 429) ++throttled;
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  if (elapsed < std::chrono::milliseconds(900)) {
    EXPECT_GE(throttled, 4) << "10 calls span at most two one-second buckets";
  }
  emu_.SetMaxQps(1, KuaimaiThrottleMode::kMessage);
  std::set<std::string> codes;
  for (int i = 0; i < 3; ++i) codes.insert(Code(Call(ListParams(1, 10))));
  EXPECT_TRUE(codes.contains(std::string(kKuaimaiErrThrottled)));
  emu_.SetMaxQps(0);

  Params r = Base(kRefresh, "");
  r["refreshToken"] = "rt-0";
  EXPECT_EQ(Code(Call(r)), "");
  EXPECT_EQ(emu_.RequestCount(std::string(kList)), 13);
  EXPECT_EQ(emu_.RequestCount(std::string(kRefresh)), 1);
  EXPECT_EQ(emu_.RequestCount(), 14);
  EXPECT_GE(emu_.MaxRequestsInAnySecond(), 5);
  EXPECT_EQ(emu_.MaxRequestsInAnyWindowMs(60'000), 13) << "refresh is not a data call";
  emu_.ResetStats();
  EXPECT_EQ(emu_.RequestCount(), 0);
  EXPECT_EQ(emu_.MaxRequestsInAnySecond(), 0);
  EXPECT_EQ(emu_.RefreshCount(), 0);

  emu_.SetLatencyMs(60);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(Code(Call(ListParams(1, 10, emu_.CurrentAccessToken()))), "");
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(60));
}

TEST_F(KuaimaiEmulatorTest, MutationBetweenPagesMovesOrdersToTheEnd) {
  const int64_t now = NowMs();
  emu_.Generate(30, now - 10 * kDayMs, now - kDayMs, 5);
  const std::vector<KuaimaiOrder> before = emu_.Orders();
  auto page = [&](int64_t no) {
    Params p = ListParams(no, 10);
    p["startModified"] = KuaimaiFormatTime(now - 11 * kDayMs);
    p["endModified"] = KuaimaiFormatTime(now + 3'600'000);
    auto res = Call(p);
    EXPECT_EQ(Code(res), "");
    std::vector<int64_t> ids;
    simdjson::dom::element root = Parse(res->body);
    EXPECT_EQ(int64_t(root["total"]), 30);
    for (simdjson::dom::element o : simdjson::dom::array(root["list"])) {
      ids.push_back(int64_t(o["id"]));
    }
    return ids;
  };
  emu_.MutateBetweenPagesNext(3);
  const std::vector<int64_t> p1 = page(1);
  ASSERT_EQ(p1.size(), 10u);
  EXPECT_EQ(p1[0], before[0].id);
  const std::vector<int64_t> p2 = page(2);
  ASSERT_EQ(p2.size(), 10u);
  EXPECT_EQ(p2[0], before[13].id) << "three unseen orders slid onto page 1";
  const std::vector<int64_t> p3 = page(3);
  const std::set<int64_t> first3 = {before[0].id, before[1].id, before[2].id};
  EXPECT_EQ(std::set<int64_t>(p3.end() - 3, p3.end()), first3) << "mutated orders come last";

  const std::vector<KuaimaiOrder> after = emu_.Orders();
  for (size_t i = 0; i < 3; ++i) {
    const KuaimaiOrder& moved = after[after.size() - 3 + i];
    EXPECT_TRUE(first3.contains(moved.id));
    EXPECT_GE(moved.modified_ms, now - 1000);
    EXPECT_EQ(moved.modified, KuaimaiFormatTime(moved.modified_ms));
    EXPECT_EQ(moved.version, 1);
  }
  EXPECT_EQ(after[0].id, before[3].id);

  // pages > 1 keeps mutating; n = 0 switches it off.
  emu_.MutateBetweenPagesNext(1, 2);
  page(1);
  page(1);
  page(1);
  int mutated = 0;
  for (const KuaimaiOrder& o : emu_.Orders()) mutated += o.version;
  EXPECT_EQ(mutated, 5);

  // Modify by hand.
  const int64_t id = before[20].id;
  const std::string json = emu_.OrderJson(id);
  emu_.AdvanceClockMs(2000);  // past the second the earlier mutations landed in
  EXPECT_TRUE(emu_.Modify(id));
  EXPECT_NE(emu_.OrderJson(id), json);
  EXPECT_EQ(emu_.Orders().back().id, id);
  EXPECT_FALSE(emu_.Modify(1));
  EXPECT_EQ(emu_.OrderJson(1), "");
}

TEST(KuaimaiEmulatorDataTest, SameSeedSameData) {
  KuaimaiEmulator a;
  KuaimaiEmulator b;
  KuaimaiEmulator c;
  a.Generate(50, 1'700'000'000'000, 1'702'000'000'000, 42);
  b.Generate(50, 1'700'000'000'000, 1'702'000'000'000, 42);
  c.Generate(50, 1'700'000'000'000, 1'702'000'000'000, 43);
  const auto oa = a.Orders();
  const auto ob = b.Orders();
  ASSERT_EQ(oa.size(), 50u);
  ASSERT_EQ(oa.size(), ob.size());
  for (size_t i = 0; i < oa.size(); ++i) {
    EXPECT_EQ(oa[i].id, ob[i].id);
    EXPECT_EQ(a.OrderJson(oa[i].id), b.OrderJson(ob[i].id));
    EXPECT_GE(oa[i].modified_ms, oa[i].created_ms);
    EXPECT_EQ(oa[i].modified_ms % 1000, 0);
  }
  EXPECT_NE(a.OrderJson(oa.front().id), c.OrderJson(c.Orders().front().id));
  a.Clear();
  EXPECT_TRUE(a.Orders().empty());
  EXPECT_EQ(a.OrderJson(oa.front().id), "");
}

TEST_F(KuaimaiEmulatorTest, ConcurrentClients) {
  emu_.Generate(100, NowMs() - 5 * kDayMs, NowMs(), 11);
  auto call = [&](httplib::Client& cli, simdjson::dom::parser& parser, int t, int i) {
    Params p{{"appKey", "demo-kuaimai"},
             {"method", std::string(kList)},
             {"timestamp", KuaimaiFormatTime(NowMs())},
             {"sign_method", (t + i) % 2 == 0 ? "md5" : "hmac-sha256"},
             {"session", "at-0"},
             {"pageNo", std::to_string(1 + i % 5)},
             {"pageSize", "20"}};
    p["sign"] = KuaimaiSign(p, "demo-kuaimai-secret", p["sign_method"]);
    auto res = cli.Post("/router", Form(p), "application/x-www-form-urlencoded");
    simdjson::dom::element root;
    return res && res->status == 200 && parser.parse(res->body).get(root) == simdjson::SUCCESS &&
           bool(root["success"]) && simdjson::dom::array(root["list"]).size() == 20;
  };
  EXPECT_EQ(CountConcurrentOk(8, 20, call), 160);
}

}  // namespace
}  // namespace stagesync::emulators
