#include "connectors/yida/yida_sink.h"

#include <fmt/format.h>

#include <set>

#include "connectors/common/api_endpoint.h"
#include "connectors/dingtalk/dingtalk_client.h"

namespace stagesync::sink::yida {

namespace {

// Defaults, ranges and help in SinkTable() / ConnTable().
struct Options {
  std::string app_type;
  std::string system_token;  // from ${ENV}; never logged
  std::string user_id;
  std::string language;
  std::string form_uuid;
  std::string process_code;
  std::string source_id_field;
  std::string on_delete;  // ignore | terminate | delete
  int64_t search_lag_ms = 0;
  size_t batch_rows = 0;
  transform::MappingSpec mapping;
};

struct ConnOptions {
  std::string base_url;   // v1.0 API host
  std::string token_url;  // oapi host for gettoken; "" = base_url
  std::string app_key;
  std::string app_secret;
  double qps = 0;
  RetryPolicy retry;
  connectors::QuotaOptions quota;
};

Status ReadFields(const config::OptionReader& r, Options* o) {
  for (const auto& [component, v] : r.Get("fields")->members()) {
    if (!v.is_string()) {
      return InvalidArgument(r.PathOf("fields") + "." + component + ": must be a template string");
    }
    if (component == o->source_id_field) {
      return InvalidArgument(r.PathOf("fields") + "." + component +
                             ": is the source_id_field, which the sink fills itself");
    }
    o->mapping.columns.emplace_back(component, v.text());
  }
  if (o->mapping.columns.empty()) return InvalidArgument(r.PathOf("fields") + ": no fields");
  o->mapping.where = r.String("where");
  return Status::Ok();
}

const config::OptionTable<Options>& SinkTable() {
  using O = Options;
  static const config::OptionTable<O> kTable =
      config::OptionTable<O>()
          .Required("app_type", &O::app_type, "APP_...")
          .Required("system_token", &O::system_token, "the app's systemToken; ${ENV}")
          .Required("user_id", &O::user_id, "the userId the instances start as")
          .OneOf("language", &O::language, "zh_CN", {"zh_CN", "en_US"}, "form language")
          .Required("form_uuid", &O::form_uuid, "FORM-...")
          .Required("process_code", &O::process_code, "TPROC--...")
          .Required("source_id_field", &O::source_id_field,
                    "form component that holds the source id (used to find an instance again)")
          .Custom("fields", config::OptionType::kObject, true, "", "component id -> template",
                  ReadFields)
          .Custom("where", config::OptionType::kString, false, "", "records this sink receives",
                  nullptr)
          .OneOf("on_delete", &O::on_delete, "ignore", {"ignore", "terminate", "delete"},
                 "what a deletion at the source does")
          .Int("search_lag_ms", &O::search_lag_ms, 2000, 0, 600000,
               "pause before searching again when a fresh instance is not found yet")
          .Int("batch_rows", &O::batch_rows, 50, 1, 1000, "records per batch");
  return kTable;
}

const config::OptionTable<ConnOptions>& ConnTable() {
  using O = ConnOptions;
  static const config::OptionTable<O> kTable =
      config::OptionTable<O>()
          .Required("base_url", &O::base_url, "https://api.dingtalk.com")
          .Str("token_url", &O::token_url, "",
               "oapi host for gettoken, https://oapi.dingtalk.com (\"\" = base_url)")
          .Required("app_key", &O::app_key, "DingTalk app key")
          .Required("app_secret", &O::app_secret, "DingTalk app secret; ${ENV}")
          .Num("qps", &O::qps, 10, config::kMinQps, config::kMaxQps, "requests per second")
          .Include(connectors::RetryOptionTable(200), &O::retry)
          .Include(connectors::QuotaOptionTable(), &O::quota)
          .Check([](const config::OptionReader& r, O* o) -> Status {
            if (o->token_url.empty()) o->token_url = o->base_url;
            for (std::string* u : {&o->base_url, &o->token_url}) {
              while (!u->empty() && u->back() == '/') u->pop_back();
              if (u->rfind("http://", 0) != 0 && u->rfind("https://", 0) != 0) {
                return InvalidArgument(r.path() +
                                       ": base_url and token_url must start with http(s)://");
              }
            }
            o->retry.throttle_base_ms = o->retry.base_ms * 5;
            return Status::Ok();
          });
  return kTable;
}

Result<ConnOptions> ReadConn(const config::ConnectionConfig& c) {
  return ConnTable().Read(c.options, c.path);
}

Result<Options> ReadSink(const config::PipelineConfig& p, const config::SinkConfig& s) {
  Options base;
  base.mapping.lookups = p.lookups;
  base.mapping.time_zone = p.time_zone;
  base.mapping.path = s.path;
  return SinkTable().Read(s.options, s.path, std::move(base));
}

// Yida's answers (doc/vendors/yida.md, "Errors") to Status codes.
Result<json::Value> Classify(const connectors::ApiEndpoint* /*unused*/, const HttpResponse& resp) {
  if (resp.status >= 200 && resp.status < 300) {
    std::string_view b = resp.body;
    while (!b.empty() && (b.front() == ' ' || b.front() == '\n')) b.remove_prefix(1);
    if (b.empty()) return json::Value::Object();
    return connectors::ParseBody(resp);
  }
  SS_RETURN_IF_ERROR(connectors::ClassifyHttpStatus(resp));
  auto body = connectors::ParseBody(resp);
  std::string code, message;
  if (body.ok()) {
    if (auto* c = body->Find("code")) code = c->text();
    if (auto* m = body->Find("message")) message = m->text();
  }
  std::string text = fmt::format("Yida HTTP {} {}: {}", resp.status, code, message);
  if (code == "InvalidAuthentication") return Status(StatusCode::kUnauthenticated, text);
  if (code.rfind("Forbidden.AccessDenied.ApiCountLimit", 0) == 0) {
    return Status(StatusCode::kFailedPrecondition, text + " (API quota exhausted)");
  }
  if (code.rfind("Forbidden.AccessDenied.Qp", 0) == 0) {
    return Status(StatusCode::kResourceExhausted, text);
  }
  if (code == "failure.operation.requestTooFast" || code == "failure.operation.tooManyVisitors") {
    return Status(StatusCode::kResourceExhausted, text).set_retry_after_ms(1000);
  }
  if (code == "invalidState.authorization.invalidAuthorizationInformation" || resp.status == 401 ||
      resp.status == 403) {
    return Status(StatusCode::kPermissionDenied, text);
  }
  // Anything else is about this request's data: the record goes to quarantine.
  return InvalidArgument(text);
}

// The Yida connection: its v1.0 endpoint (rate limit, retries) and the DingTalk oapi token of
// the same app. One per connection, shared by every Yida sink on it.
class YidaClient final : public connectors::Client {
 public:
  YidaClient(ConnOptions c, std::shared_ptr<connectors::dingtalk::DingTalkClient> tokens,
             std::unique_ptr<connectors::ApiEndpoint> api)
      : c_(std::move(c)), tokens_(std::move(tokens)), api_(std::move(api)) {}
  Status CheckLogin(const std::vector<const config::PipelineConfig*>& /*users*/) override {
    return tokens_->Token(/*force_refresh=*/true, "").status();
  }
  connectors::ApiEndpoint* endpoint() override { return api_.get(); }

