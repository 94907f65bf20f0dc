// RocksDB implementation of StagingLog. The only file that includes RocksDB headers.
// Layout (doc/stage-format.md): column families
//   records : P \0 id         -> v1 | hash(16) | seq(8 BE) | fetched_at_ms(8 BE) | flags(1) | raw
//   hashes  : P \0 id         -> hash(16) | seq(8 BE) | flags(1)    (bloom-filtered, MultiGet)
//   changes : P \0 seq(8 BE)  -> id
//   meta    : "seq" \0 P -> seq(8) ; "wm" \0 P -> ms(8) ; "cur" \0 P \0 sink -> seq(8)
//             "open" \0 P \0 id -> "" ; "fail" \0 P \0 id -> ""
//             "run" \0 P \0 id(8 BE) -> JSON {started_ms, ended_ms, outcome, detail}
//             "quota" \0 connection -> the daily quota's count (its own JSON)
//             "intent" / "outcome" \0 P \0 sink \0 id -> an HTTP sink's intent / outcome
//             "chainlink" \0 P \0 sink \0 no(8 BE) -> a link of its outcome chain
//             "chainhead" \0 P \0 sink \0 -> "<no>\n<digest>\n<digest of every outcome>"
//   quarantine : P \0 stage \0 id -> JSON {error, payload | payload_b64, at_ms}
//   history : P \0 id \0 seq(8 BE) -> JSON RecordVersion (record_history.h), the newest
//             history_versions per record, written in the record's batch
#include <fcntl.h>
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include "common/chain.h"
#include "obs/redact.h"
#include "stage/record_history.h"
#include "stagesync/json.h"
#include "stagesync/stage.h"

namespace stagesync::stage {

namespace {

constexpr char kSep = '\0';
constexpr uint8_t kFlagDeleted = 1;
constexpr uint64_t kRunsKept = 1000;

void PutBE64(uint64_t v, std::string* out) {
  char b[8];
  for (int i = 7; i >= 0; --i) {
    b[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  out->append(b, 8);
}
uint64_t GetBE64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string RecordKey(const std::string& p, const std::string& id) {
  std::string k;
  k.reserve(p.size() + 1 + id.size());
  k.append(p);
  k.push_back(kSep);
  k.append(id);
  return k;
}
std::string ChangeKey(const std::string& p, uint64_t seq) {
  std::string k(p);
  k.push_back(kSep);
  PutBE64(seq, &k);
  return k;
}
std::string MetaKey(std::string_view kind, const std::string& p, std::string_view rest = {},
                    bool with_rest = false) {
  std::string k(kind);
  k.push_back(kSep);
  k.append(p);
  if (with_rest) {
    k.push_back(kSep);
    k.append(rest);
  }
  return k;
}
// P \0 id \0: the prefix of a record's history keys. A key under it is one of this record's
// exactly when it is 8 bytes (the seq) longer: an id that merely starts with `id \0` gives
// longer keys.
std::string HistoryPrefix(const std::string& record_key) {
  std::string k = record_key;
  k.push_back(kSep);
  return k;
}
std::string Prefix(const std::string& p) {
  std::string k(p);
  k.push_back(kSep);
  return k;
}

bool IsUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
    const unsigned char c = b(0);
    const size_t n = c < 0x80                   ? 1
                     : (c >= 0xC2 && c <= 0xDF) ? 2
                     : (c >= 0xE0 && c <= 0xEF) ? 3
                     : (c >= 0xF0 && c <= 0xF4) ? 4
                                                : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((b(k) & 0xC0) != 0x80) return false;
    }
    if (n == 3) {
      const unsigned cp = ((c & 0x0Fu) << 12) | ((b(1) & 0x3Fu) << 6);
      if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    }
    if (n == 4) {
      const unsigned cp = ((c & 0x07u) << 18) | ((b(1) & 0x3Fu) << 12);
      if (cp < 0x10000 || cp > 0x10FFFF) return false;
    }
    i += n;
  }
  return true;
}

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Base64Encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16;
    if (i + 1 < in.size()) v |= static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
    if (i + 2 < in.size()) v |= static_cast<unsigned char>(in[i + 2]);
    out.push_back(kB64[(v >> 18) & 63]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? kB64[(v >> 6) & 63] : '=');
    out.push_back(i + 2 < in.size() ? kB64[v & 63] : '=');
  }
  return out;
}

std::string Base64Decode(std::string_view in) {
  std::string out;
  uint32_t v = 0;
  int bits = 0;
  for (char c : in) {
    const char* p = c == '\0' ? nullptr : std::strchr(kB64, c);
    if (p == nullptr) continue;  // '=' padding
    v = (v << 6) | static_cast<uint32_t>(p - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((v >> bits) & 0xff));
    }
  }
  return out;
}

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  std::string m = std::string(what) + ": " + s.ToString();
  // A full disk is not a bug: say so plainly (the caller adds the state dir). RocksDB keeps
  // refusing writes until it recovers; the next run, after space is freed, goes on.
  if (s.IsNoSpace() || m.find("No space left on device") != std::string::npos) {
    return Status(StatusCode::kResourceExhausted, "no space left on device: " + m);
  }
  if (s.IsNotFound()) return NotFound(m);
  if (s.IsCorruption()) return DataLoss(m);
  if (s.IsBusy() || s.IsTryAgain() || s.IsTimedOut()) return Unavailable(m);
  return Status(StatusCode::kInternal, m);
}

class RocksStagingLog final : public StagingLog {
 public:
  RocksStagingLog(rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*> handles,
                  StageOptions opts, std::string dir, int lock_fd, std::string instance_id)
      : db_(db),
        handles_(std::move(handles)),
        opts_(opts),
        dir_(std::move(dir)),
        lock_fd_(lock_fd),
        instance_id_(std::move(instance_id)) {
    records_ = handles_[1];
    hashes_ = handles_[2];
    changes_ = handles_[3];
    meta_ = handles_[4];
    quarantine_ = handles_[5];
    // A read-only open of a staging dir from before history has no such column family.
    history_ = handles_.size() > 6 ? handles_[6] : nullptr;
  }
  ~RocksStagingLog() override {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    delete db_;
    if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock, after RocksDB let go
  }

  const std::string& InstanceId() const override { return instance_id_; }
  void SetInstanceId(std::string id) { instance_id_ = std::move(id); }

  Status RegisterSinks(const std::string& pipeline,
                       const std::vector<std::string>& sinks) override {
    rocksdb::WriteBatch batch;
    for (const auto& sink : sinks) {
      std::string key = MetaKey("cur", pipeline, sink, true);
      std::string v;
      auto s = db_->Get(rocksdb::ReadOptions(), meta_, key, &v);
      if (s.IsNotFound()) {
        std::string zero;
        PutBE64(0, &zero);
        batch.Put(meta_, key, zero);
      } else if (!s.ok()) {
        return FromRocks(s, "reading sink cursor");
      }
    }
    if (batch.Count() == 0) return Status::Ok();
    return Write(&batch, "registering sinks");
  }

