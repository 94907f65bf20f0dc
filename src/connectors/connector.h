// Connector: what one vendor or target folder (src/connectors/<name>/) exports, as a
// descriptor: its connection type, option tables, how to build the connection's client, and
// optionally a source and sinks. src/connectors/registry.cc lists the descriptors; the
// functions below are the only way the engine (fetch, apply, cli) reaches a connector, so
// nothing outside a connector's folder names a vendor. Descriptors are constant; Connections
// is thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/common/client.h"
#include "connectors/common/daily_quota.h"
#include "connectors/common/intent_sink.h"
#include "stagesync/config.h"
#include "stagesync/runtime.h"
#include "stagesync/sink.h"
#include "stagesync/source.h"
#include "stagesync/stage.h"
#include "stagesync/transform.h"

namespace stagesync::connectors {

// Everything a factory gets; `log` is set for sinks (HTTP sinks keep intents in staging).
struct Context {
  const config::Config& cfg;
  const config::PipelineConfig& pipeline;
  const config::ConnectionConfig& connection;
  Runtime& rt;
};

using OptionTableFn = const std::vector<config::OptionSpec>& (*)();
// The OptionTableFn of a typed table: `.source_options = SpecsOf<SourceOptionTable>`.
template <auto Table>
const std::vector<config::OptionSpec>& SpecsOf() {
  return Table().specs();
}

struct SinkType {
  std::string_view type;  // the sink's "type" in the config
  std::string_view about;
  OptionTableFn options;
  // Checks the sink's options and mapping without touching the target.
  Status (*check)(const config::PipelineConfig& p, const config::SinkConfig& s);
  // The mapping it writes with (for `stagesync map`).
  Result<transform::MappingSpec> (*mapping)(const config::PipelineConfig& p,
                                            const config::SinkConfig& s);
  Result<std::unique_ptr<sink::Sink>> (*make)(const Context& ctx, const config::SinkConfig& s,
                                              stage::StagingLog* log);
  // Optional: `check` with the target reachable (e.g. the table matches the mapping).
  Status (*check_target)(const Context& ctx, const config::SinkConfig& s) = nullptr;
  // HTTP sinks: the target behind the intent protocol (`make` wraps it), which the audit asks
  // through its read-only hooks (sink::Target::FindAll, ScanAll).
  Result<std::unique_ptr<sink::Target>> (*make_target)(const Context& ctx,
                                                       const config::SinkConfig& s) = nullptr;
};

struct Connector {
  std::string_view type;  // the connection's "type" in the config
  std::string_view about;
  OptionTableFn connection_options;
  Status (*check_connection)(const config::ConnectionConfig& c);
  Result<std::shared_ptr<Client>> (*make_client)(const config::ConnectionConfig& c, Runtime& rt);
  // Source, when the connector reads records (null otherwise).
  OptionTableFn source_options = nullptr;
  Status (*check_source)(const config::PipelineConfig& p) = nullptr;
  Result<std::unique_ptr<source::Source>> (*make_source)(const Context& ctx,
                                                         source::SourceState state) = nullptr;
  std::vector<SinkType> sinks = {};
};

// Wraps an HTTP target (Kingdee Push, Yida) in the intent protocol, whose intents and outcomes
// live in staging; operator notices go to the Runtime's.
Result<std::unique_ptr<sink::Sink>> IntentSinkFor(const Context& ctx, const config::SinkConfig& s,
                                                  stage::StagingLog* log,
                                                  std::unique_ptr<sink::Target> target);

// The usual connection hooks of a vendor whose client C is built from options read by `Read`:
// `.check_connection = CheckWith<ReadClientOptions>, .make_client = ClientOf<C,
// ReadClientOptions>`.
template <auto Read>
Status CheckWith(const config::ConnectionConfig& c) {
  return Read(c).status();
}
template <class C, auto Read>
Result<std::shared_ptr<Client>> ClientOf(const config::ConnectionConfig& c, Runtime& rt) {
  SS_ASSIGN_OR_RETURN(auto opts, Read(c));
  return std::shared_ptr<Client>(std::make_shared<C>(std::move(opts), rt.http(), rt.clock()));
}

// Every connector, in registry order (registry.cc).
const std::vector<const Connector*>& Registry();

// Builds each connection's client once (keyed by name and options, so a reloaded connection
// with new options gets a new client) and hands it to every caller. Owned by the Runtime.
class Connections {
 public:
  explicit Connections(Runtime* rt) : rt_(rt) {}
  Result<std::shared_ptr<Client>> Get(const config::ConnectionConfig& conn);
  // The client as the type its connector builds; Internal if it is another.
  template <class C>
  Result<std::shared_ptr<C>> Get(const config::ConnectionConfig& conn) {
    SS_ASSIGN_OR_RETURN(std::shared_ptr<Client> c, Get(conn));
    auto typed = std::dynamic_pointer_cast<C>(c);
    if (typed == nullptr) return Internal(conn.path + ": client of an unexpected type");
    return typed;
  }
  // Every client built so far, by connection name (the agent and metrics walk them).
  std::vector<std::pair<std::string, std::shared_ptr<Client>>> All() const;

 private:
  std::shared_ptr<DailyQuota> QuotaOf(const std::string& name, const QuotaOptions& q);

  Runtime* const rt_;
  mutable std::mutex mu_;
  std::map<std::string, std::pair<std::string, std::shared_ptr<Client>>> clients_;
};

// The engine's entry points. Each names the JSON path of what is wrong.
Status CheckSource(const config::Config& cfg, const config::PipelineConfig& p);
Result<std::unique_ptr<source::Source>> MakeSource(const config::Config& cfg,
                                                   const config::PipelineConfig& p, Runtime& rt,
                                                   source::SourceState state = {});
// `rt` non-null also checks the target itself where the sink can (`check --connect`).
Status CheckSink(const config::Config& cfg, const config::PipelineConfig& p,
                 const config::SinkConfig& s, Runtime* rt = nullptr);
Result<std::unique_ptr<sink::Sink>> MakeSink(const config::Config& cfg,
                                             const config::PipelineConfig& p,
                                             const config::SinkConfig& s, Runtime& rt,
                                             stage::StagingLog* log);
// The target of an HTTP sink (for stagesync-audit); FailedPrecondition for sinks without one
// (MySQL: the audit reads its table).
Result<std::unique_ptr<sink::Target>> MakeTarget(const config::Config& cfg,
                                                 const config::PipelineConfig& p,
                                                 const config::SinkConfig& s, Runtime& rt);
// Every pipeline's source and every sink (options, mappings, connections), before any work: a
// broken second sink fails a command (or a reload) before the fetch or the first sink runs.
// FailedPrecondition (a warning) does not count as broken.
Status CheckAll(const config::Config& cfg);
// FailedPrecondition for sinks without a mapping.
Result<transform::MappingSpec> SinkMapping(const config::PipelineConfig& p,
                                           const config::SinkConfig& s);
// Logs in to `conn` once; FailedPrecondition when its connector has no login to check.
Status CheckLogin(const config::ConnectionConfig& conn,
                  const std::vector<const config::PipelineConfig*>& users, Runtime& rt);
// Every option of every connector, for `stagesync --help-config`.
std::string HelpConfig();

}  // namespace stagesync::connectors
