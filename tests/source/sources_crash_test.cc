// Crash safety of the Kingdee, Kuaimai and OKKI fetches: the real `stagesync fetch` process is
// SIGKILLed at random moments and at named crash points (before/after a page commit) while it
// runs seeds 004, 002 and 003 against the in-process emulators. After every kill staging must be
// consistent (no record before a watermark missing); a final clean fetch must stage every record
// exactly once (sequence numbers = records, plus exactly one per upstream change made between
// the two phases), and Kuaimai refresh tokens are never reused across killed processes.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <thread>

#include "emulators/kingdee_emulator.h"
#include "emulators/kuaimai_emulator.h"
#include "emulators/okki_emulator.h"
#include "stagesync/clock.h"
#include "stagesync/stage.h"
#include "testing/kingdee_materials.h"
#include "testing/seed_config.h"
#include "testing/subprocess.h"
#include "testing/temp_dir.h"

namespace stagesync {
namespace {

using testing::Num;
using testing::Str;

constexpr int64_t kHourMs = 3600000;
constexpr int64_t kDayMs = 24 * kHourMs;
const std::string kBinary = STAGESYNC_BINARY_DIR "/stagesync";

class SourcesCrashTest : public ::testing::Test {
 protected:
  void WriteConfig(const std::string& seed, const testing::SeedEdits& e) {
    config_file_ = dir_.Sub("config.json");
    std::ofstream(config_file_) << testing::SeedConfigJson(seed, e);
  }

  std::unique_ptr<stage::StagingLog> OpenReadOnly() {
    stage::StageOptions ro;
    ro.read_only = true;
    auto log = stage::StagingLog::Open(dir_.Sub("state"), ro);
    if (!log.ok()) return nullptr;
    return std::move(log).value();
  }

