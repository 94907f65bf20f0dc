// The source registry: connection type -> connector. Adding a vendor adds one branch here.
#include "connectors/dingtalk/dingtalk_source.h"
#include "connectors/kingdee/kingdee_source.h"
#include "connectors/kuaimai/kuaimai_source.h"
#include "connectors/okki/okki_source.h"
#include "stagesync/source.h"

namespace stagesync::source {

Status CheckSource(const config::Config& cfg, const config::PipelineConfig& p) {
  const config::ConnectionConfig* conn = cfg.FindConnection(p.source.connection);
  if (conn == nullptr) return InvalidArgument(p.source.path + ".connection: unknown connection");
  if (conn->type == "dingtalk") {
    SS_RETURN_IF_ERROR(connectors::dingtalk::ReadClientOptions(*conn).status());
    return dingtalk::ReadSourceOptions(p.source, p.time_zone).status();
  }
  if (conn->type == "kingdee") {
    SS_RETURN_IF_ERROR(connectors::kingdee::ReadClientOptions(*conn).status());
    return kingdee::ReadSourceOptions(p).status();
  }
  if (conn->type == "kuaimai") {
    SS_RETURN_IF_ERROR(connectors::kuaimai::ReadClientOptions(*conn).status());
    return kuaimai::ReadSourceOptions(p.source, p.time_zone).status();
  }
  if (conn->type == "okki") {
    SS_RETURN_IF_ERROR(connectors::okki::ReadClientOptions(*conn).status());
    return okki::ReadSourceOptions(p).status();
  }
  return InvalidArgument(conn->path + ".type: unknown source type '" + conn->type + "'");
}

Status CheckVendorLogin(const config::ConnectionConfig& conn, HttpClient* http, Clock* clock,
                        const std::string& kuaimai_method) {
  Status err;
  if (conn.type == "dingtalk") {
    auto client = connectors::dingtalk::ClientFor(conn, http, clock, &err);
    if (client == nullptr) return err;
    return client->Token(/*force_refresh=*/true, "").status();
  }
  if (conn.type == "yida") {
    // Yida takes a DingTalk oapi token of the same app (token_url, else base_url).
    config::OptionReader r(conn.options, conn.path);
    config::ConnectionConfig token_conn;
    token_conn.name = conn.name + "#token";
    token_conn.type = "dingtalk";
    token_conn.path = conn.path;
    token_conn.options = json::Value::Object();
    std::string url = r.String("token_url", r.String("base_url"));
    while (!url.empty() && url.back() == '/') url.pop_back();
    token_conn.options.Add("base_url", json::Value::String(url));
    token_conn.options.Add("app_key", json::Value::String(r.String("app_key")));
    token_conn.options.Add("app_secret", json::Value::String(r.String("app_secret")));
    auto client = connectors::dingtalk::ClientFor(token_conn, http, clock, &err);
    if (client == nullptr) return err;
    return client->Token(/*force_refresh=*/true, "").status();
  }
  if (conn.type == "kingdee") {
    auto client = connectors::kingdee::ClientFor(conn, http, clock, &err);
    if (client == nullptr) return err;
    return client->CheckLogin();
  }
  if (conn.type == "okki") {
    auto client = connectors::okki::ClientFor(conn, http, clock, &err);
    if (client == nullptr) return err;
    return client->CheckLogin();
  }
  if (conn.type == "kuaimai") {
    auto client = connectors::kuaimai::ClientFor(conn, http, clock, &err);
    if (client == nullptr) return err;
    // A closed minute an hour ago: one small page, whatever the data.
    const int64_t end = clock->NowMillis() / 60000 * 60000 - 3600000;
    connectors::kuaimai::Params p = {{"pageNo", "1"},
                                 {"pageSize", "1"},
                                 {"startModified", connectors::kuaimai::FormatBeijingTime(end - 60000)},
                                 {"endModified", connectors::kuaimai::FormatBeijingTime(end)}};
    return client->Probe(kuaimai_method, p);
  }
  return FailedPrecondition(conn.path + ": no vendor login to check for type '" + conn.type + "'");
}

Result<std::unique_ptr<Source>> MakeSource(const config::Config& cfg,
                                           const config::PipelineConfig& p,
                                           const SourceDeps& deps) {
  SS_RETURN_IF_ERROR(CheckSource(cfg, p));
  const config::ConnectionConfig* conn = cfg.FindConnection(p.source.connection);
  Status err;
  if (conn->type == "dingtalk") {
    auto client = connectors::dingtalk::ClientFor(*conn, deps.http, deps.clock, &err);
    if (client == nullptr) return err;
    SS_ASSIGN_OR_RETURN(auto opts, dingtalk::ReadSourceOptions(p.source, p.time_zone));
    return std::unique_ptr<Source>(
        new dingtalk::DingTalkSource(p.name, std::move(opts), std::move(client), deps.clock));
  }
  if (conn->type == "kingdee") {
    auto client = connectors::kingdee::ClientFor(*conn, deps.http, deps.clock, &err);
    if (client == nullptr) return err;
    SS_ASSIGN_OR_RETURN(auto opts, kingdee::ReadSourceOptions(p));
    return std::unique_ptr<Source>(
        new kingdee::KingdeeSource(p.name, std::move(opts), std::move(client), deps));
  }
  if (conn->type == "kuaimai") {
    auto client = connectors::kuaimai::ClientFor(*conn, deps.http, deps.clock, &err);
    if (client == nullptr) return err;
    SS_ASSIGN_OR_RETURN(auto opts, kuaimai::ReadSourceOptions(p.source, p.time_zone));
    return std::unique_ptr<Source>(
        new kuaimai::KuaimaiSource(p.name, std::move(opts), std::move(client), deps));
  }
  if (conn->type == "okki") {
    auto client = connectors::okki::ClientFor(*conn, deps.http, deps.clock, &err);
    if (client == nullptr) return err;
    SS_ASSIGN_OR_RETURN(auto opts, okki::ReadSourceOptions(p));
    return std::unique_ptr<Source>(
        new okki::OkkiSource(p.name, std::move(opts), std::move(client), deps.clock));
  }
  return InvalidArgument(conn->path + ".type: unknown source type '" + conn->type + "'");
}

}  // namespace stagesync::source
