#include "cli/ctl.h"

#include <algorithm>
#include <initializer_list>
#include <memory>
#include <string_view>
#include <utility>

#include "agent/control_server.h"
#include "stagesync/clock.h"
#include "stagesync/http.h"
#include "stagesync/json.h"

namespace stagesync::cli {

namespace {

constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

void Usage(FILE* err) {
  std::fputs(
      "usage: stagesync --config FILE [--listen ADDR] [--json] ctl COMMAND\n"
      "  ctl status [PIPELINE]\n"
      "  ctl run|pause|resume PIPELINE\n"
      "  ctl requeue PIPELINE [--sink NAME] [--key ID]\n",
      err);
}

// The agent at `listen`, as the client sees it: where to connect, and how to name it.
struct Agent {
  std::string base_url;  // http://127.0.0.1:9464
  std::string shown;     // 127.0.0.1:9464
};

Result<Agent> AgentAt(const std::string& listen) {
  std::string host;
  int port = 0;
  SS_RETURN_IF_ERROR(agent::ParseListen(listen, &host, &port));
  if (port == 0) return InvalidArgument("agent.listen: " + listen + ": port 0 cannot be reached");
  // An agent listening on every interface answers on loopback too.
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  const std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  Agent a;
  a.shown = h + ":" + std::to_string(port);
  a.base_url = "http://" + a.shown;
  return a;
}

struct Call {
  const config::Config& cfg;
  const CtlOptions& opts;
  Agent agent;
  HttpClient* http;
};

// One request; on anything but a 2xx prints why and returns the exit code in *rc.
bool Send(const Call& c, const std::string& method, const std::string& path,
          const std::string& body, HttpResponse* resp, int* rc) {
  HttpRequest req;
  req.method = method;
  req.url = c.agent.base_url + path;
  req.connect_timeout_ms = std::min(c.opts.timeout_ms, 3000);
  req.timeout_ms = c.opts.timeout_ms;
  req.max_response_bytes = 16u << 20;
  req.idempotent = method == "GET";
  if (!c.cfg.agent.token.empty()) {
    req.headers.emplace_back("Authorization", "Bearer " + c.cfg.agent.token);
  }
  if (method == "POST") {
    req.headers.emplace_back("Content-Type", "application/json");
    req.body = body;
  }
  auto r = c.http->Send(req);
  if (!r.ok()) {
    const StatusCode code = r.status().code();
    if (code == StatusCode::kUnavailable) {
      std::fprintf(c.opts.err,
                   "stagesync: error: no agent answers at %s (is `stagesync run` running?)\n",
                   c.agent.shown.c_str());
    } else {
      std::fprintf(c.opts.err, "stagesync: error: agent at %s: %s\n", c.agent.shown.c_str(),
                   r.status().message().c_str());
    }
    *rc = kExitRuntime;
    return false;
  }
  *resp = std::move(r).value();
  if (resp->status >= 200 && resp->status < 300) return true;
  std::string why;
  if (auto v = json::Parse(resp->body); v.ok() && v->Find("error") != nullptr) {
    why = v->Find("error")->text();
  } else {
    why = "HTTP " + std::to_string(resp->status);
  }
  if (resp->status == 401) {
    std::fprintf(c.opts.err, "stagesync: error: the agent refused the token; set agent.token%s\n",
                 c.cfg.agent.token.empty() ? " (none is set)" : " to the agent's");
    *rc = kExitRuntime;
  } else if (resp->status == 404 || resp->status == 400) {
    std::fprintf(c.opts.err, "stagesync: error: %s\n", why.c_str());
    *rc = kExitUsage;
  } else {
    std::fprintf(c.opts.err, "stagesync: error: agent: %s (HTTP %d)\n", why.c_str(), resp->status);
    *rc = kExitRuntime;
  }
  return false;
}

// ---- the status table ----

int64_t IntOr(const json::Value* v, int64_t def) {
  int64_t n = 0;
  return v != nullptr && v->AsInt64(&n) ? n : def;
}

const json::Value* FirstOf(const json::Value& obj, std::initializer_list<std::string_view> keys) {
  for (std::string_view k : keys) {
    if (const json::Value* v = obj.Find(k); v != nullptr && !v->is_null()) return v;
  }
  return nullptr;
}

// A string's or a number's text; "" for anything else (absent, null, bool, object).
std::string TextOf(const json::Value* v) {
  return v != nullptr && (v->is_string() || v->is_number()) ? v->text() : "";
}

// 42s, 5m, 2h5m, 3d4h.
std::string Span(int64_t ms) {
  int64_t s = std::max<int64_t>(ms, 0) / 1000;
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m";
  if (s < 86400) {
    return std::to_string(s / 3600) + "h" +
           (s % 3600 >= 60 ? std::to_string(s % 3600 / 60) + "m" : "");
  }
  return std::to_string(s / 86400) + "d" +
         (s % 86400 >= 3600 ? std::to_string(s % 86400 / 3600) + "h" : "");
}

std::string LastRun(const json::Value& p, int64_t now_ms) {
  const json::Value* v = p.Find("last_run");
  if (v == nullptr || v->is_null()) return "-";
  int64_t at = -1;
  std::string outcome;
  if (v->is_object()) {
    at = IntOr(FirstOf(*v, {"finished_ms", "ended_ms", "at_ms", "started_ms", "ms"}), -1);
    outcome = TextOf(FirstOf(*v, {"outcome", "result", "status"}));
  } else {
    at = IntOr(v, -1);
    outcome = TextOf(p.Find("last_outcome"));
  }
  std::string out = at >= 0 ? Span(now_ms - at) + " ago" : "-";
  if (!outcome.empty()) out += " " + outcome;
  return out;
}

std::string NextRun(const json::Value& p, int64_t now_ms) {
  const json::Value* v = FirstOf(p, {"next_run", "next_run_ms"});
  if (v != nullptr && v->is_object()) v = FirstOf(*v, {"at_ms", "ms"});
  const int64_t at = IntOr(v, -1);
  if (at < 0) return "-";
  return at <= now_ms ? "due" : "in " + Span(at - now_ms);
}

std::string Backoff(const json::Value& p, int64_t now_ms) {
  const json::Value* b = p.Find("backoff");
  if (b == nullptr || !b->is_object()) return "-";
  const int64_t failures = IntOr(b->Find("failures"), 0);
  if (failures <= 0) return "-";
  std::string out = std::to_string(failures) + (failures == 1 ? " failure" : " failures");
  const int64_t until = IntOr(b->Find("until_ms"), -1);
  if (until > now_ms) out += ", " + Span(until - now_ms) + " left";
  return out;
}

std::string Pending(const json::Value& p) {
  const json::Value* v = p.Find("pending");
  if (v == nullptr) return "-";
  std::string out;
  auto add = [&](const std::string& sink, const json::Value* n) {
    if (!out.empty()) out += " ";
    out += sink + "=" + (n != nullptr ? TextOf(n) : "?");
  };
  if (v->is_object()) {
    for (const auto& [sink, n] : v->members()) add(sink, &n);
  } else if (v->is_array()) {
    for (const json::Value& item : v->items()) {
      if (item.is_object()) {
        add(TextOf(FirstOf(item, {"sink", "name"})), FirstOf(item, {"pending", "count"}));
      }
    }
  } else {
    out = TextOf(v);
  }
  return out.empty() ? "-" : out;
}

void PrintTable(FILE* out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    std::fprintf(out, "%s\n", line.c_str());
  }
}

// One line per mapping reference in drift (the agent's "drift" arrays, doc/drift.md): a column
// going silently NULL is easy to miss in a table.
void PrintDrift(FILE* out, const std::vector<const json::Value*>& pipelines, int64_t now_ms) {
  for (const json::Value* p : pipelines) {
    const json::Value* drift = p->Find("drift");
    if (drift == nullptr || !drift->is_array()) continue;
    for (const json::Value& d : drift->items()) {
      const int64_t since = IntOr(d.Find("first_missing_ms"), -1);
      std::fprintf(out, "drift: %s/%s %s missing in %s records in a row since %s%s\n",
                   TextOf(p->Find("name")).c_str(), TextOf(d.Find("sink")).c_str(),
                   TextOf(d.Find("reference")).c_str(), TextOf(d.Find("missing_streak")).c_str(),
                   TextOf(d.Find("first_missing_key")).c_str(),
                   since >= 0 ? (" (" + Span(now_ms - since) + " ago)").c_str() : "");
    }
  }
}

int ShowStatus(const Call& c, const std::string& pipeline) {
  HttpResponse resp;
  int rc = kExitOk;
  const std::string path = pipeline.empty() ? "/api/pipelines" : "/api/pipelines/" + pipeline;
  if (!Send(c, "GET", path, "", &resp, &rc)) return rc;
  if (c.opts.as_json) {
    std::fprintf(c.opts.out, "%s\n", resp.body.c_str());
    return kExitOk;
  }
  auto doc = json::Parse(resp.body);
  if (!doc.ok() || !doc->is_object()) {
    std::fprintf(c.opts.err, "stagesync: error: agent at %s: unreadable answer to GET %s\n",
                 c.agent.shown.c_str(), path.c_str());
    return kExitRuntime;
  }
  int64_t now_ms = Clock::Real()->NowMillis();
  if (const json::Value* a = doc->Find("agent"); a != nullptr && a->is_object()) {
    now_ms = IntOr(a->Find("now_ms"), now_ms);
  }
  std::vector<const json::Value*> pipelines;
  if (const json::Value* list = doc->Find("pipelines"); list != nullptr && list->is_array()) {
    for (const json::Value& p : list->items()) pipelines.push_back(&p);
  } else {
    pipelines.push_back(&*doc);  // one pipeline's object
  }
  std::vector<std::vector<std::string>> rows = {
      {"PIPELINE", "STATE", "LAST RUN", "NEXT RUN", "BACKOFF", "PENDING"}};
  for (const json::Value* p : pipelines) {
    std::string state = TextOf(p->Find("state"));
    rows.push_back({TextOf(p->Find("name")), state.empty() ? "-" : state, LastRun(*p, now_ms),
                    NextRun(*p, now_ms), Backoff(*p, now_ms), Pending(*p)});
  }
  PrintTable(c.opts.out, rows);
  PrintDrift(c.opts.out, pipelines, now_ms);
  if (const json::Value* runs = doc->Find("runs"); runs != nullptr && runs->is_array()) {
    std::fprintf(c.opts.out, "\nrecent runs:\n");
    for (const json::Value& r : runs->items()) {
      json::Value wrapped = json::Value::Object({{"last_run", r}});
      std::string line = "  " + LastRun(wrapped, now_ms);
      if (std::string err = TextOf(r.Find("error")); !err.empty()) line += ": " + err;
      std::fprintf(c.opts.out, "%s\n", line.c_str());
    }
  }
  return kExitOk;
}

int Action(const Call& c, const std::string& action, const std::string& pipeline) {
  std::string body;
  if (action == "requeue") {
    body = "{\"sink\":" + json::Quote(c.opts.sink) + ",\"key\":" + json::Quote(c.opts.key) + "}";
  }
  HttpResponse resp;
  int rc = kExitOk;
  if (!Send(c, "POST", "/api/pipelines/" + pipeline + "/" + action, body, &resp, &rc)) return rc;
  if (c.opts.as_json) {
    std::fprintf(c.opts.out, "%s\n", resp.body.c_str());
    return kExitOk;
  }
  auto v = json::Parse(resp.body);
  const json::Value empty;
  const json::Value& doc = v.ok() ? *v : empty;
  std::string line = action + " " + pipeline + ": ";
  if (action == "run") {
    const json::Value* started = doc.Find("started");
    if (started != nullptr && started->is_bool() && started->bool_value()) {
      line += "started";
      if (std::string id = TextOf(doc.Find("run_id")); !id.empty()) line += " (run " + id + ")";
    } else {
      std::string why = TextOf(doc.Find("reason"));
      line += "not started" + (why.empty() ? "" : ": " + why);
    }
  } else if (action == "requeue") {
    line += TextOf(doc.Find("requeued")) + " record(s) back in the change log";
  } else {
    std::string state = TextOf(doc.Find("state"));
    line += action == "pause" ? "paused" : "resumed";
    if (!state.empty()) line += " (state " + state + ")";
  }
  std::fprintf(c.opts.out, "%s\n", line.c_str());
  return kExitOk;
}

}  // namespace

