// The audit's value comparison: the server's spelling of a value equals the mapped text, and a
// real difference is never hidden by the normalisation.
#include "audit/values.h"

#include <gtest/gtest.h>

namespace stagesync::audit {
namespace {

using C = std::optional<std::string>;

TEST(AuditValuesTest, NumbersCompareAsExactDecimals) {
  EXPECT_EQ(NormalNumber("012.50"), "12.5");
  EXPECT_EQ(NormalNumber("-0.00"), "0");
  EXPECT_EQ(NormalNumber("+7"), "7");
  EXPECT_EQ(NormalNumber("1e3"), "1e3");  // not a plain decimal: unchanged
  EXPECT_TRUE(SameValue(C("12.5"), C("12.50"), "decimal"));
  EXPECT_TRUE(SameValue(C("true"), C("1"), "tinyint"));
  EXPECT_FALSE(SameValue(C("12.5"), C("12.51"), "decimal"));
  EXPECT_FALSE(SameValue(C("125"), C("12.5"), "decimal"));
  // Text is exact: a numeric-looking string in a VARCHAR keeps its zeros.
  EXPECT_FALSE(SameValue(C("012"), C("12"), "varchar"));
}

TEST(AuditValuesTest, DatetimesCompareAsTheServerPrintsThem) {
  EXPECT_TRUE(SameValue(C("2024-05-01T08:00:00"), C("2024-05-01 08:00:00"), "datetime"));
  EXPECT_TRUE(SameValue(C("2024-05-01 08:00:00.000"), C("2024-05-01 08:00:00"), "datetime"));
  EXPECT_TRUE(SameValue(C("2024-05-01"), C("2024-05-01 00:00:00"), "datetime"));
  EXPECT_TRUE(SameValue(C("2024-05-01 00:00:00"), C("2024-05-01"), "date"));
  EXPECT_FALSE(SameValue(C("2024-05-01T08:00:01"), C("2024-05-01 08:00:00"), "datetime"));
  EXPECT_FALSE(SameValue(C("2024-05-01 08:00:00.5"), C("2024-05-01 08:00:00"), "datetime"));
}

TEST(AuditValuesTest, NullEqualsOnlyNull) {
  EXPECT_TRUE(SameValue(std::nullopt, std::nullopt, "varchar"));
  EXPECT_FALSE(SameValue(C(""), std::nullopt, "varchar"));
  EXPECT_FALSE(SameValue(std::nullopt, C("0"), "int"));
  EXPECT_TRUE(SameValue(C("ab  "), C("ab"), "char"));
  EXPECT_FALSE(SameValue(C("ab  "), C("ab"), "varchar"));
}

}  // namespace
}  // namespace stagesync::audit
