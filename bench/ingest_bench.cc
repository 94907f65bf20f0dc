// stagesync_bench_ingest: throughput of the staging write path, page by page, exactly as
// StagingPageSink::Write (src/fetch/fetcher.cc) does it: json::Parse, json::CanonicalTo,
// HashBytes, then one StagingLog::CommitPage (one WriteBatch, synced by default) per page.
// Measures a first ingest of N new records, an unchanged re-fetch of the same N (MultiGet of
// the hashes, nothing written), a changed re-fetch (one field of each record changed: the
// record history's diff path) and the CPU part alone. Prints JSON lines on stdout.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "stagesync/hash.h"
#include "stagesync/json.h"
#include "stagesync/stage.h"
#include "stagesync/status.h"

namespace {

using namespace stagesync;  // NOLINT(build/namespaces): a benchmark main, not library code.

constexpr char kPipeline[] = "dt_pay";
constexpr int64_t kNowMs = 1709255564000;  // fixed, so runs are reproducible

struct Flags {
  int64_t records = 1000000;
  int64_t page = 20;
  bool sync = true;
  std::string dir = "/tmp/stagesync_bench_ingest";
  bool sequential_ids = false;
  int64_t history = stagesync::stage::kDefaultHistoryVersions;  // PageCommit::history_versions
};

void Usage() {
  std::fputs(
      "usage: stagesync_bench_ingest [--records N] [--page N] [--sync 0|1] [--dir PATH]\n"
      "                              [--ids random|sequential]\n"
      "  --records N   records to generate and stage (default 1000000)\n"
      "  --page N      records per CommitPage, one WriteBatch each (default 20)\n"
      "  --sync 0|1    fsync every page (default 1)\n"
      "  --dir PATH    scratch state dir, removed at start (default /tmp/stagesync_bench_ingest)\n"
      "  --ids ORDER   process_instance_id order: random UUIDs as DingTalk sends them, or\n"
      "                sequential ones like db_bench fillseq keys (default random)\n"
      "  --history N   versions kept per record (history_versions; default 10, 0 = off)\n",
      stderr);
}

bool ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    std::string name, value;
    if (size_t eq = a.find('='); eq != std::string_view::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
    } else {
      name = a;
      if (name == "--help" || name == "-h") return false;
      if (i + 1 >= argc) {
        std::fprintf(stderr, "missing value for %s\n", name.c_str());
        return false;
      }
      value = argv[++i];
    }
    char* end = nullptr;
    if (name == "--records" || name == "--page") {
      long long v = std::strtoll(value.c_str(), &end, 10);
      if (end == value.c_str() || *end != '\0' || v <= 0) {
        std::fprintf(stderr, "%s wants a positive integer, got '%s'\n", name.c_str(),
                     value.c_str());
        return false;
      }
      (name == "--records" ? f->records : f->page) = v;
    } else if (name == "--sync") {
      if (value != "0" && value != "1") {
        std::fprintf(stderr, "--sync wants 0 or 1, got '%s'\n", value.c_str());
        return false;
      }
      f->sync = value == "1";
    } else if (name == "--history") {
      long long v = std::strtoll(value.c_str(), &end, 10);
      if (end == value.c_str() || *end != '\0' || v < 0 || v > 1000) {
        std::fprintf(stderr, "--history wants 0-1000, got '%s'\n", value.c_str());
        return false;
      }
      f->history = v;
    } else if (name == "--dir") {
      f->dir = value;
    } else if (name == "--ids") {
      if (value != "random" && value != "sequential") {
        std::fprintf(stderr, "--ids wants random or sequential, got '%s'\n", value.c_str());
        return false;
      }
      f->sequential_ids = value == "sequential";
    } else {
      std::fprintf(stderr, "unknown flag %s\n", name.c_str());
      return false;
    }
  }
  return true;
}

// SplitMix64: a bijection of the counter, so Mix(i) differs for every i.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() { return Mix(state_++); }
  // Uniform in [0, n).
  uint64_t Below(uint64_t n) { return Next() % n; }
  template <typename T, size_t N>
  const T& Pick(const T (&items)[N]) {
    return items[Below(N)];
  }

 private:
  uint64_t state_;
};

// A DingTalk-style process_instance_id (UUID layout, 36 characters). Sequential ids sort in
// generation order, like db_bench fillseq keys.
std::string InstanceId(uint64_t i, bool sequential) {
  if (sequential) return fmt::format("00000000-0000-4000-8000-{:012x}", i);
  const uint64_t hi = Mix(i);  // all 64 bits land in the id, so ids are unique
  const uint64_t lo = Mix(i ^ 0x5bd1e995ULL);
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", hi >> 32, (hi >> 16) & 0xffff,
                     (hi >> 4) & 0xfff, 0x8000 | ((hi & 0xf) << 10) | ((lo >> 48) & 0x3ff),
                     lo & 0xffffffffffffULL);
}

