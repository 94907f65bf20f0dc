// Integration tests: the Kingdee source (seed 004 as shipped, pointed at the emulator) fetching
// over real HTTP (libcurl, loopback) into a real RocksDB staging log: full and incremental
// scans, session loss and throttling mid-run within qps, keyset vs offset paging while rows
// change between pages, sweep deletes, and auth/parameter errors that must stop at once.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <set>

#include "connectors/connector.h"
#include "connectors/kingdee/kingdee_client.h"
#include "emulators/kingdee_emulator.h"
#include "stagesync/fetch.h"
#include "testing/fake_clock.h"
#include "testing/faulty_http_client.h"
#include "testing/kingdee_materials.h"
#include "testing/pipeline_test.h"
#include "testing/seed_config.h"

namespace stagesync {
namespace {

using emulators::KingdeeEmulator;
using emulators::KingdeeMaterial;
using testing::Num;
using testing::Raw;
using testing::Str;

constexpr char kPipeline[] = "kingdee-material";

using testing::InSeed004Filter;

class KingdeeFetchTest : public testing::PipelineTest<testing::FaultyHttpClient> {
 protected:
  void SetUp() override { ASSERT_TRUE(emu_.Start(0)); }

  // Seed 004 with the emulator's credentials; `source` overrides source options.
  void Configure(std::map<std::string, json::Value> source = {},
                 std::map<std::string, json::Value> connection = {},
                 std::vector<std::string> remove = {}) {
    auto e = testing::EmulatorSeedEdits("kingdee", emu_.base_url(), dir_.Sub("state"),
                                        {{"qps", Num(500)}, {"retry_base_ms", Num(10)}});
    for (auto& [k, v] : connection) e.connection[k] = v;
    e.source = std::move(source);
    e.remove_source = std::move(remove);
    Load(testing::SeedConfigJson("004-kingdee-material.json", e));
  }

  int64_t Matching() {
    auto all = emu_.Materials();
    return std::count_if(all.begin(), all.end(), InSeed004Filter);
  }

  // Every material in the filter is staged live with exactly its content; every other staged
  // record is a tombstone.
  void ExpectStagingMatchesEmulator() {
    std::map<std::string, std::string> want;
    for (const auto& m : emu_.Materials()) {
      if (InSeed004Filter(m)) want[std::to_string(m.master_id)] = testing::Seed004Record(m);
    }
    int64_t live = 0;
    ASSERT_TRUE(log_->ScanRecords(kPipeline,
                                  [&](const stage::StagedRecord& r) {
                                    if (r.deleted) {
                                      EXPECT_EQ(want.count(r.source_id), 0u)
                                          << "live material tombstoned: " << r.source_id;
                                      return true;
                                    }
                                    ++live;
                                    auto it = want.find(r.source_id);
                                    EXPECT_NE(it, want.end())
                                        << "staged but not at the source: " << r.source_id;
                                    if (it != want.end()) {
                                      EXPECT_EQ(r.raw, it->second) << r.source_id;
                                    }
                                    return true;
                                  })
                    .ok());
    EXPECT_EQ(live, static_cast<int64_t>(want.size()));
  }

  uint64_t LastSeq() { return log_->Summary(kPipeline)->last_seq; }

