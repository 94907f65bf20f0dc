// stagesync-dump: read-only inspection of a staging state dir (summary, one record, the
// change log, the quarantine). Opens RocksDB read-only, so it works while the agent runs.
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "stagesync/json.h"
#include "stagesync/stage.h"

namespace {

using namespace stagesync;

void Usage(FILE* out) {
  std::fputs(
      "usage: stagesync-dump --state DIR [--format text|jsonl] [--pipeline P]\n"
      "                      [--key ID | --pending [--sink S] | --quarantine] [--limit N]\n"
      "  (no mode)      per pipeline: records, pending changes per sink, watermark, last seq\n"
      "  --key ID       one record: hash, sequence, fetch time, raw JSON (needs --pipeline)\n"
      "  --pending      change-log entries not yet applied by every sink\n"
      "  --quarantine   records parked with their error\n",
      out);
}

std::string IsoUtc(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}

int Fail(const Status& s) {
  std::fprintf(stderr, "stagesync-dump: error: %s\n", s.message().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string state, format = "text", pipeline, key, sink_filter;
  bool pending = false, quarantine = false;
  size_t limit = 1000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&](std::string* v) {
      if (i + 1 >= argc) return false;
      *v = argv[++i];
      return true;
    };
    std::string lim;
    if (a == "--state" && next(&state)) {
    } else if (a == "--format" && next(&format)) {
    } else if (a == "--pipeline" && next(&pipeline)) {
    } else if (a == "--key" && next(&key)) {
    } else if (a == "--sink" && next(&sink_filter)) {
    } else if (a == "--limit" && next(&lim)) {
      limit = std::strtoul(lim.c_str(), nullptr, 10);
    } else if (a == "--pending") {
      pending = true;
    } else if (a == "--quarantine") {
      quarantine = true;
    } else if (a == "-h" || a == "--help") {
      Usage(stdout);
      return 0;
    } else {
      Usage(stderr);
      return 2;
    }
  }
  if (state.empty() || (format != "text" && format != "jsonl") ||
      (!key.empty() && pipeline.empty())) {
    Usage(stderr);
    return 2;
  }
  const bool jsonl = format == "jsonl";
  stage::StageOptions so;
  so.read_only = true;
  auto opened = stage::StagingLog::Open(state, so);
  if (!opened.ok()) return Fail(opened.status());
  stage::StagingLog* log = opened->get();

  std::vector<std::string> pipelines;
  if (!pipeline.empty()) {
    pipelines.push_back(pipeline);
  } else {
    auto ps = log->Pipelines();
    if (!ps.ok()) return Fail(ps.status());
    pipelines = *ps;
  }

  if (!key.empty()) {
    auto r = log->Get(pipeline, key);
    if (!r.ok()) return Fail(r.status());
    if (!r->has_value()) {
      std::fprintf(stderr, "stagesync-dump: pipeline %s has no record %s\n", pipeline.c_str(),
                   key.c_str());
      return 1;
    }
    const stage::StagedRecord& rec = **r;
    if (jsonl) {
      std::printf(
          "{\"pipeline\":%s,\"key\":%s,\"hash\":\"%s\",\"seq\":%llu,\"fetched_at_ms\":%lld,"
          "\"deleted\":%s,\"record\":%s}\n",
          json::Quote(pipeline).c_str(), json::Quote(rec.source_id).c_str(),
          rec.hash.ToHex().c_str(), static_cast<unsigned long long>(rec.seq),
          static_cast<long long>(rec.fetched_at_ms), rec.deleted ? "true" : "false",
          rec.raw.c_str());
    } else {
      std::printf(
          "pipeline:   %s\nkey:        %s\nhash:       %s\nseq:        %llu\n"
          "fetched at: %s\ndeleted:    %s\nrecord:     %s\n",
          pipeline.c_str(), rec.source_id.c_str(), rec.hash.ToHex().c_str(),
          static_cast<unsigned long long>(rec.seq), IsoUtc(rec.fetched_at_ms).c_str(),
          rec.deleted ? "yes" : "no", rec.raw.c_str());
    }
    return 0;
  }