  Result<CommitStats> CommitPage(const std::string& pipeline, const PageCommit& page,
                                 int64_t now_ms) override {
    std::lock_guard<std::mutex> lock(write_mu_);
    CommitStats stats;
    rocksdb::WriteBatch batch;
    // Look up the stored hashes of the whole page at once; most are usually unchanged.
    std::vector<std::string> keys;
    keys.reserve(page.records.size());
    for (const auto& r : page.records) keys.push_back(RecordKey(pipeline, r.source_id));
    std::vector<rocksdb::Slice> key_slices(keys.begin(), keys.end());
    std::vector<rocksdb::PinnableSlice> values(keys.size());
    std::vector<rocksdb::Status> statuses(keys.size());
    if (!keys.empty()) {
      db_->MultiGet(rocksdb::ReadOptions(), hashes_, keys.size(), key_slices.data(), values.data(),
                    statuses.data());
    }
    SS_ASSIGN_OR_RETURN(uint64_t seq, LastSeqLocked(pipeline));
    const uint64_t first_seq = seq;
    // Within one page the same id may appear twice; the later copy wins.
    std::map<std::string, uint64_t> written_in_page;
    std::map<std::string, size_t> index_in_page;  // the copy written last, for its raw
    HistoryWriter history(this, page.history_versions, now_ms, &batch);
    for (size_t i = 0; i < page.records.size(); ++i) {
      const IncomingRecord& r = page.records[i];
      const uint8_t flags = r.deleted ? kFlagDeleted : 0;
      std::optional<uint64_t> old_seq;
      auto in_page = written_in_page.find(keys[i]);
      if (in_page != written_in_page.end()) {
        old_seq = in_page->second;
      } else if (statuses[i].ok()) {
        const rocksdb::PinnableSlice& v = values[i];
        if (v.size() < 25) return DataLoss("staged hash entry too short for " + r.source_id);
        Hash128 old;
        Hash128::FromBytes(std::string_view(v.data(), 16), &old);
        const uint8_t old_flags = static_cast<uint8_t>(v.data()[24]);
        if (old == r.hash && old_flags == flags) {
          ++stats.unchanged;
          continue;
        }
        old_seq = GetBE64(v.data() + 16);
      } else if (!statuses[i].IsNotFound()) {
        return FromRocks(statuses[i], "reading staged hashes");
      }
      if (r.deleted && !old_seq) {
        ++stats.unchanged;  // a tombstone for a record never staged: nothing to delete
        continue;
      }
      ++seq;
      std::string hv = r.hash.ToBytes();
      PutBE64(seq, &hv);
      hv.push_back(static_cast<char>(flags));
      std::string rv;
      rv.reserve(34 + r.raw.size());
      rv.push_back('\x01');
      rv.append(hv, 0, 24);
      PutBE64(static_cast<uint64_t>(now_ms), &rv);
      rv.push_back(static_cast<char>(flags));
      rv.append(r.raw);
      batch.Put(hashes_, keys[i], hv);
      batch.Put(records_, keys[i], rv);
      // Versions coalesce: the older pending entry (if not yet trimmed) is replaced.
      if (old_seq) batch.Delete(changes_, ChangeKey(pipeline, *old_seq));
      batch.Put(changes_, ChangeKey(pipeline, seq), r.source_id);
      if (page.history_versions > 0) {
        const IncomingRecord* prev = nullptr;
        if (auto ip = index_in_page.find(keys[i]); ip != index_in_page.end()) {
          prev = &page.records[ip->second];
        }
        history.Add(&keys[i], &r, seq, old_seq.has_value(), prev);
      }
      written_in_page[keys[i]] = seq;
      index_in_page[keys[i]] = i;
      if (old_seq && in_page == written_in_page.end()) {
        ++stats.changed;
      } else if (!old_seq) {
        ++stats.added;
      }
    }
    SS_RETURN_IF_ERROR(history.Flush());
    if (seq != first_seq) {
      std::string v;
      PutBE64(seq, &v);
      batch.Put(meta_, MetaKey("seq", pipeline), v);
    }
    if (page.watermark) {
      std::string v;
      PutBE64(static_cast<uint64_t>(*page.watermark), &v);
      batch.Put(meta_, MetaKey("wm", pipeline), v);
    }
    for (const auto& id : page.open_ids_add)
      batch.Put(meta_, MetaKey("open", pipeline, id, true), "");
    for (const auto& id : page.open_ids_remove)
      batch.Delete(meta_, MetaKey("open", pipeline, id, true));
    for (const auto& f : page.failures) {
      batch.Put(meta_, MetaKey("fail", pipeline, f.source_id, true), "");
      batch.Put(quarantine_, QuarantineKey(pipeline, "fetch", f.source_id),
                QuarantineValue(f, now_ms));
    }
    // A record that now reads cleanly leaves the fetch quarantine.
    for (const auto& id : page.failures_cleared) {
      batch.Delete(meta_, MetaKey("fail", pipeline, id, true));
      batch.Delete(quarantine_, QuarantineKey(pipeline, "fetch", id));
    }
    for (const auto& [name, value] : page.state) {
      if (value) {
        batch.Put(meta_, MetaKey("st", pipeline, name, true), *value);
      } else {
        batch.Delete(meta_, MetaKey("st", pipeline, name, true));
      }
    }
    if (batch.Count() == 0) return stats;
    SS_RETURN_IF_ERROR(Write(&batch, "committing page"));
    last_seq_[pipeline] = seq;
    return stats;
  }

  Result<std::optional<int64_t>> Watermark(const std::string& pipeline) override {
    std::string v;
    auto s = db_->Get(rocksdb::ReadOptions(), meta_, MetaKey("wm", pipeline), &v);
    if (s.IsNotFound()) return std::optional<int64_t>();
    if (!s.ok()) return FromRocks(s, "reading watermark");
    if (v.size() != 8) return DataLoss("bad watermark for " + pipeline);
    return std::optional<int64_t>(static_cast<int64_t>(GetBE64(v.data())));
  }

  Result<std::vector<std::string>> OpenIds(const std::string& pipeline) override {
    return MetaIds("open", pipeline);
  }
  Result<std::vector<std::string>> FailedIds(const std::string& pipeline) override {
    return MetaIds("fail", pipeline);
  }

  Result<std::optional<StagedRecord>> Get(const std::string& pipeline,
                                          const std::string& source_id) override {
    std::string v;
    auto s = db_->Get(rocksdb::ReadOptions(), records_, RecordKey(pipeline, source_id), &v);
    if (s.IsNotFound()) return std::optional<StagedRecord>();
    if (!s.ok()) return FromRocks(s, "reading record");
    StagedRecord r;
    SS_RETURN_IF_ERROR(DecodeRecord(source_id, v, &r));
    return std::optional<StagedRecord>(std::move(r));
  }