  std::vector<int64_t> MatchingIds() {
    std::vector<int64_t> ids;
    for (const auto& m : emu_.Materials()) {
      if (InSeed004Filter(m)) ids.push_back(m.master_id);
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  KingdeeEmulator emu_;
};

TEST_F(KingdeeFetchTest, SeedScanStagesExactlyTheFilteredMaterialsAndASecondRunNothing) {
  emu_.GenerateMaterials(2500, 4);
  emu_.BomAlways(true);  // Kingdee prefixes bodies with a BOM [V:K10]
  Configure({{"limit", Num(400)}});
  auto first = Fetch();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->added, Matching());
  EXPECT_EQ(first->fetched, Matching());
  EXPECT_GE(first->pages, 5);
  EXPECT_EQ(first->windows, 1);
  ExpectStagingMatchesEmulator();
  ASSERT_TRUE(first->watermark_ms.has_value());
  // The specification keeps its spaces in staging (trim is the sink's business).
  bool spaced = false;
  for (const auto& m : emu_.Materials()) {
    spaced = spaced || (InSeed004Filter(m) && m.specification.front() == ' ');
  }
  EXPECT_TRUE(spaced);
  EXPECT_EQ(emu_.LoginCount(), 1);  // one session for every page

  const uint64_t store_seq = log_->StoreSequence();
  auto second = Fetch();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->added + second->changed, 0);
  EXPECT_EQ(second->unchanged, Matching());
  EXPECT_EQ(LastSeq(), static_cast<uint64_t>(Matching()));
  EXPECT_LE(log_->StoreSequence() - store_seq, 1u);  // only the watermark moved
}

TEST_F(KingdeeFetchTest, UpstreamChangesStageExactlyThose) {
  emu_.GenerateMaterials(600, 5);
  Configure({{"limit", Num(150)}});
  ASSERT_TRUE(Fetch().ok());
  const uint64_t seq = LastSeq();
  auto ids = MatchingIds();
  ASSERT_TRUE(emu_.UpdateMaterial(ids[3], "改名一"));
  ASSERT_TRUE(emu_.UpdateMaterial(ids[200], "改名二"));
  KingdeeMaterial added;
  added.name = "新增物料";
  added.specification = " M8*30 ";
  added.group_number = "01.01";
  added.base_unit = "Pcs";
  added.product_line = "紧固件";
  emu_.AddMaterial(added);
  KingdeeMaterial other_org = added;
  other_org.use_org = "T01";  // outside the filter: never staged
  emu_.AddMaterial(other_org);
  auto s = Fetch();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->changed, 2);
  EXPECT_EQ(s->added, 1);
  auto changes = log_->ReadChanges(kPipeline, seq, 100);
  ASSERT_TRUE(changes.ok());
  std::set<std::string> changed;
  for (const auto& c : *changes) changed.insert(c.source_id);
  EXPECT_EQ(changed.size(), 3u);
  EXPECT_TRUE(changed.contains(std::to_string(ids[3])));
  EXPECT_TRUE(changed.contains(std::to_string(ids[200])));
  ExpectStagingMatchesEmulator();
}

TEST_F(KingdeeFetchTest, VanishedMaterialsBecomeTombstonesOnlyWithSweep) {
  emu_.GenerateMaterials(500, 6);
  Configure({{"deletes", Str("none")}});
  ASSERT_TRUE(Fetch().ok());
  auto ids = MatchingIds();
  ASSERT_TRUE(emu_.RemoveMaterial(ids[10]));
  // Leaving the filter (forbidden now) is vanishing from the set, too.
  for (auto m : emu_.Materials()) {
    if (m.master_id == ids[20]) {
      m.forbid_status = "B";
      emu_.AddMaterial(m);
    }
  }
  auto no_sweep = Fetch();
  ASSERT_TRUE(no_sweep.ok());
  EXPECT_EQ(log_->Summary(kPipeline)->deleted, 0);
  auto kept = log_->Get(kPipeline, std::to_string(ids[10]));
  ASSERT_TRUE(kept.ok() && kept->has_value());
  EXPECT_FALSE((*kept)->deleted);

  Configure();  // the seed as shipped: deletes "sweep"
  const uint64_t seq = LastSeq();
  auto swept = Fetch();
  ASSERT_TRUE(swept.ok()) << swept.status().ToString();
  EXPECT_EQ(log_->Summary(kPipeline)->deleted, 2);
  for (int64_t id : {ids[10], ids[20]}) {
    auto r = log_->Get(kPipeline, std::to_string(id));
    ASSERT_TRUE(r.ok() && r->has_value());
    EXPECT_TRUE((*r)->deleted) << id;
    EXPECT_EQ((*r)->raw, "{}");
  }
  EXPECT_EQ(log_->ReadChanges(kPipeline, seq, 100)->size(), 2u);
  ExpectStagingMatchesEmulator();

  // Swept again: nothing more to write. Back in the set: live again.
  const uint64_t seq2 = LastSeq();
  ASSERT_TRUE(Fetch().ok());
  EXPECT_EQ(LastSeq(), seq2);
  for (auto m : emu_.Materials()) {
    if (m.master_id == ids[20]) {
      m.forbid_status = "A";
      emu_.AddMaterial(m);
    }
  }
  ASSERT_TRUE(Fetch().ok());
  EXPECT_EQ(log_->Summary(kPipeline)->deleted, 1);
  ExpectStagingMatchesEmulator();
}

TEST_F(KingdeeFetchTest, ASweepThatWouldEmptyTheTableStopsAndDeletesNothing) {
  emu_.GenerateMaterials(300, 7);
  Configure();
  ASSERT_TRUE(Fetch().ok());
  auto ids = MatchingIds();
  for (size_t i = 0; i < ids.size() * 8 / 10; ++i) ASSERT_TRUE(emu_.RemoveMaterial(ids[i]));
  auto s = Fetch();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("sweep_max_fraction"), std::string::npos)
      << s.status().message();
  EXPECT_EQ(log_->Summary(kPipeline)->deleted, 0);