  const ConnOptions c_;
  const std::shared_ptr<connectors::dingtalk::DingTalkClient> tokens_;
  const std::unique_ptr<connectors::ApiEndpoint> api_;
};

class YidaTarget final : public Target {
 public:
  YidaTarget(std::string sink_path, Options o, transform::Mapping mapping,
             std::shared_ptr<YidaClient> client, Clock* clock)
      : path_(std::move(sink_path)),
        o_(std::move(o)),
        mapping_(std::move(mapping)),
        client_(std::move(client)),
        c_(client_->c_),
        tokens_(client_->tokens_.get()),
        api_(client_->api_.get()),
        clock_(clock) {}

  Status Prepare(const stage::StagedRecord& r, std::string* payload,
                 transform::MapVerdict* verdict) override {
    auto v = json::Parse(r.raw);
    if (!v.ok()) return v.status();
    std::vector<transform::MappedRow> rows;
    transform::Variables vars = {{"CURRENT_TIME", std::to_string(clock_->NowMicros() / 1000000)}};
    SS_RETURN_IF_ERROR(mapping_.Map(*v, &rows, verdict, &vars));
    if (verdict->filtered || rows.empty()) return Status::Ok();
    // formDataJson: component id -> value; numberField/dateField values go as numbers.
    std::string out = "{" + json::Quote(o_.source_id_field) + ":" + json::Quote(r.source_id);
    const auto& cols = mapping_.columns();
    for (size_t i = 0; i < cols.size(); ++i) {
      const auto& cell = rows[0].cells[i];
      out += "," + json::Quote(cols[i]) + ":";
      if (!cell) {
        out += "null";
      } else if ((cols[i].rfind("numberField", 0) == 0 || cols[i].rfind("dateField", 0) == 0) &&
                 IsNumber(*cell)) {
        out += *cell;
      } else {
        out += json::Quote(*cell);
      }
    }
    out += "}";
    *payload = std::move(out);
    return Status::Ok();
  }

