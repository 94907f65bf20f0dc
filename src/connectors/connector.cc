// The engine's entry points over the registry: find the connector, check the connection type
// once, hand the factory its context.
#include "connectors/connector.h"

#include <fmt/format.h>

#include "connectors/common/api_endpoint.h"

namespace stagesync {

Runtime::Runtime(RuntimeOptions opts)
    : clock_(opts.clock != nullptr ? opts.clock : Clock::Real()),
      http_(opts.http),
      connect_sql_(opts.connect_sql ? std::move(opts.connect_sql) : SqlConnector(ConnectMySql)),
      notice_(std::move(opts.notice)),
      connections_(std::make_unique<connectors::Connections>(this)) {
  if (http_ == nullptr) {
    own_http_ = NewCurlHttpClient();
    http_ = own_http_.get();
  }
}

Runtime::~Runtime() = default;

namespace connectors {
namespace {

const Connector* ConnectorOf(std::string_view type) {
  for (const Connector* c : Registry()) {
    if (c->type == type) return c;
  }
  return nullptr;
}

Result<const config::ConnectionConfig*> ConnectionOf(const config::Config& cfg,
                                                     const std::string& name,
                                                     const std::string& path,
                                                     const Connector** connector) {
  const config::ConnectionConfig* conn = cfg.FindConnection(name);
  if (conn == nullptr) return InvalidArgument(path + ".connection: unknown connection");
  *connector = ConnectorOf(conn->type);
  if (*connector == nullptr) {
    return InvalidArgument(conn->path + ".type: unknown connection type '" + conn->type + "'");
  }
  return conn;
}

// The sink type `s` names and the connection it writes through, which must be of the type
// the sink's connector serves.
Result<const SinkType*> SinkOf(const config::Config* cfg, const config::SinkConfig& s,
                               const config::ConnectionConfig** conn) {
  for (const Connector* c : Registry()) {
    for (const SinkType& t : c->sinks) {
      if (t.type != s.type) continue;
      if (cfg != nullptr) {
        const Connector* owner = nullptr;
        SS_ASSIGN_OR_RETURN(*conn, ConnectionOf(*cfg, s.connection, s.path, &owner));
        if (owner != c) {
          return InvalidArgument(fmt::format("{}.connection: '{}' is a {} connection, not {}",
                                             s.path, (*conn)->name, (*conn)->type, c->type));
        }
        SS_RETURN_IF_ERROR(c->check_connection(**conn));
      }
      return &t;
    }
  }
  return InvalidArgument(s.path + ".type: unknown sink type '" + s.type + "'");
}

}  // namespace

// The connection's daily quota (null without one), its count kept in the Runtime's staging log
// (in memory only when there is none).
std::shared_ptr<DailyQuota> Connections::QuotaOf(const std::string& name, const QuotaOptions& q) {
  if (q.daily_quota <= 0) return nullptr;
  stage::StagingLog* log = rt_->staging();
  DailyQuota::Load load = [] { return Result<std::string>(std::string()); };
  DailyQuota::Save save = [](const std::string&) { return Status::Ok(); };
  if (log != nullptr) {
    load = [log, name] { return log->GetQuota(name); };
    save = [log, name](const std::string& v) { return log->PutQuota(name, v); };
  }
  return std::make_shared<DailyQuota>(name, q.daily_quota, q.tz_offset_minutes, rt_->clock(),
                                      std::move(load), std::move(save));
}

Result<std::shared_ptr<Client>> Connections::Get(const config::ConnectionConfig& conn) {
  const std::string options = json::Serialize(conn.options);
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = clients_[conn.name];
  if (slot.second != nullptr && slot.first == options) return slot.second;
  const Connector* c = ConnectorOf(conn.type);
  if (c == nullptr) {
    return InvalidArgument(conn.path + ".type: unknown connection type '" + conn.type + "'");
  }
  SS_ASSIGN_OR_RETURN(std::shared_ptr<Client> client, c->make_client(conn, *rt_));
  if (ApiEndpoint* ep = client->endpoint()) {
    ep->set_stop(rt_->stop_flag());
    ep->set_telemetry(rt_->telemetry(), conn.name);
    ep->set_quota(QuotaOf(conn.name, ep->options().quota));
  }
  slot = {options, client};
  return client;
}

std::vector<std::pair<std::string, std::shared_ptr<Client>>> Connections::All() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<std::string, std::shared_ptr<Client>>> out;
  for (const auto& [name, slot] : clients_) out.emplace_back(name, slot.second);
  return out;
}

Result<std::unique_ptr<sink::Sink>> IntentSinkFor(const Context& ctx, const config::SinkConfig& s,
                                                  stage::StagingLog* log,
                                                  std::unique_ptr<sink::Target> target) {
  if (log == nullptr) return Internal(s.path + ": HTTP sinks need the staging log");
  auto sink = std::make_unique<sink::IntentSink>(ctx.pipeline.name, s.name, std::move(target), log,
                                                 ctx.rt.clock(), sink::IntentSinkOptions{});
  if (ctx.rt.notice()) sink->set_notice(ctx.rt.notice());
  return std::unique_ptr<sink::Sink>(std::move(sink));
}

Status CheckSource(const config::Config& cfg, const config::PipelineConfig& p) {
  const Connector* c = nullptr;
  SS_ASSIGN_OR_RETURN(const config::ConnectionConfig* conn,
                      ConnectionOf(cfg, p.source.connection, p.source.path, &c));
  if (c->make_source == nullptr) {
    return InvalidArgument(fmt::format("{}.connection: a {} connection cannot be a source",
                                       p.source.path, conn->type));
  }
  SS_RETURN_IF_ERROR(c->check_connection(*conn));
  return c->check_source(p);
}

Result<std::unique_ptr<source::Source>> MakeSource(const config::Config& cfg,
                                                   const config::PipelineConfig& p, Runtime& rt,
                                                   source::SourceState state) {
  SS_RETURN_IF_ERROR(CheckSource(cfg, p));
  const config::ConnectionConfig* conn = cfg.FindConnection(p.source.connection);
  return ConnectorOf(conn->type)->make_source(Context{cfg, p, *conn, rt}, std::move(state));
}

Status CheckSink(const config::Config& cfg, const config::PipelineConfig& p,
                 const config::SinkConfig& s, Runtime* rt) {
  const config::ConnectionConfig* conn = nullptr;
  SS_ASSIGN_OR_RETURN(const SinkType* t, SinkOf(&cfg, s, &conn));
  SS_RETURN_IF_ERROR(t->check(p, s));
  if (rt == nullptr || t->check_target == nullptr) return Status::Ok();
  return t->check_target(Context{cfg, p, *conn, *rt}, s);
}

Status CheckAll(const config::Config& cfg) {
  for (const auto& p : cfg.pipelines) {
    Status s = CheckSource(cfg, p);
    if (!s.ok() && s.code() != StatusCode::kFailedPrecondition) return s;
    for (const auto& sink : p.sinks) {
      Status ss = CheckSink(cfg, p, sink);
      if (!ss.ok() && ss.code() != StatusCode::kFailedPrecondition) return ss;
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<sink::Sink>> MakeSink(const config::Config& cfg,
                                             const config::PipelineConfig& p,
                                             const config::SinkConfig& s, Runtime& rt,
                                             stage::StagingLog* log) {
  SS_RETURN_IF_ERROR(CheckSink(cfg, p, s));
  const config::ConnectionConfig* conn = nullptr;
  SS_ASSIGN_OR_RETURN(const SinkType* t, SinkOf(&cfg, s, &conn));
  return t->make(Context{cfg, p, *conn, rt}, s, log);
}

Result<std::unique_ptr<sink::Target>> MakeTarget(const config::Config& cfg,
                                                 const config::PipelineConfig& p,
                                                 const config::SinkConfig& s, Runtime& rt) {
  SS_RETURN_IF_ERROR(CheckSink(cfg, p, s));
  const config::ConnectionConfig* conn = nullptr;
  SS_ASSIGN_OR_RETURN(const SinkType* t, SinkOf(&cfg, s, &conn));
  if (t->make_target == nullptr) {
    return FailedPrecondition(s.path + ": the '" + s.type + "' sink has no HTTP target");
  }
  return t->make_target(Context{cfg, p, *conn, rt}, s);
}

Result<transform::MappingSpec> SinkMapping(const config::PipelineConfig& p,
                                           const config::SinkConfig& s) {
  const config::ConnectionConfig* conn = nullptr;
  auto t = SinkOf(nullptr, s, &conn);
  if (!t.ok() || (*t)->mapping == nullptr) {
    return FailedPrecondition(s.path + ": the '" + s.type + "' sink has no mapping");
  }
  return (*t)->mapping(p, s);
}

Status CheckLogin(const config::ConnectionConfig& conn,
                  const std::vector<const config::PipelineConfig*>& users, Runtime& rt) {
  SS_ASSIGN_OR_RETURN(std::shared_ptr<Client> client, rt.connections().Get(conn));
  return client->CheckLogin(users);
}

std::string HelpConfig() {
  static const char* kTypes[] = {"string", "int", "number", "bool", "string list", "object", "any"};
  std::string out;
  auto table = [&](const std::string& title, OptionTableFn fn) {
    if (fn == nullptr) return;
    out += "\n  " + title + "\n";
    for (const config::OptionSpec& o : fn()) {
      std::string def = o.required ? "required" : "default: " + o.default_text;
      if (!o.range.empty()) def += ", range " + o.range;
      out += fmt::format("    {:<22} {:<11} {}\n", o.name, kTypes[static_cast<int>(o.type)], def);
      out += fmt::format("    {:<22} {}\n", "", o.help);
    }
  };
  out += "\nagent: how `stagesync run` serves the pipelines\n";
  table("agent", []() -> const std::vector<config::OptionSpec>& {
    return config::AgentOptionTable().specs();
  });
  out += "\nalerts: messages the agent sends when a condition starts and clears (doc/alerts.md)\n";
  table("alerts", []() -> const std::vector<config::OptionSpec>& {
    return config::AlertsOptionTable().specs();
  });
  for (const Connector* c : Registry()) {
    out += fmt::format("\n{}: {}\n", c->type, c->about);
    table(fmt::format("connections.NAME (\"type\": \"{}\")", c->type), c->connection_options);
    table("pipelines.NAME.source", c->source_options);
    for (const SinkType& t : c->sinks) {
      table(fmt::format("pipelines.NAME.sinks[] (\"type\": \"{}\"): {}", t.type, t.about),
            t.options);
    }
  }
  return out;
}

}  // namespace connectors
}  // namespace stagesync