int RunCtl(const config::Config& cfg, const std::vector<std::string>& args,
           const CtlOptions& opts) {
  const bool status = !args.empty() && args[0] == "status" && args.size() <= 2;
  const bool action = args.size() == 2 && (args[0] == "run" || args[0] == "pause" ||
                                           args[0] == "resume" || args[0] == "requeue");
  if (!status && !action) {
    Usage(opts.err);
    return kExitUsage;
  }
  if (args[0] != "requeue" && (!opts.sink.empty() || !opts.key.empty())) {
    std::fprintf(opts.err, "stagesync: error: --sink and --key go with ctl requeue\n");
    return kExitUsage;
  }
  const std::string pipeline = args.size() == 2 ? args[1] : "";
  if (args.size() == 2 && !agent::ValidPipelineName(pipeline)) {
    std::fprintf(opts.err, "stagesync: error: %s: not a pipeline name\n", pipeline.c_str());
    return kExitUsage;
  }
  auto agent = AgentAt(opts.listen.empty() ? cfg.agent.listen : opts.listen);
  if (!agent.ok()) {
    std::fprintf(opts.err, "stagesync: error: %s\n", agent.status().message().c_str());
    return kExitUsage;
  }
  HttpClientOptions ho;
  ho.use_env_proxy = false;  // the agent is local; a proxy could not reach its loopback
  std::unique_ptr<HttpClient> http = NewCurlHttpClient(ho);
  const Call call{cfg, opts, *agent, http.get()};
  if (status) return ShowStatus(call, pipeline);
  return Action(call, args[0], pipeline);
}

int RunCtl(const config::Config& cfg, const std::vector<std::string>& args,
           const std::string& listen_override, bool as_json) {
  CtlOptions opts;
  opts.listen = listen_override;
  opts.as_json = as_json;
  return RunCtl(cfg, args, opts);
}

}  // namespace stagesync::cli