  Configure({{"sweep_max_fraction", Num(1)}});  // the operator says it is real
  ASSERT_TRUE(Fetch().ok());
  EXPECT_EQ(log_->Summary(kPipeline)->deleted, static_cast<int64_t>(ids.size() * 8 / 10));
  ExpectStagingMatchesEmulator();
}

TEST_F(KingdeeFetchTest, IncrementalFilterReadsOnlyChangedRowsAndAFullScanSweeps) {
  emu_.GenerateMaterials(800, 8);
  Configure({{"incremental_filter", Str("FModifyDate >= '{{LAST_SYNC_TIME|datetime}}'")},
             {"full_scan_every_s", Num(3600)}});
  auto first = Fetch();  // no watermark yet: a full scan
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->added, Matching());
  auto ids = MatchingIds();
  ASSERT_TRUE(emu_.UpdateMaterial(ids[1], "改一"));
  ASSERT_TRUE(emu_.UpdateMaterial(ids[2], "改二"));
  ASSERT_TRUE(emu_.UpdateMaterial(ids[400], "改三"));
  ASSERT_TRUE(emu_.RemoveMaterial(ids[5]));
  auto second = Fetch();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->fetched, 3);  // generated dates are in 2024: only the three changed rows
  EXPECT_EQ(second->changed, 3);
  const std::string body = emu_.LastRequestBody("ExecuteBillQuery");
  EXPECT_NE(body.find("FModifyDate >= '20"), std::string::npos) << body;
  // An incremental scan proves nothing about absent rows: no sweep yet.
  EXPECT_EQ(log_->Summary(kPipeline)->deleted, 0);

  // An hour later the periodic full scan is due: it sweeps.
  testing::ShiftedClock later(Clock::Real()->NowMillis() + 3601 * 1000);
  auto third = Fetch(&later);
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  EXPECT_EQ(third->fetched, Matching());
  EXPECT_EQ(log_->Summary(kPipeline)->deleted, 1);
  ExpectStagingMatchesEmulator();
}

TEST_F(KingdeeFetchTest, SessionLossThrottlingAndFaultsMidRunStillDeliverEverythingWithinQps) {
  emu_.GenerateMaterials(2600, 9);
  emu_.SetMaxQps(20);  // MsgCode 14 above this
  emu_.SetSessionExpiresAfterCalls(3);
  emu_.ThrottleNext(2, "ExecuteBillQuery");
  emu_.LockNext(1, "ExecuteBillQuery");
  emu_.Fail5xxNext(1, "ExecuteBillQuery");
  emu_.TruncateNext(1, "ExecuteBillQuery");
  emu_.BomAlways(true);
  Configure({{"limit", Num(200)}}, {{"qps", Num(20)}});
  std::atomic<int> queries{0};
  http_->SetHook([&](const HttpRequest& req, const Result<HttpResponse>&) {
    // Every session issued so far is lost after the fourth query.
    if (req.url.find("ExecuteBillQuery") != std::string::npos && ++queries == 4) {
      emu_.ExpireSessionNow();
    }
  });
  auto s = Fetch();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->added, Matching());
  ExpectStagingMatchesEmulator();
  EXPECT_GE(emu_.LoginCount(), 4);  // renewed after MsgCode 1, each time
  EXPECT_LE(emu_.MaxRequestsInAnySecond(), 20);
}

TEST_F(KingdeeFetchTest, KeysetPagingNeitherSkipsNorRepeatsWhileRowsAreInserted) {
  emu_.GenerateMaterials(2500, 10);
  Configure({{"limit", Num(300)}});  // the seed pages by keyset
  const int64_t before = Matching();
  emu_.InsertMaterialsBetweenPagesNext(5);
  auto s = Fetch();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(emu_.InsertedBetweenPages().size(), 5u);
  EXPECT_EQ(s->fetched, before);  // no row served twice
  EXPECT_EQ(s->added, before);    // and every row present at the start staged
  // The rows inserted behind the keyset are new, not lost: the next scan stages them.
  auto next = Fetch();
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->added, 5);
  ExpectStagingMatchesEmulator();
}

