// IntentSink: exactly-once delivery into targets that have no transactions and whose creates
// are not idempotent (Kingdee Push, DingTalk Yida). Before a create it durably records an
// intent per record; a clear answer replaces the intent with the outcome in one staging write;
// an unknown outcome (timeout, reset, 5xx, a crash) leaves the intent open, and before any
// retry — and on every start — each open intent is resolved by asking the target whether the
// record is there. A record created once is never created again: later versions update it or
// are reported, as the target decides. Not thread-safe: one applier uses it.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "stagesync/json.h"
#include "stagesync/sink.h"
#include "stagesync/stage.h"
#include "stagesync/transform.h"

namespace stagesync::sink {

// One record on its way to the target.
struct TargetItem {
  std::string source_id;
  std::string payload;  // what the target gets (built by Prepare); kept in the intent
  Hash128 hash;
};

// What the target holds for a record.
struct TargetOutcome {
  std::string target_id;  // instance id / bill FID
  std::string number;     // bill number (may be empty: a Kingdee draft)
  std::string hash;       // content hash applied (hex)
  std::string mapping;    // mapping hash applied
  bool deleted = false;
  int64_t changes_reported = 0;  // later versions seen but not applied (on_change: report)

  std::string ToJson() const;
  static bool FromJson(const std::string& s, TargetOutcome* out);
};

// One object the target holds, as an audit reads it (stagesync-audit): read-only hooks below.
struct TargetObject {
  std::string target_id;  // instance id / bill FID
  std::string number;     // bill number ("" for a draft, or where objects have none)
  std::string source;     // the source key it names (FSRCBILLNO, the source-id field)
  std::string status;     // FDocumentStatus / instance status
  struct Field {
    std::string name;
    std::optional<std::string> value;  // text; nullopt = null or absent
    bool number = false;               // a JSON number (compared as a decimal)
  };
  std::vector<Field> fields;  // as the target holds them (empty where fields are not compared)

  // A JSON value as a Field: strings by their text, numbers by their source text (number),
  // null as nullopt, anything else serialized.
  static Field FromJson(std::string name, const json::Value& v);
};

struct CreateResult {
  enum Kind { kCreated, kRejected, kUnknown } kind = kUnknown;
  TargetOutcome outcome;  // kCreated
  std::string message;    // kRejected / kUnknown
};

class Target {
 public:
  virtual ~Target() = default;
  // Builds the payload for a record, or says it is not for this target (verdict->filtered).
  // InvalidArgument (mapping or rule failure) quarantines the record.
  virtual Status Prepare(const stage::StagedRecord& r, std::string* payload,
                         transform::MapVerdict* verdict) = 0;
  // Creates every item, in one call where the API allows it; one result per item, in order.
  // A transport failure gives kUnknown for every item: the caller resolves them.
  virtual std::vector<CreateResult> Create(const std::vector<TargetItem>& items) = 0;
  // Asks the target whether `item` was created (drafts count). nullopt = certainly not there.
  virtual Result<std::optional<TargetOutcome>> Lookup(const TargetItem& item) = 0;
  // A later version of a record already created: update the target, or report. `*outcome` is
  // what gets stored afterwards. InvalidArgument quarantines the new version; AlreadyExists
  // means reported and deliberately not applied.
  virtual Status OnChange(const TargetItem& item, TargetOutcome* outcome) = 0;
  // The record was deleted at the source.
  virtual Status OnDelete(const std::string& source_id, TargetOutcome* outcome) = 0;
  virtual size_t batch_records() const = 0;
  virtual std::string MappingHash() const = 0;

  // ---- Audit hooks: read-only, never change the target ----
  // What the target objects are, for a person ("AP_PAYBILL bill", "Yida instance of FORM-...").
  virtual std::string ObjectName() const = 0;
  // What TargetObject::target_id is called there ("FID").
  virtual std::string IdName() const { return "id"; }
  // The source key objects name for `item` (TargetObject::source).
  virtual std::string SourceKey(const TargetItem& item) const { return item.source_id; }
  // Every object the target holds for `item` (Lookup stops at the first), with its fields.
  virtual Result<std::vector<TargetObject>> FindAll(const TargetItem& item) = 0;
  // The fields `item`'s payload sets, as FindAll reports them; empty: objects are counted, not
  // compared.
  virtual std::vector<TargetObject::Field> ExpectedFields(const TargetItem& /*item*/) const {
    return {};
  }
  // Every object this sink may have created (those naming a source), a page at a time, oldest
  // first; `fn` returning an error stops the scan with it.
  virtual Status ScanAll(const std::function<Status(const TargetObject&)>& fn) = 0;
};

struct IntentSinkOptions {
  int max_create_attempts = 5;  // Default: 5 creates per record before the apply fails
  int64_t retry_base_ms = 200;  // Default: 200 ms
};

class IntentSink final : public Sink {
 public:
  IntentSink(std::string pipeline, std::string name, std::unique_ptr<Target> target,
             stage::StagingLog* log, Clock* clock, IntentSinkOptions opts);

  // HTTP targets keep their ledger in staging: the cursor alone says what was applied.
  Result<uint64_t> TargetOffset() override { return uint64_t{0}; }
  Status ApplyBatch(const std::vector<stage::StagedRecord>& records, uint64_t max_seq,
                    const QuarantineFn& quarantine, BatchStats* stats) override;
  size_t batch_records() const override { return target_->batch_records(); }
  size_t batch_bytes() const override { return 4u << 20; }
  std::string MappingHash() const override { return target_->MappingHash(); }

  // Resolves every open intent by asking the target. Called at the start of every batch.
  Status ResolveOpenIntents(BatchStats* stats);
  // Told about changes reported but not applied.
  void set_notice(std::function<void(const std::string&)> fn) { notice_ = std::move(fn); }

 private:
  Status CreateAll(std::vector<TargetItem> items, std::vector<stage::FetchFailure>* bad,
                   BatchStats* stats);

  const std::string pipeline_;
  const std::string name_;
  std::unique_ptr<Target> target_;
  stage::StagingLog* const log_;
  Clock* const clock_;
  const IntentSinkOptions opts_;
  std::function<void(const std::string&)> notice_;
};

}  // namespace stagesync::sink
