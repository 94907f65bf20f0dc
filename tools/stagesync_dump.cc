// stagesync-dump: read-only inspection of a staging state dir (summary, one record, the
// change log, the quarantine, the HTTP sinks' outcomes and open intents, the agent's runs).
// Opens RocksDB
// read-only, so it works while the agent runs. Vendor data never reaches the terminal raw:
// control characters are escaped (text and jsonl alike).
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "obs/log.h"
#include "stagesync/json.h"
#include "stagesync/stage.h"

namespace {

using namespace stagesync;

void Usage(FILE* out) {
  std::fputs(
      "usage: stagesync-dump --state DIR [--format text|jsonl] [--pipeline P]\n"
      "                      [--key ID]\n"
      "                      [--pending | --quarantine | --outcomes | --intents | --runs]\n"
      "                      [--sink S] [--limit N]\n"
      "  (no mode)      per pipeline: records, pending changes per sink, watermark, last seq\n"
      "  --key ID       one record: hash, sequence, fetch time, raw JSON, its kept versions and\n"
      "                 the fields each changed (stagesync-audit --key: old/new values), what\n"
      "                 each HTTP sink made of it (needs --pipeline)\n"
      "  --pending      change-log entries not yet applied by every sink\n"
      "  --quarantine   records parked with their error\n"
      "  --outcomes     HTTP sinks: what the target holds per record (bill id and number)\n"
      "  --intents      HTTP sinks: creates under way whose outcome is not known yet\n"
      "                 (both: every record, or one with --key; one sink with --sink)\n"
      "  --runs         the agent's runs, newest first: start, end, duration, outcome and a\n"
      "                 summary (jsonl: the whole record)\n",
      out);
}

int Fail(const Status& s) {
  std::fprintf(stderr, "stagesync-dump: error: %s\n", s.message().c_str());
  return 1;
}

// Length of the valid UTF-8 sequence at s[i], or 0 when the byte there does not start one.
size_t Utf8Length(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  size_t n = c < 0x80                   ? 1
             : (c >= 0xC2 && c <= 0xDF) ? 2
             : (c >= 0xE0 && c <= 0xEF) ? 3
             : (c >= 0xF0 && c <= 0xF4) ? 4
                                        : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
  }
  if (n == 3) {
    const unsigned cp = ((c & 0x0Fu) << 12) | ((b(i + 1) & 0x3Fu) << 6);
    if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  }
  if (n == 4) {
    const unsigned cp = ((c & 0x07u) << 18) | ((b(i + 1) & 0x3Fu) << 12);
    if (cp < 0x10000 || cp > 0x10FFFF) return 0;
  }
  return n;
}

// Text output: C0 controls, DEL and C1 controls (U+0080-U+009F) become \n, \t, \r or \xNN /
// \u00NN, and bytes that are not UTF-8 become \xNN, so vendor data cannot drive the terminal
// (an ESC [ ... from a record would otherwise recolour, move or retitle it).
std::string Printable(std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const size_t n = Utf8Length(s, i);
    if (n == 1 && c >= 0x20 && c != 0x7F) {
      out.push_back(s[i++]);
      continue;
    }
    if (n == 2 && c == 0xC2 && static_cast<unsigned char>(s[i + 1]) <= 0x9F) {
      const unsigned char cp = static_cast<unsigned char>(s[i + 1]);
      out += "\\u00";
      out.push_back(kHex[cp >> 4]);
      out.push_back(kHex[cp & 15]);
      i += 2;
      continue;
    }
    if (n > 1) {
      out.append(s.substr(i, n));
      i += n;
      continue;
    }
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += "\\x";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
    }
    ++i;
  }
  return out;
}