  Result<std::vector<RecordVersion>> History(const std::string& pipeline,
                                             const std::string& source_id) override {
    std::vector<RecordVersion> out;
    if (history_ == nullptr) return out;
    const std::string prefix = HistoryPrefix(RecordKey(pipeline, source_id));
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), history_));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      if (it->key().size() != prefix.size() + 8) continue;  // another id's
      SS_ASSIGN_OR_RETURN(RecordVersion v,
                          DecodeVersion(it->value().ToStringView(), pipeline + "/" + source_id));
      out.push_back(std::move(v));
    }
    SS_RETURN_IF_ERROR(FromRocks(it->status(), "reading record history"));
    return out;
  }

  Result<std::vector<ChangeEntry>> ReadChanges(const std::string& pipeline, uint64_t after_seq,
                                               size_t limit) override {
    std::vector<ChangeEntry> out;
    std::string prefix = Prefix(pipeline);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), changes_));
    for (it->Seek(ChangeKey(pipeline, after_seq + 1)); it->Valid() && out.size() < limit;
         it->Next()) {
      rocksdb::Slice k = it->key();
      if (!k.starts_with(prefix) || k.size() != prefix.size() + 8) break;
      out.push_back({GetBE64(k.data() + prefix.size()), it->value().ToString()});
    }
    SS_RETURN_IF_ERROR(FromRocks(it->status(), "reading change log"));
    return out;
  }

  Result<uint64_t> Cursor(const std::string& pipeline, const std::string& sink) override {
    std::string v;
    auto s = db_->Get(rocksdb::ReadOptions(), meta_, MetaKey("cur", pipeline, sink, true), &v);
    if (s.IsNotFound()) return uint64_t{0};
    if (!s.ok()) return FromRocks(s, "reading cursor");
    if (v.size() != 8) return DataLoss("bad cursor for " + pipeline + "/" + sink);
    return GetBE64(v.data());
  }

  Status AdvanceCursor(const std::string& pipeline, const std::string& sink,
                       uint64_t seq) override {
    std::lock_guard<std::mutex> lock(write_mu_);
    SS_ASSIGN_OR_RETURN(uint64_t cur, Cursor(pipeline, sink));
    if (seq <= cur) return Status::Ok();
    rocksdb::WriteBatch batch;
    std::string v;
    PutBE64(seq, &v);
    batch.Put(meta_, MetaKey("cur", pipeline, sink, true), v);
    // Trim what every sink has passed.
    SS_ASSIGN_OR_RETURN(auto cursors, Cursors(pipeline));
    cursors[sink] = seq;
    uint64_t min_cur = seq;
    for (const auto& [name, c] : cursors) min_cur = std::min(min_cur, c);
    if (min_cur > 0) {
      batch.DeleteRange(changes_, ChangeKey(pipeline, 0), ChangeKey(pipeline, min_cur + 1));
    }
    return Write(&batch, "advancing cursor");
  }

  Result<std::vector<std::string>> Pipelines() override {
    std::vector<std::string> out;
    std::string prefix("seq");
    prefix.push_back(kSep);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      out.push_back(it->key().ToString().substr(prefix.size()));
    }
    SS_RETURN_IF_ERROR(FromRocks(it->status(), "listing pipelines"));
    // Pipelines that have sinks but no records yet, or that the agent ran without staging
    // anything (e.g. every run failed).
    for (std::string_view kind : {"cur", "run"}) {
      std::string kprefix(kind);
      kprefix.push_back(kSep);
      for (it->Seek(kprefix); it->Valid() && it->key().starts_with(kprefix); it->Next()) {
        std::string rest = it->key().ToString().substr(kprefix.size());
        std::string p = rest.substr(0, rest.find(kSep));
        if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
      }
    }
    SS_RETURN_IF_ERROR(FromRocks(it->status(), "listing pipelines"));
    std::sort(out.begin(), out.end());
    return out;
  }

  Result<PipelineSummary> Summary(const std::string& pipeline) override {
    PipelineSummary s;
    s.pipeline = pipeline;
    SS_ASSIGN_OR_RETURN(s.watermark_ms, Watermark(pipeline));
    SS_ASSIGN_OR_RETURN(s.last_seq, LastSeqStored(pipeline));
    std::string prefix = Prefix(pipeline);
    {
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), hashes_));
      for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
        ++s.records;
        if (it->value().size() >= 25 && (it->value()[24] & kFlagDeleted)) ++s.deleted;
      }
      SS_RETURN_IF_ERROR(FromRocks(it->status(), "counting records"));
    }
    SS_ASSIGN_OR_RETURN(auto open, OpenIds(pipeline));
    s.open_ids = static_cast<int64_t>(open.size());
    SS_ASSIGN_OR_RETURN(auto q, Quarantined(pipeline));
    s.quarantined = static_cast<int64_t>(q.size());
    SS_ASSIGN_OR_RETURN(auto cursors, Cursors(pipeline));
    for (const auto& [name, cur] : cursors) {
      PipelineSummary::Sink sink{name, cur, 0, 0, 0};
      SS_ASSIGN_OR_RETURN(auto outcomes, SinkScan("outcome", pipeline, name));
      SS_ASSIGN_OR_RETURN(auto intents, SinkScan("intent", pipeline, name));
      sink.outcomes = static_cast<int64_t>(outcomes.size());
      sink.open_intents = static_cast<int64_t>(intents.size());
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), changes_));
      for (it->Seek(ChangeKey(pipeline, cur + 1)); it->Valid() && it->key().starts_with(prefix);
           it->Next()) {
        ++sink.pending;
      }
      s.sinks.push_back(sink);
    }
    return s;
  }

  Status ScanRecords(const std::string& pipeline,
                     const std::function<bool(const StagedRecord&)>& fn) override {
    std::string prefix = Prefix(pipeline);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), records_));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      StagedRecord r;
      std::string id = it->key().ToString().substr(prefix.size());
      SS_RETURN_IF_ERROR(DecodeRecord(id, it->value().ToString(), &r));
      if (!fn(r)) break;
    }
    return FromRocks(it->status(), "scanning records");
  }

  Result<std::vector<QuarantineEntry>> Quarantined(const std::string& pipeline) override {
    std::vector<QuarantineEntry> out;
    std::string prefix = Prefix(pipeline);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), quarantine_));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      std::string rest = it->key().ToString().substr(prefix.size());
      size_t sep = rest.find(kSep);
      QuarantineEntry e;
      e.pipeline = pipeline;
      e.stage = rest.substr(0, sep);
      e.source_id = sep == std::string::npos ? "" : rest.substr(sep + 1);
      auto parsed = json::Parse(it->value().ToString());
      if (parsed.ok()) {
        if (auto* v = parsed->Find("error")) e.error = v->text();
        if (auto* v = parsed->Find("payload")) e.payload = v->text();
        if (auto* v = parsed->Find("payload_b64")) e.payload = Base64Decode(v->text());
        if (auto* v = parsed->Find("at_ms")) v->AsInt64(&e.at_ms);
      }
      out.push_back(std::move(e));
    }
    SS_RETURN_IF_ERROR(FromRocks(it->status(), "reading quarantine"));
    return out;
  }

  Result<std::string> GetState(const std::string& pipeline, const std::string& name) override {
    std::string v;
    auto s = db_->Get(rocksdb::ReadOptions(), meta_, MetaKey("st", pipeline, name, true), &v);
    if (s.IsNotFound()) return std::string();
    if (!s.ok()) return FromRocks(s, "reading state " + name);
    return v;
  }

  Status PutState(const std::string& pipeline, const std::string& name,
                  const std::string& value) override {
    rocksdb::WriteBatch batch;
    batch.Put(meta_, MetaKey("st", pipeline, name, true), value);
    return Write(&batch, "writing state " + name);
  }

  Status AppendRun(const std::string& pipeline, RunRecord* run) override {
    // Run details carry vendor errors: no secret or session id is stored.
    std::string detail = run->detail_json.empty() ? "{}" : obs::Redact(run->detail_json);
    auto parsed = json::Parse(detail);
    if (!parsed.ok() || !parsed->is_object()) {
      return InvalidArgument("run of " + pipeline + ": detail is not a JSON object");
    }
    std::string v = "{\"started_ms\":" + std::to_string(run->started_ms) +
                    ",\"ended_ms\":" + std::to_string(run->ended_ms) + ",\"outcome\":";
    json::AppendQuoted(run->outcome, &v);
    v += ",\"detail\":" + json::Serialize(*parsed) + "}";
    std::lock_guard<std::mutex> lock(write_mu_);
    const std::string prefix = MetaKey("run", pipeline, "", true);
    uint64_t last = 0;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_));
    it->SeekForPrev(RunKey(pipeline, UINT64_MAX));
    if (it->Valid() && it->key().starts_with(prefix)) last = RunIdOf(it->key(), prefix);
    SS_RETURN_IF_ERROR(FromRocks(it->status(), "reading run history"));
    uint64_t id = last + 1;
    if (run->id > 0 && static_cast<uint64_t>(run->id) != id) {
      // An id the agent reserved at the run's start (its log lines carry it) is kept while it
      // is free: runs of one pipeline may finish out of order.
      std::string existing;
      rocksdb::Status got = db_->Get(rocksdb::ReadOptions(), meta_,
                                     RunKey(pipeline, static_cast<uint64_t>(run->id)), &existing);
      if (got.IsNotFound()) id = static_cast<uint64_t>(run->id);
    }
    rocksdb::WriteBatch batch;
    batch.Put(meta_, RunKey(pipeline, id), v);
    // Bounded history: every run at or below id - 1000 goes (normally just one).
    if (id > kRunsKept) {
      for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
        if (RunIdOf(it->key(), prefix) > id - kRunsKept) break;
        batch.Delete(meta_, it->key());
      }
      SS_RETURN_IF_ERROR(FromRocks(it->status(), "trimming run history"));
    }
    SS_RETURN_IF_ERROR(Write(&batch, "recording a run"));
    run->id = static_cast<int64_t>(id);
    return Status::Ok();
  }

  Result<std::vector<RunRecord>> Runs(const std::string& pipeline, size_t limit) override {
    std::vector<RunRecord> out;
    const std::string prefix = MetaKey("run", pipeline, "", true);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_));
    for (it->SeekForPrev(RunKey(pipeline, UINT64_MAX));
         it->Valid() && it->key().starts_with(prefix) && out.size() < limit; it->Prev()) {
      RunRecord r;
      r.id = static_cast<int64_t>(RunIdOf(it->key(), prefix));
      auto v = json::Parse(it->value().ToString());
      if (!v.ok()) return DataLoss("bad run record " + std::to_string(r.id) + " of " + pipeline);
      if (auto* f = v->Find("started_ms")) f->AsInt64(&r.started_ms);
      if (auto* f = v->Find("ended_ms")) f->AsInt64(&r.ended_ms);
      if (auto* f = v->Find("outcome")) r.outcome = f->text();
      if (auto* f = v->Find("detail")) r.detail_json = json::Serialize(*f);
      out.push_back(std::move(r));
    }
    SS_RETURN_IF_ERROR(FromRocks(it->status(), "reading run history"));
    return out;
  }

  Result<std::string> GetQuota(const std::string& connection) override {
    std::string v;
    auto s = db_->Get(rocksdb::ReadOptions(), meta_, MetaKey("quota", connection), &v);
    if (s.IsNotFound()) return std::string();
    if (!s.ok()) return FromRocks(s, "reading the daily quota of " + connection);
    return v;
  }

  Status PutQuota(const std::string& connection, const std::string& value) override {
    rocksdb::WriteBatch batch;
    batch.Put(meta_, MetaKey("quota", connection), value);
    return Write(&batch, "writing the daily quota of " + connection);
  }

  Status PutIntents(const std::string& pipeline, const std::string& sink,
                    const std::vector<std::pair<std::string, std::string>>& id_values) override {
    if (id_values.empty()) return Status::Ok();
    rocksdb::WriteBatch batch;
    for (const auto& [id, v] : id_values) {
      batch.Put(meta_, SinkKey("intent", pipeline, sink, id), v);
    }
    return Write(&batch, "recording intents");
  }

  Result<std::vector<std::pair<std::string, std::string>>> Intents(
      const std::string& pipeline, const std::string& sink) override {
    return SinkScan("intent", pipeline, sink);
  }

  Status CompleteIntent(const std::string& pipeline, const std::string& sink, const std::string& id,
                        const std::string& outcome) override {
    // Under the write lock: a sink's links are numbered one after another.
    std::lock_guard<std::mutex> lock(write_mu_);
    rocksdb::WriteBatch batch;
    batch.Delete(meta_, SinkKey("intent", pipeline, sink, id));
    batch.Put(meta_, SinkKey("outcome", pipeline, sink, id), outcome);
    SS_RETURN_IF_ERROR(ExtendOutcomeChainLocked(pipeline, sink, id, outcome, &batch));
    return Write(&batch, "recording an outcome");
  }

  Status ScanOutcomeChain(const std::string& pipeline, const std::string& sink,
                          const std::function<bool(const std::string&)>& fn) override {
    const std::string prefix = SinkKey("chainlink", pipeline, sink, "");
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      if (!fn(it->value().ToString())) break;
    }
    return FromRocks(it->status(), "reading an outcome chain");
  }

  Status ClearIntent(const std::string& pipeline, const std::string& sink,
                     const std::string& id) override {
    rocksdb::WriteBatch batch;
    batch.Delete(meta_, SinkKey("intent", pipeline, sink, id));
    return Write(&batch, "clearing an intent");
  }

  Result<std::string> Outcome(const std::string& pipeline, const std::string& sink,
                              const std::string& id) override {
    std::string v;
    auto s = db_->Get(rocksdb::ReadOptions(), meta_, SinkKey("outcome", pipeline, sink, id), &v);
    if (s.IsNotFound()) return std::string();
    if (!s.ok()) return FromRocks(s, "reading an outcome");
    return v;
  }

  Result<std::vector<std::pair<std::string, std::string>>> Outcomes(
      const std::string& pipeline, const std::string& sink) override {
    return SinkScan("outcome", pipeline, sink);
  }

  Status PutQuarantine(const std::string& pipeline, const std::string& stage,
                       const std::vector<FetchFailure>& entries) override {
    if (entries.empty()) return Status::Ok();
    rocksdb::WriteBatch batch;
    const int64_t now_ms = opts_.clock->NowMillis();
    for (const auto& f : entries) {
      batch.Put(quarantine_, QuarantineKey(pipeline, stage, f.source_id),
                QuarantineValue(f, now_ms));
    }
    return Write(&batch, "quarantining records");
  }

  Result<int64_t> Requeue(const std::string& pipeline, const std::string& stage,
                          const std::string& key) override {
    SS_ASSIGN_OR_RETURN(auto entries, Quarantined(pipeline));
    std::lock_guard<std::mutex> lock(write_mu_);
    SS_ASSIGN_OR_RETURN(uint64_t seq, LastSeqLocked(pipeline));
    rocksdb::WriteBatch batch;
    int64_t n = 0;
    std::map<std::string, bool> done;
    for (const auto& e : entries) {
      if (e.stage == "fetch") continue;  // fetch failures are retried by every fetch
      if (!stage.empty() && e.stage != stage) continue;
      if (!key.empty() && e.source_id != key) continue;
      batch.Delete(quarantine_, QuarantineKey(pipeline, e.stage, e.source_id));
      ++n;
      if (done[e.source_id]) continue;
      done[e.source_id] = true;
      std::string rk = RecordKey(pipeline, e.source_id);
      std::string v;
      auto s = db_->Get(rocksdb::ReadOptions(), records_, rk, &v);
      if (s.IsNotFound()) continue;
      if (!s.ok()) return FromRocks(s, "reading record to requeue");
      StagedRecord r;
      SS_RETURN_IF_ERROR(DecodeRecord(e.source_id, v, &r));
      ++seq;
      std::string seq_bytes;
      PutBE64(seq, &seq_bytes);
      v.replace(17, 8, seq_bytes);
      std::string hv = r.hash.ToBytes() + seq_bytes;
      hv.push_back(static_cast<char>(r.deleted ? kFlagDeleted : 0));
      batch.Put(records_, rk, v);
      batch.Put(hashes_, rk, hv);
      batch.Delete(changes_, ChangeKey(pipeline, r.seq));
      batch.Put(changes_, ChangeKey(pipeline, seq), e.source_id);
    }
    if (n == 0) return int64_t{0};
    std::string sv;
    PutBE64(seq, &sv);
    batch.Put(meta_, MetaKey("seq", pipeline), sv);
    SS_RETURN_IF_ERROR(Write(&batch, "requeueing"));
    last_seq_[pipeline] = seq;
    return n;
  }

  uint64_t StoreSequence() override { return db_->GetLatestSequenceNumber(); }

 private:
  // The history entries one page commit adds (and trims), in the page's batch. Versions are
  // queued while the page is walked; Flush reads what they need from the store at once (the
  // previous versions in one MultiGet, the kept history keys through one iterator).
  class HistoryWriter {
   public:
    HistoryWriter(RocksStagingLog* log, uint32_t keep, int64_t now_ms, rocksdb::WriteBatch* batch)
        : log_(log), keep_(keep), now_ms_(now_ms), batch_(batch) {}

    // Record `*r`, staged as `seq` under `*key`; `existed`: it had a version before, in the store
    // or earlier in this page (`prev`, else nullptr). The pointers must outlive Flush.
    void Add(const std::string* key, const IncomingRecord* r, uint64_t seq, bool existed,
             const IncomingRecord* prev) {
      items_.push_back({key, r, seq, existed, prev});
    }

    Status Flush() {
      if (items_.empty()) return Status::Ok();
      if (log_->history_ == nullptr) return FailedPrecondition("staging log opened read-only");
      // Versions whose previous version is in the store, not in this page.
      std::vector<rocksdb::Slice> keys;
      std::vector<size_t> stored_of(items_.size(), SIZE_MAX);
      for (size_t i = 0; i < items_.size(); ++i) {
        if (items_[i].existed && items_[i].prev == nullptr) {
          stored_of[i] = keys.size();
          keys.emplace_back(*items_[i].key);
        }
      }
      std::vector<rocksdb::PinnableSlice> values(keys.size());
      std::vector<rocksdb::Status> statuses(keys.size());
      std::unordered_map<std::string_view, std::vector<std::string>> kept;
      if (!keys.empty()) {
        log_->db_->MultiGet(rocksdb::ReadOptions(), log_->records_, keys.size(), keys.data(),
                            values.data(), statuses.data());
        std::unique_ptr<rocksdb::Iterator> it(
            log_->db_->NewIterator(rocksdb::ReadOptions(), log_->history_));
        for (const auto& k : keys) {
          const std::string prefix = HistoryPrefix(k.ToString());
          auto& ks = kept[std::string_view(k.data(), k.size())];
          for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
            if (it->key().size() == prefix.size() + 8) ks.push_back(it->key().ToString());
          }
        }
        SS_RETURN_IF_ERROR(FromRocks(it->status(), "reading record history"));
      }
      std::unordered_set<std::string_view> repeated;  // ids given more than once in the page
      for (const Item& item : items_) {
        if (item.prev != nullptr) repeated.insert(*item.key);
      }
      for (size_t i = 0; i < items_.size(); ++i) {
        const Item& item = items_[i];
        const IncomingRecord& r = *item.r;
        RecordVersion v;
        v.seq = item.seq;
        v.staged_at_ms = now_ms_;
        v.hash = r.hash;
        if (r.deleted) {
          v.kind = "deleted";
        } else if (!item.existed) {
          v.kind = "created";
        } else {
          std::string_view prev_raw;
          bool was_deleted = false;
          if (item.prev != nullptr) {
            prev_raw = item.prev->raw;
            was_deleted = item.prev->deleted;
          } else {
            const size_t j = stored_of[i];
            if (!statuses[j].ok()) {
              return FromRocks(statuses[j], "reading the previous version of " + r.source_id);
            }
            if (values[j].size() < 34) return DataLoss("bad staged record for " + r.source_id);
            was_deleted = (static_cast<uint8_t>(values[j].data()[33]) & kFlagDeleted) != 0;
            prev_raw = std::string_view(values[j].data() + 34, values[j].size() - 34);
          }
          if (was_deleted) {
            v.kind = "restored";
          } else {
            v.kind = "changed";
            // A previous version that does not parse (not staged by this code) gets no diff;
            // staging never fails over its history.
            auto diff = DiffRecords(prev_raw, r.raw);
            if (diff.ok()) v.changes = std::move(diff).value();
          }
        }
        std::string hk = HistoryPrefix(*item.key);
        PutBE64(item.seq, &hk);
        batch_->Put(log_->history_, hk, EncodeVersion(v));
        // A first version has nothing to trim unless the id comes again in this page.
        if (!item.existed && keep_ > 1 && !repeated.contains(*item.key)) continue;
        auto& ks = kept[*item.key];
        ks.push_back(std::move(hk));
        const size_t excess = ks.size() > keep_ ? ks.size() - keep_ : 0;
        for (size_t k = 0; k < excess; ++k) batch_->Delete(log_->history_, ks[k]);
        ks.erase(ks.begin(), ks.begin() + static_cast<std::ptrdiff_t>(excess));
      }
      return Status::Ok();
    }

   private:
    struct Item {
      const std::string* key;
      const IncomingRecord* r;
      uint64_t seq;
      bool existed;
      const IncomingRecord* prev;
    };

    RocksStagingLog* log_;
    uint32_t keep_;
    int64_t now_ms_;
    rocksdb::WriteBatch* batch_;
    std::vector<Item> items_;
  };

  static std::string RunKey(const std::string& p, uint64_t id) {
    std::string k = MetaKey("run", p, "", true);
    PutBE64(id, &k);
    return k;
  }
  static uint64_t RunIdOf(const rocksdb::Slice& key, const std::string& prefix) {
    return key.size() == prefix.size() + 8 ? GetBE64(key.data() + prefix.size()) : 0;
  }

  // The outcome chain's next link (common/chain.h) into `batch`, beside the outcome it covers:
  // the head (number, digest, digest of every outcome) is read, the replaced outcome taken out
  // of the digest and the new one put in. Without a head (or with one edited by hand) the
  // digest is taken from every outcome stored, so the chain starts (again) there.
  Status ExtendOutcomeChainLocked(const std::string& pipeline, const std::string& sink,
                                  const std::string& id, const std::string& outcome,
                                  rocksdb::WriteBatch* batch) {
    const std::string head_key = SinkKey("chainhead", pipeline, sink, "");
    std::string head, old;
    auto hs = db_->Get(rocksdb::ReadOptions(), meta_, head_key, &head);
    if (!hs.ok() && !hs.IsNotFound()) return FromRocks(hs, "reading an outcome chain's head");
    auto os = db_->Get(rocksdb::ReadOptions(), meta_, SinkKey("outcome", pipeline, sink, id), &old);
    if (!os.ok() && !os.IsNotFound()) return FromRocks(os, "reading an outcome");
    chain::BatchLink l;
    l.pipeline = pipeline;
    l.sink = sink;
    l.kind = "outcome";
    l.records = 1;
    l.prev_digest = chain::kGenesisDigest;
    chain::LedgerDigest digest;
    bool from_head = false;
    if (hs.ok()) {
      // "<batch_no>\n<digest>\n<ledger digest>"
      const size_t a = head.find('\n'), b = head.rfind('\n');
      if (a != std::string::npos && b > a && digest.FromHex(head.substr(b + 1))) {
        l.batch_no = std::strtoull(head.substr(0, a).c_str(), nullptr, 10);
        l.prev_digest = head.substr(a + 1, b - a - 1);
        from_head = true;
      }
    }
    if (from_head) {
      if (os.ok()) digest.Remove(chain::OutcomeTuple(id, old));
    } else {
      SS_ASSIGN_OR_RETURN(auto all, SinkScan("outcome", pipeline, sink));
      for (const auto& [k, v] : all) {
        if (k != id) digest.Add(chain::OutcomeTuple(k, v));
      }
    }
    const chain::LedgerTuple now = chain::OutcomeTuple(id, outcome);
    digest.Add(now);
    ++l.batch_no;
    l.records_digest = chain::RecordsDigest({now});
    l.ledger_digest = digest.Hex();
    l.committed_at = chain::UtcMillis(opts_.clock->NowMicros());
    l.digest = l.Compute();
    std::string link_key = SinkKey("chainlink", pipeline, sink, "");
    PutBE64(l.batch_no, &link_key);
    batch->Put(meta_, link_key, l.Serialize());
    batch->Put(meta_, head_key,
               std::to_string(l.batch_no) + "\n" + l.digest + "\n" + l.ledger_digest);
    return Status::Ok();
  }

  static std::string SinkKey(std::string_view kind, const std::string& p, const std::string& sink,
                             const std::string& id) {
    std::string k = MetaKey(kind, p, sink, true);
    k.push_back(kSep);
    k.append(id);
    return k;
  }

  Result<std::vector<std::pair<std::string, std::string>>> SinkScan(std::string_view kind,
                                                                    const std::string& p,
                                                                    const std::string& sink) {
    std::vector<std::pair<std::string, std::string>> out;
    std::string prefix = SinkKey(kind, p, sink, "");
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      out.emplace_back(it->key().ToString().substr(prefix.size()), it->value().ToString());
    }
    SS_RETURN_IF_ERROR(FromRocks(it->status(), "scanning sink state"));
    return out;
  }

  static std::string QuarantineValue(const FetchFailure& f, int64_t now_ms) {
    // Vendor errors and payloads may echo a token, a signature or a session id.
    std::string q = "{\"error\":";
    json::AppendQuoted(obs::Redact(f.error), &q);
    // A payload that is not UTF-8 (an unreadable vendor record) would make the value unreadable
    // JSON: its exact bytes are kept in base64 instead.
    if (IsUtf8(f.payload)) {
      q += ",\"payload\":";
      json::AppendQuoted(obs::Redact(f.payload), &q);
    } else {
      q += ",\"payload_b64\":\"" + Base64Encode(f.payload) + "\"";
    }
    q += ",\"at_ms\":" + std::to_string(now_ms) + "}";
    return q;
  }

  static std::string QuarantineKey(const std::string& p, const std::string& stage,
                                   const std::string& id) {
    std::string k = Prefix(p);
    k.append(stage);
    k.push_back(kSep);
    k.append(id);
    return k;
  }

  Status DecodeRecord(const std::string& id, const std::string& v, StagedRecord* r) {
    if (v.size() < 34 || v[0] != '\x01') return DataLoss("bad staged record for " + id);
    r->source_id = id;
    Hash128::FromBytes(std::string_view(v.data() + 1, 16), &r->hash);
    r->seq = GetBE64(v.data() + 17);
    r->fetched_at_ms = static_cast<int64_t>(GetBE64(v.data() + 25));
    r->deleted = (static_cast<uint8_t>(v[33]) & kFlagDeleted) != 0;
    r->raw = v.substr(34);
    return Status::Ok();
  }

  Result<std::vector<std::string>> MetaIds(std::string_view kind, const std::string& pipeline) {
    std::vector<std::string> out;
    std::string prefix = MetaKey(kind, pipeline, "", true);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      out.push_back(it->key().ToString().substr(prefix.size()));
    }
    SS_RETURN_IF_ERROR(FromRocks(it->status(), "reading ids"));
    return out;
  }

  Result<std::map<std::string, uint64_t>> Cursors(const std::string& pipeline) {
    std::map<std::string, uint64_t> out;
    std::string prefix = MetaKey("cur", pipeline, "", true);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      if (it->value().size() != 8) return DataLoss("bad cursor in " + pipeline);
      out[it->key().ToString().substr(prefix.size())] = GetBE64(it->value().data());
    }
    SS_RETURN_IF_ERROR(FromRocks(it->status(), "reading cursors"));
    return out;
  }

  Result<uint64_t> LastSeqStored(const std::string& pipeline) {
    std::string v;
    auto s = db_->Get(rocksdb::ReadOptions(), meta_, MetaKey("seq", pipeline), &v);
    if (s.IsNotFound()) return uint64_t{0};
    if (!s.ok()) return FromRocks(s, "reading sequence");
    if (v.size() != 8) return DataLoss("bad sequence for " + pipeline);
    return GetBE64(v.data());
  }

  // REQUIRES: write_mu_ held.
  Result<uint64_t> LastSeqLocked(const std::string& pipeline) {
    auto it = last_seq_.find(pipeline);
    if (it != last_seq_.end()) return it->second;
    SS_ASSIGN_OR_RETURN(uint64_t seq, LastSeqStored(pipeline));
    last_seq_[pipeline] = seq;
    return seq;
  }

  Status Write(rocksdb::WriteBatch* batch, std::string_view what) {
    if (opts_.read_only) return FailedPrecondition("staging log opened read-only");
    rocksdb::WriteOptions wo;
    wo.sync = opts_.sync;
    Status st = FromRocks(db_->Write(wo, batch), what);
    if (st.code() == StatusCode::kResourceExhausted) {
      return st.WithContext("state dir " + dir_);
    }
    return st;
  }

  rocksdb::DB* db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  StageOptions opts_;
  std::string dir_;
  int lock_fd_ = -1;
  std::string instance_id_;
  rocksdb::ColumnFamilyHandle* records_;
  rocksdb::ColumnFamilyHandle* hashes_;
  rocksdb::ColumnFamilyHandle* changes_;
  rocksdb::ColumnFamilyHandle* meta_;
  rocksdb::ColumnFamilyHandle* quarantine_;
  rocksdb::ColumnFamilyHandle* history_;
  std::mutex write_mu_;
  std::map<std::string, uint64_t> last_seq_;
};

