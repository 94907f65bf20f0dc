// Talks to KingdeeEmulator over real HTTP and checks it against doc/vendors/kingdee.md.
#include "emulators/kingdee_emulator.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <simdjson.h>

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "testing/emulator_test.h"

namespace stagesync::emulators {
namespace {

constexpr std::string_view kStub = "/k3cloud/Kingdee.BOS.WebApi.ServicesStub.";
const std::string kValidateUser = fmt::format("{}AuthService.ValidateUser.common.kdsvc", kStub);
const std::string kLoginByAppSecret =
    fmt::format("{}AuthService.LoginByAppSecret.common.kdsvc", kStub);
const std::string kQuery = fmt::format("{}DynamicFormService.ExecuteBillQuery.common.kdsvc", kStub);
const std::string kSave = fmt::format("{}DynamicFormService.Save.common.kdsvc", kStub);
const std::string kPush = fmt::format("{}DynamicFormService.Push.common.kdsvc", kStub);
constexpr std::string_view kBom = "\xEF\xBB\xBF";

KingdeeMaterial Mat(int64_t id, std::string number, std::string name, std::string org = "T00") {
  KingdeeMaterial m;
  m.master_id = id;
  m.number = std::move(number);
  m.name = std::move(name);
  m.use_org = std::move(org);
  return m;
}

// A cell as text: strings as is, integers in decimal, null as "null".
std::string Cell(simdjson::dom::element e) {
  if (e.is_string()) return std::string(std::string_view(e));
  if (e.is_int64()) return std::to_string(int64_t(e));
  if (e.is_null()) return "null";
  return simdjson::minify(e);
}

std::string QueryBody(std::string_view form, std::string_view keys, std::string_view filter = "",
                      std::string_view order = "", int start = 0, int limit = 0) {
  std::string escaped;
  for (char c : filter) {
    if (c == '"' || c == '\\') escaped.push_back('\\');
    escaped.push_back(c);
  }
  return fmt::format(
      R"({{"data":{{"FormId":"{}","FieldKeys":"{}","FilterString":"{}","OrderString":"{}",)"
      R"("TopRowCount":0,"StartRow":{},"Limit":{},"SubSystemId":""}}}})",
      form, keys, escaped, order, start, limit);
}

class KingdeeEmulatorTest : public EmulatorTest<KingdeeEmulator> {
 protected:
  httplib::Result Post(const std::string& path, const std::string& body,
                       const httplib::Headers& headers = {}) {
    return client_->Post(path.c_str(), headers, body, "application/json;charset=utf-8");
  }

  // Logs in with ValidateUser and keeps both cookies for Call().
  void Login() {
    auto res = Post(kValidateUser, R"({"parameters":["demo-acct","api","demo-pass",2052]})");
    ASSERT_TRUE(res);
    std::string cookie;
    const auto range = res->headers.equal_range("Set-Cookie");
    for (auto it = range.first; it != range.second; ++it) {
      if (!cookie.empty()) cookie += "; ";
      cookie += it->second.substr(0, it->second.find(';'));
    }
    cookie_ = cookie;
  }

  httplib::Result Call(const std::string& path, const std::string& body) {
    return Post(path, body, {{"Cookie", cookie_}});
  }

  // Valid until the next Parse call. Strips a leading BOM.
  simdjson::dom::element Parse(std::string_view body) {
    if (body.starts_with(kBom)) body.remove_prefix(kBom.size());
    simdjson::dom::element root;
    EXPECT_EQ(parser_.parse(std::string(body)).get(root), simdjson::SUCCESS) << body;
    return root;
  }

  // Rows of a successful ExecuteBillQuery as text cells; fails the test on an error envelope.
  std::vector<std::vector<std::string>> Rows(const httplib::Result& res) {
    std::vector<std::vector<std::string>> out;
    EXPECT_TRUE(res);
    if (!res) return out;
    EXPECT_EQ(res->status, 200);
    simdjson::dom::array rows;
    EXPECT_EQ(Parse(res->body).get_array().get(rows), simdjson::SUCCESS) << res->body;
    for (simdjson::dom::element row : rows) {
      EXPECT_TRUE(row.is_array()) << res->body;
      if (!row.is_array()) return {};
      std::vector<std::string> cells;
      for (simdjson::dom::element c : simdjson::dom::array(row)) {
        EXPECT_FALSE(c.is_object()) << "error envelope: " << res->body;
        cells.push_back(Cell(c));
      }
      out.push_back(std::move(cells));
    }
    return out;
  }

  std::vector<std::string> Column(const httplib::Result& res, size_t col = 0) {
    std::vector<std::string> out;
    for (const auto& row : Rows(res)) out.push_back(row.at(col));
    return out;
  }

  // The ResponseStatus of an error envelope, unwrapping [[...]] when `wrapped`.
  simdjson::dom::element Status(const httplib::Result& res, bool wrapped) {
    EXPECT_TRUE(res);
    simdjson::dom::element root = Parse(res->body);
    if (wrapped) {
      EXPECT_TRUE(root.is_array()) << res->body;
      root = root.at(0).at(0);
    }
    return root["Result"]["ResponseStatus"];
  }

  int64_t MsgCode(const httplib::Result& res, bool wrapped) {
    return int64_t(Status(res, wrapped)["MsgCode"]);
  }

