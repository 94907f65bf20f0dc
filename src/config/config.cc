#include "stagesync/config.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "obs/redact.h"
#include "stagesync/civil_time.h"
#include "stagesync/option_table.h"
#include "stagesync/schedule.h"

namespace stagesync::config {

namespace {

constexpr size_t kMaxConfigBytes = size_t{16} << 20;

Status PathError(const std::string& path, const std::string& problem) {
  return InvalidArgument(path + ": " + problem);
}

const char* TypeName(json::Type t) {
  switch (t) {
    case json::Type::kNull:
      return "null";
    case json::Type::kBool:
      return "a boolean";
    case json::Type::kNumber:
      return "a number";
    case json::Type::kString:
      return "a string";
    case json::Type::kArray:
      return "an array";
    case json::Type::kObject:
      return "an object";
  }
  return "?";
}

bool ValidName(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      return false;
  }
  return true;
}

bool ValidEnvName(std::string_view n) {
  if (n.empty() || n.size() > 128 || std::isdigit(static_cast<unsigned char>(n[0]))) return false;
  for (char c : n) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

// Expands ${NAME} in every string value, in place. `$${` is a literal `${` (the escape for a
// text that must contain one, e.g. a vendor parameter).
Status ExpandEnv(json::Value* v, const std::string& path, EnvLookup getenv_fn) {
  switch (v->type()) {
    case json::Type::kString: {
      const std::string& s = v->text();
      // A secret field's value (from ${ENV} or, against advice, literal) is registered with
      // the Redactor, which keeps it out of every log line, error, answer and stored entry.
      const bool secret = obs::IsSecretFieldName(path.substr(path.find_last_of('.') + 1));
      if (s.find("${") == std::string::npos) {
        if (secret) obs::Redactor::Global().AddSecret(s);
        return Status::Ok();
      }
      std::string out;
      size_t i = 0;
      while (i < s.size()) {
        size_t open = s.find("${", i);
        if (open == std::string::npos) {
          out.append(s, i, std::string::npos);
          break;
        }
        if (open > i && s[open - 1] == '$') {  // "$${": the "$" escapes the reference
          out.append(s, i, open - i - 1);
          out.append("${");
          i = open + 2;
          continue;
        }
        size_t close = s.find('}', open);
        if (close == std::string::npos) {
          return PathError(path, "unterminated ${ in string (write $${ for a literal ${)");
        }
        out.append(s, i, open - i);
        std::string name = s.substr(open + 2, close - open - 2);
        if (name.empty()) return PathError(path, "empty ${} reference");
        if (!ValidEnvName(name)) {
          return PathError(path,
                           "bad environment variable name in ${...} (use [A-Za-z_][A-Za-z0-9_]*;"
                           " write $${ for a literal ${)");
        }
        const char* val = getenv_fn(name.c_str());
        if (val == nullptr) {
          return PathError(path, "environment variable " + name + " is not set");
        }
        if (secret) obs::Redactor::Global().AddSecret(val);
        out.append(val);
        i = close + 1;
      }
      if (secret) obs::Redactor::Global().AddSecret(out);
      *v = json::Value::String(std::move(out));
      return Status::Ok();
    }
    case json::Type::kArray: {
      auto& items = v->mutable_items();
      for (size_t i = 0; i < items.size(); ++i) {
        SS_RETURN_IF_ERROR(ExpandEnv(&items[i], path + "[" + std::to_string(i) + "]", getenv_fn));
      }
      return Status::Ok();
    }
    case json::Type::kObject: {
      for (auto& m : v->mutable_members()) {
        SS_RETURN_IF_ERROR(ExpandEnv(&m.second, path + "." + m.first, getenv_fn));
      }
      return Status::Ok();
    }
    default:
      return Status::Ok();
  }
}

Status RejectDuplicateKeys(const json::Value& v, const std::string& path) {
  if (v.is_object()) {
    const auto& ms = v.members();
    for (size_t i = 0; i < ms.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (ms[i].first == ms[j].first) return PathError(path + "." + ms[i].first, "duplicate key");
      }
      SS_RETURN_IF_ERROR(RejectDuplicateKeys(ms[i].second, path + "." + ms[i].first));
    }
  } else if (v.is_array()) {
    for (size_t i = 0; i < v.items().size(); ++i) {
      SS_RETURN_IF_ERROR(RejectDuplicateKeys(v.items()[i], path + "[" + std::to_string(i) + "]"));
    }
  }
  return Status::Ok();
}

Status RequireType(const json::Value* v, json::Type t, const std::string& path) {
  if (v == nullptr) return PathError(path, "missing");
  if (v->type() != t) {
    return PathError(path, std::string("must be ") + TypeName(t) + ", got " + TypeName(v->type()));
  }
  return Status::Ok();
}

Status CheckKeys(const json::Value& obj, const std::string& path,
                 std::initializer_list<std::string_view> allowed) {
  for (const auto& m : obj.members()) {
    bool ok = false;
    for (auto a : allowed) ok = ok || m.first == a;
    if (!ok) return PathError(path + "." + m.first, "unknown key");
  }
  return Status::Ok();
}

// Options object: a copy of obj without the keys handled generically.
json::Value OptionsWithout(const json::Value& obj, std::initializer_list<std::string_view> skip) {
  json::Value out = json::Value::Object();
  for (const auto& m : obj.members()) {
    bool skipped = false;
    for (auto s : skip) skipped = skipped || m.first == s;
    if (!skipped) out.Add(m.first, m.second);
  }
  return out;
}

}  // namespace

