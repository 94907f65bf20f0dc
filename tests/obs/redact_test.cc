// The central Redactor: each kind of secret it removes (registered values in their raw, JSON
// and URL forms; Authorization/Cookie headers; token query parameters; Kingdee session ids;
// DingTalk access tokens), overlapping secrets, what it leaves alone, thread safety and speed.
#include "obs/redact.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "stagesync/config.h"
#include "stagesync/json.h"

namespace stagesync::obs {
namespace {

class RedactTest : public ::testing::Test {
 protected:
  Redactor r_;
};

TEST_F(RedactTest, RegisteredSecretIsReplacedWherever) {
  r_.AddSecret("Zq8vN3kLw0pR7sT2");
  EXPECT_EQ(r_.Redact("login failed for Zq8vN3kLw0pR7sT2 (twice: Zq8vN3kLw0pR7sT2)"),
            "login failed for *** (twice: ***)");
  EXPECT_EQ(r_.Redact("prefixZq8vN3kLw0pR7sT2suffix"), "prefix***suffix");
  EXPECT_EQ(r_.Redact("nothing secret here"), "nothing secret here");
}

TEST_F(RedactTest, ShortValuesAreNotRegistered) {
  r_.AddSecret("abc");  // would shred every line and protects nothing
  EXPECT_EQ(r_.secret_count(), 0u);
  EXPECT_EQ(r_.Redact("abc abc"), "abc abc");
}

TEST_F(RedactTest, OverlappingSecretsLeaveNoPartOfEither) {
  r_.AddSecret("AAAABBBB");
  r_.AddSecret("BBBBCCCC");
  // The two share BBBB: one *** covers the union, so no tail of either shows.
  EXPECT_EQ(r_.Redact("x AAAABBBBCCCC y"), "x *** y");
  r_.AddSecret("AAAABBBBCC");  // a longer one with the same start wins at that position
  EXPECT_EQ(r_.Redact("AAAABBBBCC"), "***");
  EXPECT_EQ(r_.Redact("[AAAABBBB][BBBBCCCC]"), "[***][***]");
}

TEST_F(RedactTest, SecretWithQuoteAndSlashIsRedactedInItsEscapedForms) {
  const std::string secret = "p\"a/s\\s-9Xy";
  r_.AddSecret(secret);
  // As JSON text (once and twice quoted) and with / escaped as \/ by other serializers.
  const std::string once = json::Quote(secret);
  EXPECT_EQ(r_.Redact("{\"e\":" + once + "}"), "{\"e\":\"***\"}");
  const std::string twice = json::Quote("{\"inner\":" + once + "}");
  EXPECT_EQ(r_.Redact(twice).find("9Xy"), std::string::npos) << r_.Redact(twice);
  EXPECT_EQ(r_.Redact("\"p\\\"a\\/s\\\\s-9Xy\""), "\"***\"");
  // URL-encoded, either hex case.
  EXPECT_EQ(r_.Redact("appsecret2=p%22a%2Fs%5Cs-9Xy&x=1"), "appsecret2=***&x=1");
  EXPECT_EQ(r_.Redact("v=p%22a%2fs%5cs-9Xy"), "v=***");
  // HTML-escaped, as a page shows it (raw and JSON-escaped text).
  EXPECT_EQ(r_.Redact("<td>p&quot;a/s\\s-9Xy</td>"), "<td>***</td>");
  EXPECT_EQ(r_.Redact("<td>p\\&quot;a/s\\\\s-9Xy</td>"), "<td>***</td>");
  // The redacted JSON still parses.
  EXPECT_TRUE(json::Parse(r_.Redact("{\"e\":" + once + "}")).ok());
}

TEST_F(RedactTest, AuthorizationAndCookieHeaderValues) {
  EXPECT_EQ(r_.Redact("GET / HTTP/1.1\r\nAuthorization: Bearer abc.def\r\nHost: x\r\n"),
            "GET / HTTP/1.1\r\nAuthorization: ***\r\nHost: x\r\n");
  EXPECT_EQ(r_.Redact("cookie: kdservice-sessionid=s1; ASP.NET_SessionId=s2\nnext"),
            "cookie: ***\nnext");
  EXPECT_EQ(r_.Redact("Set-Cookie: a=b; Path=/"), "Set-Cookie: ***");
  // Inside a JSON log value the header ends at the escaped line break.
  EXPECT_EQ(r_.Redact("{\"h\":\"Authorization: Basic dXNlcjpwdw==\\r\\nX: 1\"}"),
            "{\"h\":\"Authorization: ***\\r\\nX: 1\"}");
  EXPECT_EQ(r_.Redact("sent Bearer eyJhbGciOi.J9x_y when asked"), "sent Bearer *** when asked");
  // Prose about a bearer token stays readable (the control API says this to a client).
  EXPECT_EQ(r_.Redact("{\"error\":\"bearer token required\"}"),
            "{\"error\":\"bearer token required\"}");
}

TEST_F(RedactTest, TokensInQueryStrings) {
  EXPECT_EQ(r_.Redact("https://oapi.dingtalk.com/topapi/x?access_token=abc123&cursor=0"),
            "https://oapi.dingtalk.com/topapi/x?access_token=***&cursor=0");
  EXPECT_EQ(r_.Redact("/router?method=erp.x&sign=9F8E7D&session_id=77aa&timestamp=1"),
            "/router?method=erp.x&sign=***&session_id=***&timestamp=1");
  EXPECT_EQ(r_.Redact("a?token=t0k&appSecret=s3c&client_secret=c5"),
            "a?token=***&appSecret=***&client_secret=***");
  // A name that only ends like one is left alone (`design=` is not `sign=`).
  EXPECT_EQ(r_.Redact("design=blue&tokens_left=3"), "design=blue&tokens_left=3");
}

TEST_F(RedactTest, KingdeeSessionIds) {
  EXPECT_EQ(r_.Redact("{\"KDSVCSessionId\":\"f3a1-99\",\"IsSuccessByAPI\":true}"),
            "{\"KDSVCSessionId\":\"***\",\"IsSuccessByAPI\":true}");
  EXPECT_EQ(r_.Redact("{\"kdsvcsessionid\" : \"x\\\"y\"}"), "{\"kdsvcsessionid\" : \"***\"}");
  EXPECT_EQ(r_.Redact("Cookie set: kdservice-sessionid=ab12; ASP.NET_SessionId=cd34; path=/"),
            "Cookie set: kdservice-sessionid=***; ASP.NET_SessionId=***; path=/");
  // An error message that quotes the vendor's JSON inside a JSON string.
  EXPECT_EQ(r_.Redact("{\"error\":\"login said {\\\"KDSVCSessionId\\\":\\\"zz9\\\"}\"}"),
            "{\"error\":\"login said {\\\"KDSVCSessionId\\\":\\\"***\\\"}\"}");
}

TEST_F(RedactTest, DingTalkAccessTokens) {
  EXPECT_EQ(r_.Redact("{\"errcode\":0,\"access_token\":\"e5f6\",\"expires_in\":7200}"),
            "{\"errcode\":0,\"access_token\":\"***\",\"expires_in\":7200}");
  EXPECT_EQ(r_.Redact("{\"accessToken\":\"g7h8\",\"expireIn\":7200}"),
            "{\"accessToken\":\"***\",\"expireIn\":7200}");
  EXPECT_EQ(r_.Redact("x-acs-dingtalk-access-token: g7h8"), "x-acs-dingtalk-access-token: ***");
  // Not a string: nothing to hide, nothing changed.
  EXPECT_EQ(r_.Redact("{\"access_token\":null}"), "{\"access_token\":null}");
}

TEST_F(RedactTest, ConfigLoaderRegistersSecretFieldsFromEnv) {
  Redactor::Global().ClearSecrets();
  const char* text = R"({"state_dir": "${SD}", "connections": {
      "dt": {"type": "dingtalk", "app_key": "${KEY}", "app_secret": "${SECRET}"}},
      "pipelines": {}})";
  auto env = [](const char* n) -> const char* {
    std::string name(n);
    if (name == "SD") return "/tmp/redact-state-dir";
    if (name == "KEY") return "public-app-key";
    if (name == "SECRET") return "Sec-7hQ2pLm9Xv4Rt";
    return nullptr;
  };
  (void)config::LoadString(text, "", env);  // validity is not the point; loading registers
  EXPECT_EQ(Redact("secret Sec-7hQ2pLm9Xv4Rt key public-app-key dir /tmp/redact-state-dir"),
            "secret *** key public-app-key dir /tmp/redact-state-dir");
  Redactor::Global().ClearSecrets();
}

