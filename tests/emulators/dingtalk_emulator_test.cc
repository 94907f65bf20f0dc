// Talks to DingTalkEmulator over real HTTP and checks it against doc/vendors/dingtalk.md, yida.md.
#include "emulators/dingtalk_emulator.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "testing/emulator_test.h"

namespace stagesync::emulators {
namespace {

constexpr std::string_view kListIds = "/topapi/processinstance/listids";
constexpr std::string_view kGet = "/topapi/processinstance/get";

std::string ListBody(int64_t start, int64_t end, int size, int64_t cursor,
                     std::string_view code = "PROC-PAYMENT-0001") {
  return fmt::format(
      R"({{"process_code":"{}","start_time":{},"end_time":{},"size":{},"cursor":{}}})", code, start,
      end, size, cursor);
}

std::string GetBody(std::string_view id) {
  return fmt::format(R"({{"process_instance_id":"{}"}})", id);
}

class DingTalkEmulatorTest : public EmulatorTest<DingTalkEmulator> {
 protected:
  httplib::Result GetToken(std::string_view key = "demo-key",
                           std::string_view secret = "demo-secret") {
    return client_->Get(fmt::format("/gettoken?appkey={}&appsecret={}", key, secret).c_str());
  }

  std::string Token() {
    auto res = GetToken();
    if (!res || res->status != 200) return "";
    return std::string(std::string_view(Parse(res->body)["access_token"]));
  }

  httplib::Result Post(std::string_view path, const std::string& token, const std::string& body) {
    return client_->Post(fmt::format("{}?access_token={}", path, token).c_str(), body,
                         "application/json");
  }