const OptionTable<AgentConfig>& AgentOptionTable() {
  using A = AgentConfig;
  static const OptionTable<A> table =
      OptionTable<A>()
          .Str("listen", &A::listen, "127.0.0.1:9464",
               "HOST:PORT of the control API; a non-loopback address needs a token")
          .Str("token", &A::token, "",
               "bearer token the control API requires (use ${ENV}); empty = none")
          .Int("max_parallel_pipelines", &A::max_parallel_pipelines, 4, 1, 64,
               "pipelines doing work at the same time")
          .Int("shutdown_grace_s", &A::shutdown_grace_s, 30, 1, 3600,
               "on SIGTERM, how long in-flight batches may take to commit")
          .Int("backoff_base_s", &A::backoff_base_s, 30, 1, 86400,
               "first wait after a failed run or sink (doubles per failure)")
          .Int("backoff_max_s", &A::backoff_max_s, 1800, 1, 86400, "longest wait after failures")
          .OneOf("lang", &A::lang, "both", {"zh", "en", "both"},
                 "labels of the status page at /: Chinese, English or both")
          .Check([](const OptionReader& r, A* a) -> Status {
            if (a->backoff_max_s < a->backoff_base_s) {
              return InvalidArgument(r.PathOf("backoff_max_s") + ": must be >= backoff_base_s");
            }
            if (a->listen.rfind(':') == std::string::npos) {
              return InvalidArgument(r.PathOf("listen") + ": expected HOST:PORT");
            }
            return Status::Ok();
          });
  return table;
}

