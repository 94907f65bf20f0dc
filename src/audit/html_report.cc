// The audit as one self-contained HTML page an auditor can archive: inline styles, no script,
// no outside assets; every value escaped (vendor data and target values are not markup).
#include <fmt/format.h>

#include "audit/audit.h"
#include "obs/redact.h"

namespace stagesync::audit {
namespace {

using obs::HtmlEscape;

constexpr const char* kStyle =
    "body{font:14px/1.45 system-ui,'Noto Sans CJK SC',sans-serif;margin:2em;color:#1b1f24}"
    "h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.15em;margin:1.6em 0 .4em}"
    "table{border-collapse:collapse;margin:.4em 0}th,td{border:1px solid #c9ced6;padding:"
    ".25em .6em;text-align:left;vertical-align:top}th{background:#eef1f5}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}code{font-size:.92em;"
    "word-break:break-all}.bad{background:#fde8e8}.worst{background:#f8c9c9;font-weight:600}"
    ".verdict{display:inline-block;padding:.3em .8em;border-radius:4px;font-weight:600}"
    ".clean{background:#dff3e4}.dirty{background:#fde8e8}.meta td:first-child{color:#555}";

constexpr const char* kClasses[] = {"ok",           "missing",   "drifted",
                                    "extra",        "duplicate", "ledger_mismatch",
                                    "chain_broken", "pending",   "quarantined"};

std::string Cell(const std::optional<std::string>& c) {
  return c ? "<code>" + HtmlEscape(*c) + "</code>" : "<i>NULL</i>";
}

}  // namespace

std::string FormatHtml(const AuditReport& r) {
  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<title>stagesync audit " +
      HtmlEscape(r.started_at) + "</title><style>" + kStyle + "</style></head><body>\n";
  h += "<h1>stagesync audit</h1>\n";
  bool partial = false;
  for (const auto& s : r.sinks) partial = partial || !s.audited;
  const int64_t bad = r.discrepancy_count();
  h += fmt::format("<p class=\"verdict {}\">{}</p>\n", bad > 0 ? "dirty" : "clean",
                   bad > 0   ? fmt::format("{} discrepanc{}", bad, bad == 1 ? "y" : "ies")
                   : partial ? "no discrepancies in the audited sinks (some were not audited)"
                             : "clean");
  h += "<table class=\"meta\">";
  h += "<tr><td>audited at</td><td>" + HtmlEscape(r.started_at) + "</td></tr>";
  h += "<tr><td>scope</td><td>" + HtmlEscape(r.scope) + "</td></tr>";
  h += "<tr><td>state dir</td><td><code>" + HtmlEscape(r.state_dir) + "</code></td></tr>";
  h += fmt::format("<tr><td>findings</td><td>{}</td></tr></table>\n", r.findings.size());

  h += "<h2>Sinks</h2>\n<table><tr><th>pipeline</th><th>sink</th><th>target</th>"
       "<th>snapshot</th>";
  for (const char* c : kClasses) h += fmt::format("<th>{}</th>", c);
  h += "</tr>\n";
  for (const auto& s : r.sinks) {
    h += "<tr><td>" + HtmlEscape(s.pipeline) + "</td><td>" + HtmlEscape(s.sink) + "</td><td>" +
         HtmlEscape(s.type) + (s.target.empty() ? "" : " " + HtmlEscape(s.target)) + "</td>";
    h += s.audited ? fmt::format("<td>staging <code>{}</code> seq {}</td>",
                                 HtmlEscape(s.staging_instance), s.snapshot_seq)
                   : "<td>not audited</td>";
    for (const char* c : kClasses) {
      auto it = s.counts.find(c);
      const int64_t n = it == s.counts.end() ? 0 : it->second;
      const bool worst = n > 0 && std::string_view(c) == "duplicate";
      h += fmt::format("<td class=\"n{}\">{}</td>",
                       worst ? " worst" : (n > 0 && IsDiscrepancy(c) ? " bad" : ""), n);
    }
    h += "</tr>\n";
  }
  h += "</table>\n<h2>Chain heads</h2>\n<table><tr><th>pipeline</th><th>sink</th><th>links</th>"
       "<th>head</th><th>committed (UTC)</th><th>note</th></tr>\n";
  for (const auto& s : r.sinks) {
    h += fmt::format(
        "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
        HtmlEscape(s.pipeline), HtmlEscape(s.sink), s.chain_links,
        s.chain_head.empty()
            ? ""
            : fmt::format("#{} <code>{}</code>", s.chain_head_no, HtmlEscape(s.chain_head)),
        HtmlEscape(s.chain_head_at), HtmlEscape(s.chain_note));
  }
  h += "</table>\n";

  h += fmt::format("<h2>Findings ({})</h2>\n", r.findings.size());
  if (r.findings.empty()) {
    h += "<p>None.</p>\n";
  } else {
    h += "<table><tr><th>class</th><th>pipeline / sink</th><th>record</th><th>row</th>"
         "<th>detail</th></tr>\n";
    for (const auto& f : r.findings) {
      const char* cls = f.cls == "duplicate"   ? " class=\"worst\""
                        : IsDiscrepancy(f.cls) ? " class=\"bad\""
                                               : "";
      h += fmt::format("<tr{}><td>{}</td><td>{} / {}</td><td><code>{}</code></td><td>{}</td><td>",
                       cls, HtmlEscape(f.cls), HtmlEscape(f.pipeline), HtmlEscape(f.sink),
                       HtmlEscape(f.key), HtmlEscape(f.row));
      if (f.columns.empty()) {
        h += HtmlEscape(f.detail);
      } else {
        h += "<table><tr><th>column</th><th>mapped</th><th>target</th></tr>";
        for (const auto& c : f.columns) {
          h += "<tr><td>" + HtmlEscape(c.column) + "</td><td>" + Cell(c.mapped) + "</td><td>" +
               Cell(c.target) + "</td></tr>";
        }
        h += "</table>";
      }
      h += "</td></tr>\n";
    }
    h += "</table>\n";
  }
  h += "</body></html>\n";
  return h;
}

}  // namespace stagesync::audit