// JSON output: control characters (C0, DEL, C1) inside strings become \u escapes (the same
// JSON value). Staged records are compact canonical JSON: no raw whitespace to keep.
std::string SafeJson(std::string_view json_text) {
  std::string out;
  out.reserve(json_text.size());
  for (size_t i = 0; i < json_text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(json_text[i]);
    if (c < 0x20) {
      // Only in a string of a stored value written by hand: canonical JSON escapes C0.
      static const char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else if (c == 0x7F) {
      out += "\\u007f";
    } else if (c == 0xC2 && i + 1 < json_text.size() &&
               static_cast<unsigned char>(json_text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(json_text[i + 1]) <= 0x9F) {
      static const char kHex[] = "0123456789abcdef";
      const unsigned char cp = static_cast<unsigned char>(json_text[++i]);
      out += "\\u00";
      out.push_back(kHex[cp >> 4]);
      out.push_back(kHex[cp & 15]);
    } else {
      out.push_back(json_text[i]);
    }
  }
  return out;
}

std::string Q(std::string_view s) { return SafeJson(json::Quote(s)); }

// A stored outcome or intent as a JSON value for jsonl (a string if it is not JSON).
std::string StoredJson(const std::string& v) {
  auto parsed = json::Parse(v);
  return parsed.ok() ? SafeJson(json::Serialize(*parsed)) : Q(v);
}

std::string Field(const std::string& stored, std::string_view name) {
  auto parsed = json::Parse(stored);
  if (!parsed.ok()) return "";
  const json::Value* f = parsed->Find(name);
  if (f == nullptr || f->is_null()) return "";
  if (f->is_string() || f->is_number()) return f->text();
  return json::Serialize(*f);
}

// Appends the scalar members of `v` (nested objects' too, arrays skipped) as name=value.
void AppendScalars(const std::string& name, const json::Value& v, std::string* out) {
  if (v.is_object()) {
    for (const auto& [sub, sv] : v.members()) {
      AppendScalars(name.empty() ? sub : name + "." + sub, sv, out);
    }
    return;
  }
  if (!v.is_string() && !v.is_number() && !v.is_bool()) return;
  *out += (out->empty() ? "" : " ") + name + "=";
  *out += v.is_bool() ? (v.bool_value() ? "true" : "false") : v.text();
}

// A run's detail in one short line: its error if it has one, else its scalars as name=value.
std::string RunSummary(const std::string& detail_json) {
  auto parsed = json::Parse(detail_json);
  if (!parsed.ok()) return "";
  if (const json::Value* e = parsed->Find("error"); e != nullptr && e->is_string()) {
    return "error: " + e->text();
  }
  std::string out;
  AppendScalars("", *parsed, &out);
  if (out.size() > 200) {
    size_t n = 200;
    while (n > 0 && (static_cast<unsigned char>(out[n]) & 0xC0) == 0x80) --n;
    out = out.substr(0, n) + "...";
  }
  return out;
}

void PrintRun(bool jsonl, const std::string& p, const stage::RunRecord& r) {
  if (jsonl) {
    std::printf(
        "{\"pipeline\":%s,\"id\":%lld,\"started_ms\":%lld,\"ended_ms\":%lld,\"outcome\":%s,"
        "\"detail\":%s}\n",
        Q(p).c_str(), static_cast<long long>(r.id), static_cast<long long>(r.started_ms),
        static_cast<long long>(r.ended_ms), Q(r.outcome).c_str(),
        StoredJson(r.detail_json).c_str());
    return;
  }
  std::printf("%s\t%lld\t%s\t%s\t%.1fs\t%s\t%s\n", Printable(p).c_str(),
              static_cast<long long>(r.id), stagesync::obs::IsoMillis(r.started_ms).c_str(),
              stagesync::obs::IsoMillis(r.ended_ms).c_str(),
              static_cast<double>(r.ended_ms - r.started_ms) / 1000, Printable(r.outcome).c_str(),
              Printable(RunSummary(r.detail_json)).c_str());
}

// One outcome (what the target holds) or intent (a create under way), one line.
void PrintSinkEntry(bool jsonl, bool outcome, const std::string& p, const std::string& sink,
                    const std::string& id, const std::string& stored) {
  if (jsonl) {
    std::printf("{\"pipeline\":%s,\"sink\":%s,\"key\":%s,\"%s\":%s}\n", Q(p).c_str(),
                Q(sink).c_str(), Q(id).c_str(), outcome ? "outcome" : "intent",
                StoredJson(stored).c_str());
    return;
  }
  if (outcome) {
    std::printf("%s\t%s\t%s\ttarget_id=%s\tnumber=%s%s\n", Printable(p).c_str(),
                Printable(sink).c_str(), Printable(id).c_str(),
                Printable(Field(stored, "target_id")).c_str(),
                Printable(Field(stored, "number")).c_str(),
                Field(stored, "deleted") == "true" ? "\tdeleted" : "");
  } else {
    std::string at = Field(stored, "at_ms");
    std::printf("%s\t%s\t%s\tattempt=%s\tsince=%s\n", Printable(p).c_str(), Printable(sink).c_str(),
                Printable(id).c_str(), Printable(Field(stored, "attempt")).c_str(),
                at.empty() ? "?" : stagesync::obs::IsoMillis(std::atoll(at.c_str())).c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Staging already holds redacted errors; this also keeps token-like values in raw vendor
  // payloads (a session id echoed in a record) off the terminal.
  stagesync::obs::RedactStandardStreams();
  std::string state, format = "text", pipeline, key, sink_filter;
  bool pending = false, quarantine = false, outcomes = false, intents = false, runs = false;
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
    } else if (a == "--outcomes") {
      outcomes = true;
    } else if (a == "--intents") {
      intents = true;
    } else if (a == "--runs") {
      runs = true;
    } else if (a == "-h" || a == "--help") {
      Usage(stdout);
      return 0;
    } else {
      Usage(stderr);
      return 2;
    }
  }
  if (state.empty() || (format != "text" && format != "jsonl") ||
      (!key.empty() && pipeline.empty()) || pending + quarantine + outcomes + intents + runs > 1 ||
      (!key.empty() && (pending || quarantine || runs))) {
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

  if (runs) {
    for (const auto& p : pipelines) {
      auto rs = log->Runs(p, limit);
      if (!rs.ok()) return Fail(rs.status());
      for (const auto& r : *rs) PrintRun(jsonl, p, r);
    }
    return 0;
  }

  if (outcomes || intents) {
    for (const auto& p : pipelines) {
      auto sum = log->Summary(p);
      if (!sum.ok()) return Fail(sum.status());
      for (const auto& s : sum->sinks) {
        if (!sink_filter.empty() && s.name != sink_filter) continue;
        std::vector<std::pair<std::string, std::string>> entries;
        if (!key.empty()) {
          if (outcomes) {
            auto o = log->Outcome(p, s.name, key);
            if (!o.ok()) return Fail(o.status());
            if (!o->empty()) entries.emplace_back(key, *o);
          } else {
            auto all = log->Intents(p, s.name);
            if (!all.ok()) return Fail(all.status());
            for (auto& e : *all) {
              if (e.first == key) entries.push_back(std::move(e));
            }
          }
        } else {
          auto all = outcomes ? log->Outcomes(p, s.name) : log->Intents(p, s.name);
          if (!all.ok()) return Fail(all.status());
          entries = std::move(all).value();
        }
        size_t n = 0;
        for (const auto& [id, stored] : entries) {
          if (n++ >= limit) break;
          PrintSinkEntry(jsonl, outcomes, p, s.name, id, stored);
        }
      }
    }
    return 0;
  }

  if (!key.empty()) {
    auto r = log->Get(pipeline, key);
    if (!r.ok()) return Fail(r.status());
    if (!r->has_value()) {
      std::fprintf(stderr, "stagesync-dump: pipeline %s has no record %s\n",
                   Printable(pipeline).c_str(), Printable(key).c_str());
      return 1;
    }
    const stage::StagedRecord& rec = **r;
    // Its kept versions, one line each with the fields changed (stagesync-audit --key shows
    // the old and new values).
    auto history = log->History(pipeline, key);
    if (!history.ok()) return Fail(history.status());
    std::string history_json, history_text;
    for (const auto& v : *history) {
      std::string fields_json, fields_text;
      for (const auto& c : v.changes) {
        fields_json += std::string(fields_json.empty() ? "" : ",") + Q(c.path);
        fields_text += std::string(fields_text.empty() ? "" : ", ") + Printable(c.path);
      }
      history_json +=
          std::string(history_json.empty() ? "" : ",") + "{\"seq\":" + std::to_string(v.seq) +
          ",\"at_ms\":" + std::to_string(v.staged_at_ms) + ",\"hash\":\"" + v.hash.ToHex() +
          "\",\"kind\":" + Q(v.kind) + ",\"fields\":[" + fields_json + "]}";
      history_text += "version:    seq " + std::to_string(v.seq) + " " +
                      stagesync::obs::IsoMillis(v.staged_at_ms) + " " + v.kind +
                      (fields_text.empty() ? "" : " (" + fields_text + ")") + "\n";
    }
    // What each HTTP sink made of the record: its outcome (the bill) and any open intent.
    auto sum = log->Summary(pipeline);
    if (!sum.ok()) return Fail(sum.status());
    std::string sinks_json, sinks_text;
    for (const auto& s : sum->sinks) {
      auto o = log->Outcome(pipeline, s.name, key);
      if (!o.ok()) return Fail(o.status());
      auto in = log->Intents(pipeline, s.name);
      if (!in.ok()) return Fail(in.status());
      std::string intent;
      for (const auto& e : *in) {
        if (e.first == key) intent = e.second;
      }
      if (o->empty() && intent.empty()) continue;
      sinks_json += std::string(sinks_json.empty() ? "" : ",") + Q(s.name) +
                    ":{\"outcome\":" + (o->empty() ? "null" : StoredJson(*o)) +
                    ",\"intent\":" + (intent.empty() ? "null" : StoredJson(intent)) + "}";
      sinks_text +=
          "sink " + Printable(s.name) + ":" +
          (o->empty() ? std::string(" no outcome")
                      : " target_id=" + Printable(Field(*o, "target_id")) +
                            " number=" + Printable(Field(*o, "number"))) +
          (intent.empty() ? ""
                          : " (open intent, attempt " + Printable(Field(intent, "attempt")) + ")") +
          "\n";
    }
    if (jsonl) {
      std::printf(
          "{\"pipeline\":%s,\"key\":%s,\"hash\":\"%s\",\"seq\":%llu,\"fetched_at_ms\":%lld,"
          "\"deleted\":%s,\"record\":%s,\"sinks\":{%s},\"history\":[%s]}\n",
          Q(pipeline).c_str(), Q(rec.source_id).c_str(), rec.hash.ToHex().c_str(),
          static_cast<unsigned long long>(rec.seq), static_cast<long long>(rec.fetched_at_ms),
          rec.deleted ? "true" : "false", SafeJson(rec.raw).c_str(), sinks_json.c_str(),
          history_json.c_str());
    } else {
      std::printf(
          "pipeline:   %s\nkey:        %s\nhash:       %s\nseq:        %llu\n"
          "fetched at: %s\ndeleted:    %s\nrecord:     %s\n%s%s",
          Printable(pipeline).c_str(), Printable(rec.source_id).c_str(), rec.hash.ToHex().c_str(),
          static_cast<unsigned long long>(rec.seq),
          stagesync::obs::IsoMillis(rec.fetched_at_ms).c_str(), rec.deleted ? "yes" : "no",
          Printable(rec.raw).c_str(), history_text.c_str(), sinks_text.c_str());
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
              Q(p).c_str(), Q(e.stage).c_str(), Q(e.source_id).c_str(),
              static_cast<long long>(e.at_ms), Q(e.error).c_str(), Q(e.payload).c_str());
        } else {
          std::printf("%s\t%s\t%s\t%s\t%s\n", Printable(p).c_str(), Printable(e.stage).c_str(),
                      Printable(e.source_id).c_str(), stagesync::obs::IsoMillis(e.at_ms).c_str(),
                      Printable(e.error).c_str());
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
          std::printf("{\"pipeline\":%s,\"seq\":%llu,\"key\":%s,\"sinks\":%s}\n", Q(p).c_str(),
                      static_cast<unsigned long long>(c.seq), Q(c.source_id).c_str(),
                      Q(waiting).c_str());
        } else {
          std::printf("%s\t%llu\t%s\t%s\n", Printable(p).c_str(),
                      static_cast<unsigned long long>(c.seq), Printable(c.source_id).c_str(),
                      Printable(waiting).c_str());
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
          sum->watermark_ms ? stagesync::obs::IsoMillis(*sum->watermark_ms).c_str() : "(none)",
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
