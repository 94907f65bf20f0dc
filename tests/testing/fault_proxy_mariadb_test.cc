// The fault proxy in raw TCP mode in front of the test MariaDB: the MySQL protocol passes
// through untouched, and a connection reset after N bytes is a lost connection to the client.
#include <gtest/gtest.h>

#include "stagesync/sql.h"
#include "testing/fault_proxy.h"
#include "testing/mariadb.h"

namespace stagesync::testing {
namespace {

TEST(FaultProxyMariaDbTest, ForwardsTheProtocolAndResetsMidResult) {
  TestDatabase db;
  ASSERT_TRUE(db.ok());
  FaultProxy proxy(db.port(), FaultProxy::Mode::kTcp);
  ASSERT_TRUE(proxy.Start());
  SqlOptions o = db.Options(db.name());
  o.port = proxy.port();
  auto conn = ConnectMySql(o);
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  auto one = (*conn)->Query("SELECT 1 + 1");
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  ASSERT_EQ(one->rows.size(), 1u);
  EXPECT_EQ(one->rows[0][0], "2");

  // The next connection is cut after the handshake and part of a large result.
  proxy.ResetAfterBytes(20000, 1);
  auto cut = ConnectMySql(o);
  ASSERT_TRUE(cut.ok()) << cut.status().ToString();
  // Hex digests: a result the protocol's compression cannot shrink below the cut.
  auto big = (*cut)->Query("SELECT SHA2(seq, 256) FROM seq_1_to_3000");
  ASSERT_FALSE(big.ok()) << big->rows.size() << " rows";  // not a short, "successful" result
  EXPECT_EQ(big.status().code(), StatusCode::kUnavailable) << big.status().ToString();
  EXPECT_EQ(proxy.fired(Fault::kResetMidResponse), 1);
  EXPECT_TRUE((*conn)->Query("SELECT 1").ok());  // the other connection is untouched
}

}  // namespace
}  // namespace stagesync::testing
