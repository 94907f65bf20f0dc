#include "connectors/common/intent_sink.h"

#include <fmt/format.h>

#include "stagesync/crash_point.h"

namespace stagesync::sink {

std::string TargetOutcome::ToJson() const {
  return fmt::format(
      "{{\"target_id\":{},\"number\":{},\"hash\":{},\"mapping\":{},\"deleted\":{},"
      "\"changes_reported\":{}}}",
      json::Quote(target_id), json::Quote(number), json::Quote(hash), json::Quote(mapping),
      deleted ? "true" : "false", changes_reported);
}

bool TargetOutcome::FromJson(const std::string& s, TargetOutcome* out) {
  auto v = json::Parse(s);
  if (!v.ok() || !v->is_object()) return false;
  auto str = [&](const char* k) {
    const json::Value* f = v->Find(k);
    return f && f->is_string() ? f->text() : std::string();
  };
  out->target_id = str("target_id");
  out->number = str("number");
  out->hash = str("hash");
  out->mapping = str("mapping");
  const json::Value* d = v->Find("deleted");
  out->deleted = d && d->is_bool() && d->bool_value();
  if (const json::Value* c = v->Find("changes_reported")) c->AsInt64(&out->changes_reported);
  return true;
}

TargetObject::Field TargetObject::FromJson(std::string name, const json::Value& v) {
  Field f{std::move(name), std::nullopt, v.is_number()};
  if (v.is_string() || v.is_number()) {
    f.value = v.text();
  } else if (v.is_bool()) {
    f.value = v.bool_value() ? "true" : "false";
  } else if (!v.is_null()) {
    f.value = json::Serialize(v);
  }
  return f;
}

namespace {

std::string IntentJson(const TargetItem& item, int attempt, int64_t now_ms) {
  return fmt::format("{{\"hash\":\"{}\",\"attempt\":{},\"at_ms\":{},\"payload\":{}}}",
                     item.hash.ToHex(), attempt, now_ms, json::Quote(item.payload));
}

bool ParseIntent(const std::string& id, const std::string& s, TargetItem* item) {
  auto v = json::Parse(s);
  if (!v.ok()) return false;
  item->source_id = id;
  if (const json::Value* p = v->Find("payload")) item->payload = p->text();
  if (const json::Value* h = v->Find("hash")) {
    const std::string& hex = h->text();
    if (hex.size() == 32) {
      item->hash.high = std::strtoull(hex.substr(0, 16).c_str(), nullptr, 16);
      item->hash.low = std::strtoull(hex.substr(16).c_str(), nullptr, 16);
    }
  }
  return true;
}

}  // namespace

IntentSink::IntentSink(std::string pipeline, std::string name, std::unique_ptr<Target> target,
                       stage::StagingLog* log, Clock* clock, IntentSinkOptions opts)
    : pipeline_(std::move(pipeline)),
      name_(std::move(name)),
      target_(std::move(target)),
      log_(log),
      clock_(clock),
      opts_(opts) {}

Status IntentSink::ResolveOpenIntents(BatchStats* stats) {
  SS_ASSIGN_OR_RETURN(auto intents, log_->Intents(pipeline_, name_));
  for (const auto& [id, value] : intents) {
    TargetItem item;
    if (!ParseIntent(id, value, &item)) {
      return DataLoss(
          fmt::format("pipeline {}, sink {}: unreadable intent for {}", pipeline_, name_, id));
    }
    SS_ASSIGN_OR_RETURN(auto found, target_->Lookup(item));
    if (found) {
      // The call went through before we could record it: record it now, never call again.
      found->hash = item.hash.ToHex();
      found->mapping = target_->MappingHash();
      SS_RETURN_IF_ERROR(log_->CompleteIntent(pipeline_, name_, id, found->ToJson()));
      ++stats->applied;
    } else {
      // Certainly not there: the change is still pending in the change log and will be
      // created when the cursor reaches it again.
      SS_RETURN_IF_ERROR(log_->ClearIntent(pipeline_, name_, id));
    }
    ++stats->retries;
  }
  return Status::Ok();
}

Status IntentSink::ApplyBatch(const std::vector<stage::StagedRecord>& records, uint64_t /*max_seq*/,
                              const QuarantineFn& quarantine, BatchStats* stats) {
  SS_RETURN_IF_ERROR(ResolveOpenIntents(stats));
  std::vector<stage::FetchFailure> bad;
  std::vector<TargetItem> creates;
  const std::string mapping = target_->MappingHash();
  for (const auto& r : records) {
    SS_ASSIGN_OR_RETURN(std::string stored, log_->Outcome(pipeline_, name_, r.source_id));
    TargetOutcome prior;
    const bool exists = !stored.empty() && TargetOutcome::FromJson(stored, &prior);
    if (r.deleted) {
      if (exists && !prior.deleted) {
        SS_RETURN_IF_ERROR(target_->OnDelete(r.source_id, &prior));
        prior.deleted = true;
        prior.hash = r.hash.ToHex();
        SS_RETURN_IF_ERROR(log_->CompleteIntent(pipeline_, name_, r.source_id, prior.ToJson()));
        ++stats->applied;
      }
      continue;
    }
    TargetItem item{r.source_id, "", r.hash};
    transform::MapVerdict verdict;
    Status ps = target_->Prepare(r, &item.payload, &verdict);
    if (!ps.ok()) {
      if (!verdict.rule.empty()) ++stats->rule_failures[verdict.rule];
      bad.push_back(
          {r.source_id,
           fmt::format("pipeline {}, record {}, {}", pipeline_, r.source_id, ps.message()),
           r.raw.substr(0, 4096)});
      continue;
    }
    if (verdict.filtered) {
      ++stats->filtered;
      continue;
    }
    if (exists) {
      if (prior.hash == r.hash.ToHex() && prior.mapping == mapping) {
        ++stats->skipped;
        continue;
      }
      Status cs = target_->OnChange(item, &prior);
      if (cs.code() == StatusCode::kAlreadyExists) {
        // Reported, not applied (a Kingdee bill is never pushed twice): remember this version
        // so it is reported once.
        prior.hash = r.hash.ToHex();
        SS_RETURN_IF_ERROR(log_->CompleteIntent(pipeline_, name_, r.source_id, prior.ToJson()));
        ++stats->skipped;
        ++stats->changes_reported;
        if (notice_) notice_(cs.message());
        continue;
      }
      if (cs.code() == StatusCode::kInvalidArgument) {
        bad.push_back(
            {r.source_id,
             fmt::format("pipeline {}, record {}: {}", pipeline_, r.source_id, cs.message()),
             r.raw.substr(0, 4096)});
        continue;
      }
      SS_RETURN_IF_ERROR(cs);
      prior.hash = r.hash.ToHex();
      prior.mapping = mapping;
      SS_RETURN_IF_ERROR(log_->CompleteIntent(pipeline_, name_, r.source_id, prior.ToJson()));
      ++stats->applied;
      continue;
    }
    creates.push_back(std::move(item));
  }
  if (!creates.empty()) SS_RETURN_IF_ERROR(CreateAll(std::move(creates), &bad, stats));
  if (!bad.empty()) {
    SS_RETURN_IF_ERROR(quarantine(bad));
    stats->quarantined += static_cast<int64_t>(bad.size());
  }
  return Status::Ok();
}

Status IntentSink::CreateAll(std::vector<TargetItem> pending, std::vector<stage::FetchFailure>* bad,
                             BatchStats* stats) {
  const std::string mapping = target_->MappingHash();
  for (int attempt = 1;; ++attempt) {
    // Intent first, synced: from here on a crash leaves evidence to resolve.
    std::vector<std::pair<std::string, std::string>> intents;
    for (const auto& item : pending) {
      intents.emplace_back(item.source_id, IntentJson(item, attempt, clock_->NowMillis()));
    }
    SS_RETURN_IF_ERROR(log_->PutIntents(pipeline_, name_, intents));
    CrashPoint("http_sink.after_intent");
    std::vector<CreateResult> results = target_->Create(pending);
    CrashPoint("http_sink.after_call");
    if (results.size() != pending.size()) {
      return Internal(
          fmt::format("sink {}: {} results for {} items", name_, results.size(), pending.size()));
    }
    std::vector<TargetItem> unknown;
    std::string last_unknown;
    for (size_t i = 0; i < pending.size(); ++i) {
      TargetItem& item = pending[i];
      CreateResult& res = results[i];
      switch (res.kind) {
        case CreateResult::kCreated:
          res.outcome.hash = item.hash.ToHex();
          res.outcome.mapping = mapping;
          SS_RETURN_IF_ERROR(
              log_->CompleteIntent(pipeline_, name_, item.source_id, res.outcome.ToJson()));
          ++stats->applied;
          ++stats->rows;
          break;
        case CreateResult::kRejected:
          SS_RETURN_IF_ERROR(log_->ClearIntent(pipeline_, name_, item.source_id));
          bad->push_back(
              {item.source_id,
               fmt::format("pipeline {}, record {}: {}", pipeline_, item.source_id, res.message),
               item.payload.substr(0, 4096)});
          break;
        case CreateResult::kUnknown:
          last_unknown = res.message;
          unknown.push_back(std::move(item));
          break;
      }
    }
    if (unknown.empty()) return Status::Ok();
    // Ask before any retry: whatever the target already has is recorded, never sent again.
    std::vector<TargetItem> retry;
    for (auto& item : unknown) {
      SS_ASSIGN_OR_RETURN(auto found, target_->Lookup(item));
      ++stats->retries;
      if (found) {
        found->hash = item.hash.ToHex();
        found->mapping = mapping;
        SS_RETURN_IF_ERROR(log_->CompleteIntent(pipeline_, name_, item.source_id, found->ToJson()));
        ++stats->applied;
        ++stats->rows;
      } else {
        retry.push_back(std::move(item));
      }
    }
    if (retry.empty()) return Status::Ok();
    if (attempt >= opts_.max_create_attempts) {
      // The intents stay open; the next run resolves them before anything else.
      return Unavailable(
          fmt::format("pipeline {}, sink {}: {} record(s) not created after {} "
                      "attempts: {}",
                      pipeline_, name_, retry.size(), attempt, last_unknown));
    }
    clock_->SleepForMicros(opts_.retry_base_ms * 1000 * attempt);
    pending = std::move(retry);
  }
}

}  // namespace stagesync::sink
