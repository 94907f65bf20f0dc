// The source registry: connection type -> connector. Adding a vendor adds one line here.
#include "source/dingtalk/dingtalk_source.h"
#include "stagesync/source.h"

namespace stagesync::source {

namespace {

// Vendors described in the seeds whose connectors are not built yet.
bool IsPlannedType(std::string_view t) { return t == "kingdee" || t == "kuaimai" || t == "okki"; }

}  // namespace

Status CheckSource(const config::Config& cfg, const config::PipelineConfig& p) {
  const config::ConnectionConfig* conn = cfg.FindConnection(p.source.connection);
  if (conn == nullptr) return InvalidArgument(p.source.path + ".connection: unknown connection");
  if (conn->type == "dingtalk") {
    SS_RETURN_IF_ERROR(vendor::dingtalk::ReadClientOptions(*conn).status());
    return dingtalk::ReadSourceOptions(p.source).status();
  }
  if (IsPlannedType(conn->type)) {
    return Status(
        StatusCode::kFailedPrecondition,
        conn->path + ".type: the '" + conn->type + "' source is not implemented in this build yet");
  }
  return InvalidArgument(conn->path + ".type: unknown source type '" + conn->type + "'");
}

Result<std::unique_ptr<Source>> MakeSource(const config::Config& cfg,
                                           const config::PipelineConfig& p,
                                           const SourceDeps& deps) {
  SS_RETURN_IF_ERROR(CheckSource(cfg, p));
  const config::ConnectionConfig* conn = cfg.FindConnection(p.source.connection);
  if (conn->type == "dingtalk") {
    Status err;
    auto client = vendor::dingtalk::ClientFor(*conn, deps.http, deps.clock, &err);
    if (client == nullptr) return err;
    SS_ASSIGN_OR_RETURN(auto opts, dingtalk::ReadSourceOptions(p.source));
    return std::unique_ptr<Source>(
        new dingtalk::DingTalkSource(p.name, std::move(opts), std::move(client), deps.clock));
  }
  return InvalidArgument(conn->path + ".type: unknown source type '" + conn->type + "'");
}

}  // namespace stagesync::source
