// The batch chain's arithmetic: the ledger digest is a set hash (order-free, removal undoes an
// addition), link digests cover every field, and hex round-trips.
#include "common/chain.h"

#include <gtest/gtest.h>

namespace stagesync::chain {
namespace {

TEST(ChainTest, LedgerDigestIsOrderFreeAndRemovalUndoesAddition) {
  const LedgerTuple a{"1", "aa", "m"}, b{"2", "bb", "m"}, c{"3", "cc", "m"};
  LedgerDigest x, y;
  x.Add(a);
  x.Add(b);
  x.Add(c);
  y.Add(c);
  y.Add(a);
  y.Add(b);
  EXPECT_EQ(x.Hex(), y.Hex());
  EXPECT_NE(x.Hex(), std::string(64, '0'));
  y.Remove(b);
  EXPECT_NE(x.Hex(), y.Hex());
  y.Add(b);
  EXPECT_EQ(x.Hex(), y.Hex());
  // Removing everything gives the empty set's digest, through borrows across limbs.
  x.Remove(a);
  x.Remove(b);
  x.Remove(c);
  EXPECT_EQ(x.Hex(), std::string(64, '0'));
  LedgerDigest empty;
  empty.Remove(a);
  empty.Add(a);
  EXPECT_EQ(empty.Hex(), std::string(64, '0'));
}

TEST(ChainTest, EveryTupleFieldCounts) {
  LedgerDigest base, id, hash, mapping, shifted;
  base.Add({"1", "aa", "m"});
  id.Add({"2", "aa", "m"});
  hash.Add({"1", "ab", "m"});
  mapping.Add({"1", "aa", "n"});
  shifted.Add({"1a", "a", "m"});  // field boundaries are not ambiguous
  for (const auto* d : {&id, &hash, &mapping, &shifted}) EXPECT_NE(base.Hex(), d->Hex());
}

TEST(ChainTest, HexRoundTripsAndRejectsGarbage) {
  LedgerDigest d;
  d.Add({"x", "y", "z"});
  LedgerDigest e;
  ASSERT_TRUE(e.FromHex(d.Hex()));
  EXPECT_TRUE(e == d);
  EXPECT_FALSE(e.FromHex("12"));
  EXPECT_FALSE(e.FromHex(std::string(63, '0') + "g"));
  EXPECT_FALSE(e.FromHex(std::string(64, 'A')));
}

TEST(ChainTest, RecordsDigestIgnoresOrderButNotContent) {
  EXPECT_EQ(RecordsDigest({{"1", "a", "m"}, {"2", "b", "m"}}),
            RecordsDigest({{"2", "b", "m"}, {"1", "a", "m"}}));
  EXPECT_NE(RecordsDigest({{"1", "a", "m"}, {"2", "b", "m"}}),
            RecordsDigest({{"1", "a", "m"}, {"2", "c", "m"}}));
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(ChainTest, LinkDigestCoversEveryField) {
  BatchLink l;
  l.pipeline = "p";
  l.sink = "s";
  l.batch_no = 3;
  l.kind = "apply";
  l.first_seq = 10;
  l.last_seq = 20;
  l.records = 5;
  l.records_digest = std::string(64, '1');
  l.ledger_digest = std::string(64, '2');
  l.prev_digest = std::string(64, '3');
  l.committed_at = "2026-12-02 13:00:00.123";
  const std::string d = l.Compute();
  auto changed = [&](auto edit) {
    BatchLink m = l;
    edit(m);
    return m.Compute() != d;
  };
  EXPECT_TRUE(changed([](BatchLink& m) { m.pipeline = "q"; }));
  EXPECT_TRUE(changed([](BatchLink& m) { m.sink = "t"; }));
  EXPECT_TRUE(changed([](BatchLink& m) { m.batch_no = 4; }));
  EXPECT_TRUE(changed([](BatchLink& m) { m.kind = "repair"; }));
  EXPECT_TRUE(changed([](BatchLink& m) { m.first_seq = 11; }));
  EXPECT_TRUE(changed([](BatchLink& m) { m.last_seq = 21; }));
  EXPECT_TRUE(changed([](BatchLink& m) { m.records = 6; }));
  EXPECT_TRUE(changed([](BatchLink& m) { m.records_digest[0] = '9'; }));
  EXPECT_TRUE(changed([](BatchLink& m) { m.ledger_digest[0] = '9'; }));
  EXPECT_TRUE(changed([](BatchLink& m) { m.prev_digest[0] = '9'; }));
  EXPECT_TRUE(changed([](BatchLink& m) { m.committed_at = "2026-12-02 13:00:00.124"; }));
  EXPECT_FALSE(changed([](BatchLink& m) { m.digest = "x"; }));
}

}  // namespace
}  // namespace stagesync::chain