// A channel object ({"webhook": ..., "secret": ...}) read into `fields` (key -> member);
// the URL keys must be http(s).
static Status ReadChannel(const OptionReader& r, std::string_view name,
                          std::initializer_list<std::pair<std::string_view, std::string*>> fields,
                          std::string_view url_key) {
  const json::Value* v = r.Get(name);
  if (v == nullptr) return Status::Ok();
  const std::string path = r.PathOf(name);
  SS_RETURN_IF_ERROR(RequireType(v, json::Type::kObject, path));
  for (const auto& m : v->members()) {
    bool known = false;
    for (const auto& f : fields) known = known || m.first == f.first;
    if (!known) return PathError(path + "." + m.first, "unknown key");
    SS_RETURN_IF_ERROR(RequireType(&m.second, json::Type::kString, path + "." + m.first));
  }
  for (const auto& [key, out] : fields) {
    if (const json::Value* f = v->Find(key)) *out = f->text();
  }
  const json::Value* url = v->Find(url_key);
  if (url == nullptr || url->text().empty()) {
    return PathError(path + "." + std::string(url_key), "missing");
  }
  if (url->text().rfind("http://", 0) != 0 && url->text().rfind("https://", 0) != 0) {
    return PathError(path + "." + std::string(url_key), "must be an http(s) URL");
  }
  return Status::Ok();
}

const OptionTable<AlertsConfig>& AlertsOptionTable() {
  using A = AlertsConfig;
  static const OptionTable<A> table =
      OptionTable<A>()
          .Custom("dingtalk_robot", OptionType::kObject, false, "none",
                  "DingTalk custom robot: {\"webhook\": URL with access_token, \"secret\": SEC... "
                  "signing secret} (both from ${ENV})",
                  [](const OptionReader& r, A* a) {
                    return ReadChannel(
                        r, "dingtalk_robot",
                        {{"webhook", &a->dingtalk_webhook}, {"secret", &a->dingtalk_secret}},
                        "webhook");
                  })
          .Custom("webhook", OptionType::kObject, false, "none",
                  "generic JSON webhook: {\"url\": URL}, POSTed "
                  "{status, pipeline, condition, summary, values, status_page}",
                  [](const OptionReader& r, A* a) {
                    return ReadChannel(r, "webhook", {{"url", &a->webhook_url}}, "url");
                  })
          .Custom("status_page_url", OptionType::kString, false, "http://<agent.listen>/",
                  "the status page linked from every message",
                  [](const OptionReader& r, A* a) {
                    a->status_page_url = r.String("status_page_url", "");
                    return Status::Ok();
                  })
          .Int("failed_runs", &A::failed_runs, 3, 0, 1000,
               "alert after this many consecutive failed runs; 0 = off")
          .Custom("freshness_s", OptionType::kAny, false, "0",
                  "alert when a pipeline's last successful run is older than this (s): a number "
                  "for every pipeline or {\"*\": N, \"PIPELINE\": M}; 0 = off",
                  [](const OptionReader& r, A* a) -> Status {
                    const json::Value* v = r.Get("freshness_s");
                    if (v == nullptr) return Status::Ok();
                    auto one = [&](const json::Value& x, const std::string& path,
                                   int64_t* out) -> Status {
                      if (!x.AsInt64(out) || *out < 0 || *out > 365 * 86400) {
                        return PathError(path, "must be an integer in [0, 31536000]");
                      }
                      return Status::Ok();
                    };
                    if (!v->is_object()) return one(*v, r.PathOf("freshness_s"), &a->freshness_s);
                    for (const auto& [k, x] : v->members()) {
                      const std::string path = r.PathOf("freshness_s") + "." + k;
                      int64_t n = 0;
                      SS_RETURN_IF_ERROR(one(x, path, &n));
                      if (k == "*") {
                        a->freshness_s = n;
                      } else {
                        a->freshness_s_per_pipeline[k] = n;
                      }
                    }
                    return Status::Ok();
                  })
          .Flag("quarantine_grew", &A::quarantine_grew, true,
                "alert when a pipeline's quarantine grows")
          .Int("intent_open_s", &A::intent_open_s, 600, 0, 30 * 86400,
               "alert when an HTTP sink's intent stays open longer than this (s); 0 = off")
          .Flag("quota", &A::quota, true, "alert while a connection's daily quota is spent")
          .Flag("drift", &A::drift, true, "alert when a mapping reference stops resolving")
          .Int("min_interval_s", &A::min_interval_s, 600, 0, 7 * 86400,
               "least time between two firing messages of one pipeline and condition")
          .Int("max_per_hour", &A::max_per_hour, 30, 1, 10000,
               "most messages the agent sends in any hour (beyond: held back, counted)")
          .Int("check_interval_s", &A::check_interval_s, 5, 1, 3600,
               "how often the conditions are evaluated");
  return table;
}