// RocksDB's info log goes to stderr, warnings and worse only, never to a file in the state dir:
// Debian's librocksdb is built with assertions, and its file logger asserts (SIGABRT) when a
// write fails during ENOSPC recovery; and a second process refused by our lock would
// otherwise rotate the running one's LOG before RocksDB even looks at its LOCK.
class StderrLogger final : public rocksdb::Logger {
 public:
  StderrLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    char buf[1024];
    std::vsnprintf(buf, sizeof buf, format, ap);
    std::fprintf(stderr, "stagesync: rocksdb: %s\n", buf);  // a failed write is ignored
  }
};

constexpr const char* kIdentityFile = "STAGESYNC_ID";
constexpr const char* kLockFile = "STAGESYNC_LOCK";

std::string NewInstanceId() {
  std::random_device rd;
  std::string id;
  static const char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 4; ++i) {
    uint32_t r = rd();
    for (int k = 0; k < 8; ++k) {
      id.push_back(kHex[r & 15]);
      r >>= 4;
    }
  }
  return id;
}

// The instance id stored in the identity file, or "" when there is none (or it is unreadable).
std::string ReadInstanceId(const std::string& dir) {
  std::ifstream in(dir + "/" + kIdentityFile, std::ios::binary);
  if (!in) return "";
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto v = json::Parse(text);
  if (!v.ok()) return "";
  const json::Value* id = v->Find("instance_id");
  return id != nullptr && id->is_string() ? id->text() : "";
}

Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Internal("opening " + dir + ": " + std::strerror(errno));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Internal("syncing " + dir + ": " + std::strerror(errno));
  return Status::Ok();
}