  std::string cookie_;
};

TEST_F(KingdeeEmulatorTest, BusyPortFailsAndRestartWorks) {
  KingdeeEmulator other;
  ASSERT_NO_FATAL_FAILURE(StartBesideAndRestart(other));
  httplib::Client cli("127.0.0.1", other.port());
  auto res = cli.Post(kValidateUser.c_str(),
                      R"({"parameters":["demo-acct","api","demo-pass",2052]})", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  res = cli.Post("/k3cloud/Nope.common.kdsvc", "{}", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
}

TEST_F(KingdeeEmulatorTest, ValidateUserSetsCookiesAndSessionWorks) {
  auto res = Post(kValidateUser, R"({"parameters":["demo-acct","api","demo-pass",2052]})");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  simdjson::dom::element root = Parse(res->body);
  EXPECT_EQ(int64_t(root["LoginResultType"]), 1);
  EXPECT_TRUE(root["Message"].is_null());
  EXPECT_EQ(std::string_view(root["MessageCode"]), "CheckPasswordPolicy");
  EXPECT_TRUE(bool(root["IsSuccessByAPI"]));
  EXPECT_EQ(int64_t(root["Context"]["UserId"]), 16394);
  EXPECT_EQ(std::string_view(root["Context"]["UserName"]), "api");
  const std::string kd_id{std::string_view(root["KDSVCSessionId"])};
  const std::string aspnet_id{std::string_view(root["Context"]["SessionId"])};
  EXPECT_EQ(kd_id.size(), 36u);
  EXPECT_EQ(aspnet_id.size(), 24u);

  std::set<std::string> cookies;
  const auto range = res->headers.equal_range("Set-Cookie");
  for (auto it = range.first; it != range.second; ++it) cookies.insert(it->second);
  EXPECT_TRUE(cookies.contains(fmt::format("kdservice-sessionid={}; path=/", kd_id)));
  EXPECT_TRUE(cookies.contains(fmt::format("ASP.NET_SessionId={}; path=/; HttpOnly", aspnet_id)));
  EXPECT_EQ(emu_.LoginCount(), 1);

  emu_.GenerateMaterials(3, 1);
  const std::string q = QueryBody("BD_MATERIAL", "FNumber");
  EXPECT_EQ(Rows(Post(kQuery, q, {{"Cookie", "kdservice-sessionid=" + kd_id}})).size(), 3u);
  EXPECT_EQ(Rows(Post(kQuery, q, {{"kdservice-sessionid", kd_id}})).size(), 3u);
  EXPECT_EQ(Rows(Post(kQuery, q, {{"Cookie", "ASP.NET_SessionId=" + aspnet_id}})).size(), 3u);
  EXPECT_EQ(MsgCode(Post(kQuery, q, {{"Cookie", "kdservice-sessionid=forged"}}), true), 1);

  // A second login opens a second session; the first stays valid.
  Login();
  EXPECT_EQ(Rows(Call(kQuery, q)).size(), 3u);
  EXPECT_EQ(Rows(Post(kQuery, q, {{"kdservice-sessionid", kd_id}})).size(), 3u);
}

TEST_F(KingdeeEmulatorTest, BadCredentialsAnswerLoginResultTypeZero) {
  auto res = Post(kValidateUser, R"({"parameters":["demo-acct","api","wrong",2052]})");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  simdjson::dom::element root = Parse(res->body);
  EXPECT_EQ(int64_t(root["LoginResultType"]), 0);
  EXPECT_EQ(std::string_view(root["Message"]), "用户名或密码错误！");
  EXPECT_TRUE(root["Context"].is_null());
  EXPECT_FALSE(res->has_header("Set-Cookie"));

  root =
      Parse(Post(kValidateUser, R"({"parameters":["other-acct","api","demo-pass",2052]})")->body);
  EXPECT_EQ(int64_t(root["LoginResultType"]), 0);
  EXPECT_EQ(std::string_view(root["Message"]), kKingdeeSessionLostMessage);

  root =
      Parse(Post(kLoginByAppSecret, R"({"parameters":["demo-acct","api","demo-app","nope",2052]})")
                ->body);
  EXPECT_EQ(int64_t(root["LoginResultType"]), 0);
  EXPECT_EQ(emu_.LoginCount(), 3);
}

TEST_F(KingdeeEmulatorTest, LoginByAppSecretPositionalAndNamed) {
  emu_.GenerateMaterials(2, 1);
  for (const std::string_view body :
       {R"({"parameters":["demo-acct","api","demo-app","demo-app-secret",2052]})",
        R"({"acctID":"demo-acct","username":"api","appId":"demo-app",)"
        R"("appSecret":"demo-app-secret","lcid":2052})"}) {
    auto res = Post(kLoginByAppSecret, std::string(body));
    ASSERT_TRUE(res);
    simdjson::dom::element root = Parse(res->body);
    ASSERT_EQ(int64_t(root["LoginResultType"]), 1) << res->body;
    const std::string kd_id{std::string_view(root["KDSVCSessionId"])};
    EXPECT_EQ(
        Rows(Post(kQuery, QueryBody("BD_MATERIAL", "FNumber"), {{"kdservice-sessionid", kd_id}}))
            .size(),
        2u);
  }
}

TEST_F(KingdeeEmulatorTest, HeaderSignatureModeNeedsNoLogin) {
  emu_.GenerateMaterials(2, 1);
  httplib::Headers headers = {
      {"X-Api-ClientID", "demo"},
      {"X-Api-Auth-Version", "2.0"},
      {"x-api-timestamp", "1700000000000"},
      {"x-api-nonce", "1700000000000"},
      {"x-api-signheaders", "x-api-timestamp,x-api-nonce"},
      {"X-Api-Signature", "c2lnbmF0dXJl"},
      {"X-Kd-Appkey", "demo-app"},
      {"X-Kd-Appdata", "ZGVtby1hY2N0LGFwaSwyMDUyLDEwMA=="},  // demo-acct,api,2052,100
      {"X-Kd-Signature", "c2lnbmF0dXJl"},
  };
  EXPECT_EQ(Rows(Post(kQuery, QueryBody("BD_MATERIAL", "FNumber"), headers)).size(), 2u);
  headers.erase("X-Kd-Appkey");
  headers.emplace("X-Kd-Appkey", "someone-else");
  EXPECT_EQ(MsgCode(Post(kQuery, QueryBody("BD_MATERIAL", "FNumber"), headers), true), 1);
  EXPECT_EQ(emu_.LoginCount(), 0);
}

TEST_F(KingdeeEmulatorTest, SessionLossAnswersMsgCodeOne) {
  emu_.GenerateMaterials(5, 1);
  emu_.AddPayApply("FKSQ000001");
  const std::string q = QueryBody("BD_MATERIAL", "FNumber");
  const std::string push =
      R"({"formid":"CN_PAYAPPLY","data":{"Numbers":["FKSQ000001"],"RuleId":"CN_PAYAPPLYTOPAYBILL"}})";

  // No session at all: the exact envelope, [[...]]-wrapped for ExecuteBillQuery only.
  auto res = Post(kQuery, q);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body,
            R"([[{"Result":{"ResponseStatus":{"ErrorCode":500,"IsSuccess":false,"Errors":[)"
            R"({"FieldName":null,"Message":"会话信息已丢失，请重新登录","DIndex":0}],)"
            R"("SuccessEntitys":[],"SuccessMessages":[],"MsgCode":1}}}]])");
  res = Post(kPush, push);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body,
            R"({"Result":{"ResponseStatus":{"ErrorCode":500,"IsSuccess":false,"Errors":[)"
            R"({"FieldName":null,"Message":"会话信息已丢失，请重新登录","DIndex":0}],)"
            R"("SuccessEntitys":[],"SuccessMessages":[],"MsgCode":1}}})");
  EXPECT_EQ(emu_.PushCount(), 0);
  EXPECT_TRUE(emu_.PayBills().empty());

  Login();
  EXPECT_EQ(Rows(Call(kQuery, q)).size(), 5u);
  emu_.ExpireSessionNow();
  EXPECT_EQ(MsgCode(Call(kQuery, q), true), 1);
  EXPECT_EQ(std::string_view(
                Status(Call(kSave, R"({"formid":"X","data":{"Model":{}}})"), false)["Errors"].at(
                    0)["Message"]),
            kKingdeeSessionLostMessage);

  // A session serves N business calls, then is lost; logins do not count.
  emu_.SetSessionExpiresAfterCalls(2);
  Login();
  EXPECT_EQ(Rows(Call(kQuery, q)).size(), 5u);
  EXPECT_EQ(Rows(Call(kQuery, q)).size(), 5u);
  EXPECT_EQ(MsgCode(Call(kQuery, q), true), 1);
  EXPECT_EQ(MsgCode(Call(kQuery, q), true), 1);
  Login();
  EXPECT_EQ(Rows(Call(kQuery, q)).size(), 5u);
  emu_.SetSessionExpiresAfterCalls(0);

  // Age on the emulator clock.
  emu_.SetSessionExpiresAfterMs(60'000);
  Login();
  EXPECT_EQ(Rows(Call(kQuery, q)).size(), 5u);
  emu_.AdvanceClockMs(61'000);
  EXPECT_EQ(MsgCode(Call(kQuery, q), true), 1);
  EXPECT_EQ(emu_.LoginCount(), 4);
}

TEST_F(KingdeeEmulatorTest, StringStatusFieldsAndAnotherSessionLostCode) {
  emu_.AddPayApply("FKSQ000001");
  emu_.SetStatusFieldsAsStrings(true);
  emu_.SetSessionLostMsgCode(0);
  const std::string push =
      R"({"formid":"CN_PAYAPPLY","data":{"Numbers":["FKSQ000001"],"RuleId":"CN_PAYAPPLYTOPAYBILL"}})";
  auto res = Post(kPush, push);  // no session: the lost-session text under MsgCode "0"
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body,
            R"({"Result":{"ResponseStatus":{"ErrorCode":500,"IsSuccess":"false","Errors":[)"
            R"({"FieldName":null,"Message":"会话信息已丢失，请重新登录","DIndex":0}],)"
            R"("SuccessEntitys":[],"SuccessMessages":[],"MsgCode":"0"}}})");
  EXPECT_EQ(emu_.PushCount(), 0);
  Login();
  res = Call(kPush, push);
  ASSERT_TRUE(res);
  EXPECT_NE(res->body.find(R"("ResponseStatus":{"IsSuccess":"true","MsgCode":"0",)"),
            std::string::npos)
      << res->body;
  EXPECT_EQ(emu_.PayBills().size(), 1u);
  // Row data of a query is left alone: only the status fields change type.
  auto rows = Rows(Call(kQuery, QueryBody("AP_PAYBILL", "FID,FBillNo")));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], "108812");
}

TEST_F(KingdeeEmulatorTest, BodyShapesAndCaseInsensitiveKeys) {
  emu_.GenerateMaterials(4, 1);
  Login();
  const std::vector<KingdeeMaterial> mats = emu_.Materials();
  const std::vector<std::string> expected = {mats[0].number, mats[1].number, mats[2].number,
                                             mats[3].number};
  for (const std::string& body : {
           std::string(R"({"data":{"FormId":"BD_MATERIAL","FieldKeys":"FNumber"}})"),
           std::string(R"({"formid":"BD_MATERIAL","data":{"FieldKeys":"FNumber"}})"),
           std::string(R"({"FORMID":"BD_MATERIAL","DATA":{"fieldkeys":"FNumber","limit":0}})"),
           std::string(R"({"parameters":[{"FormId":"BD_MATERIAL","FieldKeys":"FNumber"}]})"),
           std::string(
               R"({"parameters":["{\"FormId\":\"BD_MATERIAL\",\"FieldKeys\":\"FNumber\"}"]})"),
           std::string(R"({"data":"{\"formid\":\"bd_material\",\"FIELDKEYS\":\"fnumber\"}"})"),
       }) {
    EXPECT_EQ(Column(Call(kQuery, body)), expected) << body;
  }
  EXPECT_EQ(MsgCode(Call(kQuery, "{not json"), true), kKingdeeMsgBadParameter);
  EXPECT_EQ(MsgCode(Call(kQuery, R"({"data":{"FormId":"BD_NOPE","FieldKeys":"FID"}})"), true),
            kKingdeeMsgBadParameter);
}

