// Status page: the agent's state as one HTML screen (GET /) and one page per pipeline
// (GET /pipelines/{name}: run history, quarantine list), rendered from the control API's JSON
// (AgentControl::PipelinesJson / PipelineJson, parsed) plus what only staging knows. Pure
// functions: no I/O, time comes in as a value, so tests render pages from JSON they build.
// The routes that gather the data live in status_routes.h. Every value that reaches the page
// goes through HtmlEscape: vendor data (a quarantined payload) is never markup.
// Thread-safe (no state).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "obs/redact.h"
#include "stagesync/json.h"
#include "stagesync/status.h"

namespace stagesync::obs {

// Which labels the page shows (config `agent.lang`).
enum class Lang { kZh, kEn, kBoth };

// "zh" | "en" | "both"; InvalidArgument naming agent.lang otherwise.
Result<Lang> ParseLang(std::string_view text);

// HtmlEscape (obs/redact.h) escapes every value the pages show: the redactor knows a secret's
// escaped form only because it is the same function.

// One quarantined record, as staging keeps it.
struct QuarantineItem {
  std::string stage;  // "fetch" or the sink's name
  std::string source_id;
  std::string error;
  std::string payload;
  int64_t at_ms = 0;
};

// What the API's JSON does not carry about a pipeline: read from the staging log.
struct PipelineFacts {
  std::optional<int64_t> watermark_ms;
  std::map<std::string, int64_t> open_intents;  // per sink
  int64_t quarantined = 0;                      // all of them, not only those listed below
  std::vector<QuarantineItem> quarantine;       // newest first; as many as the page lists
};

struct PageContext {
  Lang lang = Lang::kBoth;
  int64_t now_ms = 0;  // ages and "in N s" are measured from here
  // Seconds between the browser's reloads (<meta http-equiv="refresh">). Default: 10.
  int refresh_s = 10;
  // Quarantine errors listed per pipeline on the overview. Default: 3.
  size_t overview_errors = 3;
};

// GET /. `agent` is PipelinesJson() parsed: {"agent":{...},"pipelines":[...]} and, when the
// agent reports them, "connections":[{"name","requests","throttled","errors",
// "requests_per_min","quota_remaining"}] and per pipeline "drift":[{"sink","reference",
// "first_missing_key","missing_streak"}]. `facts` by pipeline name (a missing one shows "-").
std::string RenderOverview(const json::Value& agent,
                           const std::map<std::string, PipelineFacts>& facts,
                           const PageContext& ctx);

// GET /pipelines/{name}. `pipeline` is PipelineJson() parsed (its "runs" newest first).
std::string RenderPipeline(const json::Value& pipeline, const PipelineFacts& facts,
                           const PageContext& ctx);

// A page saying what went wrong (unknown pipeline, unreadable staging).
std::string RenderError(std::string_view message, const PageContext& ctx);

}  // namespace stagesync::obs
