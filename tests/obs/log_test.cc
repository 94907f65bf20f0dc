// Log line formats: json lines parse with stagesync/json.h and carry ts, level, msg, pipeline,
// sink, run_id and extra fields; text lines keep the classic shape plus key=value fields; both
// are redacted and one line per event whatever the message holds.
#include "obs/log.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "obs/redact.h"
#include "stagesync/json.h"

namespace stagesync::obs {
namespace {

constexpr int64_t kAt = 1796175638123;  // 2026-12-02T01:40:38.123Z

TEST(LogFormatTest, JsonLineParsesWithEveryField) {
  LogFields f = For("dingtalk-payment", "kingdee_paybill", 17);
  f.extra.emplace_back("outcome", "partial");
  const std::string line = FormatLogLine(
      kAt, LogLevel::kWarning, "pipeline dingtalk-payment: \"quoted\"\nnext", f, LogFormat::kJson);
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;
  auto v = json::Parse(line);
  ASSERT_TRUE(v.ok()) << line;
  ASSERT_NE(v->Find("ts"), nullptr);
  EXPECT_EQ(v->Find("ts")->text(), "2026-12-02T01:40:38.123Z");
  EXPECT_EQ(v->Find("level")->text(), "warning");
  EXPECT_EQ(v->Find("msg")->text(), "pipeline dingtalk-payment: \"quoted\"\nnext");
  EXPECT_EQ(v->Find("pipeline")->text(), "dingtalk-payment");
  EXPECT_EQ(v->Find("sink")->text(), "kingdee_paybill");
  int64_t id = 0;
  ASSERT_TRUE(v->Find("run_id")->AsInt64(&id));
  EXPECT_EQ(id, 17);
  EXPECT_EQ(v->Find("outcome")->text(), "partial");
}

TEST(LogFormatTest, JsonLeavesOutWhatIsNotKnown) {
  auto v = json::Parse(FormatLogLine(kAt, LogLevel::kInfo, "agent started", {}, LogFormat::kJson));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->Find("pipeline"), nullptr);
  EXPECT_EQ(v->Find("sink"), nullptr);
  EXPECT_EQ(v->Find("run_id"), nullptr);
  EXPECT_EQ(v->Find("level")->text(), "info");
}

TEST(LogFormatTest, TextIsTheClassicLinePlusFields) {
  EXPECT_EQ(
      FormatLogLine(kAt, LogLevel::kInfo, "pipeline p: run 3 ok in 0.1 s", For("p", "", 3),
                    LogFormat::kText),
      "2026-12-02T01:40:38.123Z stagesync: pipeline p: run 3 ok in 0.1 s pipeline=p run_id=3");
  EXPECT_EQ(FormatLogLine(kAt, LogLevel::kError, "boom\r\nline two", For("p", "my sink"),
                          LogFormat::kText),
            "2026-12-02T01:40:38.123Z stagesync: error: boom  line two pipeline=p "
            "sink=\"my sink\"");
}

TEST(LogFormatTest, LinesAreRedacted) {
  Redactor::Global().AddSecret("Lg-Secret-5521");
  for (LogFormat format : {LogFormat::kText, LogFormat::kJson}) {
    LogFields f = For("p");
    f.extra.emplace_back("url", "https://x/y?access_token=tok99");
    const std::string line = FormatLogLine(
        kAt, LogLevel::kError, "vendor said Lg-Secret-5521 \"Lg-Secret-5521\"", f, format);
    EXPECT_EQ(line.find("Lg-Secret-5521"), std::string::npos) << line;
    EXPECT_EQ(line.find("tok99"), std::string::npos) << line;
    EXPECT_NE(line.find("***"), std::string::npos) << line;
    if (format == LogFormat::kJson) {
      EXPECT_TRUE(json::Parse(line).ok()) << line;
    }
  }
  Redactor::Global().ClearSecrets();
}

TEST(LogFormatTest, LogWritesOneLinePerCallToTheOutput) {
  std::vector<std::string> lines;
  SetLogOutput([&](const std::string& l) { lines.push_back(l); });
  SetLogFormat(LogFormat::kJson);
  Log(LogLevel::kNotice, "one", For("a"));
  Log(LogLevel::kInfo, "two\nlines");
  SetLogOutput(nullptr);
  SetLogFormat(LogFormat::kText);
  ASSERT_EQ(lines.size(), 2u);
  for (const auto& l : lines) {
    ASSERT_FALSE(l.empty());
    EXPECT_EQ(l.back(), '\n');
    EXPECT_EQ(l.find('\n'), l.size() - 1) << l;
    EXPECT_TRUE(json::Parse(l).ok()) << l;
  }
}

TEST(LogFormatTest, ParseLogFormat) {
  EXPECT_EQ(*ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_EQ(*ParseLogFormat("text"), LogFormat::kText);
  EXPECT_EQ(ParseLogFormat("xml").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace stagesync::obs