TEST_F(KingdeeEmulatorTest, FieldKeysOrderAndUnknownKey) {
  KingdeeMaterial m = Mat(500, "MAT-A", "不锈钢法兰");
  m.specification = " DN50 ";
  m.product_line = "阀门管件";
  m.group_number = "02.01";
  m.base_unit = "Pcs";
  m.modify_date = "2024-03-01T10:00:00";
  emu_.AddMaterial(m);
  Login();
  auto rows = Rows(Call(kQuery, QueryBody("BD_MATERIAL",
                                          "FModifyDate,fnumber,FMasterId,FMATERIALID,FName,"
                                          "FSpecification,F_ProductLine,FMaterialGroup.FNumber,"
                                          "FBaseUnitId.FNumber,FUseOrgId.fnumber,FDocumentStatus,"
                                          "FForbidStatus,FNumber")));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"2024-03-01T10:00:00", "MAT-A", "500", "500",
                                               "不锈钢法兰", " DN50 ", "阀门管件", "02.01", "Pcs",
                                               "T00", "C", "A", "MAT-A"}));
  // Integers are JSON numbers, the rest strings.
  auto res = Call(kQuery, QueryBody("BD_MATERIAL", "FMasterId,FNumber"));
  EXPECT_EQ(res->body, R"([[500,"MAT-A"]])");

  res = Call(kQuery, QueryBody("BD_MATERIAL", "FNumber,FNoSuchField"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body,
            R"([[{"Result":{"ResponseStatus":{"ErrorCode":500,"IsSuccess":false,"Errors":[)"
            R"({"FieldName":"FNoSuchField","Message":"字段FNoSuchField不存在","DIndex":0}],)"
            R"("SuccessEntitys":[],"SuccessMessages":[],"MsgCode":9}}}]])");
  EXPECT_EQ(MsgCode(Call(kQuery, QueryBody("BD_MATERIAL", "FNumber", "FBogus = 1")), true),
            kKingdeeMsgFieldNotFound);
  EXPECT_EQ(MsgCode(Call(kQuery, QueryBody("BD_MATERIAL", "FNumber", "", "FBogus")), true),
            kKingdeeMsgFieldNotFound);
  EXPECT_EQ(MsgCode(Call(kQuery, QueryBody("BD_MATERIAL", "")), true), kKingdeeMsgBadParameter);

  // No rows: [].
  res = Call(kQuery, QueryBody("BD_MATERIAL", "FNumber", "FNumber = 'none'"));
  EXPECT_EQ(res->body, "[]");
}