// Writes the identity file atomically (temp file, fsync, rename, fsync the dir).
Result<std::string> WriteIdentity(const std::string& dir, int64_t now_ms) {
  const std::string id = NewInstanceId();
  const std::string body = "{\"format\":\"stagesync-state\",\"instance_id\":\"" + id +
                           "\",\"created_at_ms\":" + std::to_string(now_ms) + "}\n";
  const std::string tmp = dir + "/" + kIdentityFile + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Internal("writing " + tmp + ": " + std::strerror(errno));
  const bool ok = ::write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size()) &&
                  ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    std::string m = "writing " + tmp + ": " + std::strerror(err);
    if (err == ENOSPC)
      return Status(StatusCode::kResourceExhausted, "no space left on device: " + m);
    return Internal(m);
  }
  if (::rename(tmp.c_str(), (dir + "/" + kIdentityFile).c_str()) != 0) {
    return Internal("renaming " + tmp + ": " + std::strerror(errno));
  }
  SS_RETURN_IF_ERROR(SyncDir(dir));
  return id;
}

// What a state dir holds when CURRENT is missing.
struct DirContents {
  bool empty_or_unfinished = true;      // only our files and those of a RocksDB create cut short
  std::vector<std::string> data_files;  // tables, WALs, manifests: a database lives here
  std::vector<std::string> foreign;     // files that are neither
};