const PipelineConfig* Config::FindPipeline(std::string_view name) const {
  for (const auto& p : pipelines) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

const ConnectionConfig* Config::FindConnection(std::string_view name) const {
  auto it = connections.find(std::string(name));
  return it == connections.end() ? nullptr : &it->second;
}

Result<Config> LoadString(std::string_view text, const std::string& base_dir, EnvLookup getenv_fn) {
  if (getenv_fn == nullptr) getenv_fn = [](const char* n) -> const char* { return std::getenv(n); };
  if (text.size() > kMaxConfigBytes) {
    return InvalidArgument("config: larger than " + std::to_string(kMaxConfigBytes >> 20) + " MiB");
  }
  json::ParseOptions popts;
  popts.keep_duplicate_keys = true;  // rejected below with their path
  auto parsed = json::Parse(text, popts);
  if (!parsed.ok()) return parsed.status().WithContext("config");
  json::Value root = std::move(parsed).value();
  SS_RETURN_IF_ERROR(RequireType(&root, json::Type::kObject, "(root)"));
  {
    Status dup = RejectDuplicateKeys(root, "");
    if (!dup.ok()) return InvalidArgument(dup.message().substr(1));  // drop the leading '.'
  }
  SS_RETURN_IF_ERROR(CheckKeys(
      root, "", {"state_dir", "agent", "alerts", "connections", "pipelines", "$comment"}));

  Config cfg;
  const json::Value* sd = root.Find("state_dir");
  SS_RETURN_IF_ERROR(RequireType(sd, json::Type::kString, "state_dir"));
  {
    json::Value expanded = *sd;
    SS_RETURN_IF_ERROR(ExpandEnv(&expanded, "state_dir", getenv_fn));
    cfg.state_dir = expanded.text();
    if (cfg.state_dir.empty()) return PathError("state_dir", "must not be empty");
    if (cfg.state_dir[0] != '/' && !base_dir.empty())
      cfg.state_dir = base_dir + "/" + cfg.state_dir;
  }

  if (const json::Value* av = root.Find("agent")) {
    SS_RETURN_IF_ERROR(RequireType(av, json::Type::kObject, "agent"));
    json::Value expanded = *av;
    SS_RETURN_IF_ERROR(ExpandEnv(&expanded, "agent", getenv_fn));
    SS_ASSIGN_OR_RETURN(cfg.agent, AgentOptionTable().Read(expanded, "agent"));
  }
  if (const json::Value* al = root.Find("alerts")) {
    SS_RETURN_IF_ERROR(RequireType(al, json::Type::kObject, "alerts"));
    json::Value expanded = *al;
    SS_RETURN_IF_ERROR(ExpandEnv(&expanded, "alerts", getenv_fn));
    SS_ASSIGN_OR_RETURN(cfg.alerts, AlertsOptionTable().Read(expanded, "alerts"));
  }
  if (cfg.alerts.status_page_url.empty()) {
    cfg.alerts.status_page_url = "http://" + cfg.agent.listen + "/";
  }

  const json::Value* conns = root.Find("connections");
  SS_RETURN_IF_ERROR(RequireType(conns, json::Type::kObject, "connections"));
  for (const auto& [name, cv] : conns->members()) {
    std::string path = "connections." + name;
    if (!ValidName(name)) return PathError(path, "name must be 1-64 of [A-Za-z0-9_.-]");
    SS_RETURN_IF_ERROR(RequireType(&cv, json::Type::kObject, path));
    const json::Value* type = cv.Find("type");
    SS_RETURN_IF_ERROR(RequireType(type, json::Type::kString, path + ".type"));
    ConnectionConfig c;
    c.name = name;
    c.type = type->text();
    c.path = path;
    c.options = OptionsWithout(cv, {"type"});
    SS_RETURN_IF_ERROR(ExpandEnv(&c.options, path, getenv_fn));
    cfg.connections.emplace(name, std::move(c));
  }

  const json::Value* pipes = root.Find("pipelines");
  SS_RETURN_IF_ERROR(RequireType(pipes, json::Type::kObject, "pipelines"));
  if (pipes->members().empty()) return PathError("pipelines", "at least one pipeline is needed");
  for (const auto& [name, pv] : pipes->members()) {
    std::string path = "pipelines." + name;
    if (!ValidName(name)) return PathError(path, "name must be 1-64 of [A-Za-z0-9_.-]");
    SS_RETURN_IF_ERROR(RequireType(&pv, json::Type::kObject, path));
    SS_RETURN_IF_ERROR(
        CheckKeys(pv, path,
                  {"source", "schedule", "schedule_jitter_s", "hash_exclude", "history_versions",
                   "time_zone", "sinks", "lookups", "description", "$comment"}));
    PipelineConfig p;
    p.name = name;
    p.path = path;

    const json::Value* src = pv.Find("source");
    SS_RETURN_IF_ERROR(RequireType(src, json::Type::kObject, path + ".source"));
    const json::Value* sconn = src->Find("connection");
    SS_RETURN_IF_ERROR(RequireType(sconn, json::Type::kString, path + ".source.connection"));
    const ConnectionConfig* conn = cfg.FindConnection(sconn->text());
    if (conn == nullptr) {
      return PathError(path + ".source.connection", "no connection named '" + sconn->text() + "'");
    }
    p.source.connection = conn->name;
    p.source.type = conn->type;
    p.source.path = path + ".source";
    p.source.options = OptionsWithout(*src, {"connection"});
    SS_RETURN_IF_ERROR(ExpandEnv(&p.source.options, p.source.path, getenv_fn));

    if (const json::Value* tz = pv.Find("time_zone")) {
      SS_RETURN_IF_ERROR(RequireType(tz, json::Type::kString, path + ".time_zone"));
      p.time_zone = tz->text();
    }
    auto tz_minutes = TimeZoneOffsetMinutes(p.time_zone);
    if (!tz_minutes.ok()) return PathError(path + ".time_zone", tz_minutes.status().message());
    if (const json::Value* jit = pv.Find("schedule_jitter_s")) {
      if (!jit->is_number() || !jit->AsInt64(&p.schedule_jitter_s) || p.schedule_jitter_s < 0 ||
          p.schedule_jitter_s > kMaxScheduleJitterS) {
        return PathError(path + ".schedule_jitter_s",
                         "must be an integer from 0 to " + std::to_string(kMaxScheduleJitterS));
      }
    }
    if (const json::Value* hv = pv.Find("history_versions")) {
      if (!hv->is_number() || !hv->AsInt64(&p.history_versions) || p.history_versions < 0 ||
          p.history_versions > kMaxHistoryVersions) {
        return PathError(path + ".history_versions", "must be an integer from 0 (off) to " +
                                                         std::to_string(kMaxHistoryVersions));
      }
    }
    if (const json::Value* sch = pv.Find("schedule")) {
      SS_RETURN_IF_ERROR(RequireType(sch, json::Type::kString, path + ".schedule"));
      p.schedule = sch->text();
      // The jitter does not change which expressions are valid: checked without it.
      auto sched = schedule::Schedule::Parse(p.schedule, *tz_minutes);
      if (!sched.ok()) return PathError(path + ".schedule", sched.status().message());
    }
    if (const json::Value* he = pv.Find("hash_exclude")) {
      SS_RETURN_IF_ERROR(RequireType(he, json::Type::kArray, path + ".hash_exclude"));
      for (size_t i = 0; i < he->items().size(); ++i) {
        const auto& item = he->items()[i];
        SS_RETURN_IF_ERROR(RequireType(&item, json::Type::kString,
                                       path + ".hash_exclude[" + std::to_string(i) + "]"));
        p.hash_exclude.push_back(item.text());
      }
    }

    if (const json::Value* lk = pv.Find("lookups")) {
      SS_RETURN_IF_ERROR(RequireType(lk, json::Type::kObject, path + ".lookups"));
      for (const auto& [table, entries] : lk->members()) {
        std::string tpath = path + ".lookups." + table;
        SS_RETURN_IF_ERROR(RequireType(&entries, json::Type::kObject, tpath));
        for (const auto& [code, label] : entries.members()) {
          if (!label.is_string() && !label.is_number()) {
            return PathError(tpath + "." + code, "must be a string or a number");
          }
          p.lookups[table][code] = label.text();
        }
      }
    }

    const json::Value* sinks = pv.Find("sinks");
    SS_RETURN_IF_ERROR(RequireType(sinks, json::Type::kObject, path + ".sinks"));
    if (sinks->members().empty()) return PathError(path + ".sinks", "at least one sink is needed");
    for (const auto& [sname, sv] : sinks->members()) {
      std::string spath = path + ".sinks." + sname;
      if (!ValidName(sname)) return PathError(spath, "name must be 1-64 of [A-Za-z0-9_.-]");
      SS_RETURN_IF_ERROR(RequireType(&sv, json::Type::kObject, spath));
      SinkConfig s;
      s.name = sname;
      s.path = spath;
      const json::Value* sc = sv.Find("connection");
      SS_RETURN_IF_ERROR(RequireType(sc, json::Type::kString, spath + ".connection"));
      const ConnectionConfig* sconn2 = cfg.FindConnection(sc->text());
      if (sconn2 == nullptr) {
        return PathError(spath + ".connection", "no connection named '" + sc->text() + "'");
      }
      s.connection = sconn2->name;
      s.type = sconn2->type;
      if (const json::Value* st = sv.Find("type")) {
        SS_RETURN_IF_ERROR(RequireType(st, json::Type::kString, spath + ".type"));
        s.type = st->text();
      }
      s.options = OptionsWithout(sv, {"connection", "type"});
      SS_RETURN_IF_ERROR(ExpandEnv(&s.options, spath, getenv_fn));
      p.sinks.push_back(std::move(s));
    }
    cfg.pipelines.push_back(std::move(p));
  }
  return cfg;
}

Result<Config> LoadFile(const std::string& file) {
  // Bounded read: a config is small, and `--config /dev/zero` (or a FIFO nobody closes) must
  // not read until memory runs out.
  std::ifstream in(file, std::ios::binary);
  if (!in) return InvalidArgument("cannot read config file " + file);
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxConfigBytes) {
      return InvalidArgument(file + ": config file larger than " +
                             std::to_string(kMaxConfigBytes >> 20) + " MiB");
    }
  }
  if (in.bad()) return InvalidArgument("cannot read config file " + file);
  std::string base = ".";
  size_t slash = file.rfind('/');
  if (slash != std::string::npos) base = file.substr(0, slash == 0 ? 1 : slash);
  auto cfg = LoadString(text, base);
  if (!cfg.ok()) return cfg.status().WithContext(file);
  cfg->file = file;
  return cfg;
}

