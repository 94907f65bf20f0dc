// stagesync-audit: proves what the sinks' targets hold (MySQL tables, Kingdee bills pushed, Yida
// instances) against the staged records and the sinks' current mappings, read-only (staging
// opened read-only, so it runs beside the agent; each MySQL target read in one consistent
// snapshot; HTTP targets only queried), verifies each sink's tamper-evident chain, and with
// --repair puts what it found wrong in MySQL targets back through the normal applier. Exit 0
// clean, 1 discrepancies, 2 could not audit.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "audit/audit.h"
#include "audit/repair.h"
#include "audit/trail.h"
#include "obs/log.h"
#include "stagesync/json.h"

namespace {

using namespace stagesync;

void Usage(FILE* out) {
  std::fputs(
      "usage: stagesync-audit --config FILE [--pipeline P] [--sink S]\n"
      "                       [--format text|json|html] [--out FILE] [--key ID]\n"
      "                       [--repair [--delete-extra]]\n"
      "  compares every sink's target (MySQL table, Kingdee bills, Yida instances) with the\n"
      "  staged records mapped by the sink's current mapping and verifies each sink's chain:\n"
      "  ok, missing, drifted, extra, duplicate, ledger_mismatch, chain_broken, pending,\n"
      "  quarantined\n"
      "  --key ID     that record only, followed by its trail: every version kept in staging\n"
      "               (time, seq, content hash, fields changed old -> new), which version each\n"
      "               sink applied (MySQL ledger / HTTP outcome), each sink's cursor and a MySQL\n"
      "               target's current rows (text and json)\n"
      "  --out FILE   writes the report (in --format) to FILE; the text summary still prints\n"
      "  --repair     requeues missing/drifted/ledger_mismatch records of MySQL sinks so the\n"
      "               next apply rewrites each once (stop the agent first); never touches\n"
      "               Kingdee bills or Yida instances\n"
      "  --delete-extra  with --repair: deletes extra rows, in one transaction, each logged\n"
      "  exit 0 clean, 1 discrepancies, 2 could not audit\n",
      out);
}

int CannotAudit(const std::string& why) {
  std::fprintf(stderr, "stagesync-audit: error: %s\n", why.c_str());
  return 2;
}

// Writes `data` to `path` whole or not at all (a temp file renamed over it).
bool WriteFile(const std::string& path, const std::string& data) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(data.data(), static_cast<std::streamsize>(data.size()));
    f.flush();
    if (!f) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Findings quote target values and errors quote the server: secrets the config loader
  // registers (and token-like values) never reach the terminal or a saved report.
  stagesync::obs::RedactStandardStreams();
  std::string config_file, out_file;
  audit::AuditOptions opts;
  audit::RepairOptions repair_opts;
  bool repair = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      Usage(stdout);
      return 0;
    }
    if (a == "--repair") {
      repair = true;
      continue;
    }
    if (a == "--delete-extra") {
      repair_opts.delete_extra = true;
      continue;
    }
    if (i + 1 >= argc) {
      Usage(stderr);
      return CannotAudit(a.starts_with("--") ? a + " needs a value" : "unexpected " + a);
    }
    const std::string v = argv[++i];
    if (a == "--config") {
      config_file = v;
    } else if (a == "--pipeline") {
      opts.pipeline = v;
    } else if (a == "--sink") {
      opts.sink = v;
    } else if (a == "--format") {
      if (v != "text" && v != "json" && v != "html") {
        return CannotAudit("--format must be text, json or html");
      }
      opts.format = v;
    } else if (a == "--out") {
      out_file = v;
    } else if (a == "--key") {
      opts.key = v;
    } else {
      Usage(stderr);
      return CannotAudit("unknown option " + a);
    }
  }
  if (config_file.empty()) {
    Usage(stderr);
    return CannotAudit("--config is required");
  }
  if (repair_opts.delete_extra && !repair) return CannotAudit("--delete-extra needs --repair");
  auto cfg = config::LoadFile(config_file);
  if (!cfg.ok()) return CannotAudit(cfg.status().message());
  const bool tty = isatty(STDERR_FILENO) == 1;
  if (tty) {
    opts.progress = [](const std::string& p, const std::string& s, int64_t n) {
      std::fprintf(stderr, "\rauditing %s/%s: %lld records", p.c_str(), s.c_str(),
                   static_cast<long long>(n));
    };
  }
  auto report = audit::Run(*cfg, opts);
  if (tty) std::fputs("\r\033[K", stderr);
  if (!report.ok()) return CannotAudit(report.status().message());
  std::string out = opts.format == "json"   ? audit::FormatJsonLines(*report)
                    : opts.format == "html" ? audit::FormatHtml(*report)
                                            : audit::FormatText(*report);
  if (!opts.key.empty() && opts.format != "html") {
    auto trail = audit::Trail(*cfg, opts);
    if (!trail.ok()) return CannotAudit(trail.status().message());
    if (trail->empty()) {
      out += opts.format == "json"
                 ? "{\"trail\":null,\"key\":" + json::Quote(opts.key) + "}\n"
                 : "\ntrail of " + json::Quote(opts.key) + ": not staged in any pipeline\n";
    }
    out += opts.format == "json" ? audit::FormatTrailJson(*trail) : audit::FormatTrailText(*trail);
  }
  if (!out_file.empty()) {
    if (!WriteFile(out_file, out)) return CannotAudit("cannot write the report to " + out_file);
    out = audit::FormatText(*report) + "report written to " + out_file + "\n";
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  if (repair && report->discrepancies()) {
    auto done = audit::Repair(*cfg, *report, repair_opts);
    if (!done.ok()) return CannotAudit(done.status().message());
    for (const auto& line : done->log) std::printf("repair: %s\n", line.c_str());
    std::printf(
        "repair: %lld record(s) requeued, %lld ledger row(s) marked for rewrite, %lld extra "
        "row(s) deleted, %lld finding(s) left alone; the next apply rewrites the requeued "
        "records once, then audit again\n",
        static_cast<long long>(done->requeued), static_cast<long long>(done->ledger_marked),
        static_cast<long long>(done->extra_deleted), static_cast<long long>(done->left_alone));
  }
  return report->discrepancies() ? 1 : 0;
}