  int64_t Errcode(const httplib::Result& res) {
    if (!res || res->status != 200) return -999;
    return int64_t(Parse(res->body)["errcode"]);
  }
};

TEST_F(DingTalkEmulatorTest, BusyPortFailsAndRestartWorks) {
  DingTalkEmulator other;
  ASSERT_NO_FATAL_FAILURE(StartBesideAndRestart(other));
  httplib::Client cli("127.0.0.1", other.port());
  auto res = cli.Get("/gettoken?appkey=demo-key&appsecret=demo-secret");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(DingTalkEmulatorTest, TokenFlow) {
  EXPECT_EQ(Errcode(GetToken("demo-key", "wrong")), kDingTalkErrBadAppKey);
  EXPECT_EQ(Errcode(GetToken("nope", "demo-secret")), kDingTalkErrBadAppKey);

  auto res = GetToken();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json;charset=utf-8");
  simdjson::dom::element root = Parse(res->body);
  EXPECT_EQ(int64_t(root["errcode"]), 0);
  EXPECT_EQ(std::string_view(root["errmsg"]), "ok");
  EXPECT_EQ(int64_t(root["expires_in"]), 7200);
  const std::string token{std::string_view(root["access_token"])};
  EXPECT_EQ(token.size(), 32u);
  EXPECT_EQ(Token(), token) << "same token while valid";
  EXPECT_EQ(emu_.TokensIssued(), 1);

  const int64_t now = NowMs();
  EXPECT_EQ(Errcode(Post(kListIds, token, ListBody(now - kDayMs, now, 20, 0))), 0);
  EXPECT_EQ(Errcode(Post(kListIds, "", ListBody(now - kDayMs, now, 20, 0))), kDingTalkErrBadToken);
  EXPECT_EQ(Errcode(Post(kGet, "deadbeef", GetBody("x"))), kDingTalkErrBadToken);

  emu_.ExpireTokenNow();
  auto expired = Post(kListIds, token, ListBody(now - kDayMs, now, 20, 0));
  ASSERT_TRUE(expired);
  EXPECT_EQ(expired->status, 200);
  EXPECT_EQ(Errcode(expired), kDingTalkErrBadToken);
  const std::string renewed = Token();
  EXPECT_NE(renewed, token);
  EXPECT_EQ(emu_.TokensIssued(), 2);

  emu_.SetTokenTtl(60);
  emu_.AdvanceClockMs(61'000);
  EXPECT_EQ(Errcode(Post(kGet, renewed, GetBody("x"))), kDingTalkErrBadToken);
  const std::string third = Token();
  EXPECT_NE(third, renewed);
  EXPECT_EQ(Errcode(Post(kGet, third, GetBody("x"))), kDingTalkErrNotFound);
}

TEST_F(DingTalkEmulatorTest, ExpiredTokenCanAnswer42001) {
  const std::string token = Token();
  const int64_t now = NowMs();
  emu_.SetBadTokenErrcode(42001);
  EXPECT_EQ(Errcode(Post(kListIds, token, ListBody(now - kDayMs, now, 20, 0))), 0);
  emu_.ExpireTokenNow();
  EXPECT_EQ(Errcode(Post(kListIds, token, ListBody(now - kDayMs, now, 20, 0))), 42001);
  EXPECT_EQ(Errcode(Post(kGet, token, GetBody("x"))), 42001);
  const std::string renewed = Token();
  EXPECT_EQ(Errcode(Post(kGet, renewed, GetBody("x"))), kDingTalkErrNotFound);
}

TEST_F(DingTalkEmulatorTest, ListIdsPagesAndOmitsNextCursorOnLastPage) {
  const int64_t now = NowMs();
  emu_.Generate(45, now - 10 * kDayMs, now - kDayMs, 7);
  const std::string token = Token();
  std::vector<std::string> ids;
  std::vector<size_t> page_sizes;
  int64_t cursor = 0;
  for (int page = 0; page < 10; ++page) {
    auto res = Post(kListIds, token, ListBody(now - 11 * kDayMs, now, 20, cursor));
    ASSERT_EQ(Errcode(res), 0) << res->body;
    simdjson::dom::element result = Parse(res->body)["result"];
    simdjson::dom::array list = result["list"];
    page_sizes.push_back(list.size());
    for (simdjson::dom::element id : list) ids.emplace_back(std::string_view(id));
    if (!HasKey(result, "next_cursor")) break;
    const int64_t next = int64_t(result["next_cursor"]);
    EXPECT_EQ(next, cursor + static_cast<int64_t>(list.size()));
    cursor = next;
  }
  EXPECT_EQ(page_sizes, (std::vector<size_t>{20, 20, 5}));
  std::vector<std::string> expected;
  for (const DingTalkInstance& inst : emu_.Instances()) expected.push_back(inst.id);
  EXPECT_EQ(ids, expected) << "ordered by create time";
}

TEST_F(DingTalkEmulatorTest, ListIdsStopsAtTenThousandIds) {
  const int64_t now = NowMs();
  emu_.Generate(kDingTalkListMaxIds + 50, now - 2 * kDayMs, now - kDayMs, 5);
  const std::string token = Token();
  auto res = Post(kListIds, token, ListBody(now - 3 * kDayMs, now, 20, kDingTalkListMaxIds - 20));
  ASSERT_EQ(Errcode(res), 0);
  simdjson::dom::element result = Parse(res->body)["result"];
  EXPECT_EQ(simdjson::dom::array(result["list"]).size(), 20u);
  EXPECT_FALSE(HasKey(result, "next_cursor"));
  res = Post(kListIds, token, ListBody(now - 3 * kDayMs, now, 20, kDingTalkListMaxIds - 40));
  EXPECT_EQ(int64_t(Parse(res->body)["result"]["next_cursor"]), kDingTalkListMaxIds - 20);
}

TEST_F(DingTalkEmulatorTest, ListIdsWindowIsStartInclusiveEndExclusive) {
  const int64_t t = NowMs() - 5 * kDayMs;
  const std::string id = emu_.AddInstance(t);
  const std::string token = Token();
  auto res = Post(kListIds, token, ListBody(t, t + 1, 20, 0));
  ASSERT_EQ(Errcode(res), 0);
  simdjson::dom::array list = Parse(res->body)["result"]["list"];
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(std::string_view(list.at(0)), id);
  res = Post(kListIds, token, ListBody(t - 1000, t, 20, 0));
  ASSERT_EQ(Errcode(res), 0);
  EXPECT_EQ(simdjson::dom::array(Parse(res->body)["result"]["list"]).size(), 0u);
}

TEST_F(DingTalkEmulatorTest, ListIdsValidationErrors) {
  const std::string token = Token();
  const int64_t now = NowMs();

  auto res = Post(kListIds, token, ListBody(now - kDayMs, now, 21, 0));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  simdjson::dom::element root = Parse(res->body);
  EXPECT_EQ(int64_t(root["errcode"]), kDingTalkErrInvalidParam);
  EXPECT_EQ(std::string_view(root["errmsg"]), "size must be <= 20");

  res = Post(kListIds, token, ListBody(now - 366 * kDayMs, now - 300 * kDayMs, 20, 0));
  root = Parse(res->body);
  EXPECT_EQ(int64_t(root["errcode"]), kDingTalkErrInvalidParam);
  EXPECT_EQ(std::string_view(root["errmsg"]), "end time earlier than start time");

  res = Post(kListIds, token, ListBody(now - 130 * kDayMs, now, 20, 0));
  EXPECT_EQ(Errcode(res), kDingTalkErrInvalidParam);
  res = Post(kListIds, token, ListBody(now - 120 * kDayMs, now, 20, 0));
  EXPECT_EQ(Errcode(res), 0) << "exactly 120 days is allowed";

  res = Post(kListIds, token, ListBody(now - kDayMs, now, 20, 0, "PROC-NOPE"));
  EXPECT_EQ(Errcode(res), kDingTalkErrNotFound);
  res = Post(kListIds, token, "{not json");
  EXPECT_EQ(Errcode(res), kDingTalkErrInvalidParam);
}

TEST_F(DingTalkEmulatorTest, GetServesContractShape) {
  const int64_t now = NowMs();
  emu_.Generate(120, now - 20 * kDayMs, now, 3);
  const std::string token = Token();
  std::set<std::string> statuses;
  bool saw_comma = false;
  bool saw_nameless = false;
  bool saw_null_attachment = false;
  for (const DingTalkInstance& inst : emu_.Instances()) {
    auto res = Post(kGet, token, GetBody(inst.id));
    ASSERT_EQ(Errcode(res), 0);
    // Byte-identical to InstanceJson: the object sits between the key and the closing brace.
    const std::string marker = "\"process_instance\":";
    const size_t at = res->body.find(marker);
    ASSERT_NE(at, std::string::npos);
    EXPECT_EQ(res->body.substr(at + marker.size(), res->body.size() - at - marker.size() - 1),
              emu_.InstanceJson(inst.id));

    simdjson::dom::element pi = Parse(res->body)["process_instance"];
    EXPECT_FALSE(HasKey(pi, "process_instance_id"));
    const std::string status{std::string_view(pi["status"])};
    statuses.insert(status);
    EXPECT_EQ(status, inst.status);
    EXPECT_EQ(std::string_view(pi["business_id"]), inst.business_id);
    EXPECT_EQ(std::string_view(pi["originator_userid"]).empty(), false);
    EXPECT_EQ(std::string_view(pi["create_time"]).size(), 19u);  // YYYY-MM-DD HH:MM:SS
    if (status == "RUNNING") {
      EXPECT_FALSE(HasKey(pi, "finish_time"));
      EXPECT_EQ(std::string_view(pi["result"]), "");
    } else {
      EXPECT_TRUE(HasKey(pi, "finish_time"));
    }
    for (simdjson::dom::element c : simdjson::dom::array(pi["form_component_values"])) {
      ASSERT_TRUE(c["value"].is_string()) << "every value is a string";
      const std::string_view type(c["component_type"]);
      const std::string_view value(c["value"]);
      if (!HasKey(c, "name")) saw_nameless = true;
      if (type == "DDAttachment" && value == "null") saw_null_attachment = true;
      if (type == "MoneyField" && value.find(',') != std::string_view::npos) saw_comma = true;
      if (std::string_view(c["id"]) == "MoneyField_1A04") {
        EXPECT_EQ(value, inst.total_amount);
      }
      if (type == "TableField") {
        simdjson::dom::parser inner;
        simdjson::dom::array rows;
        ASSERT_EQ(inner.parse(std::string(value)).get(rows), simdjson::SUCCESS);
        EXPECT_GE(rows.size(), 1u);
        EXPECT_LE(rows.size(), 4u);
        for (simdjson::dom::element row : rows) {
          simdjson::dom::array cells = row["rowValue"];
          EXPECT_EQ(std::string_view(cells.at(0)["label"]), "金额");
        }
      }
    }
  }
  EXPECT_TRUE(statuses.contains("COMPLETED"));
  EXPECT_TRUE(statuses.contains("RUNNING"));
  EXPECT_TRUE(statuses.contains("TERMINATED"));
  EXPECT_TRUE(saw_comma);
  EXPECT_TRUE(saw_nameless);
  EXPECT_TRUE(saw_null_attachment);
  EXPECT_EQ(Errcode(Post(kGet, token, GetBody("no-such-id"))), kDingTalkErrNotFound);
}

TEST(DingTalkEmulatorDataTest, SameSeedSameData) {
  DingTalkEmulator a;
  DingTalkEmulator b;
  DingTalkEmulator c;
  a.Generate(50, 1'700'000'000'000, 1'702'000'000'000, 42);
  b.Generate(50, 1'700'000'000'000, 1'702'000'000'000, 42);
  c.Generate(50, 1'700'000'000'000, 1'702'000'000'000, 43);
  const auto ia = a.Instances();
  const auto ib = b.Instances();
  ASSERT_EQ(ia.size(), 50u);
  ASSERT_EQ(ia.size(), ib.size());
  for (size_t i = 0; i < ia.size(); ++i) {
    EXPECT_EQ(ia[i].id, ib[i].id);
    EXPECT_EQ(a.InstanceJson(ia[i].id), b.InstanceJson(ib[i].id));
    EXPECT_EQ(a.InstanceJson(ia[i].id), a.InstanceJson(ia[i].id));
  }
  EXPECT_NE(ia.front().id, c.Instances().front().id);
}

TEST(DingTalkEmulatorDataTest, MutationsChangeContentAndVersion) {
  DingTalkEmulator emu;
  const int64_t now = NowMs();
  const std::string running = emu.AddInstance(now - kDayMs, "RUNNING");
  const std::string before = emu.InstanceJson(running);
  EXPECT_EQ(before.find("finish_time"), std::string::npos);
  EXPECT_TRUE(emu.Complete(running, "agree"));
  EXPECT_FALSE(emu.Complete(running, "agree"));
  const std::string after = emu.InstanceJson(running);
  EXPECT_NE(after.find("finish_time"), std::string::npos);
  EXPECT_NE(after.find(R"("result":"agree")"), std::string::npos);

  EXPECT_TRUE(emu.Modify(running));
  EXPECT_NE(emu.InstanceJson(running), after);
  EXPECT_TRUE(emu.SetPayeeName(running, "\"quoted\"\n\x01 😀"));
  EXPECT_EQ(emu.Instances().front().version, 3);

  simdjson::dom::parser parser;
  simdjson::dom::element pi;
  ASSERT_EQ(parser.parse(emu.InstanceJson(running)).get(pi), simdjson::SUCCESS);
  bool found = false;
  for (simdjson::dom::element c : simdjson::dom::array(pi["form_component_values"])) {
    if (HasKey(c, "name") && std::string_view(c["name"]) == "收款人姓名") {
      EXPECT_EQ(std::string_view(c["value"]), "\"quoted\"\n\x01 😀");
      found = true;
    }
  }
  EXPECT_TRUE(found);

  const std::string revised = emu.Resubmit(running, "REVOKE");
  ASSERT_FALSE(revised.empty());
  EXPECT_NE(emu.InstanceJson(revised).find(R"("biz_action":"REVOKE")"), std::string::npos);
  EXPECT_NE(emu.InstanceJson(running).find(revised), std::string::npos);
  EXPECT_NE(emu.InstanceJson(running).find(R"("status":"TERMINATED")"), std::string::npos);
}

TEST_F(DingTalkEmulatorTest, ThrottleModes) {
  const std::string token = Token();
  const int64_t now = NowMs();
  emu_.ThrottleNext(2);
  for (int i = 0; i < 2; ++i) {
    auto res = Post(kListIds, token, ListBody(now - kDayMs, now, 20, 0));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    simdjson::dom::element root = Parse(res->body);
    EXPECT_EQ(int64_t(root["errcode"]), kDingTalkErrGateway);
    EXPECT_EQ(std::string_view(root["sub_code"]), "90002");
    EXPECT_NE(std::string_view(root["errmsg"]).find("subcode=90002"), std::string_view::npos);
  }
  EXPECT_EQ(Errcode(GetToken()), 0) << "gettoken is never faulted";
  EXPECT_EQ(Errcode(Post(kListIds, token, ListBody(now - kDayMs, now, 20, 0))), 0);
  emu_.ThrottleNext(1, 90018);
  EXPECT_EQ(Errcode(Post(kGet, token, GetBody("x"))), 90018);
  emu_.ThrottleNext(1, 90020);
  EXPECT_EQ(Errcode(Post(kGet, token, GetBody("x"))), 90020);
  EXPECT_EQ(Errcode(Post(kGet, token, GetBody("x"))), kDingTalkErrNotFound);
}

TEST_F(DingTalkEmulatorTest, Http5xxMode) {
  const std::string token = Token();
  emu_.Fail5xxNext(1);
  auto res = Post(kGet, token, GetBody("x"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 502);
  EXPECT_EQ(res->body.rfind("<html>", 0), 0u);
  EXPECT_EQ(Errcode(Post(kGet, token, GetBody("x"))), kDingTalkErrNotFound);
}

TEST_F(DingTalkEmulatorTest, IpBanModes) {
  const std::string token = Token();
  emu_.IpBanNext(1);
  auto res = Post(kGet, token, GetBody("x"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(res->body.find("errcode"), std::string::npos);
  simdjson::dom::element ignored;
  EXPECT_NE(parser_.parse(res->body).get(ignored), simdjson::SUCCESS);

  emu_.IpBanPunishJsonNext(1);
  res = Post(kGet, token, GetBody("x"));
  ASSERT_TRUE(res);
  simdjson::dom::element root = Parse(res->body);
  EXPECT_FALSE(HasKey(root, "errcode"));
  EXPECT_EQ(std::string_view(root["punish"]), "deny");

  emu_.IpBanForMs(200);
  EXPECT_EQ(Post(kGet, token, GetBody("x"))->body.rfind("<!DOCTYPE html>", 0), 0u);
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  EXPECT_EQ(Errcode(Post(kGet, token, GetBody("x"))), kDingTalkErrNotFound);
}

TEST_F(DingTalkEmulatorTest, MalformedOversizeAndDroppedFields) {
  const std::string id = emu_.AddInstance(NowMs() - kDayMs);
  const std::string token = Token();
  simdjson::dom::element root;

  emu_.MalformedNext(1);
  auto res = Post(kGet, token, GetBody(id));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(parser_.parse(res->body).get(root), simdjson::SUCCESS);

  emu_.OversizeNext(1, 1 << 20);
  res = Post(kGet, token, GetBody(id));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body.size(), size_t{1} << 20);
  EXPECT_EQ(int64_t(Parse(res->body)["errcode"]), 0);

  emu_.DropFieldNext(1, "create_time");
  res = Post(kGet, token, GetBody(id));
  EXPECT_FALSE(HasKey(Parse(res->body)["process_instance"], "create_time"));
  emu_.DropFieldNext(1, "process_instance");
  res = Post(kGet, token, GetBody(id));
  root = Parse(res->body);
  EXPECT_EQ(int64_t(root["errcode"]), 0);
  EXPECT_FALSE(HasKey(root, "process_instance"));
  EXPECT_TRUE(
      HasKey(Parse(Post(kGet, token, GetBody(id))->body)["process_instance"], "create_time"));
}

TEST_F(DingTalkEmulatorTest, MaxQpsAndStats) {
  const std::string token = Token();
  emu_.ResetStats();
  emu_.SetMaxQps(3);
  int throttled = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) {
    if (Errcode(Post(kGet, token, GetBody("x"))) == kDingTalkErrAppQps) ++throttled;
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  if (elapsed < std::chrono::milliseconds(900)) {
    EXPECT_GE(throttled, 4) << "10 calls span at most two one-second buckets";
  }
  EXPECT_EQ(emu_.RequestCount(std::string(kGet)), 10);
  EXPECT_EQ(emu_.RequestCount("/gettoken"), 0);
  EXPECT_GE(emu_.MaxRequestsInAnySecond(), 5);
  EXPECT_EQ(emu_.MaxRequestsInAnyWindowMs(60'000), 10);
  emu_.ResetStats();
  EXPECT_EQ(emu_.RequestCount(), 0);
  EXPECT_EQ(emu_.MaxRequestsInAnySecond(), 0);
}

TEST_F(DingTalkEmulatorTest, ConcurrentClientsAndLatency) {
  const int64_t now = NowMs();
  emu_.Generate(40, now - 5 * kDayMs, now, 11);
  const std::string token = Token();
  const std::vector<DingTalkInstance> instances = emu_.Instances();
  EXPECT_EQ(CountConcurrentOk(
                8, 20,
                [&](httplib::Client& cli, simdjson::dom::parser& parser, int t, int i) {
                  const std::string& id =
                      instances[static_cast<size_t>(t * 5 + i) % instances.size()].id;
                  auto res = cli.Post(fmt::format("{}?access_token={}", kGet, token).c_str(),
                                      GetBody(id), "application/json");
                  simdjson::dom::element root;
                  return res && res->status == 200 &&
                         parser.parse(res->body).get(root) == simdjson::SUCCESS &&
                         int64_t(root["errcode"]) == 0;
                }),
            160);

  emu_.SetLatencyMs(60);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Errcode(Post(kGet, token, GetBody(instances[0].id))), 0);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(60));
}

// ---------------------------------------------------------------------------------------------
// 单据编号

TEST(DingTalkEmulatorDataTest, BillNumberFieldFollowsDeptAndIsUniquePerSeed) {
  DingTalkEmulator a;
  DingTalkEmulator b;
  DingTalkEmulator c;
  a.Generate(400, 1'700'000'000'000, 1'702'000'000'000, 42);
  b.Generate(400, 1'700'000'000'000, 1'702'000'000'000, 42);
  c.Generate(400, 1'700'000'000'000, 1'702'000'000'000, 43);
  const std::string added = a.AddInstance(1'701'000'000'000);
  const auto ia = a.Instances();
  const auto ib = b.Instances();
  std::set<std::string> numbers;
  simdjson::dom::parser parser;
  for (const DingTalkInstance& inst : ia) {
    ASSERT_EQ(inst.bill_number.size(), 10u) << inst.bill_number;
    EXPECT_EQ(inst.bill_number.rfind("FKSQ", 0), 0u);
    EXPECT_EQ(inst.bill_number.find_first_not_of("0123456789", 4), std::string::npos);
    numbers.insert(inst.bill_number);
    simdjson::dom::element pi;
    ASSERT_EQ(parser.parse(a.InstanceJson(inst.id)).get(pi), simdjson::SUCCESS);
    simdjson::dom::array comps = pi["form_component_values"];
    EXPECT_EQ(std::string_view(comps.at(0)["name"]), "所属部门");
    simdjson::dom::element bill = comps.at(1);
    EXPECT_EQ(std::string_view(bill["name"]), "单据编号");
    EXPECT_EQ(std::string_view(bill["component_type"]), "TextField");
    EXPECT_EQ(std::string_view(bill["id"]), "TextField_1A15");
    EXPECT_EQ(std::string_view(bill["value"]), inst.bill_number);
  }
  EXPECT_EQ(numbers.size(), ia.size()) << "unique";
  EXPECT_TRUE(std::any_of(ia.begin(), ia.end(), [&](const DingTalkInstance& inst) {
    return inst.id == added && !inst.bill_number.empty();
  }));
  ASSERT_EQ(ib.size() + 1, ia.size());
  std::map<std::string, std::string> a_numbers;
  for (const DingTalkInstance& inst : ia) a_numbers[inst.id] = inst.bill_number;
  size_t differ = 0;
  const auto ic = c.Instances();
  for (size_t i = 0; i < ib.size(); ++i) {
    EXPECT_EQ(a_numbers[ib[i].id], ib[i].bill_number) << "same seed, same numbers";
    if (ic[i].bill_number != ib[i].bill_number) ++differ;
  }
  EXPECT_GT(differ, ib.size() / 2) << "another seed, other numbers";

  const std::string id = ia.front().id;
  const int version = ia.front().version;
  EXPECT_TRUE(a.SetBillNumber(id, "FKSQ000001"));
  EXPECT_FALSE(a.SetBillNumber("no-such-id", "FKSQ000002"));
  EXPECT_EQ(a.Instances().front().bill_number, "FKSQ000001");
  EXPECT_EQ(a.Instances().front().version, version + 1);
  EXPECT_NE(
      a.InstanceJson(id).find(
          R"({"name":"单据编号","id":"TextField_1A15","component_type":"TextField","value":"FKSQ000001"})"),
      std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Yida

constexpr std::string_view kYidaStart = "/v1.0/yida/processes/instances/start";
constexpr std::string_view kYidaInstances = "/v1.0/yida/processes/instances";
constexpr std::string_view kYidaTerminate = "/v1.0/yida/processes/instances/terminate";

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

std::string StartBody(std::string_view form_data_json_value,
                      std::string_view system_token = "demo-system-token",
                      std::string_view app_type = "APP_DEMO") {
  return fmt::format(
      R"({{"appType":"{}","systemToken":"{}","userId":"manager7","language":"zh_CN",)"
      R"("formUuid":"FORM-DEMO","processCode":"TPROC--DEMO","formDataJson":{}}})",
      app_type, system_token, form_data_json_value);
}

std::string UpdateBody(std::string_view id, std::string_view update_json) {
  return fmt::format(
      R"({{"processInstanceId":"{}","appType":"APP_DEMO","systemToken":"demo-system-token",)"
      R"("userId":"manager7","language":"zh_CN","updateFormDataJson":{}}})",
      id, Quote(update_json));
}

std::string SearchBody(std::string_view search_json, std::string_view status = "") {
  std::string body =
      fmt::format(R"({{"appType":"APP_DEMO","systemToken":"demo-system-token","userId":"manager7",)"
                  R"("language":"zh_CN","formUuid":"FORM-DEMO","searchFieldJson":{})",
                  Quote(search_json));
  if (!status.empty()) body += fmt::format(R"(,"instanceStatus":"{}")", status);
  return body + "}";
}

std::string IdBody(std::string_view id) {
  return fmt::format(
      R"({{"processInstanceId":"{}","appType":"APP_DEMO","systemToken":"demo-system-token",)"
      R"("userId":"manager7"}})",
      id);
}

class YidaEmulatorTest : public DingTalkEmulatorTest {
 protected:
  void SetUp() override {
    DingTalkEmulatorTest::SetUp();
    token_ = Token();
    ASSERT_FALSE(token_.empty());
  }

  httplib::Headers Auth() const { return {{"x-acs-dingtalk-access-token", token_}}; }

  httplib::Result Start(const std::string& form_data_json) {
    return client_->Post(std::string(kYidaStart).c_str(), Auth(), StartBody(Quote(form_data_json)),
                         "application/json");
  }
  httplib::Result Update(std::string_view id, std::string_view update_json) {
    return client_->Put(std::string(kYidaInstances).c_str(), Auth(), UpdateBody(id, update_json),
                        "application/json");
  }
  httplib::Result Search(std::string_view search_json, int page = 1, int size = 10,
                         std::string_view status = "") {
    return client_->Post(
        fmt::format("{}?pageNumber={}&pageSize={}", kYidaInstances, page, size).c_str(), Auth(),
        SearchBody(search_json, status), "application/json");
  }
  httplib::Result Delete(std::string_view id) {
    return client_->Delete(
        fmt::format("{}?processInstanceId={}&appType=APP_DEMO&systemToken=demo-system-token"
                    "&userId=manager7",
                    kYidaInstances, id)
            .c_str(),
        Auth());
  }
  httplib::Result Terminate(std::string_view id) {
    return client_->Put(std::string(kYidaTerminate).c_str(), Auth(), IdBody(id),
                        "application/json");
  }

  // The new instance id of a successful start, "" otherwise.
  std::string StartedId(const httplib::Result& res) {
    if (!res || res->status != 200) return "";
    return std::string(std::string_view(Parse(res->body)["result"]));
  }

  // {status, code} of an error answer; code "" when the body has none.
  std::pair<int, std::string> Error(const httplib::Result& res) {
    if (!res) return {-1, ""};
    simdjson::dom::element root;
    std::string_view code;
    if (parser_.parse(res->body).get(root) != simdjson::SUCCESS ||
        root["code"].get_string().get(code) != simdjson::SUCCESS) {
      return {res->status, ""};
    }
    EXPECT_TRUE(HasKey(root, "message"));
    EXPECT_TRUE(HasKey(root, "requestid"));
    return {res->status, std::string(code)};
  }

  int64_t SearchTotal(std::string_view search_json) {
    auto res = Search(search_json);
    if (!res || res->status != 200) return -1;
    return int64_t(Parse(res->body)["totalCount"]);
  }

  std::string token_;
};

TEST_F(YidaEmulatorTest, RequiresTheOapiTokenInTheHeader) {
  const std::string body = StartBody(Quote(R"({"textField_src":"P-1"})"));
  auto res = client_->Post(std::string(kYidaStart).c_str(), body, "application/json");
  EXPECT_EQ(Error(res), std::make_pair(400, std::string(kYidaErrInvalidAuth)));
  res = client_->Post(std::string(kYidaStart).c_str(),
                      {{"x-acs-dingtalk-access-token", "deadbeef"}}, body, "application/json");
  EXPECT_EQ(Error(res), std::make_pair(400, std::string(kYidaErrInvalidAuth)));
  // The oapi query parameter is not accepted in place of the header.
  res = client_->Post(fmt::format("{}?access_token={}", kYidaStart, token_).c_str(), body,
                      "application/json");
  EXPECT_EQ(Error(res), std::make_pair(400, std::string(kYidaErrInvalidAuth)));

  emu_.ExpireTokenNow();
  EXPECT_EQ(Error(Start(R"({"textField_src":"P-1"})")),
            std::make_pair(400, std::string(kYidaErrInvalidAuth)));
  token_ = Token();
  EXPECT_FALSE(StartedId(Start(R"({"textField_src":"P-1"})")).empty());

  res = client_->Post(std::string(kYidaStart).c_str(), Auth(),
                      StartBody(Quote("{}"), "wrong-token"), "application/json");
  EXPECT_EQ(Error(res), std::make_pair(400, std::string(kYidaErrBadApp)));
  res = client_->Post(std::string(kYidaStart).c_str(), Auth(),
                      StartBody(Quote("{}"), "demo-system-token", "APP_OTHER"), "application/json");
  EXPECT_EQ(Error(res), std::make_pair(400, std::string(kYidaErrBadApp)));
  res = client_->Post(std::string(kYidaInstances).c_str(), Auth(), R"({"appType":"APP_DEMO"})",
                      "application/json");
  EXPECT_EQ(Error(res), std::make_pair(400, std::string("MissingsystemToken")));
  EXPECT_EQ(emu_.YidaCreatedCount(), 1);
  EXPECT_EQ(emu_.YidaRequestCount("start"), 7);
  EXPECT_EQ(emu_.YidaRequestCount("search"), 1);
}

TEST_F(YidaEmulatorTest, StartUpdateSearchTerminateDelete) {
  auto res = Start(R"({"textField_src":"P-001","numberField_amt":12.5,"employeeField_u":["u1"]})");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  const std::string id = StartedId(res);
  ASSERT_EQ(id.size(), 36u) << "uuid";
  const std::string other = StartedId(Start(R"({"textField_src":"P-002"})"));
  const std::string third = StartedId(Start(R"({"textField_src":"P-003"})"));
  ASSERT_FALSE(other.empty());
  ASSERT_FALSE(third.empty());
  EXPECT_EQ(emu_.YidaCreatedCount(), 3);

  std::vector<YidaInstance> all = emu_.YidaInstances();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].id, id);
  EXPECT_EQ(all[0].form_uuid, "FORM-DEMO");
  EXPECT_EQ(all[0].status, "RUNNING");
  EXPECT_EQ(all[0].version, 1);
  EXPECT_EQ(all[0].form_data_json,
            R"({"textField_src":"P-001","numberField_amt":12.5,"employeeField_u":["u1"]})");

  res = Update(id, R"({"numberField_amt":99,"textField_new":"x"})");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "{}");
  all = emu_.YidaInstances();
  EXPECT_EQ(
      all[0].form_data_json,
      R"({"textField_src":"P-001","numberField_amt":99,"employeeField_u":["u1"],"textField_new":"x"})");
  EXPECT_EQ(all[0].version, 2);
  EXPECT_EQ(Error(Update("no-such-id", "{}")), std::make_pair(400, std::string(kYidaErrNotFound)));

  res = Search(R"({"textField_src":"P-001"})");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  simdjson::dom::element root = Parse(res->body);
  EXPECT_EQ(int64_t(root["totalCount"]), 1);
  EXPECT_EQ(int64_t(root["pageNumber"]), 1);
  simdjson::dom::element hit = simdjson::dom::array(root["data"]).at(0);
  EXPECT_EQ(std::string_view(hit["processInstanceId"]), id);
  EXPECT_EQ(std::string_view(hit["instanceStatus"]), "RUNNING");
  EXPECT_EQ(std::string_view(hit["title"]), "manager7发起的流程");
  EXPECT_EQ(int64_t(hit["version"]), 2);
  EXPECT_EQ(std::string_view(hit["formData"]["textField_src"]), "P-001");
  EXPECT_EQ(int64_t(hit["data"]["numberField_amt"]), 99);
  EXPECT_EQ(std::string_view(hit["createTimeGMT"]).size(), 17u);  // 2024-01-02T03:04Z

  EXPECT_EQ(SearchTotal(R"({"textField_src":"P-00"})"), 0) << "exact match by default";
  EXPECT_EQ(SearchTotal(R"({"textField_src":"P-001","textField_new":"y"})"), 0);
  EXPECT_EQ(SearchTotal(R"({"numberField_amt":99})"), 1);
  EXPECT_EQ(SearchTotal("{}"), 3);
  emu_.SetYidaSearchTextContains(true);
  EXPECT_EQ(SearchTotal(R"({"textField_src":"P-00"})"), 3);
  emu_.SetYidaSearchTextContains(false);

  // Paging, newest first.
  res = Search("{}", 1, 2);
  root = Parse(res->body);
  EXPECT_EQ(int64_t(root["totalCount"]), 3);
  simdjson::dom::array page = root["data"];
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(std::string_view(page.at(0)["processInstanceId"]), third);
  EXPECT_EQ(std::string_view(page.at(1)["processInstanceId"]), other);
  res = Search("{}", 2, 2);
  root = Parse(res->body);
  EXPECT_EQ(int64_t(root["pageNumber"]), 2);
  ASSERT_EQ(simdjson::dom::array(root["data"]).size(), 1u);
  EXPECT_EQ(std::string_view(simdjson::dom::array(root["data"]).at(0)["processInstanceId"]), id);
  EXPECT_EQ(Error(Search("{}", 1, kYidaMaxPageSize + 1)),
            std::make_pair(400, std::string(kYidaErrInvalidParam)));

  emu_.SetYidaSearchDataKey("data");
  hit = simdjson::dom::array(Parse(Search(R"({"textField_src":"P-001"})")->body)["data"]).at(0);
  EXPECT_FALSE(HasKey(hit, "formData"));
  EXPECT_TRUE(HasKey(hit, "data"));
  emu_.SetYidaSearchDataKey("both");

  res = Terminate(other);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(Error(Terminate(other)), std::make_pair(400, std::string(kYidaErrStatusChanged)));
  res = Search("{}", 1, 10, "TERMINATED");
  root = Parse(res->body);
  EXPECT_EQ(int64_t(root["totalCount"]), 1);
  EXPECT_EQ(std::string_view(simdjson::dom::array(root["data"]).at(0)["processInstanceId"]), other);
  EXPECT_EQ(std::string_view(simdjson::dom::array(root["data"]).at(0)["instanceStatus"]),
            "TERMINATED");
  EXPECT_EQ(Parse(Search("{}", 1, 10, "RUNNING")->body)["totalCount"].get_int64().value(), 2);

  res = Delete(third);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(Error(Delete(third)), std::make_pair(400, std::string(kYidaErrNotFound)));
  EXPECT_EQ(Error(Update(third, "{}")), std::make_pair(400, std::string(kYidaErrNotFound)));
  all = emu_.YidaInstances();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].status, "TERMINATED");
  EXPECT_EQ(emu_.YidaCreatedCount(), 3);

  EXPECT_EQ(emu_.YidaRequestCount("start"), 3);
  EXPECT_EQ(emu_.YidaRequestCount("update"), 3);
  EXPECT_EQ(emu_.YidaRequestCount("terminate"), 2);
  EXPECT_EQ(emu_.YidaRequestCount("delete"), 2);
  EXPECT_EQ(emu_.YidaRequestCount("search"), 12);
  EXPECT_EQ(emu_.RequestCount("/v1.0/yida/"), 22);
  emu_.ResetStats();
  EXPECT_EQ(emu_.YidaRequestCount("search"), 0);

  const std::string seeded = emu_.YidaAddInstance(R"({"textField_src":"P-009"})", "COMPLETED");
  ASSERT_FALSE(seeded.empty());
  EXPECT_EQ(SearchTotal(R"({"textField_src":"P-009"})"), 1);
  EXPECT_EQ(emu_.YidaCreatedCount(), 3);
  EXPECT_TRUE(emu_.YidaAddInstance("[1]").empty());
  emu_.YidaClear();
  EXPECT_TRUE(emu_.YidaInstances().empty());
  EXPECT_EQ(emu_.YidaCreatedCount(), 0);
}

TEST_F(YidaEmulatorTest, FormDataJsonMustBeAStringHoldingAnObject) {
  auto res = client_->Post(std::string(kYidaStart).c_str(), Auth(),
                           StartBody(R"({"textField_src":"P-1"})"), "application/json");
  EXPECT_EQ(Error(res), std::make_pair(400, std::string(kYidaErrInvalidParam)));
  res = client_->Post(std::string(kYidaStart).c_str(), Auth(), StartBody("42"), "application/json");
  EXPECT_EQ(Error(res), std::make_pair(400, std::string(kYidaErrInvalidParam)));
  EXPECT_EQ(Error(Start("[1,2]")), std::make_pair(400, std::string(kYidaErrInvalidParam)));
  EXPECT_EQ(Error(Start("{not json")), std::make_pair(400, std::string(kYidaErrInvalidParam)));
  res = client_->Post(std::string(kYidaStart).c_str(), Auth(),
                      R"({"appType":"APP_DEMO","systemToken":"demo-system-token","userId":"u",)"
                      R"("formUuid":"FORM-DEMO","processCode":"TPROC--DEMO"})",
                      "application/json");
  EXPECT_EQ(Error(res), std::make_pair(400, std::string("MissingformDataJson")));
  res = client_->Post(std::string(kYidaStart).c_str(), Auth(), "{not json", "application/json");
  EXPECT_EQ(Error(res), std::make_pair(400, std::string(kYidaErrInvalidParam)));
  std::string wrong_form = StartBody(Quote("{}"));
  wrong_form.replace(wrong_form.find("FORM-DEMO"), 9, "FORM-NOPE");
  res = client_->Post(std::string(kYidaStart).c_str(), Auth(), wrong_form, "application/json");
  EXPECT_EQ(Error(res), std::make_pair(400, std::string(kYidaErrFormNotFound)));
  // A non-string updateFormDataJson is refused the same way.
  const std::string id = StartedId(Start(R"({"a":1})"));
  ASSERT_FALSE(id.empty());
  std::string update = UpdateBody(id, "{}");
  update.replace(update.find(R"("{}")"), 4, R"({"a":2})");
  res = client_->Put(std::string(kYidaInstances).c_str(), Auth(), update, "application/json");
  EXPECT_EQ(Error(res), std::make_pair(400, std::string(kYidaErrInvalidParam)));
  EXPECT_EQ(emu_.YidaCreatedCount(), 1);
  EXPECT_EQ(emu_.YidaInstances().front().form_data_json, R"({"a":1})");
}

TEST_F(YidaEmulatorTest, ThrottleTooFastAnd5xx) {
  emu_.YidaThrottleNext(2);
  EXPECT_EQ(Error(Start(R"({"k":"1"})")), std::make_pair(403, std::string(kYidaErrQps)));
  EXPECT_EQ(Error(Search("{}")), std::make_pair(403, std::string(kYidaErrQps)));
  const int64_t now = NowMs();
  EXPECT_EQ(Errcode(Post(kListIds, token_, ListBody(now - kDayMs, now, 20, 0))), 0)
      << "Yida faults never touch oapi";
  EXPECT_FALSE(StartedId(Start(R"({"k":"1"})")).empty());

  emu_.YidaTooFastNext(1);
  EXPECT_EQ(Error(Start(R"({"k":"2"})")), std::make_pair(400, std::string(kYidaErrTooFast)));
  EXPECT_FALSE(StartedId(Start(R"({"k":"2"})")).empty());

  emu_.YidaFail5xxNext(1);
  auto res = Start(R"({"k":"3"})");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 502);
  EXPECT_EQ(res->body.rfind("<html>", 0), 0u);
  EXPECT_EQ(emu_.YidaCreatedCount(), 2) << "nothing performed behind a fault";

  emu_.ThrottleNext(1);
  EXPECT_EQ(Search("{}")->status, 200) << "oapi faults never touch Yida";

  emu_.SetYidaMaxQps(2);
  int throttled = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 8; ++i) {
    if (Error(Search("{}")).second == kYidaErrQps) ++throttled;
  }
  if (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(900)) {
    EXPECT_GE(throttled, 4) << "8 calls span at most two one-second buckets";
  }
  EXPECT_EQ(emu_.YidaRequestCount("search"), 10);
}

TEST_F(YidaEmulatorTest, DropResponseAfterCommit) {
  emu_.YidaDropResponseAfterCommitNext(1);
  auto res = Start(R"({"textField_src":"P-7"})");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 502);
  EXPECT_EQ(res->body.rfind("<html>", 0), 0u);
  EXPECT_EQ(emu_.YidaCreatedCount(), 1) << "performed although the client saw a 502";
  EXPECT_EQ(SearchTotal(R"({"textField_src":"P-7"})"), 1);
  // A blind retry duplicates the instance, as the real API does.
  const std::string retried = StartedId(Start(R"({"textField_src":"P-7"})"));
  EXPECT_FALSE(retried.empty());
  EXPECT_EQ(SearchTotal(R"({"textField_src":"P-7"})"), 2);