TEST_F(KingdeeEmulatorTest, FilterStringSubset) {
  auto add = [&](int64_t id, std::string number, std::string name, std::string org,
                 std::string status, std::string date) {
    KingdeeMaterial m;
    m.master_id = id;
    m.number = std::move(number);
    m.name = std::move(name);
    m.use_org = std::move(org);
    m.document_status = std::move(status);
    m.modify_date = std::move(date);
    emu_.AddMaterial(m);
  };
  add(10, "MAT000010", "不锈钢六角螺栓", "T00", "C", "2024-01-05T08:00:00");
  add(20, "MAT000020", "碳钢平垫圈", "T00", "A", "2024-02-01T00:00:00");
  add(30, "MAT000030", "黄铜球阀", "T01", "C", "2024-02-10T12:30:00");
  add(40, "MAT000040", "O'Ring 密封圈", "T00", "C", "2024-03-01T00:00:00");
  Login();
  auto ids = [&](std::string_view filter) {
    return Column(Call(kQuery, QueryBody("BD_MATERIAL", "FMasterId", filter)));
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids(""), (V{"10", "20", "30", "40"}));
  EXPECT_EQ(ids("FUseOrgId.FNumber = 'T00'"), (V{"10", "20", "40"}));
  EXPECT_EQ(ids("fuseorgid.fnumber='t01'"), (V{"30"})) << "keys and values case-insensitive";
  EXPECT_EQ(ids("FMasterId >= 20"), (V{"20", "30", "40"}));
  EXPECT_EQ(ids("FMasterId > '20'"), (V{"30", "40"}));
  EXPECT_EQ(ids("FMasterId < 20"), (V{"10"}));
  EXPECT_EQ(ids("FMasterId <= 20"), (V{"10", "20"}));
  EXPECT_EQ(ids("FMasterId <> 20"), (V{"10", "30", "40"}));
  EXPECT_EQ(ids("FMasterId != 20"), (V{"10", "30", "40"}));
  EXPECT_EQ(ids("FNumber >= 'MAT000030'"), (V{"30", "40"}));
  EXPECT_EQ(ids("FName like '%球阀%'"), (V{"30"}));
  EXPECT_EQ(ids("FName LIKE N'碳钢%'"), (V{"20"}));
  EXPECT_EQ(ids("FName like '%o''ring%'"), (V{"40"}));
  EXPECT_EQ(ids("FName not like '%钢%'"), (V{"30", "40"}));
  EXPECT_EQ(ids("FNumber like 'MAT00001_'"), (V{"10"}));
  EXPECT_EQ(ids("FDocumentStatus = 'C' AND FUseOrgId.FNumber = 'T00'"), (V{"10", "40"}));
  EXPECT_EQ(ids("FMasterId = 10 or FMasterId = 30"), (V{"10", "30"}));
  EXPECT_EQ(ids("FDocumentStatus='C' and (FMasterId=10 Or FMasterId=20 OR FMasterId = 40)"),
            (V{"10", "40"}));
  EXPECT_EQ(ids("NOT (FMasterId = 10) AND 1=1"), (V{"20", "30", "40"}));
  EXPECT_EQ(ids("FMasterId in (10, 40, 99)"), (V{"10", "40"}));
  EXPECT_EQ(ids("FNumber IN ('MAT000020','MAT000030')"), (V{"20", "30"}));
  // Dates: a bare date means midnight; a space or a T separates the time.
  EXPECT_EQ(ids("FModifyDate >= '2024-02-01'"), (V{"20", "30", "40"}));
  EXPECT_EQ(ids("FModifyDate > '2024-02-01'"), (V{"30", "40"}));
  EXPECT_EQ(ids("FModifyDate >= '2024-02-10 12:30:00' AND FModifyDate < '2024-03-01T00:00:00'"),
            (V{"30"}));
  EXPECT_EQ(ids("FMaterialGroup.FNumber IS NULL AND FMasterId < 20"), (V{"10"}));

  for (std::string_view broken : {"FMasterId = ", "FNumber = 'open", "(FMasterId = 1",
                                  "FMasterId == = 1", "AND", "FNumber #"}) {
    EXPECT_EQ(MsgCode(Call(kQuery, QueryBody("BD_MATERIAL", "FNumber", broken)), true),
              kKingdeeMsgBadParameter)
        << broken;
  }
}

TEST_F(KingdeeEmulatorTest, PagingAndLimitCap) {
  emu_.GenerateMaterials(2500, 9);
  Login();
  const std::vector<KingdeeMaterial> mats = emu_.Materials();
  std::vector<std::string> all;
  for (const KingdeeMaterial& m : mats) all.push_back(std::to_string(m.master_id));

  std::vector<std::string> paged;
  std::vector<size_t> sizes;
  for (int start = 0;; start += 700) {
    auto page = Column(
        Call(kQuery, QueryBody("BD_MATERIAL", "FMasterId", "", "FMasterId ASC", start, 700)));
    sizes.push_back(page.size());
    paged.insert(paged.end(), page.begin(), page.end());
    if (page.size() < 700) break;
  }
  EXPECT_EQ(sizes, (std::vector<size_t>{700, 700, 700, 400}));
  EXPECT_EQ(paged, all) << "generated ids ascend, so FMasterId order = insertion order";

  EXPECT_EQ(Rows(Call(kQuery, QueryBody("BD_MATERIAL", "FMasterId", "", "", 0, 5000))).size(),
            2000u)
      << "Limit is capped at 2000";
  EXPECT_EQ(Rows(Call(kQuery, QueryBody("BD_MATERIAL", "FMasterId", "", "", 0, 0))).size(), 2000u)
      << "Limit 0 = up to the cap";
  EXPECT_EQ(Rows(Call(kQuery, R"({"data":{"FormId":"BD_MATERIAL","FieldKeys":"FMasterId",)"
                              R"("StartRow":"2400"}})"))
                .size(),
            100u)
      << "no Limit, numeric string StartRow";
  EXPECT_EQ(Rows(Call(kQuery, QueryBody("BD_MATERIAL", "FMasterId", "", "", 3000, 10))).size(), 0u);
  EXPECT_EQ(Column(Call(kQuery, R"({"data":{"FormId":"BD_MATERIAL","FieldKeys":"FMasterId",)"
                                R"("TopRowCount":3,"StartRow":1,"Limit":10}})")),
            (std::vector<std::string>{all[1], all[2]}))
      << "TopRowCount cuts the result before StartRow/Limit";
}

TEST_F(KingdeeEmulatorTest, OrderString) {
  emu_.AddMaterial(Mat(30, "B", "x", "T01"));
  emu_.AddMaterial(Mat(10, "C", "y"));
  emu_.AddMaterial(Mat(20, "A", "z", "T01"));
  Login();
  auto ids = [&](std::string_view order) {
    return Column(Call(kQuery, QueryBody("BD_MATERIAL", "FMasterId", "", order)));
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids(""), (V{"30", "10", "20"})) << "insertion order by default";
  EXPECT_EQ(ids("FMasterId ASC"), (V{"10", "20", "30"}));
  EXPECT_EQ(ids("fmasterid desc"), (V{"30", "20", "10"}));
  EXPECT_EQ(ids("FNumber"), (V{"20", "30", "10"}));
  EXPECT_EQ(ids("FUseOrgId.FNumber DESC, FMasterId ASC"), (V{"20", "30", "10"}));
  EXPECT_EQ(MsgCode(Call(kQuery, QueryBody("BD_MATERIAL", "FMasterId", "", "FMasterId UP")), true),
            kKingdeeMsgBadParameter);
}