TEST_F(KingdeeFetchTest, OffsetPagingRepeatsAndSkipsRowsWhereKeysetDoesNot) {
  emu_.GenerateMaterials(2500, 11);
  Configure({{"limit", Num(300)}, {"paging", Str("offset")}});
  // Inserts between pages: the next page starts early, so rows come twice (dedup absorbs it).
  const int64_t before = Matching();
  emu_.InsertMaterialsBetweenPagesNext(5);
  auto s = Fetch();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->fetched, before + 5);
  EXPECT_EQ(s->added, before);
  EXPECT_EQ(s->unchanged, 5);

  // A delete between pages (of a row already served): the next page starts one row late, so
  // a live row is skipped.
  ASSERT_TRUE(Fetch().ok());  // stages the inserted rows
  auto ids = MatchingIds();
  auto remove_first_after_page_one = [&](std::atomic<int>* queries) {
    const int64_t victim = MatchingIds().front();
    http_->SetHook([this, queries, victim](const HttpRequest& req, const Result<HttpResponse>&) {
      if (req.url.find("ExecuteBillQuery") != std::string::npos && ++*queries == 1) {
        emu_.RemoveMaterial(victim);
      }
    });
  };
  std::atomic<int> queries{0};
  remove_first_after_page_one(&queries);
  auto skipped = Fetch();
  ASSERT_TRUE(skipped.ok()) << skipped.status().ToString();
  EXPECT_EQ(skipped->fetched, static_cast<int64_t>(ids.size()) - 1);  // ids[300] never served
  // The sweep asked Kingdee about the row the scan missed: still there, so not tombstoned.
  EXPECT_EQ(log_->Summary(kPipeline)->deleted, 0);
  http_->SetHook(nullptr);
  ASSERT_TRUE(Fetch().ok());  // the next scan sees the delete
  EXPECT_EQ(log_->Summary(kPipeline)->deleted, 1);
  ExpectStagingMatchesEmulator();

  // The same delete under keyset paging skips nothing.
  Configure({{"limit", Num(300)}});
  ids = MatchingIds();
  queries = 0;
  remove_first_after_page_one(&queries);
  auto keyset = Fetch();
  ASSERT_TRUE(keyset.ok()) << keyset.status().ToString();
  EXPECT_EQ(keyset->fetched, static_cast<int64_t>(ids.size()));
  http_->SetHook(nullptr);
  ASSERT_TRUE(Fetch().ok());
  EXPECT_EQ(log_->Summary(kPipeline)->deleted, 2);
  ExpectStagingMatchesEmulator();
}

TEST_F(KingdeeFetchTest, ValidateUserWithAPasswordWorksToo) {
  emu_.GenerateMaterials(200, 12);
  Configure({}, {{"app_secret", Str("")}, {"app_id", Str("")}, {"password", Str("demo-pass")}});
  auto s = Fetch();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(emu_.RequestCount("ValidateUser"), 1);
  EXPECT_EQ(emu_.RequestCount("LoginByAppSecret"), 0);
  ExpectStagingMatchesEmulator();
}

// The login is throttled like every other call (issue 9 B5): MsgCode 14 or a 502 answering
// LoginByAppSecret backs off and logs in again instead of reading as refused credentials.
TEST_F(KingdeeFetchTest, ThrottledAndFailingLoginsAreRetriedNotRefused) {
  emu_.GenerateMaterials(120, 21);
  emu_.SetFaultsOnLogin(true);
  emu_.ThrottleNext(2, "LoginByAppSecret");
  emu_.Fail5xxNext(1, "LoginByAppSecret");
  emu_.BomAlways(true);
  Configure({{"limit", Num(50)}});
  auto s = Fetch();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->added, Matching());
  ExpectStagingMatchesEmulator();
  EXPECT_EQ(emu_.LoginCount(), 4);  // three faulted, then one session

  // The session is lost mid-run and the new login is throttled too.
  emu_.ExpireSessionNow();
  emu_.ThrottleNext(1, "LoginByAppSecret");
  auto s2 = Fetch();
  ASSERT_TRUE(s2.ok()) << s2.status().ToString();
  EXPECT_EQ(emu_.LoginCount(), 6);
}

