// Unit tests of the MySQL sink's bookkeeping DDL on a FakeSqlConnection: the ledger and
// offsets tables are created, an offsets table from before the staging-instance stamp gets its
// columns once, and a failure stops the setup where it happened.
#include <gtest/gtest.h>

#include "connectors/mysql/mysql_sink.h"
#include "testing/fake_sql_connection.h"

namespace stagesync::sink::mysql {
namespace {

constexpr char kHasStamp[] = "COLUMN_NAME = 'staging_id'";

size_t Count(const std::vector<std::string>& statements, const std::string& part) {
  size_t n = 0;
  for (const auto& s : statements) n += s.find(part) != std::string::npos;
  return n;
}

TEST(MySqlBookkeepingTest, NewTablesAreCreatedAndLeftAlone) {
  testing::FakeSqlConnection conn;
  conn.AnswerValue(kHasStamp, "1");
  ASSERT_TRUE(EnsureBookkeepingTables(&conn).ok());
  EXPECT_EQ(Count(conn.statements(), "CREATE TABLE IF NOT EXISTS stagesync_ledger"), 1u);
  EXPECT_EQ(Count(conn.statements(), "CREATE TABLE IF NOT EXISTS stagesync_offsets"), 1u);
  EXPECT_EQ(Count(conn.statements(), "ALTER TABLE"), 0u);
}

TEST(MySqlBookkeepingTest, AnOldOffsetsTableGetsTheStagingStampColumns) {
  testing::FakeSqlConnection conn;
  conn.AnswerValue(kHasStamp, "0");
  ASSERT_TRUE(EnsureBookkeepingTables(&conn).ok());
  ASSERT_EQ(Count(conn.statements(), "ALTER TABLE stagesync_offsets ADD COLUMN staging_id"), 1u);
  EXPECT_NE(conn.statements().back().find("from_seq"), std::string::npos);
}

TEST(MySqlBookkeepingTest, AFailureStopsTheSetupAndKeepsItsCode) {
  testing::FakeSqlConnection conn;
  conn.AnswerValue(kHasStamp, "0");
  conn.FailNext(1, "stagesync_offsets", Unavailable("MySQL 2013: Lost connection"));
  Status s = EnsureBookkeepingTables(&conn);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_EQ(conn.statements().size(), 2u);           // the ledger, then the failed offsets DDL
  ASSERT_TRUE(EnsureBookkeepingTables(&conn).ok());  // the fault was for one call only
  EXPECT_EQ(Count(conn.statements(), "ALTER TABLE"), 1u);
}

}  // namespace
}  // namespace stagesync::sink::mysql
