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

std::string Nested(int depth) {
  return std::string(static_cast<size_t>(depth), '[') + "1" +
         std::string(static_cast<size_t>(depth), ']');
}

ParseOptions PageOptions() {
  ParseOptions o;
  o.isolate = Isolate::kArrayItems;
  return o;
}

// One unreadable record in a page of five: the page parses, that record is a placeholder with
// its exact raw bytes and the reason, and the others read exactly as a strict parse reads them.
TEST(JsonIsolateTest, AnUnreadableRecordBecomesAPlaceholderAndTheRestParses) {
  const std::string bad_utf8 = "{\"id\":2,\"name\":\"caf\xff\"}";
  const std::string surrogate = R"({"id":3,"name":"\ud800x"})";
  const std::string deep = "{\"id\":4,\"d\":" + Nested(70) + "}";
  const std::string good1 = R"({"id":1,"name":"\u00e9\ud83d\ude00","n":1.50})";
  const std::string good5 = R"({"id":5,"tags":["a","b"]})";
  const std::string page = "{\"success\":true,\"total\":5,\"list\":[" + good1 + ", " + bad_utf8 +
                           "," + surrogate + ",\n" + deep + "," + good5 + "]}";
  EXPECT_FALSE(Parse(page).ok());  // strict: the whole page fails
  auto v = Parse(page, PageOptions());
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  const auto& items = v->Find("list")->items();
  ASSERT_EQ(items.size(), 5u);
  EXPECT_FALSE(items[0].is_invalid());
  EXPECT_EQ(Canonical(items[0]), Canonical(*Parse(good1)));
  EXPECT_EQ(Canonical(items[4]), Canonical(*Parse(good5)));
  ASSERT_TRUE(items[1].is_invalid());
  EXPECT_EQ(items[1].invalid_raw(), bad_utf8);
  EXPECT_NE(items[1].invalid_error().find("invalid UTF-8"), std::string::npos);
  ASSERT_TRUE(items[2].is_invalid());
  EXPECT_EQ(items[2].invalid_raw(), surrogate);
  EXPECT_NE(items[2].invalid_error().find("lone surrogate"), std::string::npos);
  ASSERT_TRUE(items[3].is_invalid());
  EXPECT_EQ(items[3].invalid_raw(), deep);
  EXPECT_NE(items[3].invalid_error().find("nesting deeper than 64"), std::string::npos);
  EXPECT_EQ(Serialize(items[1]), "null");
  EXPECT_EQ(v->Find("total")->text(), "5");
}

TEST(JsonIsolateTest, KingdeeRowsAreTheUnitsNotTheirCells) {
  auto v = Parse("[[1,\"a\"],[2,\"\xc3\x28\"],[3,\"c\"]]", PageOptions());
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  ASSERT_EQ(v->items().size(), 3u);
  EXPECT_TRUE(v->items()[1].is_invalid());
  EXPECT_EQ(v->items()[2].items()[1].text(), "c");
}

TEST(JsonIsolateTest, SyntaxErrorsAndBadValuesOutsideAnyRecordStillFailThePage) {
  // Truncated (maybe in transit): nothing to isolate.
  EXPECT_FALSE(
      Parse("{\"list\":[{\"id\":1},{\"id\":2,\"a\":\"\xff\"},{\"id\":3", PageOptions()).ok());
  // The envelope itself is unreadable.
  EXPECT_FALSE(Parse("{\"message\":\"\xff\",\"list\":[{\"id\":1}]}", PageOptions()).ok());
}

TEST(JsonIsolateTest, RootMembersIsolateAOneRecordReply) {
  ParseOptions o;
  o.isolate = Isolate::kRootMembers;
  auto v = Parse("{\"errcode\":0,\"process_instance\":{\"title\":\"\xed\xa0\x80\"}}", o);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->Find("errcode")->text(), "0");
  EXPECT_TRUE(v->Find("process_instance")->is_invalid());
}

TEST(JsonIsolateTest, LossyReadsAnIdOutOfAnUnreadableRecord) {
  ParseOptions o;
  o.lossy = true;
  auto v = Parse("{\"id\":\"A-7\",\"x\":\"\xff\\ud800\",\"d\":" + Nested(100) + "}", o);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->Find("id")->text(), "A-7");
  EXPECT_EQ(v->Find("x")->text(), "\xef\xbf\xbd\xef\xbf\xbd");
}

// Property: one bad byte put into a string of one record of a page makes exactly that record
// a placeholder; every other record reads as a strict parse reads it; a truncated page fails.
TEST(JsonIsolateTest, ABadByteAnywhereInARecordsStringsIsolatesJustThatRecord) {
  std::vector<std::string> records;
  for (int i = 0; i < 8; ++i) {
    records.push_back(
        "{\"id\":" + std::to_string(i) + R"(,"name":"n\u00e9\"q\" \\ )" + std::to_string(i) +
        R"(","items":[{"sku":"s-1","qty":2.50},{"sku":"\ud83d\ude00","t":[1,[2,{}]]}],)" +
        R"("note":null,"ok":true})");
  }
  uint32_t seed = 12345;
  auto next = [&seed]() { return seed = seed * 1103515245u + 12345u; };
  for (int round = 0; round < 300; ++round) {
    const size_t victim = next() % records.size();
    std::string bad = records[victim];
    // A position inside a string literal (after a quote, not on an escape).
    std::vector<size_t> spots;
    bool in_string = false;
    for (size_t k = 0; k < bad.size(); ++k) {
      if (bad[k] == '\\') {
        k += bad[k + 1] == 'u' ? 5 : 1;  // not inside an escape: that is a syntax error
        continue;
      }
      if (bad[k] == '"') {
        in_string = !in_string;
      } else if (in_string) {
        spots.push_back(k);
      }
    }
    const size_t at = spots[next() % spots.size()];
    const char* kBad[] = {"\xff", "\xc0\xaf", "\xed\xa0\x80", "\x01", "\\ud800", "\\udfff"};
    bad.insert(at, kBad[next() % 6]);
    std::string page = R"({"code":0,"data":{"count":8,"list":[)";
    for (size_t r = 0; r < records.size(); ++r) {
      page += (r ? "," : "") + (r == victim ? bad : records[r]);
    }
    page += "]}}";
    auto v = Parse(page, PageOptions());
    ASSERT_TRUE(v.ok()) << v.status().ToString() << "\n" << page;
    const auto& items = v->Find("data")->Find("list")->items();
    ASSERT_EQ(items.size(), records.size());
    for (size_t r = 0; r < records.size(); ++r) {
      if (r == victim) {
        ASSERT_TRUE(items[r].is_invalid()) << page;
        EXPECT_EQ(items[r].invalid_raw(), bad);
      } else {
        ASSERT_FALSE(items[r].is_invalid()) << page;
        EXPECT_EQ(Canonical(items[r]), Canonical(*Parse(records[r])));
      }
    }
    EXPECT_FALSE(Parse(page.substr(0, at + 40), PageOptions()).ok());
  }
}

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
