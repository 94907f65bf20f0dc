// An HTTP sink's outcome chain in real staging: every outcome written extends it in the same
// write, the audit verifies it, and edits made to the RocksDB files behind staging's back (an
// outcome forged, a link deleted) are found. The edits go through RocksDB itself, as a person
// with `ldb` would make them.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "audit/chain_check.h"
#include "stagesync/stage.h"
#include "testing/temp_dir.h"

namespace stagesync::audit {
namespace {

std::string MetaKey(std::initializer_list<std::string> parts) {
  std::string k;
  for (const auto& p : parts) {
    if (!k.empty()) k.push_back('\0');
    k += p;
  }
  return k;
}

// Opens the state dir's RocksDB directly and runs `edit` on its meta column family.
void EditMeta(const std::string& dir,
              const std::function<void(rocksdb::DB*, rocksdb::ColumnFamilyHandle*)>& edit) {
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), dir, cfs, &handles, &db).ok());
  rocksdb::ColumnFamilyHandle* meta = nullptr;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == "meta") meta = handles[i];
  }
  ASSERT_NE(meta, nullptr);
  edit(db, meta);
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  delete db;
}

struct Verified {
  SinkReport rep;
  std::vector<Finding> findings;
};

Verified Verify(const std::string& dir) {
  Verified v;
  v.rep.pipeline = "p";
  v.rep.sink = "s";
  stage::StageOptions ro;
  ro.read_only = true;
  auto log = stage::StagingLog::Open(dir, ro);
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  if (!log.ok()) return v;
  Status st = VerifyOutcomeChain(log->get(), &v.rep, &v.findings);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return v;
}

TEST(OutcomeChainTest, EveryOutcomeExtendsTheChainAndEditsBehindStagingsBackAreFound) {
  testing::TempDir tmp;
  const std::string dir = tmp.Sub("state");
  {
    auto log = stage::StagingLog::Open(dir);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    ASSERT_TRUE((*log)->CompleteIntent("p", "s", "A", R"({"target_id":"1"})").ok());
    ASSERT_TRUE((*log)->CompleteIntent("p", "s", "B", R"({"target_id":"2"})").ok());
    ASSERT_TRUE((*log)->CompleteIntent("p", "s", "A", R"({"target_id":"1","changes":1})").ok());
    ASSERT_TRUE((*log)->CompleteIntent("p", "other", "A", R"({"target_id":"9"})").ok());
  }
  auto clean = Verify(dir);
  EXPECT_TRUE(clean.findings.empty()) << clean.findings[0].detail;
  EXPECT_EQ(clean.rep.chain_links, 3u);
  EXPECT_EQ(clean.rep.chain_head_no, 3u);
  EXPECT_EQ(clean.rep.chain_head.size(), 64u);

  // An outcome forged: the outcomes no longer sum to the head's digest.
  std::string saved;
  EditMeta(dir, [&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* meta) {
    const std::string key = MetaKey({"outcome", "p", "s", "B"});
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), meta, key, &saved).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), meta, key, R"({"target_id":"666"})").ok());
  });
  auto forged = Verify(dir);
  ASSERT_EQ(forged.findings.size(), 1u);
  EXPECT_EQ(forged.findings[0].cls, "chain_broken");
  EXPECT_NE(forged.findings[0].detail.find("outcomes in staging no longer sums"), std::string::npos)
      << forged.findings[0].detail;
  EditMeta(dir, [&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* meta) {
    ASSERT_TRUE(
        db->Put(rocksdb::WriteOptions(), meta, MetaKey({"outcome", "p", "s", "B"}), saved).ok());
  });
  EXPECT_TRUE(Verify(dir).findings.empty());

  // A link deleted: named as the first broken one.
  EditMeta(dir, [&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* meta) {
    std::string key = MetaKey({"chainlink", "p", "s", ""});
    key.append(std::string("\0\0\0\0\0\0\0\2", 8));
    std::string v;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), meta, key, &v).ok());
    ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), meta, key).ok());
  });
  auto gone = Verify(dir);
  ASSERT_FALSE(gone.findings.empty());
  EXPECT_NE(gone.findings[0].detail.find("link 2 is missing"), std::string::npos)
      << gone.findings[0].detail;
}

// Outcomes stored before the chain existed: the first link's digest covers them, so the chain
// starts whole there.
TEST(OutcomeChainTest, OutcomesFromBeforeTheChainAreCoveredByItsFirstLink) {
  testing::TempDir tmp;
  const std::string dir = tmp.Sub("state");
  {
    auto log = stage::StagingLog::Open(dir);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->CompleteIntent("p", "s", "A", "{}").ok());
  }
  // As an older version left it: an outcome, and no chain.
  EditMeta(dir, [&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* meta) {
    ASSERT_TRUE(
        db->Delete(rocksdb::WriteOptions(), meta, MetaKey({"chainhead", "p", "s", ""})).ok());
    std::string key = MetaKey({"chainlink", "p", "s", ""});
    key.append(std::string("\0\0\0\0\0\0\0\1", 8));
    ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), meta, key).ok());
  });
  auto none = Verify(dir);
  EXPECT_TRUE(none.findings.empty());
  EXPECT_EQ(none.rep.chain_links, 0u);
  EXPECT_FALSE(none.rep.chain_note.empty());
  {
    auto log = stage::StagingLog::Open(dir);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->CompleteIntent("p", "s", "B", "{}").ok());
  }
  auto started = Verify(dir);
  EXPECT_TRUE(started.findings.empty()) << started.findings[0].detail;
  EXPECT_EQ(started.rep.chain_links, 1u);
}

}  // namespace
}  // namespace stagesync::audit