TEST_F(KingdeeEmulatorTest, PushSuccess) {
  emu_.AddPayApply("FKSQ000123");
  emu_.AddPayApply("FKSQ000124");
  Login();
  auto res = Call(kPush, R"({"formid":"CN_PAYAPPLY","data":{"Numbers":["FKSQ000123","FKSQ000124"],)"
                         R"("RuleId":"CN_PAYAPPLYTOPAYBILL","IsDraftWhenSaveFail":true,)"
                         R"("TargetBillTypeId":"","TargetOrgId":0,"CustomParams":{}}})");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body,
            R"({"Result":{"ConvertResponseStatus":{"IsSuccess":true,"Errors":[],"MsgCode":0,)"
            R"("SuccessEntitys":[{"Id":100231,"Number":"FKSQ000123","DIndex":0},)"
            R"({"Id":100232,"Number":"FKSQ000124","DIndex":1}]},)"
            R"("ResponseStatus":{"IsSuccess":true,"MsgCode":0,"SuccessMessages":[],"Errors":[],)"
            R"("SuccessEntitys":[{"Id":108812,"Number":"FKD00000871","DIndex":0},)"
            R"({"Id":108813,"Number":"FKD00000872","DIndex":1}]}}})");
  EXPECT_EQ(emu_.PushCount(), 1);
  const std::vector<KingdeePayBill> bills = emu_.PayBills();
  ASSERT_EQ(bills.size(), 2u);
  EXPECT_EQ(bills[0].number, "FKD00000871");
  EXPECT_EQ(bills[0].document_status, "A");
  EXPECT_EQ(bills[0].source_type, "CN_PAYAPPLY");
  EXPECT_EQ(bills[0].source_number, "FKSQ000123");

  // The "already pushed?" lookup of doc/vendors/kingdee.md ("Push") finds it.
  auto rows = Rows(
      Call(kQuery, QueryBody("AP_PAYBILL", "FID,FBillNo,FDocumentStatus,FSOURCETYPE,FSRCBILLNO",
                             "FSOURCETYPE='CN_PAYAPPLY' AND FSRCBILLNO='FKSQ000124'")));
  EXPECT_EQ(rows, (std::vector<std::vector<std::string>>{
                      {"108813", "FKD00000872", "A", "CN_PAYAPPLY", "FKSQ000124"}}));
  // CN_PAYAPPLY is queryable too.
  rows = Rows(
      Call(kQuery, QueryBody("CN_PAYAPPLY", "FID,FBillNo,FDocumentStatus,FSETTLETYPEID.FNumber")));
  EXPECT_EQ(rows,
            (std::vector<std::vector<std::string>>{{"100231", "FKSQ000123", "C", "JSFS04_SYS"},
                                                   {"100232", "FKSQ000124", "C", "JSFS04_SYS"}}));

  // Legacy positional body, by Ids, with the default rule.
  emu_.AddPayApply("FKSQ000125");
  res = Call(kPush, R"({"parameters":["CN_PAYAPPLY",{"Ids":"100233","IsEnableDefaultRule":true,)"
                    R"("TargetFormId":"AP_PAYBILL"}]})");
  simdjson::dom::element status = Status(res, false);
  EXPECT_TRUE(bool(status["IsSuccess"]));
  EXPECT_EQ(std::string_view(status["SuccessEntitys"].at(0)["Number"]), "FKD00000873");
  EXPECT_EQ(emu_.PayBills().back().source_number, "FKSQ000125");

  // Bad rule / missing sources.
  EXPECT_EQ(
      MsgCode(Call(kPush, R"({"formid":"CN_PAYAPPLY","data":{"Numbers":["FKSQ000123"]}})"), false),
      kKingdeeMsgBadParameter);
  EXPECT_EQ(MsgCode(Call(kPush, R"({"formid":"CN_PAYAPPLY","data":{"Numbers":["FKSQ000123"],)"
                                R"("RuleId":"NOPE"}})"),
                    false),
            kKingdeeMsgBadParameter);
  EXPECT_EQ(MsgCode(Call(kPush, R"({"formid":"CN_PAYAPPLY","data":{"Numbers":[],)"
                                R"("RuleId":"CN_PAYAPPLYTOPAYBILL"}})"),
                    false),
            kKingdeeMsgEmptyBillId);
  EXPECT_EQ(emu_.PayBills().size(), 3u);
}