// A RocksDB create writes IDENTITY, MANIFEST-000001 and only then CURRENT (NewDB); a crash
// before CURRENT leaves just those, and nothing of them is data.
DirContents Inspect(const std::string& dir) {
  DirContents c;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name == kIdentityFile || name == kLockFile || name == "STAGESYNC_AGENT" || name == "LOCK" ||
        name == "IDENTITY" || name == "MANIFEST-000001" ||
        name == std::string(kIdentityFile) + ".tmp" || name.rfind("LOG", 0) == 0 ||
        name.rfind("OPTIONS-", 0) == 0 || name.ends_with(".dbtmp")) {
      continue;
    }
    const bool data = name.ends_with(".sst") || name.ends_with(".log") || name.ends_with(".blob") ||
                      name.rfind("MANIFEST-", 0) == 0;
    if (data) {
      std::error_code sec;
      if (name.ends_with(".log") && e.file_size(sec) == 0 && !sec) continue;  // empty WAL
      c.data_files.push_back(name);
    } else {
      c.foreign.push_back(name);
    }
    c.empty_or_unfinished = false;
  }
  return c;
}

// State dir 0700 and its files 0600: it holds vendor tokens. Files RocksDB creates later
// follow the umask, so the process umask drops group and other bits too.
void TightenPermissions(const std::string& dir) {
  ::umask(::umask(0) | 077);
  ::chmod(dir.c_str(), 0700);
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::error_code fec;
    if (e.is_regular_file(fec)) ::chmod(e.path().c_str(), 0600);
  }
}

}  // namespace