  // Runs `stagesync fetch` `runs` times: every third run dies at a named crash point, the others
  // are SIGKILLed after a random moment (unless they finish first). `before(i)` runs before
  // run i, `check()` after each. Returns how many runs were killed mid-fetch.
  int KillLoop(const std::string& pipeline, int runs, int max_ms,
               const std::function<void(int, bool crash_point)>& before,
               const std::function<void()>& check) {
    const std::string log_file = dir_.Sub("fetch.log");
    int killed = 0;
    for (int i = 0; i < runs; ++i) {
      const bool crash_point = i % 3 == 2;
      if (before) before(i, crash_point);
      testing::Subprocess p;
      std::vector<std::string> env;
      if (crash_point) {
        env.push_back(std::string("STAGESYNC_CRASH_AT=") +
                      (i % 2 ? "fetch.after_commit:" : "fetch.before_commit:") +
                      std::to_string(1 + rng_() % 12));
      }
      EXPECT_TRUE(p.Start({kBinary, "--config", config_file_, "fetch", pipeline}, env, log_file));
      int code = 0;
      if (!crash_point) {
        const auto deadline =
            std::chrono::steady_clock::now() + std::chrono::milliseconds(20 + rng_() % max_ms);
        bool exited = false;
        while (std::chrono::steady_clock::now() < deadline) {
          if ((exited = p.Poll(&code))) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        if (!exited) {
          p.Kill();
          code = p.Wait();
        }
      } else {
        code = p.Wait();
      }
      killed += code == 128 + SIGKILL;
      EXPECT_TRUE(code == 0 || code == 128 + SIGKILL)
          << "exit code " << code << " (see " << log_file << ")";
      if (check) check();
      if (HasFailure()) return killed;
    }
    return killed;
  }

  int CleanFetch(const std::string& pipeline) {
    return testing::Run({kBinary, "--config", config_file_, "fetch", pipeline}, {},
                        dir_.Sub("fetch.log"));
  }

  testing::TempDir dir_;
  std::string config_file_;
  std::mt19937 rng_{20261122};
};

TEST_F(SourcesCrashTest, KingdeeKilledMidScanThenACleanFetchStagesEachMaterialOnce) {
  emulators::KingdeeEmulator emu;
  ASSERT_TRUE(emu.Start(0));
  emu.GenerateMaterials(6000, 50);
  emu.SetLatencyMs(10);  // ~25 pages: a scan takes ~350 ms, long enough to be killed in
  auto e = testing::EmulatorSeedEdits("kingdee", emu.base_url(), dir_.Sub("state"),
                                      {{"qps", Num(1000)}});
  e.source = {{"limit", Num(200)}};
  WriteConfig("004-kingdee-material.json", e);

  auto expect_matches = [&](uint64_t want_seq) {
    auto log = OpenReadOnly();
    ASSERT_NE(log, nullptr);
    std::map<std::string, std::string> want;
    for (const auto& m : emu.Materials()) {
      if (testing::InSeed004Filter(m))
        want[std::to_string(m.master_id)] = testing::Seed004Record(m);
    }
    int64_t live = 0;
    ASSERT_TRUE(log->ScanRecords("kingdee-material",
                                 [&](const stage::StagedRecord& r) {
                                   if (r.deleted) {
                                     EXPECT_FALSE(want.contains(r.source_id)) << r.source_id;
                                     return true;
                                   }
                                   ++live;
                                   EXPECT_EQ(r.raw, want[r.source_id]) << r.source_id;
                                   return true;
                                 })
                    .ok());
    EXPECT_EQ(live, static_cast<int64_t>(want.size()));
    auto sum = log->Summary("kingdee-material");
    EXPECT_EQ(sum->last_seq, want_seq);  // exactly once
    EXPECT_EQ(log->ReadChanges("kingdee-material", 0, 100000)->size(),
              static_cast<size_t>(sum->records));
  };

  // Phase 1: first scans, killed again and again.
  int killed = KillLoop("kingdee-material", 12, 250, nullptr, [&] {
    auto log = OpenReadOnly();
    if (log == nullptr) return;
    // Nothing staged that the source does not have, and no tombstone while nothing vanished.
    EXPECT_EQ(log->Summary("kingdee-material")->deleted, 0);
  });
  ASSERT_EQ(CleanFetch("kingdee-material"), 0);
  int64_t n = 0;
  for (const auto& m : emu.Materials()) n += testing::InSeed004Filter(m);
  expect_matches(static_cast<uint64_t>(n));

  // Phase 2: three renamed, three vanished (swept), killed again.
  std::vector<int64_t> ids;
  for (const auto& m : emu.Materials()) {
    if (testing::InSeed004Filter(m)) ids.push_back(m.master_id);
  }
  for (size_t i : {size_t{5}, size_t{2000}, size_t{4000}}) emu.UpdateMaterial(ids[i], "改名");
  for (size_t i : {size_t{6}, size_t{2001}, size_t{4001}}) emu.RemoveMaterial(ids[i]);
  killed += KillLoop("kingdee-material", 9, 250, nullptr, nullptr);
  ASSERT_EQ(CleanFetch("kingdee-material"), 0);
  expect_matches(static_cast<uint64_t>(n + 6));
  EXPECT_EQ(OpenReadOnly()->Summary("kingdee-material")->deleted, 3);
  EXPECT_GE(killed, 12) << "too few runs were actually killed mid-fetch";
}

TEST_F(SourcesCrashTest, KuaimaiKilledMidWindowsThenACleanFetchStagesEachOrderOnce) {
  emulators::KuaimaiEmulator emu;
  ASSERT_TRUE(emu.Start(0));
  const int64_t now = Clock::Real()->NowMillis();
  emu.Generate(2000, now - 20 * kDayMs, now - kHourMs, 51);
  emu.SetLatencyMs(15);  // ~120 calls: the first stage takes ~2 s, spread over many kills
  emu.AdvanceClockMs(-5000);
  auto e = testing::EmulatorSeedEdits("kuaimai", emu.base_url(), dir_.Sub("state"),
                                      {{"qps", Num(1000)}});
  e.source = {{"initial_lookback_days", Num(21)}, {"lag_s", Num(0)}, {"page_size", Num(20)}};
  WriteConfig("002-kuaimai-aftersale.json", e);
  const int64_t first_start = now - 21 * kDayMs + 60000;

  // After any kill: every order modified before the watermark is staged.
  auto watermark_never_skipped = [&] {
    auto log = OpenReadOnly();
    if (log == nullptr) return;
    auto wm = log->Watermark("kuaimai-aftersale");
    ASSERT_TRUE(wm.ok());
    if (!wm->has_value()) return;
    for (const auto& o : emu.Orders()) {
      if (o.modified_ms < first_start || o.modified_ms >= **wm) continue;
      auto r = log->Get("kuaimai-aftersale", std::to_string(o.id));
      ASSERT_TRUE(r.ok() && r->has_value())
          << "order " << o.id << " modified before the watermark " << **wm << " is not staged";
    }
  };
  // Sessions expire before the crash-point runs, so those refresh (and save) first thing.
  auto expire_before_crash_points = [&](int, bool crash_point) {
    if (crash_point) emu.ExpireSessionNow();
  };
  auto expect_matches = [&](uint64_t want_seq) {
    auto log = OpenReadOnly();
    ASSERT_NE(log, nullptr);
    auto orders = emu.Orders();
    auto sum = log->Summary("kuaimai-aftersale");
    EXPECT_EQ(sum->records, static_cast<int64_t>(orders.size()));
    for (const auto& o : orders) {
      auto r = log->Get("kuaimai-aftersale", std::to_string(o.id));
      ASSERT_TRUE(r.ok() && r->has_value()) << o.id;
      EXPECT_EQ((*r)->raw, json::Canonical(*json::Parse(emu.OrderJson(o.id))));
    }
    EXPECT_EQ(sum->last_seq, want_seq);
  };

  int killed =
      KillLoop("kuaimai-aftersale", 15, 150, expire_before_crash_points, watermark_never_skipped);
  ASSERT_EQ(CleanFetch("kuaimai-aftersale"), 0);
  expect_matches(2000);

  auto orders = emu.Orders();
  for (size_t i : {size_t{10}, size_t{900}, size_t{1500}, size_t{1990}}) emu.Modify(orders[i].id);
  killed += KillLoop("kuaimai-aftersale", 6, 100, expire_before_crash_points, nullptr);
  ASSERT_EQ(CleanFetch("kuaimai-aftersale"), 0);
  expect_matches(2004);
  EXPECT_GE(emu.RefreshCount(), 3);
  EXPECT_EQ(emu.RefreshTokenReuseCount(), 0);
  EXPECT_GE(killed, 10) << "too few runs were actually killed mid-fetch";
}

TEST_F(SourcesCrashTest, OkkiKilledMidPagesThenACleanFetchStagesEachProductOnce) {
  emulators::OkkiEmulator emu;
  ASSERT_TRUE(emu.Start(0));
  const int64_t now = Clock::Real()->NowMillis();
  emu.Generate(3000, now - 20 * kDayMs, now - 2 * kHourMs, 52);
  emu.SetLatencyMs(6);  // 60 pages: a full pass takes ~0.5 s
  emu.AdvanceClockMs(-5000);
  auto e =
      testing::EmulatorSeedEdits("okki", emu.base_url(), dir_.Sub("state"), {{"qps", Num(1000)}});
  e.source = {{"count", Num(50)}};
  WriteConfig("003-okki-product-yida.json", e);

  auto expect_matches = [&](uint64_t want_seq, const std::set<int64_t>& tombstones) {
    auto log = OpenReadOnly();
    ASSERT_NE(log, nullptr);
    int64_t live = 0;
    for (const auto& p : emu.Products()) {
      auto r = log->Get("okki-product", std::to_string(p.product_id));
      ASSERT_TRUE(r.ok());
      if (p.enable_flag == 0 && !tombstones.contains(p.product_id)) {
        EXPECT_FALSE(r->has_value()) << p.product_id;
        continue;
      }
      live += p.enable_flag != 0;
      ASSERT_TRUE(r->has_value()) << p.product_id;
      EXPECT_EQ((*r)->deleted, p.enable_flag == 0);
      EXPECT_EQ((*r)->raw, json::Canonical(*json::Parse(emu.ProductJson(p.product_id))));
    }
    auto sum = log->Summary("okki-product");
    EXPECT_EQ(sum->records - sum->deleted, live);
    EXPECT_EQ(sum->last_seq, want_seq);
  };

  // Tokens are revoked now and then: each process gets a new one.
  auto revoke_sometimes = [&](int i, bool) {
    if (i % 4 == 1) emu.RevokeTokenNow();
  };
  int killed = KillLoop("okki-product", 12, 300, revoke_sometimes, nullptr);
  ASSERT_EQ(CleanFetch("okki-product"), 0);
  int64_t live = 0;
  for (const auto& p : emu.Products()) live += p.enable_flag != 0;
  expect_matches(static_cast<uint64_t>(live), {});

  // Two modified, two soft-deleted: exactly four more sequence numbers.
  std::vector<int64_t> ids;
  for (const auto& p : emu.Products()) {
    if (p.enable_flag != 0) ids.push_back(p.product_id);
  }
  emu.Modify(ids[3]);
  emu.Modify(ids[1500]);
  emu.SoftDelete(ids[4]);
  emu.SoftDelete(ids[2000]);
  killed += KillLoop("okki-product", 6, 60, revoke_sometimes, nullptr);
  ASSERT_EQ(CleanFetch("okki-product"), 0);
  expect_matches(static_cast<uint64_t>(live + 4), {ids[4], ids[2000]});
  EXPECT_GE(killed, 8) << "too few runs were actually killed mid-fetch";
}

}  // namespace
}  // namespace stagesync