// ---- OptionReader ----

std::string FormatNumber(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", x);
  return buf;
}

Status OptionReader::Validate(const std::vector<OptionSpec>& specs) const {
  for (const auto& m : options_.members()) {
    if (m.first == "$comment" || m.first == "description") continue;
    bool known = false;
    for (const auto& s : specs) known = known || s.name == m.first;
    if (!known) {
      std::string names;
      for (const auto& s : specs) names += (names.empty() ? "" : ", ") + std::string(s.name);
      return PathError(path_ + "." + m.first, "unknown option (known: " + names + ")");
    }
  }
  for (const auto& s : specs) {
    const json::Value* v = options_.Find(s.name);
    std::string p = path_ + "." + std::string(s.name);
    if (v == nullptr) {
      if (s.required) return PathError(p, "missing");
      continue;
    }
    bool ok = true;
    switch (s.type) {
      case OptionType::kString:
        ok = v->is_string();
        break;
      // Numbers may also come as strings: "${PORT}" expands to one.
      case OptionType::kInt: {
        int64_t x;
        ok = (v->is_number() || v->is_string()) && v->AsInt64(&x);
        if (!ok && (v->is_number() || v->is_string()) && !v->text().empty() &&
            v->text().find_first_not_of("-0123456789") == std::string::npos) {
          return PathError(p, "integer out of range");
        }
        break;
      }
      case OptionType::kNumber: {
        // A finite number: "nan" and "inf" parse with strtod but disable every bound check.
        char* end = nullptr;
        double x = 0;
        ok = (v->is_number() || v->is_string()) && !v->text().empty() &&
             (x = std::strtod(v->text().c_str(), &end), end && *end == '\0') && std::isfinite(x);
        break;
      }
      case OptionType::kBool:
        ok = v->is_bool();
        break;
      case OptionType::kStringList: {
        ok = v->is_array();
        if (ok) {
          for (const auto& it : v->items()) ok = ok && it.is_string();
        }
        break;
      }
      case OptionType::kObject:
        ok = v->is_object();
        break;
      case OptionType::kAny:
        break;
    }
    if (!ok) {
      static const char* kNames[] = {"a string",          "an integer", "a number", "a boolean",
                                     "a list of strings", "an object",  "any"};
      return PathError(p, std::string("must be ") + kNames[static_cast<int>(s.type)] + ", got " +
                              TypeName(v->type()));
    }
    if (s.required && v->is_string() && v->text().empty()) return PathError(p, "must not be empty");
  }
  return Status::Ok();
}

