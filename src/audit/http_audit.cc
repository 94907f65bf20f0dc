#include "audit/http_audit.h"

#include <fmt/format.h>

#include <map>
#include <set>

#include "audit/chain_check.h"
#include "audit/common.h"
#include "audit/values.h"
#include "stagesync/stage.h"

namespace stagesync::audit {
namespace {

using Cell = std::optional<std::string>;

// "FKD00000871 (FID 108812, status A)"; "(no number)" for a draft or an instance.
std::string Describe(const sink::Target& t, const sink::TargetObject& o) {
  return fmt::format("{} ({} {}{})", o.number.empty() ? "(no number)" : o.number, t.IdName(),
                     o.target_id, o.status.empty() ? "" : ", status " + o.status);
}

// Whether the target's field holds what the payload sets: numbers as exact decimals (a JSON
// number 12.50 is the 12.5 a form gives back), everything else exactly.
bool SameField(const sink::TargetObject::Field& want, const Cell& have, bool have_number) {
  return SameValue(want.value, have, want.number || have_number ? "decimal" : "text");
}

}  // namespace

Status AuditHttpSink(const config::Config& cfg, const config::PipelineConfig& p,
                     const config::SinkConfig& s, sink::Target* target, const AuditOptions& opts,
                     SinkReport* rep, std::vector<Finding>* out) {
  const std::string where = fmt::format("pipeline {}, sink {}", p.name, s.name);
  const std::string object = target->ObjectName();
  rep->table = object;
  rep->target = object;  // "AP_PAYBILL bill", "Yida instance of FORM-..."
  auto add = [&](std::string cls, const std::string& key, std::string detail,
                 std::vector<ColumnDiff> cols = {}) {
    Tally(rep, out, std::move(cls), key, "", std::move(detail), std::move(cols));
  };

  // Every object the sink may have created, by the source it names (before staging is read).
  std::map<std::string, std::vector<sink::TargetObject>> by_source;
  if (opts.key.empty()) {
    Status scanned = target->ScanAll([&](const sink::TargetObject& o) {
      by_source[o.source].push_back(o);
      return Status::Ok();
    });
    if (!scanned.ok()) return scanned.WithContext(where + ": cannot read every " + object);
  }

  SS_ASSIGN_OR_RETURN(auto opened, OpenStaging(cfg));
  stage::StagingLog* log = opened.get();
  SS_ASSIGN_OR_RETURN(uint64_t cursor, log->Cursor(p.name, s.name));
  std::set<std::string> open_intents, quarantined;
  SS_ASSIGN_OR_RETURN(auto intents, log->Intents(p.name, s.name));
  for (const auto& [id, value] : intents) open_intents.insert(id);
  SS_ASSIGN_OR_RETURN(auto q, log->Quarantined(p.name));
  for (const auto& e : q) {
    if (e.stage == s.name) quarantined.insert(e.source_id);
  }
  const std::string mapping = target->MappingHash();

  // Sources of the records the sink would send now, and the objects it recorded creating
  // (kept when their record is later deleted or no longer selected: a sync never deletes a
  // bill, and a Yida instance follows on_delete).
  std::set<std::string> known_sources, known_ids;
  auto handle = [&](const stage::StagedRecord& rec) -> Status {
    SS_ASSIGN_OR_RETURN(std::string stored, log->Outcome(p.name, s.name, rec.source_id));
    sink::TargetOutcome prior;
    const bool applied_before = !stored.empty() && sink::TargetOutcome::FromJson(stored, &prior);
    if (applied_before && !prior.target_id.empty()) known_ids.insert(prior.target_id);
    if (rec.deleted) return Status::Ok();
    sink::TargetItem item{rec.source_id, "", rec.hash};
    transform::MapVerdict verdict;
    Status prepared = target->Prepare(rec, &item.payload, &verdict);
    if (prepared.ok() && verdict.filtered) return Status::Ok();  // not for this target
    if (prepared.ok()) known_sources.insert(target->SourceKey(item));
    if (quarantined.contains(rec.source_id)) {
      add("quarantined", rec.source_id, "parked by the sink (stagesync-dump --quarantine)");
      return Status::Ok();
    }
    if (!prepared.ok()) {
      add("pending", rec.source_id,
          "the current mapping cannot map it: the sink quarantines it on its next run");
      return Status::Ok();
    }
    if (open_intents.contains(rec.source_id)) {
      add("pending", rec.source_id, "a create of unknown outcome: resolved on the next run");
      return Status::Ok();
    }
    if (rec.seq > cursor) {
      add("pending", rec.source_id, "changed in staging, not applied yet");
      return Status::Ok();
    }
    if (applied_before && prior.hash != rec.hash.ToHex()) {
      add("pending", rec.source_id, "the sink's outcome is for an older version");
      return Status::Ok();
    }
    const std::vector<sink::TargetObject::Field> want = target->ExpectedFields(item);
    if (!want.empty() && applied_before && prior.mapping != mapping) {
      add("pending", rec.source_id,
          "applied under another mapping: the sink re-applies it on its next run");
      return Status::Ok();
    }
    auto found = target->FindAll(item);
    if (!found.ok()) {
      return found.status().WithContext(
          fmt::format("{}: cannot ask for the {} of record {}", where, object, rec.source_id));
    }
    if (found->empty()) {
      add("missing", rec.source_id,
          fmt::format("no {} for this applied record{}", object,
                      applied_before ? " (the sink recorded " + prior.target_id + ")" : ""));
      return Status::Ok();
    }
    if (found->size() > 1) {
      std::string all;
      for (const auto& o : *found) all += (all.empty() ? "" : ", ") + Describe(*target, o);
      add("duplicate", rec.source_id,
          fmt::format("{} {}s for this one record (created more than once): {}", found->size(),
                      object, all));
      return Status::Ok();
    }
    const sink::TargetObject& have = found->front();
    std::vector<ColumnDiff> diffs;
    for (const auto& f : want) {
      Cell value;
      bool number = false;
      for (const auto& h : have.fields) {
        if (h.name == f.name) {
          value = h.value;
          number = h.number;
          break;
        }
      }
      if (!SameField(f, value, number)) diffs.push_back({f.name, f.value, value});
    }
    if (diffs.empty()) {
      add("ok", rec.source_id, "");
      return Status::Ok();
    }
    std::string detail = Describe(*target, have) + ": " + DiffDetail(diffs);
    add("drifted", rec.source_id, std::move(detail), std::move(diffs));
    return Status::Ok();
  };
  SS_RETURN_IF_ERROR(EachStaged(log, p.name, opts.key, handle));
  for (const auto& [source, objects] : by_source) {
    if (known_sources.contains(source)) continue;
    for (const auto& o : objects) {
      if (known_ids.contains(o.target_id)) continue;
      add("extra", source,
          fmt::format("{} {} names {} as its source, which is no staged record this sink sends",
                      object, Describe(*target, o), source));
    }
  }
  // The sink's chain over its outcomes, from the same staging view.
  if (opts.key.empty()) SS_RETURN_IF_ERROR(VerifyOutcomeChain(log, rep, out));
  rep->audited = true;
  return Status::Ok();
}

}  // namespace stagesync::audit