TEST_F(KingdeeEmulatorTest, PushPartialFailureAndDrafts) {
  emu_.AddPayApply("FKSQ000123");
  emu_.AddPayApply("FKSQ000124", "");  // no settle type: its save fails
  emu_.AddPayApply("FKSQ000125");
  emu_.RejectPushOf("FKSQ000125", "收款单位银行账号不能为空", "FRECACCOUNTNO");
  Login();

  // Without IsDraftWhenSaveFail: exactly the partial-failure shape of doc/vendors/kingdee.md.
  auto res = Call(kPush, R"({"formid":"CN_PAYAPPLY","data":{"Numbers":["FKSQ000123","FKSQ000124"],)"
                         R"("RuleId":"CN_PAYAPPLYTOPAYBILL"}})");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(
      res->body,
      R"({"Result":{"ConvertResponseStatus":{"IsSuccess":true,"Errors":[],"MsgCode":0,)"
      R"("SuccessEntitys":[{"Id":100231,"Number":"FKSQ000123","DIndex":0},)"
      R"({"Id":100232,"Number":"FKSQ000124","DIndex":1}]},)"
      R"("ResponseStatus":{"ErrorCode":500,"IsSuccess":false,"MsgCode":11,"SuccessMessages":[],)"
      R"("Errors":[{"FieldName":"FSETTLETYPEID","Message":"结算方式是必填项","DIndex":1}],)"
      R"("SuccessEntitys":[{"Id":108812,"Number":"FKD00000871","DIndex":0}]}}})");
  EXPECT_EQ(emu_.PayBills().size(), 1u) << "no draft without IsDraftWhenSaveFail";

  // With it: drafts without a number, queryable as FDocumentStatus 'Z'; an unknown number fails
  // conversion with its DIndex.
  res =
      Call(kPush, R"({"formid":"CN_PAYAPPLY","data":{"Numbers":["FKSQ000124","FKSQ999999",)"
                  R"("FKSQ000125"],"RuleId":"CN_PAYAPPLYTOPAYBILL","IsDraftWhenSaveFail":true}})");
  simdjson::dom::element root = Parse(res->body)["Result"];
  simdjson::dom::element convert = root["ConvertResponseStatus"];
  EXPECT_FALSE(bool(convert["IsSuccess"]));
  EXPECT_EQ(int64_t(convert["MsgCode"]), kKingdeeMsgNoData);
  EXPECT_EQ(int64_t(convert["Errors"].at(0)["DIndex"]), 1);
  EXPECT_NE(std::string_view(convert["Errors"].at(0)["Message"]).find("FKSQ999999"),
            std::string_view::npos);
  EXPECT_EQ(simdjson::dom::array(convert["SuccessEntitys"]).size(), 2u);
  simdjson::dom::element status = root["ResponseStatus"];
  EXPECT_FALSE(bool(status["IsSuccess"]));
  EXPECT_EQ(int64_t(status["MsgCode"]), kKingdeeMsgValidation);
  simdjson::dom::array errors = status["Errors"];
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(std::string_view(errors.at(0)["FieldName"]), "FSETTLETYPEID");
  EXPECT_EQ(int64_t(errors.at(0)["DIndex"]), 0);
  EXPECT_EQ(std::string_view(errors.at(1)["FieldName"]), "FRECACCOUNTNO");
  EXPECT_EQ(std::string_view(errors.at(1)["Message"]), "收款单位银行账号不能为空");
  EXPECT_EQ(int64_t(errors.at(1)["DIndex"]), 2);
  EXPECT_EQ(simdjson::dom::array(status["SuccessEntitys"]).size(), 0u);

  auto rows = Rows(Call(kQuery, QueryBody("AP_PAYBILL", "FBillNo,FDocumentStatus,FSRCBILLNO",
                                          "FDocumentStatus = 'Z'", "FSRCBILLNO")));
  EXPECT_EQ(rows, (std::vector<std::vector<std::string>>{{"", "Z", "FKSQ000124"},
                                                         {"", "Z", "FKSQ000125"}}));

  // Saving a draft completes it.
  const int64_t draft_id = emu_.PayBills()[1].fid;
  res = Call(kSave,
             fmt::format(R"({{"formid":"AP_PAYBILL","data":{{"Model":{{"FID":{}}}}}}})", draft_id));
  status = Status(res, false);
  EXPECT_TRUE(bool(status["IsSuccess"]));
  EXPECT_EQ(emu_.PayBills()[1].document_status, "A");
  EXPECT_EQ(emu_.PayBills()[1].number, "FKD00000872");

  emu_.AllowPushOf("FKSQ000125");
  res = Call(kPush, R"({"formid":"CN_PAYAPPLY","data":{"Numbers":["FKSQ000125"],)"
                    R"("RuleId":"CN_PAYAPPLYTOPAYBILL"}})");
  EXPECT_TRUE(bool(Status(res, false)["IsSuccess"]));
}

TEST_F(KingdeeEmulatorTest, DuplicatePushCreatesSecondBillUnlessBlocked) {
  emu_.AddPayApply("FKSQ000123");
  Login();
  const std::string push = R"({"formid":"CN_PAYAPPLY","data":{"Numbers":["FKSQ000123"],)"
                           R"("RuleId":"CN_PAYAPPLYTOPAYBILL"}})";
  EXPECT_TRUE(bool(Status(Call(kPush, push), false)["IsSuccess"]));
  EXPECT_TRUE(bool(Status(Call(kPush, push), false)["IsSuccess"]));
  auto rows = Rows(Call(kQuery, QueryBody("AP_PAYBILL", "FBillNo", "FSRCBILLNO = 'FKSQ000123'")));
  EXPECT_EQ(rows.size(), 2u) << "real K3Cloud happily pushes twice";

  emu_.SetBlockDuplicatePush(true);
  auto res = Call(kPush, push);
  simdjson::dom::element root = Parse(res->body)["Result"];
  EXPECT_FALSE(bool(root["ConvertResponseStatus"]["IsSuccess"]));
  EXPECT_EQ(int64_t(root["ConvertResponseStatus"]["MsgCode"]), kKingdeeMsgNotOperable);
  EXPECT_FALSE(bool(root["ResponseStatus"]["IsSuccess"]));
  EXPECT_EQ(emu_.PayBills().size(), 2u);
  EXPECT_EQ(emu_.PushCount(), 3);
}

TEST_F(KingdeeEmulatorTest, SaveAssignsIdsAndAcceptsDuplicates) {
  Login();
  const std::string save = R"({"formid":"AP_PAYBILL","data":{"NeedUpDateFields":[],)"
                           R"("IsDeleteEntry":true,"Model":{"FID":0,"FDATE":"2024-03-01",)"
                           R"("FPAYORGID":{"FNumber":"T00"}}}})";
  auto res = Call(kSave, save);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, R"({"Result":{"ResponseStatus":{"IsSuccess":true,"Errors":[],)"
                       R"("SuccessEntitys":[{"Id":108812,"Number":"FKD00000871","DIndex":0}],)"
                       R"("SuccessMessages":[],"MsgCode":0},"Id":108812,"Number":"FKD00000871",)"
                       R"("NeedReturnData":[{}]}})");
  res = Call(kSave, save);
  EXPECT_EQ(int64_t(Parse(res->body)["Result"]["Id"]), 108813) << "duplicates accepted";
  EXPECT_EQ(Rows(Call(kQuery, QueryBody("AP_PAYBILL", "FID"))).size(), 2u);
  ASSERT_EQ(emu_.SavedBills("AP_PAYBILL").size(), 2u);
  EXPECT_EQ(emu_.SavedBills()[0].model_json,
            R"({"FID":0,"FDATE":"2024-03-01","FPAYORGID":{"FNumber":"T00"}})");

  // Generic forms, legacy positional body with a stringified data object.
  res = Call(kSave, R"({"parameters":["BD_SUPPLIER","{\"Model\":{\"FNumber\":\"VEN001\"}}"]})");
  EXPECT_EQ(std::string_view(Parse(res->body)["Result"]["Number"]), "VEN001");
  EXPECT_EQ(Column(Call(kQuery, QueryBody("BD_SUPPLIER", "FNumber"))),
            (std::vector<std::string>{"VEN001"}));

  emu_.RejectSaveNext(1, "FPAYORGID", "付款组织是必填项");
  res = Call(kSave, save);
  simdjson::dom::element status = Status(res, false);
  EXPECT_EQ(int64_t(status["MsgCode"]), kKingdeeMsgValidation);
  EXPECT_EQ(std::string_view(status["Errors"].at(0)["FieldName"]), "FPAYORGID");
  EXPECT_EQ(emu_.SaveCount(), 3);
  EXPECT_EQ(MsgCode(Call(kSave, R"({"formid":"AP_PAYBILL","data":{}})"), false),
            kKingdeeMsgBadParameter);
}