std::string Time(Rng* rng, int month, int day) {
  return fmt::format("2024-{:02d}-{:02d} {:02d}:{:02d}:{:02d}", month, day, rng->Below(24),
                     rng->Below(60), rng->Below(60));
}

// Amount in cents as DingTalk's MoneyField "upper" text (simplified: zero digits dropped).
std::string UpperAmount(uint64_t cents) {
  static const char* const kDigits[] = {"零", "壹", "贰", "叁", "肆", "伍", "陆", "柒", "捌", "玖"};
  static const char* const kUnits[] = {"分", "角", "元", "拾", "佰", "仟", "万", "拾", "佰", "仟"};
  std::string out;
  int pos = 0;
  for (uint64_t c = cents; c > 0 && pos < 10; c /= 10, ++pos) {
    if (c % 10 == 0 && pos != 2) continue;
    out.insert(0, std::string(kDigits[c % 10]) + kUnits[pos]);
  }
  return out.empty() ? "零元整" : out;
}

std::string Money(uint64_t cents) { return fmt::format("{}.{:02d}", cents / 100, cents % 100); }

// One process_instance (doc/vendors/dingtalk.md, "get") plus the process_instance_id the source
// adds, as the vendor's compact JSON text with members in the vendor's order.
std::string MakeInstance(uint64_t i, const std::string& id) {
  static const char* const kNames[] = {"张三", "李四", "王五", "赵六", "陈晓明", "刘洋", "周婷"};
  static const char* const kKinds[] = {"付款", "报销", "采购", "借款", "差旅费报销"};
  static const char* const kDepts[] = {"财务部", "销售部", "研发中心", "行政部", "采购部"};
  static const char* const kStatus[] = {"COMPLETED", "COMPLETED", "COMPLETED", "COMPLETED",
                                        "COMPLETED", "RUNNING",   "TERMINATED"};
  Rng rng(i * 7919 + 17);
  const int month = 1 + static_cast<int>(rng.Below(12));
  const int day = 1 + static_cast<int>(rng.Below(28));
  const std::string status = rng.Pick(kStatus);
  const bool running = status == "RUNNING";
  std::string result;  // empty while running or after termination
  if (status == "COMPLETED") result = rng.Below(10) > 0 ? "agree" : "refuse";
  const std::string originator = fmt::format("user{}", rng.Below(5000));
  const std::string approver = fmt::format("manager{}", rng.Below(200));
  const std::string created = Time(&rng, month, day);

  std::string t;
  t.reserve(1536);
  t += fmt::format("{{\"title\":\"{}提交的{}申请\",\"create_time\":\"{}\",", rng.Pick(kNames),
                   rng.Pick(kKinds), created);
  if (!running) t += fmt::format("\"finish_time\":\"{}\",", Time(&rng, month, day));
  t += fmt::format(
      "\"originator_userid\":\"{}\",\"originator_dept_id\":\"{}\",\"originator_dept_name\":\"{}\","
      "\"status\":\"{}\",\"result\":\"{}\",\"business_id\":\"2024{:02d}{:02d}{:013d}\","
      "\"biz_action\":\"NONE\",\"approver_userids\":[\"{}\"],\"cc_userids\":[],"
      "\"attached_process_instance_ids\":[],",
      originator, 1 + rng.Below(400), rng.Pick(kDepts), status, result, month, day, i, approver);

  // The TableField rows; value and ext_value are JSON documents inside JSON strings.
  const uint64_t rows = 1 + rng.Below(2);
  uint64_t total = 0;
  std::string table = "[";
  for (uint64_t r = 0; r < rows; ++r) {
    const uint64_t cents = 100 + rng.Below(5000000);
    total += cents;
    if (r > 0) table += ',';
    table += fmt::format(
        "{{\"rowNumber\":\"TableField_9R_{}\",\"rowValue\":["
        "{{\"label\":\"金额\",\"value\":\"{}\",\"key\":\"MoneyField_2\"}}]}}",
        r + 1, Money(cents));
  }
  table += ']';
  t += "\"form_component_values\":[";
  t += fmt::format(
      "{{\"name\":\"付款总额\",\"id\":\"MoneyField_1X\",\"component_type\":\"MoneyField\","
      "\"value\":\"{}\",\"ext_value\":{}}},",
      Money(total),
      json::Quote(fmt::format("{{\"upper\":\"{}\",\"componentName\":\"MoneyField\"}}",
                              UpperAmount(total))));
  t += fmt::format(
      "{{\"name\":\"明细\",\"id\":\"TableField_9R\",\"component_type\":\"TableField\","
      "\"value\":{},\"ext_value\":{}}}],",
      json::Quote(table), json::Quote("{\"statValue\":[],\"componentName\":\"TableField\"}"));
  t += fmt::format(
      "\"tasks\":[{{\"taskid\":\"{}\",\"userid\":\"{}\",\"task_status\":\"{}\","
      "\"task_result\":\"{}\",\"url\":\"aflow.dingtalk.com?procInsId={}\"}}],",
      60000000 + rng.Below(10000000), approver, running ? "RUNNING" : "COMPLETED",
      running ? "NONE" : "AGREE", id);
  t += fmt::format("\"process_instance_id\":\"{}\"}}", id);
  return t;
}