Result<std::unique_ptr<StagingLog>> StagingLog::Open(const std::string& dir,
                                                     const StageOptions& opts) {
  int lock_fd = -1;
  bool create = false;
  std::string instance_id;
  if (!opts.read_only) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return FailedPrecondition("cannot create state dir " + dir + ": " + ec.message());
    TightenPermissions(dir);
    // Our own lock, taken before RocksDB touches anything: a refused second writer leaves the
    // running one's files alone.
    const std::string lock_path = dir + "/" + kLockFile;
    lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd < 0) {
      return FailedPrecondition("cannot open " + lock_path + ": " + std::strerror(errno));
    }
    if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(lock_fd);
      if (err == EWOULDBLOCK) {
        return Status(StatusCode::kAlreadyExists,
                      "state dir " + dir + " is in use by another stagesync process");
      }
      return FailedPrecondition("cannot lock " + lock_path + ": " + std::strerror(err));
    }
    struct CloseOnError {
      int* fd;
      ~CloseOnError() {
        if (*fd >= 0) ::close(*fd);
      }
    };
    std::error_code cec;
    if (!std::filesystem::exists(dir + "/CURRENT", cec)) {
      DirContents c = Inspect(dir);
      if (!c.data_files.empty()) {
        CloseOnError closer{&lock_fd};
        return FailedPrecondition(
            "state dir " + dir + " holds a staging database (" + c.data_files.front() +
            ", ...) but its CURRENT file is missing; refusing to create a new database over it "
            "(that would delete the staged records, cursors and push outcomes). Recovery: stop "
            "every stagesync process, then write the name of the newest MANIFEST file into "
            "CURRENT (cd " +
            dir +
            " && ls MANIFEST-* | sort | tail -1 > CURRENT), or restore the state dir from a "
            "backup");
      }
      if (std::filesystem::exists(dir + "/" + kIdentityFile, cec)) {
        // The identity is written only after a database was created here: it is gone.
        CloseOnError closer{&lock_fd};
        return FailedPrecondition(
            "state dir " + dir + " belongs to staging instance " + ReadInstanceId(dir) +
            " but its database is gone (no CURRENT, no data files); refusing to start an empty "
            "one under the same identity. Recovery: restore the state dir from a backup, or, to "
            "start over on purpose (everything is fetched again and targets see a new staging "
            "instance), move the dir away");
      }
      if (!c.foreign.empty()) {
        CloseOnError closer{&lock_fd};
        return FailedPrecondition("state dir " + dir + " is not empty (" + c.foreign.front() +
                                  ", ...) and holds no staging database; refusing to create "
                                  "one there: point state_dir at a new or empty directory");
      }
      create = true;
    }
    instance_id = ReadInstanceId(dir);
  } else {
    instance_id = ReadInstanceId(dir);
  }

  rocksdb::Options db_opts;
  db_opts.create_if_missing = create;
  db_opts.create_missing_column_families = !opts.read_only;
  db_opts.max_open_files = 256;
  db_opts.info_log = std::make_shared<StderrLogger>();
  db_opts.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;

  rocksdb::ColumnFamilyOptions records_opts;
  records_opts.compression = rocksdb::kLZ4Compression;
  // Most re-fetched records are unchanged: their hash lookups must stay in memory. A shared
  // block cache sized for the hashes (about 60 bytes a record), filters and indexes pinned,
  // no compression (hashes don't compress) and a memtable bloom filter for new ids.
  static std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(256u << 20);
  rocksdb::ColumnFamilyOptions hashes_opts;
  {
    rocksdb::BlockBasedTableOptions t;
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    t.whole_key_filtering = true;
    t.block_cache = cache;
    t.cache_index_and_filter_blocks = true;
    t.pin_l0_filter_and_index_blocks_in_cache = true;
    hashes_opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
    hashes_opts.compression = rocksdb::kNoCompression;
    hashes_opts.memtable_whole_key_filtering = true;
    hashes_opts.memtable_prefix_bloom_size_ratio = 0.1;
  }
  // The small column families would otherwise keep old WAL files alive for a long time.
  db_opts.max_total_wal_size = 256u << 20;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {"records", records_opts},
      {"hashes", hashes_opts},
      {"changes", rocksdb::ColumnFamilyOptions()},
      {"meta", rocksdb::ColumnFamilyOptions()},
      {"quarantine", rocksdb::ColumnFamilyOptions()},
  };
  // Record history (added later): a read-write open creates it in an older dir; a read-only
  // open of such a dir goes without (History() then finds none).
  rocksdb::ColumnFamilyOptions history_opts;
  history_opts.compression = rocksdb::kLZ4Compression;
  bool with_history = !opts.read_only;
  if (opts.read_only) {
    std::vector<std::string> names;
    if (rocksdb::DB::ListColumnFamilies(db_opts, dir, &names).ok()) {
      with_history = std::find(names.begin(), names.end(), "history") != names.end();
    }
  }
  if (with_history) cfs.push_back({"history", history_opts});
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s;
  if (opts.read_only) {
    s = rocksdb::DB::OpenForReadOnly(db_opts, dir, cfs, &handles, &db);
  } else {
    s = rocksdb::DB::Open(db_opts, dir, cfs, &handles, &db);
  }
  if (!s.ok()) {
    if (lock_fd >= 0) ::close(lock_fd);
    std::string m = s.ToString();
    if (s.IsIOError() && m.find("lock") != std::string::npos) {
      return Status(StatusCode::kAlreadyExists,
                    "state dir " + dir + " is in use by another stagesync process (" + m + ")");
    }
    if (opts.read_only && (s.IsPathNotFound() || s.IsInvalidArgument() || s.IsIOError())) {
      return NotFound("no staging database in " + dir + ": " + m);
    }
    return FromRocks(s, "opening staging database in " + dir);
  }
  auto log = std::unique_ptr<StagingLog>(
      new RocksStagingLog(db, std::move(handles), opts, dir, lock_fd, instance_id));
  if (!opts.read_only && instance_id.empty()) {
    // A new state dir, or one from before identity files: stamp it now that it holds a database.
    auto id = WriteIdentity(dir, opts.clock->NowMillis());
    if (!id.ok()) return id.status().WithContext("state dir " + dir);
    static_cast<RocksStagingLog*>(log.get())->SetInstanceId(*id);
  }
  return log;
}

}  // namespace stagesync::stage
