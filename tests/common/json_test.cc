#include "stagesync/json.h"

#include <gtest/gtest.h>

#include "stagesync/hash.h"

namespace stagesync::json {
namespace {

Hash128 HashOf(std::string_view text, const std::vector<std::string>& exclude = {}) {
  auto v = Parse(text);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return HashBytes(Canonical(*v, exclude));
}

TEST(CanonicalHashTest, KeyOrderAndWhitespaceDoNotChangeTheHash) {
  Hash128 a = HashOf(R"({"a":1,"b":{"y":"x","z":[1,2,{"q":null,"p":true}]}})");
  Hash128 b = HashOf(
      "{ \"b\" : { \"z\" : [ 1 , 2 , { \"p\" : true , \"q\" : null } ] ,\n"
      "  \"y\" : \"x\" } ,\t\"a\" : 1 }");
  EXPECT_EQ(a, b);
}

TEST(CanonicalHashTest, AnyValueChangeChangesTheHash) {
  const std::string base = R"({"a":1,"b":"x","c":[1,2],"d":{"e":true}})";
  Hash128 h = HashOf(base);
  for (const char* changed : {R"({"a":2,"b":"x","c":[1,2],"d":{"e":true}})",
                              R"({"a":1,"b":"y","c":[1,2],"d":{"e":true}})",
                              R"({"a":1,"b":"x","c":[2,1],"d":{"e":true}})",
                              R"({"a":1,"b":"x","c":[1,2],"d":{"e":false}})",
                              R"({"a":1,"b":"x","c":[1,2],"d":{"e":true},"f":null})",
                              R"({"a":"1","b":"x","c":[1,2],"d":{"e":true}})",
                              R"({"a":1.0,"b":"x","c":[1,2],"d":{"e":true}})"}) {
    EXPECT_NE(h, HashOf(changed)) << changed;
  }
}

TEST(CanonicalHashTest, EscapesAreNormalisedSoEqualStringsHashEqual) {
  // "\u00e9" and the raw UTF-8 é are the same string.
  EXPECT_EQ(HashOf(R"({"n":"caf\u00e9","t":"\/"})"), HashOf("{\"n\":\"caf\xc3\xa9\",\"t\":\"/\"}"));
}

TEST(CanonicalHashTest, ExcludedTopLevelFieldsDoNotCount) {
  EXPECT_EQ(HashOf(R"({"a":1,"now":"10:00"})", {"now"}),
            HashOf(R"({"a":1,"now":"11:00"})", {"now"}));
  EXPECT_NE(HashOf(R"({"a":1,"now":"10:00"})"), HashOf(R"({"a":1,"now":"11:00"})"));
}

TEST(JsonTest, NumbersKeepTheirSourceText) {
  auto v = Parse(R"({"m":1234.5600,"big":123456789012345678901234567890,"e":1E+3})");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->Find("m")->text(), "1234.5600");
  EXPECT_EQ(v->Find("big")->text(), "123456789012345678901234567890");
  EXPECT_EQ(Serialize(*v), R"({"m":1234.5600,"big":123456789012345678901234567890,"e":1E+3})");
}

TEST(JsonTest, ChineseTextAndEmojiRoundTrip) {
  std::string text = "{\"用途\":\"办公设备采购 \xF0\x9F\x98\x80\",\"q\":\"a\\\"b\\\\c\\n\"}";
  auto v = Parse(text);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->Find("用途")->text(), "办公设备采购 \xF0\x9F\x98\x80");
  EXPECT_EQ(v->Find("q")->text(), "a\"b\\c\n");
  auto again = Parse(Serialize(*v));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Serialize(*again), Serialize(*v));
}

TEST(JsonTest, RejectsMalformedInput) {
  for (const char* bad : {"{\"a\":1", "{\"a\":}", "<html><body>busy</body></html>", "{\"a\":1}x",
                          "[1,2,]", "{\"a\":01}", "{\"a\":1.}", "", "{\"a\":\"\xff\xfe\"}"}) {
    auto v = Parse(bad);
    EXPECT_FALSE(v.ok()) << bad;
    if (!v.ok()) {
      EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
    }
  }
}

TEST(JsonTest, SkipsUtf8Bom) {
  auto v = Parse("\xEF\xBB\xBF{\"a\":1}");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->Find("a")->text(), "1");
}

TEST(JsonTest, DepthIsBounded) {
  std::string deep(200, '[');
  deep += std::string(200, ']');
  EXPECT_FALSE(Parse(deep).ok());
}

// D15: 19- and 20-digit integers either fit exactly or are refused, never wrapped.
TEST(JsonTest, AsInt64RefusesOverflowInsteadOfWrapping) {
  int64_t x = 0;
  EXPECT_FALSE(Value::Number("9999999999999999999").AsInt64(&x));
  EXPECT_FALSE(Value::Number("9223372036854775808").AsInt64(&x));
  EXPECT_FALSE(Value::Number("-9223372036854775809").AsInt64(&x));
  EXPECT_FALSE(Value::Number("123456789012345678901").AsInt64(&x));
  ASSERT_TRUE(Value::Number("9223372036854775807").AsInt64(&x));
  EXPECT_EQ(x, INT64_MAX);
  ASSERT_TRUE(Value::Number("-9223372036854775808").AsInt64(&x));
  EXPECT_EQ(x, INT64_MIN);
  ASSERT_TRUE(Value::String("3306").AsInt64(&x));
  EXPECT_EQ(x, 3306);
}

// D15: of duplicate keys in vendor data the last value wins (as JSON.parse and Python do), at
// the first key's place, so Find, the canonical form and the content hash agree.
TEST(JsonTest, DuplicateKeysKeepTheLastValue) {
  auto v = Parse(R"({"a":1,"b":{"x":1,"x":2},"a":3,"c":[{"k":"p","k":"q","k":"r"}]})");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->Find("a")->text(), "3");
  EXPECT_EQ(Serialize(*v), R"({"a":3,"b":{"x":2},"c":[{"k":"r"}]})");
  EXPECT_EQ(Canonical(*v), Canonical(*Parse(R"({"c":[{"k":"r"}],"b":{"x":2},"a":3})")));
  // Large objects too (the dedup sorts rather than compares pairs).
  std::string big = "{";
  for (int i = 0; i < 200; ++i) big += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  big += "\"k7\":\"last\"}";
  auto b = Parse(big);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->members().size(), 200u);
  EXPECT_EQ(b->members()[7].second.text(), "last");
  // A caller that wants to reject them (the config loader) can see them all.
  ParseOptions keep;
  keep.keep_duplicate_keys = true;
  EXPECT_EQ(Parse(R"({"a":1,"a":2})", keep)->members().size(), 2u);
}

TEST(JsonTest, ParserIsNotTheFallbackKernel) { EXPECT_NE(ParserImplementation(), "fallback"); }

TEST(HashTest, HexAndBytesRoundTrip) {
  Hash128 h = HashBytes("hello");
  Hash128 back;
  ASSERT_TRUE(Hash128::FromBytes(h.ToBytes(), &back));
  EXPECT_EQ(h, back);
  EXPECT_EQ(h.ToHex().size(), 32u);
  EXPECT_NE(HashBytes("hello"), HashBytes("hellp"));
}

}  // namespace
}  // namespace stagesync::json