TEST_F(KingdeeEmulatorTest, ThrottleLockAnd5xx) {
  emu_.GenerateMaterials(3, 1);
  emu_.AddPayApply("FKSQ000001");
  Login();
  const std::string q = QueryBody("BD_MATERIAL", "FNumber");
  const std::string push = R"({"formid":"CN_PAYAPPLY","data":{"Numbers":["FKSQ000001"],)"
                           R"("RuleId":"CN_PAYAPPLYTOPAYBILL"}})";

  emu_.ThrottleNext(2);
  EXPECT_EQ(MsgCode(Call(kQuery, q), true), kKingdeeMsgThrottled);
  EXPECT_EQ(MsgCode(Call(kPush, push), false), kKingdeeMsgThrottled);
  EXPECT_EQ(emu_.PushCount(), 0);
  EXPECT_EQ(Rows(Call(kQuery, q)).size(), 3u);

  emu_.LockNext(1);
  auto res = Call(kQuery, q);
  EXPECT_EQ(MsgCode(res, true), kKingdeeMsgLocked);
  EXPECT_EQ(int64_t(Status(res, true)["ErrorCode"]), 500);
  EXPECT_EQ(Rows(Call(kQuery, q)).size(), 3u);

  // A service filter leaves other calls alone.
  emu_.LockNext(1, "push");
  EXPECT_EQ(Rows(Call(kQuery, q)).size(), 3u);
  EXPECT_EQ(MsgCode(Call(kPush, push), false), kKingdeeMsgLocked);
  EXPECT_EQ(emu_.PushCount(), 0);

  emu_.Fail5xxNext(1);
  res = Post(kValidateUser, R"({"parameters":["demo-acct","api","demo-pass",2052]})");
  EXPECT_EQ(res->status, 200) << "logins are never faulted";
  res = Call(kQuery, q);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 502);
  EXPECT_EQ(res->body.rfind("<!DOCTYPE html", 0), 0u);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(Rows(Call(kQuery, q)).size(), 3u);

  // Throttled calls do not use up the session.
  emu_.SetSessionExpiresAfterCalls(1);
  Login();
  emu_.ThrottleNext(3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(MsgCode(Call(kQuery, q), true), kKingdeeMsgThrottled);
  EXPECT_EQ(Rows(Call(kQuery, q)).size(), 3u);
  EXPECT_EQ(MsgCode(Call(kQuery, q), true), kKingdeeMsgSessionLost);
}

TEST_F(KingdeeEmulatorTest, BomTruncateAndLatency) {
  emu_.GenerateMaterials(20, 1);
  emu_.BomAlways(true);
  auto res = Post(kValidateUser, R"({"parameters":["demo-acct","api","demo-pass",2052]})");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body.rfind(kBom, 0), 0u) << "logins too";
  Login();
  const std::string q = QueryBody("BD_MATERIAL", "FNumber,FName");
  res = Call(kQuery, q);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body.rfind(kBom, 0), 0u);
  EXPECT_EQ(Rows(res).size(), 20u);
  simdjson::dom::element ignored;
  EXPECT_NE(parser_.parse(res->body).get(ignored), simdjson::SUCCESS)
      << "a parser that does not strip the BOM fails";
  emu_.BomAlways(false);

  const size_t full = Call(kQuery, q)->body.size();
  emu_.TruncateNext(1);
  res = Call(kQuery, q);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body.size(), full / 2);
  EXPECT_NE(parser_.parse(res->body).get(ignored), simdjson::SUCCESS);
  EXPECT_EQ(Rows(Call(kQuery, q)).size(), 20u);

  emu_.SetLatencyMs(80);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Rows(Call(kQuery, q)).size(), 20u);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(80));
}

TEST_F(KingdeeEmulatorTest, DropResponseAfterCommit) {
  emu_.AddPayApply("FKSQ000123");
  Login();
  const std::string push = R"({"formid":"CN_PAYAPPLY","data":{"Numbers":["FKSQ000123"],)"
                           R"("RuleId":"CN_PAYAPPLYTOPAYBILL"}})";
  emu_.DropResponseAfterCommitNext(1);
  // Queries never use it up.
  EXPECT_EQ(Rows(Call(kQuery, QueryBody("AP_PAYBILL", "FID"))).size(), 0u);
  auto res = Call(kPush, push);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 502);
  EXPECT_EQ(res->body.rfind("<!DOCTYPE html", 0), 0u);
  ASSERT_EQ(emu_.PayBills().size(), 1u) << "the bill exists although the reply was a 502";
  EXPECT_EQ(emu_.PushCount(), 1);
  auto rows =
      Rows(Call(kQuery, QueryBody("AP_PAYBILL", "FBillNo,FDocumentStatus",
                                  "FSOURCETYPE='CN_PAYAPPLY' AND FSRCBILLNO='FKSQ000123'")));
  EXPECT_EQ(rows, (std::vector<std::vector<std::string>>{{"FKD00000871", "A"}}));

  // Next call answers normally again; "always" drops every write (Save too).
  EXPECT_EQ(Call(kPush, push)->status, 200);
  emu_.SetDropResponseAfterCommit(true);
  EXPECT_EQ(Call(kSave, R"({"formid":"AP_PAYBILL","data":{"Model":{}}})")->status, 502);
  EXPECT_EQ(Call(kPush, push)->status, 502);
  EXPECT_EQ(emu_.PayBills().size(), 4u);
  // A rejected call wrote nothing, so it is answered normally.
  EXPECT_EQ(Call(kPush, R"({"formid":"CN_PAYAPPLY","data":{"Numbers":["FKSQ000123"]}})")->status,
            200);
  emu_.SetDropResponseAfterCommit(false);
  EXPECT_EQ(Call(kSave, R"({"formid":"AP_PAYBILL","data":{"Model":{}}})")->status, 200);
}

TEST_F(KingdeeEmulatorTest, InsertMaterialsBetweenPages) {
  emu_.GenerateMaterials(30, 4);
  Login();
  const std::vector<KingdeeMaterial> before = emu_.Materials();
  auto page = [&](int start) {
    return Column(
        Call(kQuery, QueryBody("BD_MATERIAL", "FMasterId", "FUseOrgId.FNumber IN ('T00','T01')",
                               "FMasterId ASC", start, 10)));
  };
  emu_.InsertMaterialsBetweenPagesNext(2);
  const std::vector<std::string> first = page(0);
  ASSERT_EQ(first.size(), 10u);
  const std::vector<int64_t> inserted = emu_.InsertedBetweenPages();
  ASSERT_EQ(inserted.size(), 2u);
  // Both sit inside the first page's range, just below its middle row (index 5).
  const int64_t middle = std::stoll(first[5]);
  const int64_t below = std::stoll(first[4]);
  for (int64_t id : inserted) {
    EXPECT_LT(id, middle);
    EXPECT_GT(id, std::stoll(first[0]));
  }
  EXPECT_EQ(inserted[0], middle - 1);
  EXPECT_GT(inserted[0], below);
  EXPECT_EQ(emu_.Materials().size(), 32u);

  const std::vector<std::string> second = page(10);
  ASSERT_EQ(second.size(), 10u);
  EXPECT_EQ(second[0], first[8]) << "offset paging re-serves the last n rows";
  EXPECT_EQ(second[1], first[9]);
  std::set<std::string> seen(first.begin(), first.end());
  seen.insert(second.begin(), second.end());
  for (const auto& rest : {page(20), page(30)}) seen.insert(rest.begin(), rest.end());
  for (int64_t id : inserted) EXPECT_FALSE(seen.contains(std::to_string(id)));
  EXPECT_EQ(seen.size(), 30u) << "every original row was still served once";

  // Only once.
  EXPECT_EQ(page(0).size(), 10u);
  EXPECT_EQ(emu_.Materials().size(), 32u);
}