// Bytes this process (all its threads, RocksDB's background ones included) caused to be
// written to storage so far, from /proc/self/io; 0 where that is unavailable.
uint64_t DiskWriteBytes() {
  std::ifstream in("/proc/self/io");
  std::string key;
  uint64_t value = 0;
  while (in >> key >> value) {
    if (key == "write_bytes:") return value;
  }
  return 0;
}

double Seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

[[noreturn]] void Die(const Status& s, std::string_view what) {
  std::fprintf(stderr, "stagesync_bench_ingest: %.*s: %s\n", static_cast<int>(what.size()),
               what.data(), s.ToString().c_str());
  std::exit(1);
}

// Turns texts[begin, end) into one PageCommit the way StagingPageSink::Write does.
void BuildPage(const std::vector<std::string>& ids, const std::vector<std::string>& texts,
               size_t begin, size_t end, std::string* canonical, stage::PageCommit* commit,
               uint64_t* canonical_bytes) {
  commit->records.clear();
  commit->records.reserve(end - begin);
  for (size_t i = begin; i < end; ++i) {
    Result<json::Value> v = json::Parse(texts[i]);
    if (!v.ok()) Die(v.status(), "parsing record " + ids[i]);
    stage::IncomingRecord in;
    in.source_id = ids[i];
    canonical->clear();
    json::CanonicalTo(*v, canonical);
    in.hash = HashBytes(*canonical);
    in.raw = *canonical;
    *canonical_bytes += canonical->size();
    commit->records.push_back(std::move(in));
  }
}

struct PassResult {
  double seconds = 0;
  double commit_seconds = 0;  // inside CommitPage
  uint64_t disk_write_bytes = 0;
  stage::CommitStats stats;
  uint64_t canonical_bytes = 0;
};

PassResult StagePass(stage::StagingLog* log, const Flags& f, const std::vector<std::string>& ids,
                     const std::vector<std::string>& texts) {
  PassResult res;
  stage::PageCommit commit;
  commit.history_versions = static_cast<uint32_t>(f.history);
  std::string canonical;
  const size_t n = ids.size();
  const size_t page = static_cast<size_t>(f.page);
  const uint64_t disk0 = DiskWriteBytes();
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t begin = 0; begin < n; begin += page) {
    const size_t end = std::min(n, begin + page);
    BuildPage(ids, texts, begin, end, &canonical, &commit, &res.canonical_bytes);
    const auto c0 = std::chrono::steady_clock::now();
    Result<stage::CommitStats> st =
        log->CommitPage(kPipeline, commit, kNowMs + static_cast<int64_t>(begin));
    res.commit_seconds += Seconds(c0, std::chrono::steady_clock::now());
    if (!st.ok()) Die(st.status(), "CommitPage");
    res.stats.added += st->added;
    res.stats.changed += st->changed;
    res.stats.unchanged += st->unchanged;
  }
  res.seconds = Seconds(t0, std::chrono::steady_clock::now());
  res.disk_write_bytes = DiskWriteBytes() - disk0;
  return res;
}