  std::vector<CreateResult> Create(const std::vector<TargetItem>& items) override {
    std::vector<CreateResult> out;
    out.reserve(items.size());
    for (const auto& item : items) {
      std::string body = fmt::format(
          "{{\"appType\":{},\"systemToken\":{},\"userId\":{},\"language\":{},\"formUuid\":{},"
          "\"processCode\":{},\"formDataJson\":{}}}",
          json::Quote(o_.app_type), json::Quote(o_.system_token), json::Quote(o_.user_id),
          json::Quote(o_.language), json::Quote(o_.form_uuid), json::Quote(o_.process_code),
          json::Quote(item.payload));
      auto res =
          Send("POST", "/v1.0/yida/processes/instances/start", body,
               "start instance for record " + item.source_id, connectors::Delivery::kAtMostOnce);
      CreateResult cr;
      if (res.ok()) {
        const json::Value* id = res->Find("result");
        if (id != nullptr && id->is_string() && !id->text().empty()) {
          cr.kind = CreateResult::kCreated;
          cr.outcome.target_id = id->text();
        } else {
          cr.kind = CreateResult::kUnknown;  // 200 without an id: ask the form
          cr.message = "start answered without an instance id";
        }
      } else if (res.status().code() == StatusCode::kInvalidArgument) {
        cr.kind = CreateResult::kRejected;
        cr.message = res.status().message();
      } else {
        cr.kind = CreateResult::kUnknown;
        cr.message = res.status().message();
        if (!res.status().IsRetryable() && res.status().code() != StatusCode::kBadReply) {
          // Refused outright (credentials, permission, quota): stop here; the rest were never
          // sent, and the lookups that follow fail the same way and stop the apply.
          while (out.size() + 1 < items.size()) out.push_back(cr);
        }
      }
      out.push_back(std::move(cr));
      if (out.size() == items.size()) break;
    }
    return out;
  }

  Result<std::optional<TargetOutcome>> Lookup(const TargetItem& item) override {
    for (int pass = 0; pass < 2; ++pass) {
      if (pass == 1) clock_->SleepForMicros(o_.search_lag_ms * 1000);
      SS_ASSIGN_OR_RETURN(auto found, Search(item.source_id));
      if (found) return found;
    }
    return std::optional<TargetOutcome>();
  }

  Status OnChange(const TargetItem& item, TargetOutcome* outcome) override {
    std::string body = fmt::format(
        "{{\"processInstanceId\":{},\"appType\":{},\"systemToken\":{},\"userId\":{},"
        "\"language\":{},\"updateFormDataJson\":{}}}",
        json::Quote(outcome->target_id), json::Quote(o_.app_type), json::Quote(o_.system_token),
        json::Quote(o_.user_id), json::Quote(o_.language), json::Quote(item.payload));
    return SendRepeatable("PUT", "/v1.0/yida/processes/instances", body,
                          "update instance " + outcome->target_id + " for record " + item.source_id)
        .status();
  }