TEST(SecretFieldNameTest, WhichFieldsHoldSecrets) {
  for (const char* n : {"app_secret", "client_secret", "password", "token", "AppSecret",
                        "webhook_token", "robot_secret"}) {
    EXPECT_TRUE(IsSecretFieldName(n)) << n;
  }
  for (const char* n : {"app_key", "username", "base_url", "state_dir", "client_id", "acct_id"}) {
    EXPECT_FALSE(IsSecretFieldName(n)) << n;
  }
}

TEST_F(RedactTest, ConcurrentRegistrationAndRedaction) {
  std::vector<std::thread> threads;
  std::atomic<int> leaks{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const std::string s = "secret-" + std::to_string(t) + "-" + std::to_string(i) + "-xyz";
        r_.AddSecret(s);
        if (r_.Redact("value " + s + " end") != "value *** end") leaks++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(leaks.load(), 0);
  EXPECT_EQ(r_.secret_count(), 800u);
}

// A log line must stay cheap to redact: print the cost (for the record) and fail only when it
// is absurd (shared CI cores are slow and noisy).
TEST_F(RedactTest, LogLineCost) {
  for (int i = 0; i < 12; ++i) r_.AddSecret("configured-secret-value-" + std::to_string(i));
  const std::string line =
      "{\"ts\":\"2026-12-02T01:40:38.123Z\",\"level\":\"info\",\"msg\":\"pipeline "
      "dingtalk-payment: run 42 ok in 1.3 s\",\"pipeline\":\"dingtalk-payment\",\"run_id\":42,"
      "\"outcome\":\"ok\",\"detail\":\"fetched 300 new 12 changed 4 unchanged 284\"}";
  const int n = 20000;
  const auto start = std::chrono::steady_clock::now();
  size_t total = 0;
  for (int i = 0; i < n; ++i) total += r_.Redact(line).size();
  const double ns =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() /
      n;
  std::printf("{\"bench\":\"redact_log_line\",\"bytes\":%zu,\"ns_per_line\":%.0f}\n", line.size(),
              ns);
  EXPECT_EQ(total, line.size() * n);  // nothing in it is secret
  EXPECT_LT(ns, 200000.0);
}

}  // namespace
}  // namespace stagesync::obs