void PrintStaging(std::string_view name, const Flags& f, const PassResult& r, double value_bytes,
                  size_t key_bytes) {
  const double n = static_cast<double>(f.records);
  fmt::print(
      "{{\"name\":\"{}\",\"value\":{:.1f},\"unit\":\"records/s\",\"records\":{},\"page\":{},"
      "\"sync\":{},\"history\":{},\"value_bytes\":{:.0f},\"key_bytes\":{},\"seconds\":{:.3f},"
      "\"commit_seconds\":{:.3f},\"disk_write_mb\":{:.0f}}}\n",
      name, n / r.seconds, f.records, f.page, f.sync ? "true" : "false", f.history, value_bytes,
      key_bytes, r.seconds, r.commit_seconds, static_cast<double>(r.disk_write_bytes) / 1e6);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  if (!ParseFlags(argc, argv, &f)) {
    Usage();
    return 2;
  }
  const size_t n = static_cast<size_t>(f.records);

  std::fprintf(stderr, "generating %zu records...\n", n);
  std::vector<std::string> ids(n), texts(n);
  uint64_t text_bytes = 0;
  for (size_t i = 0; i < n; ++i) {
    ids[i] = InstanceId(i, f.sequential_ids);
    texts[i] = MakeInstance(i, ids[i]);
    text_bytes += texts[i].size();
  }
  const size_t key_bytes = std::string_view(kPipeline).size() + 1 + ids[0].size();  // P \0 id
  std::fprintf(stderr, "average text %.0f bytes, key %zu bytes\n",
               static_cast<double>(text_bytes) / static_cast<double>(n), key_bytes);

  fmt::print("{{\"name\":\"simdjson_implementation\",\"value\":\"{}\",\"unit\":\"name\"}}\n",
             json::ParserImplementation());

  // The CPU part alone: what ingest does minus CommitPage.
  {
    std::fprintf(stderr, "parse + canonical + hash...\n");
    stage::PageCommit commit;
    std::string canonical;
    uint64_t canonical_bytes = 0, check = 0;
    const size_t page = static_cast<size_t>(f.page);
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t begin = 0; begin < n; begin += page) {
      BuildPage(ids, texts, begin, std::min(n, begin + page), &canonical, &commit,
                &canonical_bytes);
      for (const auto& r : commit.records) check ^= r.hash.low;
    }
    const double s = Seconds(t0, std::chrono::steady_clock::now());
    fmt::print(
        "{{\"name\":\"parse_canonical_hash\",\"value\":{:.1f},\"unit\":\"records/s\","
        "\"records\":{},\"text_bytes\":{:.0f},\"value_bytes\":{:.0f},\"seconds\":{:.3f}}}\n",
        static_cast<double>(n) / s, n, static_cast<double>(text_bytes) / static_cast<double>(n),
        static_cast<double>(canonical_bytes) / static_cast<double>(n), s);
    std::fflush(stdout);
    std::fprintf(stderr, "(hash check %016llx)\n", static_cast<unsigned long long>(check));
  }

  std::error_code ec;
  std::filesystem::remove_all(f.dir, ec);
  if (ec) Die(Internal(ec.message()), "removing " + f.dir);
  stage::StageOptions opts;
  opts.sync = f.sync;
  Result<std::unique_ptr<stage::StagingLog>> log = stage::StagingLog::Open(f.dir, opts);
  if (!log.ok()) Die(log.status(), "opening " + f.dir);
  if (Status s = (*log)->RegisterSinks(kPipeline, {"bench_sink"}); !s.ok()) {
    Die(s, "RegisterSinks");
  }

  std::fprintf(stderr, "ingest (sync=%d)...\n", f.sync ? 1 : 0);
  PassResult ingest = StagePass(log->get(), f, ids, texts);
  if (ingest.stats.added != f.records) {
    Die(Internal(fmt::format("added {} of {}", ingest.stats.added, f.records)), "ingest");
  }
  const double value_bytes = static_cast<double>(ingest.canonical_bytes) / static_cast<double>(n);
  PrintStaging("staging_ingest", f, ingest, value_bytes, key_bytes);

  std::fprintf(stderr, "unchanged re-fetch...\n");
  PassResult refetch = StagePass(log->get(), f, ids, texts);
  if (refetch.stats.unchanged != f.records) {
    Die(Internal(fmt::format("unchanged {} of {}", refetch.stats.unchanged, f.records)),
        "re-fetch");
  }
  PrintStaging("staging_unchanged_refetch", f, refetch, value_bytes, key_bytes);

  // Every record changed in one field (the approval's action), as a re-fetch after edits.
  std::fprintf(stderr, "changed re-fetch...\n");
  for (auto& t : texts) {
    const size_t at = t.find("\"biz_action\":\"NONE\"");
    if (at != std::string::npos) t.replace(at, 19, "\"biz_action\":\"MODIFY\"");
  }
  PassResult changed = StagePass(log->get(), f, ids, texts);
  if (changed.stats.changed != f.records) {
    Die(Internal(fmt::format("changed {} of {}", changed.stats.changed, f.records)),
        "changed re-fetch");
  }
  PrintStaging("staging_changed_refetch", f, changed, value_bytes, key_bytes);
  return 0;
}
