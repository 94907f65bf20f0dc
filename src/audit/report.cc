// The audit's two outputs: a text summary for a terminal and JSON lines for tools.
#include <fmt/format.h>

#include "audit/audit.h"
#include "stagesync/json.h"

namespace stagesync::audit {
namespace {

using Cell = std::optional<std::string>;

constexpr size_t kTextFindings = 20;

// Vendor data never drives the terminal: control bytes are shown as \xNN.
std::string Printable(const std::string& s) {
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

std::string CellJson(const Cell& c) { return c ? json::Quote(*c) : "null"; }

// Classes shown only when found.
constexpr const char* kRareClasses[] = {"ledger_mismatch", "chain_broken"};

std::string ChainLine(const SinkReport& s) {
  if (s.chain_links == 0) return s.chain_note.empty() ? "" : "  chain: " + s.chain_note + "\n";
  return fmt::format("  chain: {} link(s) read, head #{} {} committed {} UTC\n", s.chain_links,
                     s.chain_head_no, s.chain_head, s.chain_head_at);
}

}  // namespace

std::string FormatText(const AuditReport& r) {
  static const char* kClasses[] = {"ok",    "missing", "drifted",    "duplicate",
                                   "extra", "pending", "quarantined"};
  std::string out;
  for (const auto& s : r.sinks) {
    if (!s.audited) {
      out += fmt::format("{} / {} ({}): not audited\n", s.pipeline, s.sink, s.type);
      continue;
    }
    out += fmt::format("{} / {} ({} {}):", s.pipeline, s.sink, s.type, s.target);
    for (const char* c : kClasses) {
      auto it = s.counts.find(c);
      out += fmt::format(" {} {}", c, it == s.counts.end() ? 0 : it->second);
    }
    for (const char* c : kRareClasses) {
      auto it = s.counts.find(c);
      if (it != s.counts.end()) out += fmt::format(" {} {}", c, it->second);
    }
    out += "\n" + ChainLine(s);
    if (!s.uncompared.empty()) {
      std::string cols;
      for (const auto& c : s.uncompared) cols += (cols.empty() ? "" : ", ") + c;
      out += "  not compared (written with the time of the write): " + cols + "\n";
    }
  }
  for (size_t i = 0; i < r.findings.size() && i < kTextFindings; ++i) {
    const auto& f = r.findings[i];
    out += fmt::format("{} {}/{} {}{}: {}\n", f.cls, f.pipeline, f.sink, json::Quote(f.key),
                       f.row.empty() ? "" : " [" + Printable(f.row) + "]", Printable(f.detail));
  }
  if (r.findings.size() > kTextFindings) {
    out += fmt::format("... and {} more (--format json lists every one)\n",
                       r.findings.size() - kTextFindings);
  }
  out += r.discrepancies() ? fmt::format("discrepancies: {}\n", r.discrepancy_count()) : "clean\n";
  return out;
}

std::string FormatJsonLines(const AuditReport& r) {
  std::string out;
  for (const auto& f : r.findings) {
    std::string cols;
    for (const auto& c : f.columns) {
      cols +=
          fmt::format("{}{{\"column\":{},\"mapped\":{},\"target\":{}}}", cols.empty() ? "" : ",",
                      json::Quote(c.column), CellJson(c.mapped), CellJson(c.target));
    }
    out += fmt::format(
        "{{\"pipeline\":{},\"sink\":{},\"class\":{},\"key\":{},\"row\":{},\"detail\":{},"
        "\"columns\":[{}]}}\n",
        json::Quote(f.pipeline), json::Quote(f.sink), json::Quote(f.cls), json::Quote(f.key),
        json::Quote(f.row), json::Quote(f.detail), cols);
  }
  std::string sinks;
  for (const auto& s : r.sinks) {
    std::string counts;
    for (const auto& [k, v] : s.counts) {
      counts += fmt::format("{}{}:{}", counts.empty() ? "" : ",", json::Quote(k), v);
    }
    sinks += fmt::format(
        "{}{{\"pipeline\":{},\"sink\":{},\"type\":{},\"audited\":{},\"table\":{},\"counts\":{{{}}},"
        "\"chain\":{{\"links\":{},\"head_no\":{},\"head\":{},\"head_at\":{},\"note\":{}}}}}",
        sinks.empty() ? "" : ",", json::Quote(s.pipeline), json::Quote(s.sink), json::Quote(s.type),
        s.audited ? "true" : "false", json::Quote(s.table), counts, s.chain_links, s.chain_head_no,
        json::Quote(s.chain_head), json::Quote(s.chain_head_at), json::Quote(s.chain_note));
  }
  out += fmt::format("{{\"summary\":{{\"findings\":{},\"discrepancies\":{},\"sinks\":[{}]}}}}\n",
                     r.findings.size(), r.discrepancy_count(), sinks);
  return out;
}

}  // namespace stagesync::audit
