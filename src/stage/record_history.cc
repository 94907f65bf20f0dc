#include "stage/record_history.h"

#include <cstdio>

#include "stagesync/json.h"

namespace stagesync::stage {
namespace {

void Diff(const json::Value& a, const json::Value& b, const std::string& path,
          std::vector<FieldChange>* out) {
  if (a.is_object() && b.is_object()) {
    // Canonical JSON sorts members bytewise, but do not rely on it: look each one up.
    for (const auto& [k, av] : a.members()) {
      const std::string p = path.empty() ? k : path + "." + k;
      const json::Value* bv = b.Find(k);
      if (bv == nullptr) {
        out->push_back({p, "removed", json::Serialize(av), ""});
      } else {
        Diff(av, *bv, p, out);
      }
    }
    for (const auto& [k, bv] : b.members()) {
      if (a.Find(k) == nullptr) {
        out->push_back({path.empty() ? k : path + "." + k, "added", "", json::Serialize(bv)});
      }
    }
    return;
  }
  if (a.is_array() && b.is_array() && a.items().size() == b.items().size()) {
    for (size_t i = 0; i < a.items().size(); ++i) {
      Diff(a.items()[i], b.items()[i], path + "[" + std::to_string(i) + "]", out);
    }
    return;
  }
  std::string as = json::Canonical(a), bs = json::Canonical(b);
  if (as != bs) out->push_back({path, "changed", std::move(as), std::move(bs)});
}

}  // namespace

Result<std::vector<FieldChange>> DiffRecords(std::string_view old_raw, std::string_view new_raw) {
  SS_ASSIGN_OR_RETURN(json::Value a, json::Parse(old_raw));
  SS_ASSIGN_OR_RETURN(json::Value b, json::Parse(new_raw));
  std::vector<FieldChange> out;
  Diff(a, b, "", &out);
  return out;
}

std::string EncodeVersion(const RecordVersion& v) {
  std::string out = "{\"seq\":" + std::to_string(v.seq) +
                    ",\"at_ms\":" + std::to_string(v.staged_at_ms) + ",\"hash\":\"" +
                    v.hash.ToHex() + "\",\"kind\":";
  json::AppendQuoted(v.kind, &out);
  out += ",\"changes\":[";
  for (size_t i = 0; i < v.changes.size(); ++i) {
    const FieldChange& c = v.changes[i];
    if (i > 0) out.push_back(',');
    out += "{\"path\":";
    json::AppendQuoted(c.path, &out);
    out += ",\"op\":";
    json::AppendQuoted(c.op, &out);
    if (!c.old_json.empty()) out += ",\"old\":" + c.old_json;
    if (!c.new_json.empty()) out += ",\"new\":" + c.new_json;
    out.push_back('}');
  }
  out += "]}";
  return out;
}

Result<RecordVersion> DecodeVersion(std::string_view value, const std::string& what) {
  auto bad = [&](std::string_view why) {
    return DataLoss("bad history entry for " + what + ": " + std::string(why));
  };
  auto parsed = json::Parse(value);
  if (!parsed.ok()) return bad(parsed.status().message());
  const json::Value& o = *parsed;
  RecordVersion v;
  int64_t seq = 0;
  const json::Value* hash = o.Find("hash");
  const json::Value* kind = o.Find("kind");
  const json::Value* at = o.Find("at_ms");
  const json::Value* changes = o.Find("changes");
  if (o.Find("seq") == nullptr || !o.Find("seq")->AsInt64(&seq) || at == nullptr ||
      !at->AsInt64(&v.staged_at_ms) || hash == nullptr || hash->text().size() != 32 ||
      kind == nullptr || !kind->is_string() || changes == nullptr || !changes->is_array()) {
    return bad("missing or mistyped member");
  }
  v.seq = static_cast<uint64_t>(seq);
  v.kind = kind->text();
  unsigned long long hi = 0, lo = 0;
  if (std::sscanf(hash->text().substr(0, 16).c_str(), "%16llx", &hi) != 1 ||
      std::sscanf(hash->text().substr(16).c_str(), "%16llx", &lo) != 1) {
    return bad("hash is not hex");
  }
  v.hash.high = hi;
  v.hash.low = lo;
  for (const auto& c : changes->items()) {
    const json::Value* path = c.Find("path");
    const json::Value* op = c.Find("op");
    if (path == nullptr || op == nullptr) return bad("a change without path or op");
    FieldChange fc{path->text(), op->text(), "", ""};
    if (const json::Value* ov = c.Find("old")) fc.old_json = json::Serialize(*ov);
    if (const json::Value* nv = c.Find("new")) fc.new_json = json::Serialize(*nv);
    v.changes.push_back(std::move(fc));
  }
  return v;
}

}  // namespace stagesync::stage