  emu_.SetYidaDropResponseAfterCommit(true);
  EXPECT_EQ(Update(retried, R"({"textField_x":"v"})")->status, 502);
  EXPECT_EQ(Start("{}")->status, 502);
  EXPECT_EQ(Error(Update("no-such-id", "{}")), std::make_pair(400, std::string(kYidaErrNotFound)))
      << "only writes that succeed are dropped";
  EXPECT_EQ(Search("{}")->status, 200) << "reads are never dropped";
  emu_.SetYidaDropResponseAfterCommit(false);
  EXPECT_EQ(emu_.YidaCreatedCount(), 3);
  EXPECT_EQ(SearchTotal(R"({"textField_x":"v"})"), 1) << "the dropped update was applied";
  EXPECT_EQ(Start("{}")->status, 200);
}

TEST_F(YidaEmulatorTest, SearchLagHidesNewInstances) {
  emu_.SetYidaSearchLagMs(300);
  const std::string id = StartedId(Start(R"({"textField_src":"P-lag"})"));
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(SearchTotal(R"({"textField_src":"P-lag"})"), 0);
  EXPECT_EQ(emu_.YidaInstances().size(), 1u);
  EXPECT_EQ(Update(id, R"({"textField_b":"1"})")->status, 200) << "update sees it at once";
  std::this_thread::sleep_for(std::chrono::milliseconds(350));
  EXPECT_EQ(SearchTotal(R"({"textField_src":"P-lag"})"), 1);

  StartedId(Start(R"({"textField_src":"P-lag2"})"));
  EXPECT_EQ(SearchTotal(R"({"textField_src":"P-lag2"})"), 0);
  emu_.AdvanceClockMs(301);
  EXPECT_EQ(SearchTotal(R"({"textField_src":"P-lag2"})"), 1) << "the emulator clock drives it";
}

}  // namespace
}  // namespace stagesync::emulators