  Status OnDelete(const std::string& source_id, TargetOutcome* outcome) override {
    if (o_.on_delete == "ignore") return Status::Ok();
    Status s;
    if (o_.on_delete == "terminate") {
      std::string body = fmt::format(
          "{{\"processInstanceId\":{},\"appType\":{},\"systemToken\":{},\"userId\":{}}}",
          json::Quote(outcome->target_id), json::Quote(o_.app_type), json::Quote(o_.system_token),
          json::Quote(o_.user_id));
      s = SendRepeatable("PUT", "/v1.0/yida/processes/instances/terminate", body,
                         "terminate instance for record " + source_id)
              .status();
    } else {
      std::string q = "?processInstanceId=" + UrlEncode(outcome->target_id) +
                      "&appType=" + UrlEncode(o_.app_type) +
                      "&systemToken=" + UrlEncode(o_.system_token) +
                      "&userId=" + UrlEncode(o_.user_id);
      s = SendRepeatable("DELETE", "/v1.0/yida/processes/instances" + q, "",
                         "delete instance for record " + source_id)
              .status();
    }
    // After a lost reply the retry finds the instance already gone or terminated: done.
    if (s.code() == StatusCode::kInvalidArgument &&
        (s.message().find("dataDoesNotExistOrIsDeleted") != std::string::npos ||
         s.message().find("instanceStatusHasChanged") != std::string::npos)) {
      return Status::Ok();
    }
    return s;
  }

  size_t batch_records() const override { return o_.batch_rows; }
  std::string MappingHash() const override { return mapping_.hash(); }

  std::string ObjectName() const override { return "Yida instance of " + o_.form_uuid; }

  // Every instance whose source-id field is the record's (searched again once after
  // search_lag_ms when none shows yet, as Lookup does).
  Result<std::vector<TargetObject>> FindAll(const TargetItem& item) override {
    std::vector<TargetObject> out;
    for (int pass = 0; pass < 2 && out.empty(); ++pass) {
      if (pass == 1) clock_->SleepForMicros(o_.search_lag_ms * 1000);
      SS_RETURN_IF_ERROR(
          EachInstance(SearchFor(item.source_id), "audit the form for record " + item.source_id, 0,
                       [&](const json::Value& inst, const json::Value& form) {
                         if (form.Find(o_.source_id_field)->text() == item.source_id) {
                           out.push_back(ObjectOf(inst, form));
                         }
                         return false;
                       })
              .status());
    }
    return out;
  }

  // The payload's fields but the source id (FindAll finds by it).
  std::vector<TargetObject::Field> ExpectedFields(const TargetItem& item) const override {
    std::vector<TargetObject::Field> out;
    auto v = json::Parse(item.payload);
    if (!v.ok()) return out;
    for (const auto& [name, value] : v->members()) {
      if (name != o_.source_id_field) out.push_back(TargetObject::FromJson(name, value));
    }
    return out;
  }

  // Every instance on the form that carries a source id, oldest first.
  Status ScanAll(const std::function<Status(const TargetObject&)>& fn) override {
    std::vector<TargetObject> all;
    SS_RETURN_IF_ERROR(EachInstance("", "audit every instance of the form", 0,
                                    [&](const json::Value& inst, const json::Value& form) {
                                      all.push_back(ObjectOf(inst, form));
                                      return false;
                                    })
                           .status());
    for (auto it = all.rbegin(); it != all.rend(); ++it) SS_RETURN_IF_ERROR(fn(*it));
    return Status::Ok();
  }

 private:
  static constexpr int kSearchPageSize = 100;

  static bool IsNumber(const std::string& s) {
    char* end = nullptr;
    std::strtod(s.c_str(), &end);
    return !s.empty() && end != nullptr && *end == '\0';
  }

