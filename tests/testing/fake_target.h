// FakeTarget: a sink::Target (the vendor half of IntentSink) that keeps created objects in
// memory, so the intent protocol is unit-tested with a real StagingLog and no server. Each
// item of a Create goes as scripted (created, rejected, or an unknown outcome with or without
// the object having been made), unscripted ones are created; creates and lookups are counted.
// Not thread-safe, like the IntentSink that owns it.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "connectors/common/intent_sink.h"

namespace stagesync::testing {

class FakeTarget final : public sink::Target {
 public:
  enum class Outcome { kCreated, kRejected, kUnknownButCreated, kUnknownNotCreated };
  struct Object {
    std::string target_id;
    std::string payload;
    int creations = 0;  // more than 1 = the same record created twice: what IntentSink prevents
  };

  // The next items created, one outcome each, in order.
  void Script(std::vector<Outcome> next) {
    script_.insert(script_.end(), next.begin(), next.end());
  }
  // Puts an object there as if an earlier create had gone through unseen (a lost reply).
  void Put(const std::string& source_id) { Make(source_id, "{}"); }

  Status Prepare(const stage::StagedRecord& r, std::string* payload,
                 transform::MapVerdict*) override {
    *payload = r.raw;
    return Status::Ok();
  }
  std::vector<sink::CreateResult> Create(const std::vector<sink::TargetItem>& items) override {
    ++create_calls;
    if (before_create) before_create(items);
    std::vector<sink::CreateResult> out;
    for (const auto& item : items) {
      const Outcome o = script_.empty() ? Outcome::kCreated : script_.front();
      if (!script_.empty()) script_.pop_front();
      sink::CreateResult r;
      if (o == Outcome::kCreated || o == Outcome::kUnknownButCreated) {
        r.outcome.target_id = Make(item.source_id, item.payload).target_id;
      }
      r.kind = o == Outcome::kCreated    ? sink::CreateResult::kCreated
               : o == Outcome::kRejected ? sink::CreateResult::kRejected
                                         : sink::CreateResult::kUnknown;
      r.message = o == Outcome::kRejected ? "rejected: bad field" : "timed out";
      out.push_back(r);
    }
    return out;
  }
  Result<std::optional<sink::TargetOutcome>> Lookup(const sink::TargetItem& item) override {
    ++lookups;
    if (!lookup_error.ok()) return lookup_error;
    auto it = objects.find(item.source_id);
    if (it == objects.end()) return std::optional<sink::TargetOutcome>();
    sink::TargetOutcome o;
    o.target_id = it->second.target_id;
    return std::optional<sink::TargetOutcome>(o);
  }
  Status OnChange(const sink::TargetItem& item, sink::TargetOutcome*) override {
    objects[item.source_id].payload = item.payload;
    return Status::Ok();
  }
  Status OnDelete(const std::string& source_id, sink::TargetOutcome*) override {
    objects.erase(source_id);
    return Status::Ok();
  }
  size_t batch_records() const override { return 10; }
  std::string MappingHash() const override { return "fake-mapping"; }
  std::string ObjectName() const override { return "fake object"; }
  Result<std::vector<sink::TargetObject>> FindAll(const sink::TargetItem& item) override {
    std::vector<sink::TargetObject> out;
    auto it = objects.find(item.source_id);
    if (it != objects.end()) out.push_back({it->second.target_id, "", item.source_id, "", {}});
    return out;
  }
  Status ScanAll(const std::function<Status(const sink::TargetObject&)>& fn) override {
    for (const auto& [id, o] : objects) SS_RETURN_IF_ERROR(fn({o.target_id, "", id, "", {}}));
    return Status::Ok();
  }

  std::map<std::string, Object> objects;  // by source id
  std::function<void(const std::vector<sink::TargetItem>&)> before_create;
  Status lookup_error;  // when set, every Lookup fails with it (the target cannot be asked)
  int create_calls = 0;
  int lookups = 0;

 private:
  const Object& Make(const std::string& source_id, const std::string& payload) {
    Object& o = objects[source_id];
    o.target_id = "T-" + source_id;
    o.payload = payload;
    ++o.creations;
    return o;
  }

  std::deque<Outcome> script_;
};

}  // namespace stagesync::testing