  for (const auto& p : pipelines) {
    if (quarantine) {
      auto q = log->Quarantined(p);
      if (!q.ok()) return Fail(q.status());
      for (const auto& e : *q) {
        if (jsonl) {
          std::printf(
              "{\"pipeline\":%s,\"stage\":%s,\"key\":%s,\"at_ms\":%lld,\"error\":%s,"
              "\"payload\":%s}\n",
              json::Quote(p).c_str(), json::Quote(e.stage).c_str(),
              json::Quote(e.source_id).c_str(), static_cast<long long>(e.at_ms),
              json::Quote(e.error).c_str(), json::Quote(e.payload).c_str());
        } else {
          std::printf("%s\t%s\t%s\t%s\t%s\n", p.c_str(), e.stage.c_str(), e.source_id.c_str(),
                      IsoUtc(e.at_ms).c_str(), e.error.c_str());
        }
      }
      continue;
    }
    auto sum = log->Summary(p);
    if (!sum.ok()) return Fail(sum.status());
    if (pending) {
      uint64_t from = UINT64_MAX;
      for (const auto& s : sum->sinks) {
        if (sink_filter.empty() || s.name == sink_filter) from = std::min(from, s.cursor);
      }
      if (from == UINT64_MAX) from = 0;
      auto changes = log->ReadChanges(p, from, limit);
      if (!changes.ok()) return Fail(changes.status());
      for (const auto& c : *changes) {
        std::string waiting;
        for (const auto& s : sum->sinks) {
          if ((sink_filter.empty() || s.name == sink_filter) && c.seq > s.cursor) {
            waiting += (waiting.empty() ? "" : ",") + s.name;
          }
        }
        if (jsonl) {
          std::printf("{\"pipeline\":%s,\"seq\":%llu,\"key\":%s,\"sinks\":%s}\n",
                      json::Quote(p).c_str(), static_cast<unsigned long long>(c.seq),
                      json::Quote(c.source_id).c_str(), json::Quote(waiting).c_str());
        } else {
          std::printf("%s\t%llu\t%s\t%s\n", p.c_str(), static_cast<unsigned long long>(c.seq),
                      c.source_id.c_str(), waiting.c_str());
        }
      }
      continue;
    }
    if (jsonl) {
      std::string sinks = "[";
      for (size_t i = 0; i < sum->sinks.size(); ++i) {
        const auto& s = sum->sinks[i];
        sinks += (i ? "," : "") + std::string("{\"name\":") + json::Quote(s.name) +
                 ",\"cursor\":" + std::to_string(s.cursor) +
                 ",\"pending\":" + std::to_string(s.pending) +
                 ",\"outcomes\":" + std::to_string(s.outcomes) +
                 ",\"open_intents\":" + std::to_string(s.open_intents) + "}";
      }
      sinks += "]";
      std::printf(
          "{\"pipeline\":%s,\"records\":%lld,\"deleted\":%lld,\"last_seq\":%llu,"
          "\"watermark_ms\":%s,\"open_ids\":%lld,\"quarantined\":%lld,\"sinks\":%s}\n",
          json::Quote(p).c_str(), static_cast<long long>(sum->records),
          static_cast<long long>(sum->deleted), static_cast<unsigned long long>(sum->last_seq),
          sum->watermark_ms ? std::to_string(*sum->watermark_ms).c_str() : "null",
          static_cast<long long>(sum->open_ids), static_cast<long long>(sum->quarantined),
          sinks.c_str());
    } else {
      std::printf(
          "pipeline %s\n  records:     %lld (%lld deleted)\n  last seq:    %llu\n"
          "  watermark:   %s\n  open ids:    %lld (not final at the source)\n"
          "  quarantined: %lld\n",
          p.c_str(), static_cast<long long>(sum->records), static_cast<long long>(sum->deleted),
          static_cast<unsigned long long>(sum->last_seq),
          sum->watermark_ms ? IsoUtc(*sum->watermark_ms).c_str() : "(none)",
          static_cast<long long>(sum->open_ids), static_cast<long long>(sum->quarantined));
      for (const auto& s : sum->sinks) {
        std::printf("  sink %-20s cursor %llu, pending %lld", s.name.c_str(),
                    static_cast<unsigned long long>(s.cursor), static_cast<long long>(s.pending));
        if (s.outcomes > 0 || s.open_intents > 0) {
          std::printf(", created at the target %lld, open intents %lld",
                      static_cast<long long>(s.outcomes), static_cast<long long>(s.open_intents));
        }
        std::printf("\n");
      }
    }
  }
  return 0;
}
