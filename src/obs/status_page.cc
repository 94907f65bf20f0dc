#include "obs/status_page.h"

#include <fmt/format.h>

#include <algorithm>
#include <initializer_list>
#include <utility>

#include "stagesync/civil_time.h"

namespace stagesync::obs {

namespace {

using json::Value;

// A label in both languages; Label() picks what the config asks for.
struct L {
  const char* zh;
  const char* en;
};

constexpr L kTitle{"同步状态", "Status"};
constexpr L kPipelines{"管道", "Pipelines"};
constexpr L kPipeline{"管道", "Pipeline"};
constexpr L kState{"状态", "State"};
constexpr L kLastRun{"上次运行", "Last run"};
constexpr L kNextRun{"下次运行", "Next run"};
constexpr L kFreshness{"新鲜度", "Freshness"};
constexpr L kWatermark{"水位", "watermark"};
constexpr L kLastSuccess{"上次成功", "last success"};
constexpr L kPending{"待写入", "Pending"};
constexpr L kQuarantined{"隔离", "Quarantined"};
constexpr L kOpenIntents{"未决写入", "Open intents"};
constexpr L kConnections{"连接", "Connections"};
constexpr L kConnection{"连接", "Connection"};
constexpr L kRequestsPerMin{"请求/分钟", "Requests/min"};
constexpr L kRequests{"请求数", "Requests"};
constexpr L kThrottled{"限流", "Throttled"};
constexpr L kErrors{"错误", "Errors"};
constexpr L kQuotaRemaining{"剩余配额", "Quota left"};
constexpr L kNewestErrors{"最新隔离错误", "Newest quarantine errors"};
constexpr L kLastError{"最近错误", "Last error"};
constexpr L kWaiting{"等待", "Waiting"};
constexpr L kDrift{"映射漂移", "Drift"};
constexpr L kReloadError{"配置重载失败", "Config reload refused"};
constexpr L kStopping{"正在停止", "Shutting down"};
constexpr L kAllPipelines{"全部管道", "All pipelines"};
constexpr L kSchedule{"计划", "Schedule"};
constexpr L kTimeZone{"时区", "Time zone"};
constexpr L kRecords{"记录数", "Records"};
constexpr L kBackoff{"退避", "Backoff"};
constexpr L kSinks{"目标", "Sinks"};
constexpr L kSink{"目标", "Sink"};
constexpr L kLastApply{"上次写入", "Last apply"};
constexpr L kFailures{"连续失败", "Failures"};
constexpr L kRuns{"运行历史", "Run history"};
constexpr L kStarted{"开始", "Started"};
constexpr L kDuration{"耗时", "Duration"};
constexpr L kOutcome{"结果", "Outcome"};
constexpr L kTrigger{"触发", "Trigger"};
constexpr L kFetch{"拉取", "Fetch"};
constexpr L kQuarantineList{"隔离记录", "Quarantine"};
constexpr L kTime{"时间", "Time"};
constexpr L kStage{"阶段", "Stage"};
constexpr L kRecordId{"记录", "Record"};
constexpr L kRunId{"编号", "Run"};
constexpr L kError{"错误", "Error"};
constexpr L kPayload{"内容", "Payload"};
constexpr L kNone{"无", "none"};
constexpr L kAgentUp{"运行时长", "up"};
constexpr L kUpdated{"更新于", "updated"};
constexpr L kMore{"条，仅显示最新", "in all; the newest shown"};
constexpr L kNotFound{"出错", "Error"};

struct Word {
  const char* key;
  L label;
};
constexpr Word kStates[] = {{"idle", {"空闲", "idle"}},
                            {"running", {"运行中", "running"}},
                            {"failing", {"失败中", "failing"}},
                            {"paused", {"已暂停", "paused"}},
                            {"waiting", {"等待配额", "waiting"}}};
constexpr Word kOutcomes[] = {{"ok", {"成功", "ok"}},
                              {"partial", {"部分失败", "partial"}},
                              {"failed", {"失败", "failed"}},
                              {"stopped", {"已停止", "stopped"}},
                              {"skipped", {"已跳过", "skipped"}}};

constexpr const char* kDash = "-";

constexpr const char* kStyle = R"(
body{font:14px/1.45 system-ui,"Noto Sans CJK SC","Noto Sans",sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:12px 20px}
header h1{margin:0;font-size:20px}
header .en{color:#d0d7de}
header a{color:#9ecbff}
.meta{color:#d0d7de;font-size:13px;margin-top:4px}
main{padding:12px 20px 24px}
h2{font-size:16px;margin:18px 0 8px}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #d0d7de}
th,td{padding:6px 10px;border-bottom:1px solid #d8dee4;text-align:left;vertical-align:top}
th{background:#eaeef2;font-weight:600;font-size:13px;white-space:nowrap}
td.num{font-variant-numeric:tabular-nums}
time,td a.name,.pending,td.fresh{white-space:nowrap}
.en{color:#57606a;font-weight:normal;margin-left:.3em;font-size:.92em}
.badge{display:inline-block;padding:2px 9px;border-radius:10px;color:#fff;font-weight:600;font-size:12px;white-space:nowrap}
.badge .en{color:#fff;opacity:.85}
.s-idle{background:#1a7f37}.s-running{background:#0969da}.s-failing{background:#cf222e}
.s-paused{background:#6e7781}.s-waiting{background:#9a6700}.s-other{background:#8c959f}
tr.r-failing>td:first-child{box-shadow:inset 4px 0 #cf222e}
tr.r-running>td:first-child{box-shadow:inset 4px 0 #0969da}
tr.r-paused>td:first-child{box-shadow:inset 4px 0 #6e7781}
tr.r-waiting>td:first-child{box-shadow:inset 4px 0 #9a6700}
.o-ok{color:#1a7f37;font-weight:600}.o-partial,.o-stopped,.o-skipped{color:#9a6700;font-weight:600}
.o-failed{color:#cf222e;font-weight:600}
.bad{color:#cf222e;font-weight:700}.warn{color:#9a6700;font-weight:600}.muted{color:#6e7781}
a{color:#0969da;text-decoration:none}a:hover{text-decoration:underline}
td a.name{font-weight:600}
tr.detail>td{background:#fff8f8;font-size:13px;padding-top:2px}
.drift{color:#cf222e;font-weight:600}
ul.errors{margin:2px 0;padding-left:1.2em}
code,pre{font-family:ui-monospace,"Noto Sans Mono CJK SC",monospace;font-size:12px}
pre{white-space:pre-wrap;word-break:break-all;margin:0;max-height:9em;overflow:auto}
.banner{background:#ffebe9;border:1px solid #ff8182;padding:8px 12px;margin:12px 0;border-radius:6px}
td.qerror{min-width:24em}
table.kv{width:auto;min-width:50%}table.kv th{text-align:left;width:12em}
)";

std::string E(std::string_view s) { return HtmlEscape(s); }

std::string Label(const L& l, Lang lang) {
  switch (lang) {
    case Lang::kZh:
      return E(l.zh);
    case Lang::kEn:
      return E(l.en);
    case Lang::kBoth:
      break;
  }
  return E(l.zh) + "<span class=\"en\">" + E(l.en) + "</span>";
}

// Plain text (a <title>, an attribute).
std::string Words(const L& l, Lang lang) {
  if (lang == Lang::kZh) return l.zh;
  if (lang == Lang::kEn) return l.en;
  return std::string(l.zh) + " " + l.en;
}

const L* Lookup(const Word* table, size_t n, std::string_view key) {
  for (size_t i = 0; i < n; ++i) {
    if (key == table[i].key) return &table[i].label;
  }
  return nullptr;
}

// ---- JSON access: a missing or mistyped member reads as absent, never as an error: the page
// shows "-" rather than nothing at all.
const Value* At(const Value* v, std::initializer_list<std::string_view> path) {
  for (std::string_view k : path) {
    if (v == nullptr) return nullptr;
    v = v->Find(k);
  }
  return v;
}
std::optional<int64_t> Int(const Value* v, std::initializer_list<std::string_view> path) {
  const Value* x = At(v, path);
  int64_t n = 0;
  if (x == nullptr || x->is_null() || !x->AsInt64(&n)) return std::nullopt;
  return n;
}
std::string Str(const Value* v, std::initializer_list<std::string_view> path) {
  const Value* x = At(v, path);
  return x != nullptr && (x->is_string() || x->is_number()) ? x->text() : "";
}
// A string member only ("skipped" is a reason in a run's detail but a count in a summary).
std::string Text(const Value* v, std::string_view key) {
  const Value* x = v == nullptr ? nullptr : v->Find(key);
  return x != nullptr && x->is_string() ? x->text() : "";
}
// A number or string as shown ("-" when absent or null).
std::string Shown(const Value* v, std::string_view key) {
  const Value* x = v == nullptr ? nullptr : v->Find(key);
  if (x == nullptr || x->is_null()) return kDash;
  if (x->is_bool()) return x->bool_value() ? "true" : "false";
  if (x->is_string() || x->is_number()) return x->text().empty() ? kDash : x->text();
  return json::Serialize(*x);
}
const std::vector<Value>& Items(const Value* v) {
  static const std::vector<Value> kEmpty;
  return v != nullptr && v->is_array() ? v->items() : kEmpty;
}

// ---- Time: ages for the five-second read, absolute times (in the pipeline's zone) beside them.
std::string Span(int64_t ms, Lang lang) {
  const int64_t s = std::max<int64_t>(ms, 0) / 1000;
  const bool zh = lang == Lang::kZh;
  if (s < 60) return fmt::format(fmt::runtime(zh ? "{}秒" : "{} s"), s);
  if (s < 3600) return fmt::format(fmt::runtime(zh ? "{}分钟" : "{} min"), s / 60);
  if (s < 86400) {
    return s % 3600 / 60 == 0 ? fmt::format(fmt::runtime(zh ? "{}小时" : "{} h"), s / 3600)
                              : fmt::format(fmt::runtime(zh ? "{}小时{}分" : "{} h {} min"),
                                            s / 3600, s % 3600 / 60);
  }
  return fmt::format(fmt::runtime(zh ? "{}天{}小时" : "{} d {} h"), s / 86400, s % 86400 / 3600);
}
std::string Ago(int64_t at_ms, const PageContext& ctx) {
  const int64_t d = ctx.now_ms - at_ms;
  if (d < 0) return ctx.lang == Lang::kZh ? Span(-d, ctx.lang) + "后" : "in " + Span(-d, ctx.lang);
  return ctx.lang == Lang::kZh ? Span(d, ctx.lang) + "前" : Span(d, ctx.lang) + " ago";
}
std::string Until(int64_t at_ms, const PageContext& ctx) {
  const int64_t d = at_ms - ctx.now_ms;
  if (d <= 0) return ctx.lang == Lang::kZh ? "现在" : "now";
  return ctx.lang == Lang::kZh ? Span(d, ctx.lang) + "后" : "in " + Span(d, ctx.lang);
}
int ZoneOffset(const std::string& zone) {
  auto off = TimeZoneOffsetMinutes(zone.empty() ? "UTC" : zone);
  return off.ok() ? *off : 0;
}
std::string WallTime(int64_t ms, int offset_min) {
  const int64_t local = ms / 1000 + int64_t{offset_min} * 60;
  int64_t days = local / 86400, secs = local % 86400;
  if (secs < 0) {
    secs += 86400;
    days -= 1;
  }
  int64_t y = 0;
  unsigned m = 0, d = 0;
  CivilFromDays(days, &y, &m, &d);
  const int off = offset_min < 0 ? -offset_min : offset_min;
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02} {}{:02}:{:02}", y, m, d, secs / 3600,
                     secs % 3600 / 60, secs % 60, offset_min < 0 ? '-' : '+', off / 60, off % 60);
}
// "<time title=ABSOLUTE>3 min ago</time>", or "-".
std::string TimeAgo(std::optional<int64_t> ms, const PageContext& ctx, int offset_min) {
  if (!ms) return kDash;
  return "<time title=\"" + E(WallTime(*ms, offset_min)) + "\">" + E(Ago(*ms, ctx)) + "</time>";
}

// Cuts at `max` bytes without splitting a UTF-8 sequence.
std::string Truncate(std::string_view s, size_t max) {
  if (s.size() <= max) return std::string(s);
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n)) + "…";
}

std::string StateBadge(const std::string& state, Lang lang) {
  const L* l = Lookup(kStates, std::size(kStates), state);
  if (l == nullptr)
    return "<span class=\"badge s-other\">" + E(state.empty() ? kDash : state) + "</span>";
  return "<span class=\"badge s-" + E(state) + "\">" + Label(*l, lang) + "</span>";
}
std::string RowClass(const std::string& state) {
  return Lookup(kStates, std::size(kStates), state) != nullptr ? "r-" + state : "r-other";
}
std::string OutcomeText(const std::string& outcome, Lang lang) {
  if (outcome.empty()) return kDash;
  const L* l = Lookup(kOutcomes, std::size(kOutcomes), outcome);
  if (l == nullptr) return "<span class=\"outcome\">" + E(outcome) + "</span>";
  return "<span class=\"outcome o-" + E(outcome) + "\">" + Label(*l, lang) + "</span>";
}

std::string Head(const std::string& title, const PageContext& ctx) {
  const char* html_lang = ctx.lang == Lang::kEn ? "en" : "zh-CN";
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">"
      "<meta http-equiv=\"refresh\" content=\"{}\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>{}</title><style>{}</style></head><body>\n",
      html_lang, ctx.refresh_s, E(title), kStyle);
}

std::string Th(std::initializer_list<L> labels, Lang lang) {
  std::string out = "<thead><tr>";
  for (const L& l : labels) out += "<th>" + Label(l, lang) + "</th>";
  return out + "</tr></thead>";
}

std::string Num(std::optional<int64_t> n, const char* cls_if_positive = nullptr) {
  if (!n) return kDash;
  std::string text = std::to_string(*n);
  if (cls_if_positive != nullptr && *n > 0) {
    return std::string("<span class=\"") + cls_if_positive + "\">" + text + "</span>";
  }
  return text;
}

int64_t OpenIntents(const PipelineFacts* f) {
  int64_t n = 0;
  if (f != nullptr) {
    for (const auto& [sink, k] : f->open_intents) n += k;
  }
  return n;
}

// The red lines naming each drifting mapping reference.
std::string DriftLines(const Value& p, Lang lang) {
  std::string out;
  for (const Value& d : Items(p.Find("drift"))) {
    out += "<div class=\"drift\">" + Label(kDrift, lang) + ": " +
           fmt::format(
               fmt::runtime(
                   lang == Lang::kZh
                       ? "目标 {} 的映射引用 <code>{}</code> 从记录 {} 起取不到值（连续 {} 条）"
                       : "sink {}: reference <code>{}</code> resolves to nothing "
                         "since record {} ({} in a row)"),
               E(Shown(&d, "sink")), E(Shown(&d, "reference")), E(Shown(&d, "first_missing_key")),
               E(Shown(&d, "missing_streak"))) +
           "</div>";
  }
  return out;
}

std::string QuarantineErrors(const PipelineFacts& f, size_t max, const PageContext& ctx,
                             int offset_min) {
  std::string out = "<ul class=\"errors\">";
  for (size_t i = 0; i < f.quarantine.size() && i < max; ++i) {
    const QuarantineItem& q = f.quarantine[i];
    out += "<li>" + TimeAgo(q.at_ms, ctx, offset_min) + " <code>" + E(q.stage) + "</code> <code>" +
           E(Truncate(q.source_id, 80)) + "</code>: <span class=\"qerror\">" +
           E(Truncate(q.error, 300)) + "</span></li>";
  }
  return out + "</ul>";
}

std::string ConnectionsTable(const Value& agent, Lang lang) {
  std::string out =
      "<table class=\"connections\">" +
      Th({kConnection, kRequestsPerMin, kRequests, kThrottled, kErrors, kQuotaRemaining}, lang) +
      "<tbody>";
  const Value* list = agent.Find("connections");
  if (list == nullptr || !list->is_array()) {
    // The agent does not count requests (yet): say so rather than show zeros.
    out += "<tr class=\"absent\">";
    for (int i = 0; i < 6; ++i) out += std::string("<td>") + kDash + "</td>";
    return out + "</tr></tbody></table>";
  }
  for (const Value& c : list->items()) {
    auto positive = [&](std::string_view key) {
      auto n = Int(&c, {key});
      return n && *n > 0;
    };
    out += "<tr data-connection=\"" + E(Str(&c, {"name"})) + "\"><td>" + E(Shown(&c, "name")) +
           "</td><td class=\"num\">" + E(Shown(&c, "requests_per_min")) +
           "</td><td class=\"num\">" + E(Shown(&c, "requests")) + "</td><td class=\"num" +
           (positive("throttled") ? " bad" : "") + " throttled\">" + E(Shown(&c, "throttled")) +
           "</td><td class=\"num" + (positive("errors") ? " bad" : "") + " errors\">" +
           E(Shown(&c, "errors")) + "</td><td class=\"num\">" + E(Shown(&c, "quota_remaining")) +
           "</td></tr>";
  }
  return out + "</tbody></table>";
}

std::string PendingList(const Value& p) {
  const Value* pending = p.Find("pending");
  if (pending == nullptr || !pending->is_object() || pending->members().empty()) return kDash;
  std::string out;
  for (const auto& [sink, n] : pending->members()) {
    int64_t k = 0;
    const bool has = n.AsInt64(&k);
    out += std::string(out.empty() ? "" : "<br>") + "<span class=\"pending\" data-sink=\"" +
           E(sink) + "\">" + E(sink) + ": <b" + (has && k > 0 ? " class=\"warn\"" : "") + ">" +
           (has ? std::to_string(k) : std::string(kDash)) + "</b></span>";
  }
  return out;
}

std::string Freshness(const Value& p, const PipelineFacts* f, const PageContext& ctx, int off) {
  return Label(kWatermark, ctx.lang) + " " +
         TimeAgo(f != nullptr ? f->watermark_ms : std::nullopt, ctx, off) + "<br>" +
         Label(kLastSuccess, ctx.lang) + " " + TimeAgo(Int(&p, {"last_success_ms"}), ctx, off);
}

std::string PipelineRow(const Value& p, const PipelineFacts* f, const PageContext& ctx) {
  const std::string name = Str(&p, {"name"});
  const std::string state = Str(&p, {"state"});
  const int off = ZoneOffset(Str(&p, {"time_zone"}));
  const Lang lang = ctx.lang;
  std::string out = "<tr class=\"pipeline " + RowClass(state) + "\" data-pipeline=\"" + E(name) +
                    "\"><td><a class=\"name\" href=\"/pipelines/" + E(name) + "\">" + E(name) +
                    "</a></td><td>" + StateBadge(state, lang) + "</td><td>";
  const auto last_start = Int(&p, {"last_run", "started_ms"});
  out += last_start ? TimeAgo(last_start, ctx, off) + " " +
                          OutcomeText(Str(&p, {"last_run", "outcome"}), lang)
                    : std::string(kDash);
  const auto next = Int(&p, {"next_run"});
  out += "</td><td>" + (next ? "<time title=\"" + E(WallTime(*next, off)) + "\">" +
                                   E(Until(*next, ctx)) + "</time>"
                             : std::string(kDash));
  out += "</td><td class=\"fresh\">" + Freshness(p, f, ctx, off) + "</td><td>" + PendingList(p) +
         "</td>";
  const auto quarantined = Int(&p, {"quarantined"});
  out += "<td class=\"num quarantined\">" +
         (quarantined && *quarantined > 0
              ? "<a class=\"bad\" href=\"/pipelines/" + E(name) + "#quarantine\">" +
                    std::to_string(*quarantined) + "</a>"
              : Num(quarantined)) +
         "</td>";
  out += "<td class=\"num intents\">" + (f ? Num(OpenIntents(f), "warn") : std::string(kDash)) +
         "</td></tr>\n";

  // A second line for what needs a reader's attention: errors, drift, the newest quarantined.
  std::string detail;
  if (const std::string err = Str(&p, {"last_error"}); !err.empty()) {
    detail +=
        "<div class=\"bad\">" + Label(kLastError, lang) + ": " + E(Truncate(err, 400)) + "</div>";
  }
  for (const Value& s : Items(p.Find("sinks"))) {
    if (const std::string err = Str(&s, {"last_error"}); !err.empty()) {
      detail += "<div class=\"bad\">" + Label(kSink, lang) + " " + E(Str(&s, {"name"})) + ": " +
                E(Truncate(err, 400)) + "</div>";
    }
  }
  if (const std::string w = Str(&p, {"waiting"}); !w.empty()) {
    detail += "<div class=\"warn\">" + Label(kWaiting, lang) + ": " + E(w) + "</div>";
  }
  detail += DriftLines(p, lang);
  if (f != nullptr && !f->quarantine.empty()) {
    detail += "<div>" + Label(kNewestErrors, lang) +
              QuarantineErrors(*f, ctx.overview_errors, ctx, off) + "</div>";
  }
  if (!detail.empty()) {
    out += "<tr class=\"detail " + RowClass(state) + "\" data-detail-of=\"" + E(name) +
           "\"><td></td><td colspan=\"7\">" + detail + "</td></tr>\n";
  }
  return out;
}

}  // namespace

Result<Lang> ParseLang(std::string_view text) {
  if (text == "zh") return Lang::kZh;
  if (text == "en") return Lang::kEn;
  if (text == "both") return Lang::kBoth;
  return InvalidArgument("agent.lang: must be zh, en or both (got '" + std::string(text) + "')");
}

std::string RenderOverview(const Value& agent, const std::map<std::string, PipelineFacts>& facts,
                           const PageContext& ctx) {
  const Lang lang = ctx.lang;
  const Value* a = agent.Find("agent");
  const auto& pipelines = Items(agent.Find("pipelines"));
  std::map<std::string, int> by_state;
  for (const Value& p : pipelines) by_state[Str(&p, {"state"})]++;

  std::string out = Head("stagesync " + Words(kTitle, lang), ctx);
  out += "<header><h1>stagesync " + Label(kTitle, lang) + "</h1><div class=\"meta\">";
  out += E(std::to_string(pipelines.size())) + " " + Label(kPipelines, lang);
  for (const Word& w : kStates) {
    if (by_state.count(w.key) != 0) {
      out += " · " + std::to_string(by_state[w.key]) + " " + Label(w.label, lang);
    }
  }
  if (auto started = Int(a, {"started_ms"})) {
    out += " · " + Label(kAgentUp, lang) + " " + E(Span(ctx.now_ms - *started, lang));
  }
  out += " · " + Label(kUpdated, lang) + " " + E(WallTime(ctx.now_ms, 0));
  if (const std::string file = Str(a, {"config"}); !file.empty()) out += " · " + E(file);
  out += "</div></header><main>\n";

  if (const std::string err = Str(a, {"reload_error"}); !err.empty()) {
    out += "<div class=\"banner bad\">" + Label(kReloadError, lang) + ": " + E(err) + "</div>";
  }
  if (const Value* stopping = At(a, {"stopping"}); stopping != nullptr && stopping->bool_value()) {
    out += "<div class=\"banner warn\">" + Label(kStopping, lang) + "</div>";
  }

  out +=
      "<h2>" + Label(kPipelines, lang) + "</h2><table class=\"pipelines\">" +
      Th({kPipeline, kState, kLastRun, kNextRun, kFreshness, kPending, kQuarantined, kOpenIntents},
         lang) +
      "<tbody>\n";
  if (pipelines.empty()) {
    out += "<tr><td colspan=\"8\" class=\"muted\">" + Label(kNone, lang) + "</td></tr>";
  }
  for (const Value& p : pipelines) {
    auto it = facts.find(Str(&p, {"name"}));
    out += PipelineRow(p, it == facts.end() ? nullptr : &it->second, ctx);
  }
  out += "</tbody></table>\n";

  out += "<h2>" + Label(kConnections, lang) + "</h2>" + ConnectionsTable(agent, lang);
  return out + "\n</main></body></html>\n";
}

std::string RenderPipeline(const Value& p, const PipelineFacts& f, const PageContext& ctx) {
  const Lang lang = ctx.lang;
  const std::string name = Str(&p, {"name"});
  const std::string state = Str(&p, {"state"});
  const int off = ZoneOffset(Str(&p, {"time_zone"}));

  std::string out = Head(name + " · stagesync " + Words(kTitle, lang), ctx);
  out += "<header><div class=\"meta\"><a href=\"/\">← " + Label(kAllPipelines, lang) +
         "</a></div><h1>" + E(name) + " " + StateBadge(state, lang) + "</h1></header><main>\n";

  auto row = [&](const L& label, const std::string& html) {
    return "<tr><th>" + Label(label, lang) + "</th><td>" + html + "</td></tr>";
  };
  out += "<table class=\"kv\"><tbody>";
  out += row(kSchedule, E(Str(&p, {"schedule"}).empty() ? kDash : Str(&p, {"schedule"})));
  out += row(kTimeZone, E(Str(&p, {"time_zone"}).empty() ? kDash : Str(&p, {"time_zone"})));
  const auto last_start = Int(&p, {"last_run", "started_ms"});
  out += row(kLastRun, last_start
                           ? E(WallTime(*last_start, off)) + " (" + TimeAgo(last_start, ctx, off) +
                                 ") " + OutcomeText(Str(&p, {"last_run", "outcome"}), lang)
                           : std::string(kDash));
  const auto next = Int(&p, {"next_run"});
  out += row(kNextRun, next ? E(WallTime(*next, off)) + " (" + E(Until(*next, ctx)) + ")" : kDash);
  out += row(kFreshness, Freshness(p, &f, ctx, off));
  out += row(kRecords, Num(Int(&p, {"records"})));
  out += row(kQuarantined, "<span class=\"quarantined\">" + Num(f.quarantined, "bad") + "</span>");
  out += row(kOpenIntents, Num(OpenIntents(&f), "warn"));
  if (auto failures = Int(&p, {"backoff", "failures"}); failures && *failures > 0) {
    const auto until = Int(&p, {"backoff", "until_ms"});
    out += row(kBackoff, "<span class=\"bad\">" + std::to_string(*failures) + "</span>" +
                             (until ? " → " + E(Until(*until, ctx)) : ""));
  }
  if (const std::string err = Str(&p, {"last_error"}); !err.empty()) {
    out += row(kLastError, "<span class=\"bad\">" + E(err) + "</span>");
  }
  if (const std::string w = Str(&p, {"waiting"}); !w.empty()) {
    out += row(kWaiting, "<span class=\"warn\">" + E(w) + "</span>");
  }
  out += "</tbody></table>\n" + DriftLines(p, lang);

  // Sinks.
  out += "<h2>" + Label(kSinks, lang) + "</h2><table class=\"sinks\">" +
         Th({kSink, kState, kPending, kOpenIntents, kLastApply, kFailures, kLastError}, lang) +
         "<tbody>";
  const Value* pending = p.Find("pending");
  for (const Value& s : Items(p.Find("sinks"))) {
    const std::string sink = Str(&s, {"name"});
    const auto intents = f.open_intents.find(sink);
    std::string last_apply = kDash;
    if (const Value* la = s.Find("last_apply"); la != nullptr && la->is_object()) {
      last_apply = fmt::format(
          "{} {} · {} {}", E(Shown(la, "applied")), lang == Lang::kZh ? "条已写入" : "applied",
          E(Shown(la, "quarantined")), lang == Lang::kZh ? "条隔离" : "quarantined");
    }
    out += "<tr data-sink=\"" + E(sink) + "\"><td>" + E(sink) + "</td><td>" +
           StateBadge(Str(&s, {"state"}), lang) + "</td><td class=\"num pending\">" +
           Num(Int(pending, {sink}), "warn") + "</td><td class=\"num\">" +
           (intents == f.open_intents.end() ? std::string(kDash) : Num(intents->second, "warn")) +
           "</td><td>" + last_apply + "</td><td class=\"num\">" +
           Num(Int(&s, {"failures"}), "bad") + "</td><td class=\"bad\">" +
           E(Truncate(Str(&s, {"last_error"}), 400)) + "</td></tr>";
  }
  out += "</tbody></table>\n";

  // Run history, newest first.
  out += "<h2>" + Label(kRuns, lang) + "</h2><table class=\"runs\">" +
         Th({kRunId, kStarted, kDuration, kOutcome, kTrigger, kFetch, kSinks}, lang) + "<tbody>";
  const auto& runs = Items(p.Find("runs"));
  if (runs.empty()) {
    out += "<tr><td colspan=\"7\" class=\"muted\">" + Label(kNone, lang) + "</td></tr>";
  }
  for (const Value& r : runs) {
    const auto started = Int(&r, {"started_ms"});
    const auto ended = Int(&r, {"ended_ms"});
    const Value* detail = r.Find("detail");
    std::string fetch = kDash;
    if (const Value* res = At(detail, {"fetch", "result"}); res != nullptr) {
      fetch = fmt::format("{} {} · {} new · {} changed · {} failed", E(Shown(res, "fetched")),
                          lang == Lang::kZh ? "条" : "fetched", E(Shown(res, "new")),
                          E(Shown(res, "changed")), E(Shown(res, "failed")));
    } else if (const std::string err = Str(detail, {"fetch", "error"}); !err.empty()) {
      fetch = "<span class=\"bad\">" + E(Truncate(err, 300)) + "</span>";
    }
    std::string sinks;
    if (const Value* ss = At(detail, {"sinks"}); ss != nullptr && ss->is_object()) {
      for (const auto& [sink, v] : ss->members()) {
        std::string what;
        if (const std::string err = Str(&v, {"error"}); !err.empty()) {
          what = "<span class=\"bad\">" + E(Truncate(err, 200)) + "</span>";
        } else if (const std::string skip = Text(&v, "skipped"); !skip.empty()) {
          what = "<span class=\"muted\">" + E(skip) + "</span>";
        } else {
          what =
              E(Shown(&v, "applied")) + " applied" +
              (Int(&v, {"quarantined"}).value_or(0) > 0
                   ? " · <span class=\"bad\">" + E(Shown(&v, "quarantined")) + " quarantined</span>"
                   : "");
        }
        sinks += std::string(sinks.empty() ? "" : "<br>") + E(sink) + ": " + what;
      }
    }
    out += "<tr><td class=\"num\">" + E(Shown(&r, "id")) + "</td><td>" +
           (started ? "<time>" + E(WallTime(*started, off)) + "</time>" : std::string(kDash)) +
           "</td><td class=\"num\">" +
           (started && ended
                ? E(fmt::format("{:.1f} s", static_cast<double>(*ended - *started) / 1000.0))
                : std::string(kDash)) +
           "</td><td>" + OutcomeText(Str(&r, {"outcome"}), lang) + "</td><td>" +
           E(Str(detail, {"trigger"}).empty() ? kDash : Str(detail, {"trigger"})) + "</td><td>" +
           fetch + "</td><td>" + (sinks.empty() ? kDash : sinks) + "</td></tr>";
  }
  out += "</tbody></table>\n";

  // Quarantine list.
  out += "<h2 id=\"quarantine\">" + Label(kQuarantineList, lang) + " <span class=\"quarantined\">" +
         Num(f.quarantined, "bad") + "</span></h2>";
  if (f.quarantined > static_cast<int64_t>(f.quarantine.size())) {
    out += "<p class=\"muted\">" + std::to_string(f.quarantined) + " " + Label(kMore, lang) + " (" +
           std::to_string(f.quarantine.size()) + ")</p>";
  }
  out += "<table class=\"quarantine\">" + Th({kTime, kStage, kRecordId, kError, kPayload}, lang) +
         "<tbody>";
  if (f.quarantine.empty()) {
    out += "<tr><td colspan=\"5\" class=\"muted\">" + Label(kNone, lang) + "</td></tr>";
  }
  for (const QuarantineItem& q : f.quarantine) {
    out += "<tr><td>" + TimeAgo(q.at_ms, ctx, off) + "</td><td><code>" + E(q.stage) +
           "</code></td><td><code>" + E(Truncate(q.source_id, 120)) +
           "</code></td><td class=\"qerror\">" + E(Truncate(q.error, 1000)) +
           "</td><td><pre class=\"payload\">" + E(Truncate(q.payload, 2000)) + "</pre></td></tr>";
  }
  out += "</tbody></table>\n";
  return out + "</main></body></html>\n";
}

std::string RenderError(std::string_view message, const PageContext& ctx) {
  return Head("stagesync " + Words(kNotFound, ctx.lang), ctx) + "<header><div class=\"meta\">" +
         "<a href=\"/\">← " + Label(kAllPipelines, ctx.lang) + "</a></div><h1>" +
         Label(kNotFound, ctx.lang) + "</h1></header><main><div class=\"banner bad\">" +
         E(message) + "</div></main></body></html>\n";
}

}  // namespace stagesync::obs