TEST(KingdeeEmulatorDataTest, GeneratedMaterialsAreDeterministicAndVaried) {
  KingdeeEmulator a;
  KingdeeEmulator b;
  KingdeeEmulator c;
  a.GenerateMaterials(400, 42);
  b.GenerateMaterials(400, 42);
  c.GenerateMaterials(400, 43);
  const auto ma = a.Materials();
  const auto mb = b.Materials();
  ASSERT_EQ(ma.size(), 400u);
  bool differs = false;
  std::set<int64_t> ids;
  std::set<std::string> numbers;
  std::set<std::string> orgs, statuses, forbid;
  int padded = 0;
  for (size_t i = 0; i < ma.size(); ++i) {
    EXPECT_EQ(ma[i].master_id, mb[i].master_id);
    EXPECT_EQ(ma[i].name, mb[i].name);
    EXPECT_EQ(ma[i].specification, mb[i].specification);
    EXPECT_EQ(ma[i].modify_date, mb[i].modify_date);
    if (ma[i].name != c.Materials()[i].name) differs = true;
    if (i > 0) {
      EXPECT_GE(ma[i].master_id - ma[i - 1].master_id, 2) << "gaps for inserts";
    }
    ids.insert(ma[i].master_id);
    numbers.insert(ma[i].number);
    orgs.insert(ma[i].use_org);
    statuses.insert(ma[i].document_status);
    forbid.insert(ma[i].forbid_status);
    if (!ma[i].specification.empty() &&
        (ma[i].specification.front() == ' ' || ma[i].specification.back() == ' ')) {
      ++padded;
    }
    EXPECT_EQ(ma[i].modify_date.size(), 19u);
    EXPECT_EQ(ma[i].modify_date[10], 'T');
    EXPECT_EQ(ma[i].number.rfind("MAT", 0), 0u);
  }
  EXPECT_TRUE(differs);
  EXPECT_EQ(ids.size(), 400u);
  EXPECT_EQ(numbers.size(), 400u);
  EXPECT_EQ(orgs, (std::set<std::string>{"T00", "T01"}));
  EXPECT_EQ(statuses, (std::set<std::string>{"A", "B", "C"}));
  EXPECT_EQ(forbid, (std::set<std::string>{"A", "B"}));
  EXPECT_GT(padded, 10);

  const int64_t id = ma[0].master_id;
  const std::string old_date = ma[0].modify_date;
  EXPECT_TRUE(a.UpdateMaterial(id, "新名称"));
  EXPECT_EQ(a.Materials()[0].name, "新名称");
  EXPECT_GT(a.Materials()[0].modify_date, old_date);
  EXPECT_TRUE(a.RemoveMaterial(id));
  EXPECT_FALSE(a.RemoveMaterial(id));
  EXPECT_FALSE(a.UpdateMaterial(id, "x"));
  EXPECT_EQ(a.Materials().size(), 399u);
}

TEST_F(KingdeeEmulatorTest, MaxQpsAndStats) {
  emu_.GenerateMaterials(3, 1);
  Login();
  emu_.ResetStats();
  emu_.SetMaxQps(3);
  const std::string q = QueryBody("BD_MATERIAL", "FNumber");
  int throttled = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) {
    auto res = Call(kQuery, q);
    simdjson::dom::element root = Parse(res->body);
    if (root.is_array() && simdjson::dom::array(root).size() == 1 && root.at(0).at(0).is_object()) {
      EXPECT_EQ(int64_t(root.at(0).at(0)["Result"]["ResponseStatus"]["MsgCode"]),
                kKingdeeMsgThrottled);
      ++throttled;
    }
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  if (elapsed < std::chrono::milliseconds(900)) {
    EXPECT_GE(throttled, 4) << "10 calls span at most two one-second buckets";
  }
  EXPECT_EQ(emu_.RequestCount("ExecuteBillQuery"), 10);
  EXPECT_EQ(emu_.RequestCount("executebillquery"), 10);
  EXPECT_EQ(emu_.RequestCount("AuthService"), 0);
  EXPECT_GE(emu_.MaxRequestsInAnySecond(), 5);
  EXPECT_EQ(emu_.LastRequestBody("ExecuteBillQuery"), q);
  emu_.SetMaxQps(0);
  Login();
  EXPECT_EQ(emu_.RequestCount("AuthService"), 1);
  EXPECT_EQ(emu_.RequestCount(), 11);
  emu_.ResetStats();
  EXPECT_EQ(emu_.RequestCount(), 0);
  EXPECT_EQ(emu_.LoginCount(), 0);
  EXPECT_EQ(emu_.MaxRequestsInAnySecond(), 0);
}

TEST_F(KingdeeEmulatorTest, ConcurrentClients) {
  emu_.GenerateMaterials(50, 11);
  for (int i = 0; i < 40; ++i) emu_.AddPayApply(fmt::format("FKSQ{:06}", i));
  Login();
  const httplib::Headers headers = {{"Cookie", cookie_}};
  auto call = [&](httplib::Client& cli, simdjson::dom::parser&, int t, int i) {
    auto q = cli.Post(kQuery.c_str(), headers, QueryBody("BD_MATERIAL", "FMasterId"),
                      "application/json");
    auto p = cli.Post(kPush.c_str(), headers,
                      fmt::format(R"({{"formid":"CN_PAYAPPLY","data":{{"Numbers":)"
                                  R"(["FKSQ{:06}"],"RuleId":"CN_PAYAPPLYTOPAYBILL"}}}})",
                                  t * 5 + i),
                      "application/json");
    if (q && q->status == 200 && q->body.starts_with("[[100001],") && p && p->status == 200 &&
        p->body.find(R"("ResponseStatus":{"IsSuccess":true)") != std::string::npos) {
      return true;
    }
    ADD_FAILURE() << (q ? q->body.substr(0, 80) : "no q") << " / " << (p ? p->body : "no p");
    return false;
  };
  EXPECT_EQ(CountConcurrentOk(8, 5, call), 40);
  const std::vector<KingdeePayBill> bills = emu_.PayBills();
  ASSERT_EQ(bills.size(), 40u);
  std::set<std::string> numbers;
  for (const KingdeePayBill& b : bills) numbers.insert(b.number);
  EXPECT_EQ(numbers.size(), 40u);
}

}  // namespace
}  // namespace stagesync::emulators