  // Searches the form page by page (`search`: a searchFieldJson, "" = every instance), giving
  // `fn` each instance carrying a source id and its form data. Text search may be fuzzy (other
  // ids containing this one, newest first), so callers check the id themselves. Stops when `fn`
  // says so (Ok(true)); Ok(false) when more than `max_pages` pages (0 = any number) would be
  // needed.
  Result<bool> EachInstance(
      const std::string& search, const std::string& what, int max_pages,
      const std::function<bool(const json::Value& inst, const json::Value& form)>& fn) {
    std::string body = fmt::format(
        "{{\"appType\":{},\"systemToken\":{},\"userId\":{},\"language\":{},\"formUuid\":{}",
        json::Quote(o_.app_type), json::Quote(o_.system_token), json::Quote(o_.user_id),
        json::Quote(o_.language), json::Quote(o_.form_uuid));
    if (!search.empty()) body += ",\"searchFieldJson\":" + json::Quote(search);
    body += "}";
    for (int page = 1; max_pages == 0 || page <= max_pages; ++page) {
      SS_ASSIGN_OR_RETURN(
          json::Value res,
          Send("POST",
               fmt::format("/v1.0/yida/processes/instances?pageNumber={}&pageSize={}", page,
                           kSearchPageSize),
               body, what, connectors::Delivery::kIdempotent));
      const json::Value* data = res.Find("data");
      if (data == nullptr || !data->is_array()) return true;
      for (const auto& inst : data->items()) {
        // Form data is under `data` in the SDK's model and `formData` in some docs.
        const json::Value* form = inst.Find("data");
        if (form == nullptr || !form->is_object()) form = inst.Find("formData");
        if (form == nullptr || !form->is_object() || form->Find(o_.source_id_field) == nullptr) {
          continue;
        }
        if (fn(inst, *form)) return true;
      }
      if (data->items().size() < static_cast<size_t>(kSearchPageSize)) return true;
    }
    return false;
  }

  std::string SearchFor(const std::string& source_id) const {
    return "{" + json::Quote(o_.source_id_field) + ":" + json::Quote(source_id) + "}";
  }

  TargetObject ObjectOf(const json::Value& inst, const json::Value& form) const {
    TargetObject out;
    if (const json::Value* id = inst.Find("processInstanceId")) out.target_id = id->text();
    if (const json::Value* st = inst.Find("instanceStatus")) out.status = st->text();
    out.source = form.Find(o_.source_id_field)->text();
    for (const auto& [name, v] : form.members()) {
      out.fields.push_back(TargetObject::FromJson(name, v));
    }
    return out;
  }

  Result<std::optional<TargetOutcome>> Search(const std::string& source_id) {
    // "Not there" lets the record be created again: every page is read; past kMaxPages nothing
    // is concluded.
    constexpr int kMaxPages = 20;
    std::optional<TargetOutcome> found;
    SS_ASSIGN_OR_RETURN(
        bool complete,
        EachInstance(SearchFor(source_id), "search the form for record " + source_id, kMaxPages,
                     [&](const json::Value& inst, const json::Value& form) {
                       if (form.Find(o_.source_id_field)->text() != source_id) {
                         return false;
                       }
                       found.emplace();
                       found->target_id = ObjectOf(inst, form).target_id;
                       return true;
                     }));
    if (found || complete) return found;
    return Unavailable(
        fmt::format("{}: more than {} search results for record {}; cannot tell "
                    "whether it was created",
                    path_, kSearchPageSize * kMaxPages, source_id));
  }

  // Update, terminate and delete change the target, so the transport sends each at most once:
  // none is replayed behind this sink's back. The retry loop may repeat them after an unknown
  // outcome, because here a repeat is harmless: an update sets the same values again, and a
  // repeated terminate or delete answers instanceStatusHasChanged /
  // dataDoesNotExistOrIsDeleted, which OnDelete takes as done.
  Result<json::Value> SendRepeatable(const std::string& method, const std::string& path,
                                     const std::string& body, const std::string& what) {
    return Send(method, path, body, what, connectors::Delivery::kRepeatable);
  }

  Result<json::Value> Send(const std::string& method, const std::string& path,
                           const std::string& body, const std::string& what,
                           connectors::Delivery delivery) {
    std::string token;
    auto build = [&]() -> Result<HttpRequest> {
      SS_ASSIGN_OR_RETURN(token, tokens_->Token(false, ""));
      HttpRequest req;
      req.method = method;
      req.url = c_.base_url + path;
      req.body = body;
      req.headers = {{"Content-Type", "application/json;charset=utf-8"},
                     {"x-acs-dingtalk-access-token", token}};
      req.timeout_ms = 30000;
      return req;
    };
    auto reauth = [&]() -> Status { return tokens_->Token(true, token).status(); };
    auto classify = [this](const HttpResponse& r) { return Classify(api_, r); };
    return api_->Call(build, classify, reauth, path_ + ": " + what, delivery);
  }