TEST_F(KingdeeFetchTest, RefusedLoginsStopAtOnceWithAClearMessageAndNoSecret) {
  emu_.GenerateMaterials(50, 13);
  struct Case {
    std::map<std::string, json::Value> conn;
    std::string expect;
    std::string secret;
  };
  const std::vector<Case> cases = {
      {{{"app_secret", Str("wrong-secret-123")}}, "acct_id", "wrong-secret-123"},
      {{{"acct_id", Str("no-such-acct")}}, "acct_id", "demo-app-secret"},
      {{{"app_secret", Str("")}, {"app_id", Str("")}, {"password", Str("bad-pass-456")}},
       "用户名或密码错误",
       "bad-pass-456"},
  };
  for (const auto& c : cases) {
    emu_.ResetStats();
    Configure({}, c.conn);
    auto s = Fetch();
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), StatusCode::kPermissionDenied) << s.status().ToString();
    EXPECT_NE(s.status().message().find("login"), std::string::npos) << s.status().message();
    EXPECT_NE(s.status().message().find(c.expect), std::string::npos) << s.status().message();
    EXPECT_EQ(s.status().message().find(c.secret), std::string::npos) << s.status().message();
    EXPECT_EQ(emu_.LoginCount(), 1);  // no retry storm
    EXPECT_EQ(emu_.RequestCount("ExecuteBillQuery"), 0);
  }
  EXPECT_EQ(log_->Summary(kPipeline)->records, 0);
}

TEST_F(KingdeeFetchTest, UnknownFieldKeyStopsNamingTheField) {
  emu_.GenerateMaterials(50, 14);
  Configure({{"field_keys", Str("FMasterId,FNumber,FNoSuchField")}});
  auto s = Fetch();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("FNoSuchField"), std::string::npos) << s.status().message();
  EXPECT_NE(s.status().message().find("MsgCode 9"), std::string::npos) << s.status().message();
  EXPECT_NE(s.status().message().find("pipeline kingdee-material"), std::string::npos);
  EXPECT_EQ(emu_.RequestCount("ExecuteBillQuery"), 1);
  EXPECT_FALSE(log_->Watermark(kPipeline)->has_value());
}

TEST_F(KingdeeFetchTest, PersistentGatewayErrorsGiveUpAfterMaxAttempts) {
  emu_.GenerateMaterials(50, 15);
  Configure({}, {{"max_attempts", Num(3)}});
  emu_.Fail5xxNext(100, "ExecuteBillQuery");
  auto s = Fetch();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(s.status().message().find("gave up after 3 attempts"), std::string::npos)
      << s.status().message();
  EXPECT_EQ(emu_.RequestCount("ExecuteBillQuery"), 3);
  EXPECT_EQ(log_->Summary(kPipeline)->records, 0);
}

TEST(KingdeeClientTest, MsgCodesAndTheLostSessionTextMapToWhatToDo) {
  using connectors::kingdee::ClassifyMsgCode;
  using connectors::kingdee::EnvelopeStatus;
  EXPECT_EQ(ClassifyMsgCode(1), StatusCode::kUnauthenticated);
  EXPECT_EQ(ClassifyMsgCode(14), StatusCode::kResourceExhausted);
  for (int c : {4, 6, 13}) EXPECT_EQ(ClassifyMsgCode(c), StatusCode::kUnavailable) << c;
  for (int c : {2, 7, 15}) EXPECT_EQ(ClassifyMsgCode(c), StatusCode::kPermissionDenied) << c;
  for (int c : {3, 5, 8, 9}) EXPECT_EQ(ClassifyMsgCode(c), StatusCode::kInvalidArgument) << c;
  // The lost-session text with another MsgCode, wrapped as ExecuteBillQuery wraps errors.
  auto wrapped = json::Parse(
      R"([[{"Result":{"ResponseStatus":{"ErrorCode":500,"IsSuccess":"false","Errors":[{)"
      R"("FieldName":null,"Message":"会话信息已丢失，请重新登录","DIndex":0}],)"
      R"("SuccessEntitys":[],"SuccessMessages":[],"MsgCode":"4"}}}]])");
  ASSERT_TRUE(wrapped.ok());
  EXPECT_EQ(EnvelopeStatus(*wrapped).code(), StatusCode::kUnauthenticated);
  EXPECT_TRUE(EnvelopeStatus(*json::Parse(R"([[1,"a"],[2,"b"]])")).ok());
  EXPECT_TRUE(EnvelopeStatus(*json::Parse("[]")).ok());
}

