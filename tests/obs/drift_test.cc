// Drift detection, unit level: the mapper's reference report (transform), DriftTracker's
// thresholds (fires on a reference that stops resolving, not on an optional field nor on one
// that never resolved, clears when it resolves again, forgets a changed mapping), and the
// DingTalk emulator's form-label rename that the end-to-end test (drift_process_test.cc) uses.
#include "obs/drift.h"

#include <gtest/gtest.h>

#include <random>

#include "emulators/dingtalk_emulator.h"
#include "stagesync/json.h"
#include "stagesync/transform.h"

namespace stagesync {
namespace {

using transform::RefUse;

std::vector<RefUse> Uses(const std::string& ref, bool resolved) { return {{ref, resolved}}; }

// ---- transform: which references a mapped record resolved ----

transform::Mapping Compile(const std::vector<std::pair<std::string, std::string>>& columns,
                           const std::string& flatten = "") {
  transform::MappingSpec spec;
  spec.columns = columns;
  spec.flatten = flatten;
  spec.path = "sinks.t";
  auto m = transform::Mapping::Compile(spec);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return std::move(m).value();
}

std::map<std::string, bool> Report(const transform::Mapping& m, const std::string& record) {
  auto v = json::Parse(record);
  EXPECT_TRUE(v.ok());
  std::vector<transform::MappedRow> rows;
  std::vector<RefUse> uses;
  transform::Variables vars = {{"CURRENT_TIME", "1700000000"}};
  EXPECT_TRUE(m.Map(*v, &rows, nullptr, &vars, &uses).ok());
  std::map<std::string, bool> out;
  for (const auto& u : uses) {
    EXPECT_FALSE(out.count(u.reference)) << "listed twice: " << u.reference;
    out[u.reference] = u.resolved;
  }
  return out;
}

TEST(DriftRefUseTest, MapReportsEachReferenceOnceWithWhetherTheRecordHadIt) {
  auto m = Compile({{"id", "{id}"},
                    {"who", "{{收款人}} ({owner.name|trim})"},
                    {"amount", "{{金额|decimal(2)}}"},
                    {"seen", "{{CURRENT_TIME}}"},
                    {"again", "{{金额}}"},
                    {"gone", "{gone}"},
                    {"fn", "_function IFNULL({{备注}}, 'x')"}});
  const auto r = Report(m, R"({"id":"A1","owner":{"name":" Li "},"gone":null,
      "form_component_values":[{"name":"收款人","value":"张三"},{"name":"金额","value":"12.5"}]})");
  const std::map<std::string, bool> want = {{"{id}", true},         {"{{收款人}}", true},
                                            {"{owner.name}", true}, {"{{金额}}", true},
                                            {"{gone}", false},      {"{{备注}}", false}};
  EXPECT_EQ(r, want);  // no CURRENT_TIME: a variable is not a reference to the record
}

TEST(DriftRefUseTest, AFormReferenceInAFlattenResolvesIfAnyRowFoundIt) {
  auto m =
      Compile({{"n", "{_row}"}, {"total", "{{form:总额}}"}, {"amt", "{{row:金额}}"}}, "{{明细}}");
  const auto r = Report(m, R"({"form_component_values":[{"name":"总额","value":"3"},
      {"name":"明细","value":[{"rowValue":[{"label":"金额","value":"1"}]},
                              {"rowValue":[{"label":"说明","value":"x"}]}]}]})");
  const std::map<std::string, bool> want = {{"{{form:总额}}", true}, {"{{row:金额}}", true}};
  EXPECT_EQ(r, want);
  const auto renamed = Report(m, R"({"form_component_values":[{"name":"合计","value":"3"},
      {"name":"明细","value":[{"rowValue":[{"label":"金额","value":"1"}]}]}]})");
  EXPECT_FALSE(renamed.at("{{form:总额}}"));
}

TEST(DriftRefUseTest, NothingIsCollectedWhenNotAsked) {
  auto m = Compile({{"a", "{a}"}});
  auto v = json::Parse(R"({"a":1})");
  std::vector<transform::MappedRow> rows;
  ASSERT_TRUE(m.Map(*v, &rows).ok());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].cells[0], "1");
}

// ---- the tracker ----

constexpr char kP[] = "payments";
constexpr char kS[] = "bi";
constexpr char kRef[] = "{{form:实际付款金额}}";

TEST(DriftTrackerTest, FiresAfterFiveMissingInARowNamingTheFirstMissingRecord) {
  obs::DriftTracker t;
  for (int i = 0; i < 30; ++i)
    t.Observe(kP, kS, "r" + std::to_string(i), 1000 + i, Uses(kRef, true));
  for (int i = 30; i < 34; ++i) {
    t.Observe(kP, kS, "r" + std::to_string(i), 1000 + i, Uses(kRef, false));
    EXPECT_TRUE(t.Active().empty()) << "fired after " << i - 29 << " missing";
  }
  t.Observe(kP, kS, "r34", 2000, Uses(kRef, false));
  auto d = t.Active();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].pipeline, kP);
  EXPECT_EQ(d[0].sink, kS);
  EXPECT_EQ(d[0].reference, kRef);
  EXPECT_EQ(d[0].first_missing_key, "r30");
  EXPECT_EQ(d[0].first_missing_ms, 1030);
  EXPECT_EQ(d[0].missing_streak, 5);
  t.Observe(kP, kS, "r35", 2001, Uses(kRef, false));
  EXPECT_EQ(t.Active()[0].missing_streak, 6);
  EXPECT_EQ(t.Active()[0].first_missing_key, "r30");

  auto doc = json::Parse(t.Json(kP));
  ASSERT_TRUE(doc.ok()) << t.Json(kP);
  ASSERT_EQ(doc->items().size(), 1u);
  const json::Value& e = doc->items()[0];
  EXPECT_EQ(e.Find("sink")->text(), kS);
  EXPECT_EQ(e.Find("reference")->text(), kRef);
  EXPECT_EQ(e.Find("first_missing_key")->text(), "r30");
  EXPECT_EQ(e.Find("first_missing_ms")->text(), "1030");
  EXPECT_EQ(e.Find("missing_streak")->text(), "6");
  EXPECT_EQ(t.Json("other"), "[]");
}