  const std::string path_;
  const Options o_;
  transform::Mapping mapping_;
  const std::shared_ptr<YidaClient> client_;
  const ConnOptions& c_;
  connectors::dingtalk::DingTalkClient* const tokens_;
  connectors::ApiEndpoint* const api_;
  Clock* clock_;
};

}  // namespace

const std::vector<config::OptionSpec>& SinkOptionTable() { return SinkTable().specs(); }
const std::vector<config::OptionSpec>& ConnectionOptionTable() { return ConnTable().specs(); }

Result<transform::MappingSpec> YidaMapping(const config::PipelineConfig& p,
                                           const config::SinkConfig& s) {
  SS_ASSIGN_OR_RETURN(Options o, ReadSink(p, s));
  return o.mapping;
}

Status CheckYidaSink(const config::PipelineConfig& p, const config::SinkConfig& s) {
  SS_ASSIGN_OR_RETURN(Options o, ReadSink(p, s));
  return transform::Mapping::Compile(o.mapping).status();
}

Status CheckYidaConnection(const config::ConnectionConfig& c) { return ReadConn(c).status(); }

Result<std::shared_ptr<connectors::Client>> MakeYidaClient(const config::ConnectionConfig& conn,
                                                           Runtime& rt) {
  HttpClient* http = rt.http();
  Clock* clock = rt.clock();
  SS_ASSIGN_OR_RETURN(ConnOptions c, ReadConn(conn));
  // Tokens come from oapi gettoken with the app's key and secret: a dingtalk connection's.
  config::ConnectionConfig token_conn{conn.name + "#token", conn.type, json::Value::Object(),
                                      conn.path};
  token_conn.options.Add("base_url", json::Value::String(c.token_url));
  token_conn.options.Add("app_key", json::Value::String(c.app_key));
  token_conn.options.Add("app_secret", json::Value::String(c.app_secret));
  token_conn.options.Add("qps", json::Value::Number(fmt::format("{}", c.qps)));
  token_conn.options.Add("retry_base_ms", json::Value::Number(std::to_string(c.retry.base_ms)));
  token_conn.options.Add("retry_budget_s",
                         json::Value::Number(std::to_string(c.retry.budget_ms / 1000)));
  token_conn.options.Add("max_attempts", json::Value::Number(std::to_string(c.retry.max_attempts)));
  SS_ASSIGN_OR_RETURN(auto t, connectors::dingtalk::ReadClientOptions(token_conn));
  auto tokens = std::make_shared<connectors::dingtalk::DingTalkClient>(t, http, clock);
  // Connections gives the v1.0 endpoint (endpoint()) the stop flag and the daily quota; the
  // token endpoint is private to this client, so it gets the stop flag here. Its gettoken
  // calls (the token is cached for two hours) are not counted in daily_quota.
  tokens->endpoint()->set_stop(rt.stop_flag());
  auto api = std::make_unique<connectors::ApiEndpoint>(
      connectors::EndpointOptions{conn.name, c.qps, c.retry, c.quota}, http, clock);
  return std::shared_ptr<connectors::Client>(
      std::make_shared<YidaClient>(std::move(c), std::move(tokens), std::move(api)));
}

Result<std::unique_ptr<Target>> MakeYidaTarget(const config::PipelineConfig& p,
                                               const config::SinkConfig& s,
                                               std::shared_ptr<connectors::Client> client,
                                               Clock* clock) {
  auto yida = std::dynamic_pointer_cast<YidaClient>(client);
  if (yida == nullptr) return Internal(s.path + ": not a Yida connection's client");
  SS_ASSIGN_OR_RETURN(Options o, ReadSink(p, s));
  SS_ASSIGN_OR_RETURN(transform::Mapping mapping, transform::Mapping::Compile(o.mapping));
  return std::unique_ptr<Target>(
      new YidaTarget(s.path, std::move(o), std::move(mapping), std::move(yida), clock));
}

}  // namespace stagesync::sink::yida
