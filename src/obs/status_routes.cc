#include "obs/status_routes.h"

#include <httplib.h>

#include <algorithm>
#include <utility>

#include "agent/control_server.h"
#include "stagesync/json.h"

namespace stagesync::obs {

namespace {

constexpr const char* kHtml = "text/html; charset=utf-8";

// The page is assembled per request from live state: no cache may serve an old one, and it
// must never be framed by another site (it carries no secrets, but errors name vendors).
void SendPage(httplib::Response& res, int status, std::string body) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("Content-Security-Policy",
                 "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'");
  res.set_content(std::move(body), kHtml);
}

PageContext Context(const StatusPageOptions& opts) {
  PageContext ctx;
  ctx.lang = opts.lang;
  ctx.now_ms = (opts.clock != nullptr ? opts.clock : Clock::Real())->NowMillis();
  return ctx;
}

}  // namespace

Result<PipelineFacts> ReadFacts(stage::StagingLog* staging, const std::string& pipeline,
                                size_t keep) {
  PipelineFacts f;
  SS_ASSIGN_OR_RETURN(auto sum, staging->Summary(pipeline));
  f.watermark_ms = sum.watermark_ms;
  for (const auto& s : sum.sinks) f.open_intents[s.name] = s.open_intents;
  SS_ASSIGN_OR_RETURN(auto q, staging->Quarantined(pipeline));
  f.quarantined = static_cast<int64_t>(q.size());
  // Newest first; among equal times the key order staging gave, so the page does not shuffle.
  std::stable_sort(q.begin(), q.end(),
                   [](const stage::QuarantineEntry& a, const stage::QuarantineEntry& b) {
                     return a.at_ms > b.at_ms;
                   });
  for (size_t i = 0; i < q.size() && i < keep; ++i) {
    f.quarantine.push_back(QuarantineItem{std::move(q[i].stage), std::move(q[i].source_id),
                                          std::move(q[i].error), std::move(q[i].payload),
                                          q[i].at_ms});
  }
  return f;
}

void InstallStatusPage(httplib::Server* http, agent::AgentControl* control,
                       stage::StagingLog* staging, StatusPageOptions opts) {
  http->Get("/", [=](const httplib::Request&, httplib::Response& res) {
    const PageContext ctx = Context(opts);
    auto parsed = json::Parse(control->PipelinesJson());
    if (!parsed.ok()) {
      return SendPage(res, 500,
                      RenderError("agent state unreadable: " + parsed.status().message(), ctx));
    }
    std::map<std::string, PipelineFacts> facts;
    if (const json::Value* list = parsed->Find("pipelines"); list != nullptr) {
      for (const json::Value& p : list->items()) {
        const json::Value* name = p.Find("name");
        if (name == nullptr) continue;
        // A pipeline staging cannot read shows "-" for these; the rest of the page still shows.
        auto f = ReadFacts(staging, name->text(), ctx.overview_errors);
        if (f.ok()) facts.emplace(name->text(), std::move(f).value());
      }
    }
    SendPage(res, 200, RenderOverview(*parsed, facts, ctx));
  });

  http->Get("/pipelines/([^/]+)", [=](const httplib::Request& req, httplib::Response& res) {
    const PageContext ctx = Context(opts);
    const std::string name = req.matches[1];
    if (!agent::ValidPipelineName(name)) {
      return SendPage(res, 400, RenderError("bad pipeline name", ctx));
    }
    auto one = control->PipelineJson(name, opts.runs);
    if (!one.ok()) {
      return SendPage(res, one.status().code() == StatusCode::kNotFound ? 404 : 500,
                      RenderError(one.status().message(), ctx));
    }
    auto parsed = json::Parse(*one);
    if (!parsed.ok()) {
      return SendPage(res, 500,
                      RenderError("agent state unreadable: " + parsed.status().message(), ctx));
    }
    auto facts = ReadFacts(staging, name, opts.quarantine);
    if (!facts.ok()) {
      return SendPage(res, 500, RenderError("staging: " + facts.status().message(), ctx));
    }
    SendPage(res, 200, RenderPipeline(*parsed, *facts, ctx));
  });
}

}  // namespace stagesync::obs