TEST(DriftTrackerTest, NeedsAWindowOfTwentyBeforeAStreakCounts) {
  obs::DriftTracker t;
  for (int i = 0; i < 19; ++i) t.Observe(kP, kS, "r", 0, Uses(kRef, true));
  for (int i = 0; i < 10; ++i) t.Observe(kP, kS, "m", 0, Uses(kRef, false));
  EXPECT_TRUE(t.Active().empty()) << "19 records are too few to call it drift";
}

TEST(DriftTrackerTest, AnOptionalFieldAbsentInThirtyPercentOfRecordsNeverFires) {
  obs::DriftTracker t;
  std::mt19937_64 rng(7);
  std::bernoulli_distribution absent(0.3);
  int longest = 0, run = 0;
  for (int i = 0; i < 5000; ++i) {
    const bool missing = absent(rng);
    run = missing ? run + 1 : 0;
    longest = std::max(longest, run);
    t.Observe(kP, kS, "r" + std::to_string(i), i, Uses("{{备注}}", !missing));
    ASSERT_TRUE(t.Active().empty()) << "fired at record " << i;
  }
  // The gaps were long enough to fire on a streak alone: the baseline is what held it back.
  EXPECT_GE(longest, 5);
}

TEST(DriftTrackerTest, AReferenceThatNeverResolvedIsNotDrift) {
  obs::DriftTracker t;
  for (int i = 0; i < 200; ++i) t.Observe(kP, kS, "r", i, Uses("{{typo}}", false));
  EXPECT_TRUE(t.Active().empty());
}

TEST(DriftTrackerTest, ClearsWhenTheReferenceResolvesAgainAndCanFireAgainLater) {
  obs::DriftTracker t;
  for (int i = 0; i < 40; ++i) t.Observe(kP, kS, "r", 0, Uses(kRef, true));
  for (int i = 0; i < 6; ++i) t.Observe(kP, kS, "a" + std::to_string(i), 0, Uses(kRef, false));
  ASSERT_EQ(t.Active().size(), 1u);
  t.Observe(kP, kS, "back", 0, Uses(kRef, true));
  EXPECT_TRUE(t.Active().empty());
  // 40 resolved + 6 missing + 1: still above 80%, so a second outage is drift again, and it
  // names its own first record.
  for (int i = 0; i < 5; ++i) t.Observe(kP, kS, "b" + std::to_string(i), 0, Uses(kRef, false));
  ASSERT_EQ(t.Active().size(), 1u);
  EXPECT_EQ(t.Active()[0].first_missing_key, "b0");
}

TEST(DriftTrackerTest, KeysAreSeparatePerSinkAndAChangedMappingForgetsTheSink) {
  obs::DriftTracker t;
  t.SetMapping(kP, kS, "h1");
  for (int i = 0; i < 30; ++i) {
    t.Observe(kP, kS, "r", 0, Uses(kRef, true));
    t.Observe(kP, "other", "r", 0, Uses(kRef, true));
  }
  for (int i = 0; i < 5; ++i) t.Observe(kP, kS, "m", 0, Uses(kRef, false));
  ASSERT_EQ(t.Active(kP).size(), 1u);
  EXPECT_EQ(t.Active(kP)[0].sink, kS);
  t.SetMapping(kP, kS, "h1");  // the same mapping: nothing forgotten
  EXPECT_EQ(t.Active(kP).size(), 1u);
  t.SetMapping(kP, kS, "h2");
  EXPECT_TRUE(t.Active(kP).empty());
}

// ---- the emulator's label rename ----

const json::Value* Component(const json::Value& inst, const std::string& id) {
  for (const auto& c : inst.Find("form_component_values")->items()) {
    if (c.Find("id")->text() == id) return &c;
  }
  return nullptr;
}

TEST(DriftEmulatorTest, ARenamedFormLabelReachesOnlyInstancesCreatedAfterIt) {
  emulators::DingTalkEmulator dt;
  const std::string before = dt.AddInstance(1700000000000);
  dt.RenameFormLabel("实际付款金额", "实付金额");
  const std::string after = dt.AddInstance(1700000001000);
  auto old_json = json::Parse(dt.InstanceJson(before));
  auto new_json = json::Parse(dt.InstanceJson(after));
  ASSERT_TRUE(old_json.ok() && new_json.ok());
  const json::Value* o = Component(*old_json, "MoneyField_1A09");
  const json::Value* n = Component(*new_json, "MoneyField_1A09");
  ASSERT_TRUE(o != nullptr && n != nullptr);
  EXPECT_EQ(o->Find("name")->text(), "实际付款金额");
  EXPECT_EQ(n->Find("name")->text(), "实付金额");
  EXPECT_EQ(n->Find("component_type")->text(), "MoneyField");
  EXPECT_FALSE(n->Find("value")->text().empty());
  // Renaming back (by its current name) restores the original for new instances.
  dt.RenameFormLabel("实付金额", "实际付款金额");
  auto back = json::Parse(dt.InstanceJson(dt.AddInstance(1700000002000)));
  EXPECT_EQ(Component(*back, "MoneyField_1A09")->Find("name")->text(), "实际付款金额");
}

}  // namespace
}  // namespace stagesync