TEST(SourceOptionsTest, BadOptionsNameTheirJsonPath) {
  auto check = [](const std::string& conn, const std::string& source) {
    auto cfg = config::LoadString(R"({"state_dir":"/tmp/x","connections":{"c":)" + conn +
                                      R"(,"db":{"type":"mysql","user":"u","database":"d"}},)"
                                      R"("pipelines":{"p":{"source":{"connection":"c",)" +
                                      source +
                                      R"(},"schedule":"@every 5m","sinks":{"s":{"connection":)"
                                      R"("db","table":"t","columns":{"a":"{a}"}}}}}})",
                                  "");
    EXPECT_TRUE(cfg.ok()) << cfg.status().ToString();
    return cfg.ok() ? connectors::CheckSource(*cfg, cfg->pipelines[0]) : cfg.status();
  };
  const std::string kd =
      R"({"type":"kingdee","base_url":"http://x","acct_id":"a","username":"u","app_id":"i",)"
      R"("app_secret":"s"})";
  struct Case {
    std::string conn, source, path;
  };
  const std::vector<Case> cases = {
      {kd, R"("form_id":"F","field_keys":"A,B","id_field":"C")", "pipelines.p.source.id_field"},
      {kd, R"("form_id":"F","field_keys":"A,B","paging":"pages")", "pipelines.p.source.paging"},
      {kd, R"("form_id":"F","field_keys":"A","paging":"keyset","order_by":"A")",
       "pipelines.p.source.order_by"},
      {kd, R"("form_id":"F","field_keys":"A","limit":5000)", "pipelines.p.source.limit"},
      {kd, R"("form_id":"F","field_keys":"A","filter":"x >= '{{LAST_SYNC_TIME|bogus}}'")",
       "pipelines.p.source.filter"},
      {R"({"type":"kingdee","base_url":"http://x","acct_id":"a","username":"u"})",
       R"("form_id":"F","field_keys":"A")", "connections.c"},
      {R"({"type":"kuaimai","app_key":"k","app_secret":"s","session":"t"})", R"("window":"2d")",
       "pipelines.p.source.window"},
      {R"({"type":"kuaimai","app_key":"k","app_secret":"s","session":"t","sign_method":"sha1"})",
       "\"page_size\":10", "connections.c.sign_method"},
      {R"({"type":"okki","client_id":"c","client_secret":"s"})", R"("count":500)",
       "pipelines.p.source.count"},
      {R"({"type":"okki","client_id":"c","client_secret":"s"})",
       R"("deleted_when":"enable_flag ==")", "pipelines.p.source.deleted_when"},
  };
  for (const auto& c : cases) {
    Status s = check(c.conn, c.source);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.source << ": " << s.ToString();
    EXPECT_EQ(s.message().rfind(c.path, 0), 0u) << c.source << ": " << s.message();
  }
  EXPECT_TRUE(check(kd, R"("form_id":"F","field_keys":"A, B.FNumber","id_field":"a")").ok());
}

// A material whose name is not UTF-8, served as the last row of a keyset page: quarantined
// with its raw row, its id (read leniently) carries paging on, nothing else is lost; renamed
// at the source, it is staged and leaves the quarantine.
TEST_F(KingdeeFetchTest, AnUnreadableRowIsQuarantinedAndPagingGoesOnPastIt) {
  emu_.GenerateMaterials(600, 8);
  Configure({{"limit", Num(100)}});
  const auto ids = MatchingIds();
  ASSERT_GT(ids.size(), 250u);
  const int64_t bad = ids[99];  // the last row of the first page
  ASSERT_TRUE(emu_.UpdateMaterial(bad, "bolt \xc3\x28 M8"));
  auto first = Fetch();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->failed, 1);
  EXPECT_EQ(first->added, Matching() - 1);
  ASSERT_TRUE(first->watermark_ms.has_value());
  auto q = log_->Quarantined(kPipeline);
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->size(), 1u);
  EXPECT_EQ((*q)[0].source_id, std::to_string(bad));
  EXPECT_NE((*q)[0].payload.find("bolt \xc3\x28 M8"), std::string::npos);
  EXPECT_NE((*q)[0].error.find("invalid UTF-8"), std::string::npos) << (*q)[0].error;
  for (int64_t id : ids) {
    if (id != bad) {
      EXPECT_TRUE(log_->Get(kPipeline, std::to_string(id))->has_value()) << id;
    }
  }

  ASSERT_TRUE(emu_.UpdateMaterial(bad, "bolt M8"));
  auto second = Fetch();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_TRUE(log_->Quarantined(kPipeline)->empty());
  ExpectStagingMatchesEmulator();
}

}  // namespace
}  // namespace stagesync
