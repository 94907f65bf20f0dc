// The end state the HTTP sinks' crash and chaos tests check after their last clean sync:
// exactly one target object per source record, and every intent in the staging log resolved.
// Call from a test body (gtest assertions); ASSERT failures return from the helper only.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "emulators/dingtalk_emulator.h"
#include "emulators/kingdee_emulator.h"
#include "stagesync/json.h"
#include "stagesync/stage.h"

namespace stagesync::testing {

// No intent of `sink` left in `state_dir` and `outcomes` outcomes recorded.
inline void ExpectIntentsResolved(const std::string& state_dir, const std::string& pipeline,
                                  const std::string& sink, size_t outcomes) {
  stage::StageOptions ro;
  ro.read_only = true;
  auto log = stage::StagingLog::Open(state_dir, ro);
  ASSERT_TRUE(log.ok());
  EXPECT_TRUE((*log)->Intents(pipeline, sink)->empty());
  EXPECT_EQ((*log)->Outcomes(pipeline, sink)->size(), outcomes);
}

// Exactly one AP_PAYBILL per approved DingTalk request (seed 001, testing/kingdee_pipeline.h).
inline void ExpectOneBillPerApprovedRequest(const emulators::DingTalkEmulator& dt,
                                            const emulators::KingdeeEmulator& kd,
                                            const std::string& state_dir) {
  std::map<std::string, int> per;
  for (const auto& b : kd.PayBills()) ++per[b.source_number];
  int approved = 0;
  for (const auto& inst : dt.Instances()) {
    if (inst.status != "COMPLETED" || inst.result != "agree") continue;
    ++approved;
    EXPECT_EQ(per[inst.bill_number], 1) << inst.bill_number;
  }
  EXPECT_EQ(static_cast<int>(per.size()), approved);
  ExpectIntentsResolved(state_dir, "dingtalk-payment", "kingdee_paybill",
                        static_cast<size_t>(approved));
}

// Exactly one Yida instance per DingTalk record (testing/yida_pipeline.h).
inline void ExpectOneInstancePerRecord(const emulators::DingTalkEmulator& emu,
                                       const std::string& state_dir) {
  std::map<std::string, int> per;
  for (const auto& inst : emu.YidaInstances()) {
    auto v = json::Parse(inst.form_data_json);
    ASSERT_TRUE(v.ok());
    ++per[v->Find("textField_srcid")->text()];
  }
  auto instances = emu.Instances();
  EXPECT_EQ(per.size(), instances.size());
  for (const auto& inst : instances) EXPECT_EQ(per[inst.id], 1) << inst.id;
  EXPECT_EQ(emu.YidaCreatedCount(), static_cast<int64_t>(instances.size()));
  ExpectIntentsResolved(state_dir, "payments-to-yida", "yida_form", instances.size());
}

}  // namespace stagesync::testing