std::string OptionReader::String(std::string_view name, std::string_view def) const {
  const json::Value* v = options_.Find(name);
  return v && v->is_string() ? v->text() : std::string(def);
}
int64_t OptionReader::Int(std::string_view name, int64_t def) const {
  const json::Value* v = options_.Find(name);
  int64_t x;
  return v && v->AsInt64(&x) ? x : def;
}
double OptionReader::Number(std::string_view name, double def) const {
  const json::Value* v = options_.Find(name);
  if (!v || !(v->is_number() || v->is_string())) return def;
  return std::strtod(v->text().c_str(), nullptr);
}
Result<int64_t> OptionReader::IntIn(std::string_view name, int64_t def, int64_t lo,
                                    int64_t hi) const {
  const int64_t x = Int(name, def);
  if (x < lo || x > hi) {
    return PathError(PathOf(name),
                     "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
  }
  return x;
}
Result<double> OptionReader::NumberIn(std::string_view name, double def, double lo,
                                      double hi) const {
  const double x = Number(name, def);
  if (!std::isfinite(x) || x < lo || x > hi) {
    char range[80];
    std::snprintf(range, sizeof range, "must be a number from %g to %g", lo, hi);
    return PathError(PathOf(name), range);
  }
  return x;
}
bool OptionReader::Bool(std::string_view name, bool def) const {
  const json::Value* v = options_.Find(name);
  return v && v->is_bool() ? v->bool_value() : def;
}
std::vector<std::string> OptionReader::StringList(std::string_view name) const {
  std::vector<std::string> out;
  const json::Value* v = options_.Find(name);
  if (v && v->is_array()) {
    for (const auto& it : v->items()) {
      if (it.is_string()) out.push_back(it.text());
    }
  }
  return out;
}

}  // namespace stagesync::config
