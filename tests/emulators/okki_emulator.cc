#include "emulators/okki_emulator.h"

#include <fmt/format.h>
#include <httplib.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <iterator>
#include <limits>

#include "emulators/json_writer.h"

namespace stagesync::emulators {
namespace {

constexpr std::string_view kTokenPath = "/v1/oauth2/access_token";
constexpr std::string_view kProductListPath = "/v1/product/list";
constexpr std::string_view kJsonType = "application/json; charset=UTF-8";
constexpr std::string_view kBadGatewayHtml =
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n";

struct Group {
  int64_t id;
  std::string_view name;
};
constexpr std::array<Group, 5> kGroups = {
    {{12, "Lamps"}, {15, "Kitchenware"}, {21, "五金工具"}, {33, "Textiles"}, {40, "户外用品"}}};
constexpr std::array<std::string_view, 10> kNames = {
    "LED lamp",     "Solar garden light", "不锈钢保温杯", "Silicone spatula",  "电动螺丝刀",
    "Cotton towel", "Camping tent 2P",    "折叠野餐垫",   "Desk lamp \"Pro\"", "Hex key set"};
constexpr std::array<std::string_view, 3> kUnits = {"PCS", "SET", "BOX"};
constexpr std::array<std::string_view, 5> kHsCodes = {"9405", "94054090", "7323930000", "8467",
                                                      "6302600000"};
constexpr std::array<int64_t, 5> kCategories = {101, 102, 205, 310, 412};
constexpr std::array<std::string_view, 4> kRemarks = {"", "出口欧盟需CE认证", "MOQ negotiable",
                                                      "包装：彩盒\n外箱：五层瓦楞"};
constexpr std::array<std::string_view, 3> kInfoJson = {
    "{}", R"({"material":"ABS","color":"white"})", R"({"size":"40x60cm","weight_g":350})"};

// A JSON number without trailing zeros: 110 -> 1.1, 200 -> 2, 115 -> 1.15.
std::string FormatDecimal(int64_t cents) {
  if (cents % 100 == 0) return std::to_string(cents / 100);
  if (cents % 10 == 0) return fmt::format("{}.{}", cents / 100, cents % 100 / 10);
  return FormatCents(cents);
}

void SetTimes(OkkiProduct* p, int64_t create_ms, int64_t update_ms) {
  p->create_time_ms = create_ms;
  p->create_time = FormatBeijing(create_ms);
  p->update_time_ms = update_ms;
  p->update_time = FormatBeijing(update_ms);
}

std::string ProductJsonOf(const OkkiProduct& p) {
  // Quoted when the product serves its numbers as strings.
  auto number = [&p](std::string n) { return p.numbers_as_strings ? "\"" + n + "\"" : n; };
  JsonWriter w;
  w.BeginObject()
      .IntField("product_id", p.product_id)
      .Field("product_no", p.product_no)
      .Field("name", p.name)
      .IntField("group_id", p.group_id)
      .Field("group_name", p.group_name)
      .Field("cost", FormatCents(p.cost_cents))
      .Field("cost_with_tax", FormatCents(p.cost_with_tax_cents))
      .Field("cost_currency", p.cost_currency)
      .Field("cost_unit", p.cost_unit)
      .IntField("enable_flag", p.enable_flag)
      .IntField("disable_flag", p.disable_flag)
      .Key("fob")
      .BeginObject()
      .Field("price_currency", p.fob_currency)
      .Key("price_min")
      .Raw(number(FormatDecimal(p.fob_min_cents)))
      .Key("price_max")
      .Raw(number(FormatDecimal(p.fob_max_cents)))
      .Field("price_unit", p.fob_unit)
      .EndObject()
      .Key("minimum_order_quantity")
      .Raw(number(std::to_string(p.minimum_order_quantity)))
      .Field("model", p.model)
      .Key("category_ids")
      .BeginArray();
  for (int64_t c : p.category_ids) w.Int(c);
  w.EndArray()
      .Field("unit", p.unit)
      .Field("hs_code", p.hs_code)
      .IntField("source_type", p.source_type)
      .IntField("pin_flag", p.pin_flag)
      .Key("info_json")
      .Raw(p.info_json)
      .Field("update_time", p.update_time)
      .Field("create_time", p.create_time)
      .IntField("product_type", p.product_type)
      .Field("product_remark", p.product_remark)
      .EndObject();
  return w.Take();
}

}  // namespace

OkkiEmulator::OkkiEmulator(OkkiEmulatorOptions opts)
    : Emulator(kBadGatewayHtml),
      opts_(std::move(opts)),
      data_rng_(0),
      noise_rng_(std::random_device{}()),
      token_ttl_s_(opts_.token_ttl_s) {}

OkkiEmulator::~OkkiEmulator() { Stop(); }

std::vector<Emulator::Route> OkkiEmulator::Routes() const {
  return {{"POST", std::string(kTokenPath), kToken},
          {"GET", std::string(kProductListPath), kProductList}};
}

// ---------------------------------------------------------------------------------------------
// Data

uint64_t OkkiEmulator::RandLocked(uint64_t bound) { return bound == 0 ? 0 : data_rng_() % bound; }

OkkiProduct OkkiEmulator::MakeProductLocked(int64_t create_ms, int64_t update_ms) {
  // Every draw is its own statement: argument evaluation order is unspecified.
  OkkiProduct p;
  next_id_ += 1 + static_cast<int64_t>(RandLocked(9));
  p.product_id = next_id_;
  p.product_no = fmt::format("P-{:06}", p.product_id % 1'000'000);
  SetTimes(&p, create_ms, update_ms);
  p.name = kNames[RandLocked(kNames.size())];
  const Group& g = kGroups[RandLocked(kGroups.size())];
  p.group_id = g.id;
  p.group_name = g.name;
  p.cost_cents = 50 + static_cast<int64_t>(RandLocked(50'000));
  p.cost_with_tax_cents = p.cost_cents * 113 / 100;
  p.cost_currency = RandLocked(5) == 0 ? "USD" : "CNY";
  p.unit = kUnits[RandLocked(kUnits.size())];
  p.cost_unit = p.unit;
  p.enable_flag = RandLocked(20) == 0 ? 0 : 1;
  p.disable_flag = RandLocked(10) == 0 ? 0 : 1;
  p.fob_currency = "USD";
  p.fob_min_cents = 10 + static_cast<int64_t>(RandLocked(5000));
  p.fob_max_cents = p.fob_min_cents + static_cast<int64_t>(RandLocked(2000));
  p.fob_unit = "USD/" + p.unit;
  p.minimum_order_quantity = 50 * (1 + static_cast<int64_t>(RandLocked(20)));
  p.model = fmt::format("{}-{}", static_cast<char>('A' + RandLocked(26)), 10 + RandLocked(90));
  const uint64_t cats = 1 + RandLocked(2);
  const uint64_t first_cat = RandLocked(kCategories.size());
  for (uint64_t i = 0; i < cats; ++i) {
    p.category_ids.push_back(kCategories[(first_cat + i) % kCategories.size()]);
  }
  p.hs_code = kHsCodes[RandLocked(kHsCodes.size())];
  p.source_type = static_cast<int>(RandLocked(3));
  p.pin_flag = RandLocked(10) == 0 ? 1 : 0;
  p.info_json = kInfoJson[RandLocked(kInfoJson.size())];
  const uint64_t type = RandLocked(10);
  p.product_type = type < 7 ? 1 : type < 9 ? 2 : 3;
  p.product_remark = kRemarks[RandLocked(kRemarks.size())];
  p.numbers_as_strings = RandLocked(10) == 0;
  return p;
}

void OkkiEmulator::InsertLocked(OkkiProduct product) {
  by_update_.emplace(product.update_time_ms, product.product_id);
  const int64_t id = product.product_id;
  products_.emplace(id, std::move(product));
}

OkkiProduct* OkkiEmulator::FindLocked(int64_t id) {
  auto it = products_.find(id);
  return it == products_.end() ? nullptr : &it->second;
}

void OkkiEmulator::Generate(int n, int64_t from_ms, int64_t to_ms, uint64_t seed) {
  std::lock_guard<std::mutex> lock(mu_);
  data_rng_.seed(seed);
  if (n <= 0 || to_ms <= from_ms) return;
  std::vector<int64_t> created;
  created.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    created.push_back(FloorSecond(
        from_ms + static_cast<int64_t>(RandLocked(static_cast<uint64_t>(to_ms - from_ms)))));
  }
  std::sort(created.begin(), created.end());
  for (int64_t c : created) {
    const int64_t span = std::max<int64_t>(0, to_ms - c);
    const int64_t updated =
        c + FloorSecond(static_cast<int64_t>(RandLocked(static_cast<uint64_t>(span))));
    InsertLocked(MakeProductLocked(c, std::max(c, updated)));
  }
}

void OkkiEmulator::TouchLocked(OkkiProduct* p) {
  by_update_.erase({p->update_time_ms, p->product_id});
  SetTimes(p, p->create_time_ms,
           std::max(FloorSecond(NowMsLocked()), p->update_time_ms + kSecondMs));
  by_update_.emplace(p->update_time_ms, p->product_id);
  ++p->version;
}

void OkkiEmulator::ModifyLocked(OkkiProduct* p) {
  p->cost_cents += 1 + static_cast<int64_t>(RandLocked(500));
  p->cost_with_tax_cents = p->cost_cents * 113 / 100;
  p->product_remark = fmt::format("价格调整 v{}", p->version + 1);
  TouchLocked(p);
}

bool OkkiEmulator::Modify(int64_t product_id) {
  std::lock_guard<std::mutex> lock(mu_);
  OkkiProduct* p = FindLocked(product_id);
  if (p == nullptr) return false;
  ModifyLocked(p);
  return true;
}

bool OkkiEmulator::SetInfoJson(int64_t product_id, std::string raw) {
  std::lock_guard<std::mutex> lock(mu_);
  OkkiProduct* p = FindLocked(product_id);
  if (p == nullptr) return false;
  p->info_json = std::move(raw);
  return true;
}

bool OkkiEmulator::SoftDelete(int64_t product_id) {
  std::lock_guard<std::mutex> lock(mu_);
  OkkiProduct* p = FindLocked(product_id);
  if (p == nullptr) return false;
  p->enable_flag = 0;
  TouchLocked(p);
  return true;
}

void OkkiEmulator::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  products_.clear();
  by_update_.clear();
}

std::vector<OkkiProduct> OkkiEmulator::Products() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<OkkiProduct> out;
  out.reserve(products_.size());
  for (const auto& [updated, id] : by_update_) out.push_back(products_.at(id));
  return out;
}

std::string OkkiEmulator::ProductJson(int64_t product_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = products_.find(product_id);
  return it == products_.end() ? std::string() : ProductJsonOf(it->second);
}

// ---------------------------------------------------------------------------------------------
// Clock and faults

void OkkiEmulator::RevokeTokenNow() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [value, token] : tokens_) token.revoked = true;
}

void OkkiEmulator::SetTokenTtl(int seconds) { Set(&token_ttl_s_, seconds); }

void OkkiEmulator::MutateBetweenPagesNext(int n, int pages) {
  std::lock_guard<std::mutex> lock(mu_);
  mutate_count_ = n;
  mutate_pages_left_ = n > 0 ? pages : 0;
}

// ---------------------------------------------------------------------------------------------
// Stats

int64_t OkkiEmulator::TokensIssued() const { return Get(tokens_issued_); }

void OkkiEmulator::ResetVendorStatsLocked() { tokens_issued_ = 0; }

// ---------------------------------------------------------------------------------------------
// HTTP

Call OkkiEmulator::ClassifyLocked(int ep, const httplib::Request& req) {
  return {
      .endpoint = ep, .key = req.path, .data = ep == kProductList, .faultable = ep == kProductList};
}

Reply OkkiEmulator::QpsReplyLocked(const Call&) {
  return EnvelopeErrorLocked(429, 429, "Too Many Requests");
}

Reply OkkiEmulator::AnswerLocked(const Call& call, const httplib::Request& req) {
  return call.data ? ProductListLocked(req) : TokenLocked(req);
}

Reply OkkiEmulator::OAuthErrorLocked(int status, std::string_view error,
                                     std::string_view description) {
  JsonWriter w;
  w.BeginObject()
      .Field("error", error)
      .Field("error_description", description)
      .Field("message", description)
      .EndObject();
  return {status, w.Take(), std::string(kJsonType)};
}

Reply OkkiEmulator::EnvelopeErrorLocked(int status, int code, std::string_view message) {
  // [I] PHP renders the empty data as [].
  JsonWriter w;
  w.BeginObject()
      .IntField("code", code)
      .Field("message", message)
      .Field("now", FormatBeijing(NowMsLocked()))
      .Key("data")
      .Raw("[]")
      .EndObject();
  return {status, w.Take(), std::string(kJsonType)};
}

bool OkkiEmulator::TokenLiveLocked(const Token& token) const {
  return !token.revoked && NowMsLocked() < token.issued_ms + int64_t{token_ttl_s_} * kSecondMs;
}

Reply OkkiEmulator::TokenLocked(const httplib::Request& req) {
  Params params = QueryParams(req);
  const std::string content_type = req.get_header_value("Content-Type");
  if (content_type.starts_with("application/x-www-form-urlencoded")) {
    ParseForm(req.body, &params);
  } else if (content_type.starts_with("application/json")) {
    simdjson::dom::parser parser;
    simdjson::dom::object body;
    if (parser.parse(req.body).get(body) != simdjson::SUCCESS) {
      return OAuthErrorLocked(400, "invalid_request", "The request body is not a JSON object.");
    }
    for (auto [key, value] : body) {
      std::string_view s;
      if (value.get_string().get(s) == simdjson::SUCCESS) {
        params[std::string(key)] = std::string(s);
      } else if (value.is_int64() || value.is_uint64()) {
        params[std::string(key)] = simdjson::to_string(value);
      }
    }
  }

  const std::string_view grant = Param(params, "grant_type");
  if (grant.empty()) {
    return OAuthErrorLocked(400, "invalid_request",
                            "The request is missing a required parameter: grant_type.");
  }
  if (grant != "client_credentials") {
    // [I] the emulator implements the client_credentials grant only.
    return OAuthErrorLocked(400, "unsupported_grant_type",
                            "The authorization grant type is not supported by the server.");
  }
  if (Param(params, "client_id") != opts_.client_id ||
      Param(params, "client_secret") != opts_.client_secret) {
    return OAuthErrorLocked(401, "invalid_client", "Client authentication failed");
  }
  std::set<std::string, std::less<>> scopes;
  const std::string_view scope = Param(params, "scope");
  for (size_t pos = 0; pos < scope.size();) {
    size_t sp = scope.find(' ', pos);
    if (sp == std::string_view::npos) sp = scope.size();
    if (sp > pos) {
      const std::string one(scope.substr(pos, sp - pos));
      if (std::find(opts_.allowed_scopes.begin(), opts_.allowed_scopes.end(), one) ==
          opts_.allowed_scopes.end()) {
        return OAuthErrorLocked(400, "invalid_scope",
                                fmt::format("The requested scope is invalid, unknown, or "
                                            "malformed: {}",
                                            one));
      }
      scopes.insert(one);
    }
    pos = sp + 1;
  }
  std::string normalised;
  for (const std::string& s : scopes) {
    if (!normalised.empty()) normalised.push_back(' ');
    normalised += s;
  }

  // [I] A live token for the same scopes is handed out again with its remaining lifetime:
  // re-requesting never extends validity.
  const int64_t now = NowMsLocked();
  const std::string* value = nullptr;
  const Token* token = nullptr;
  for (const auto& [v, t] : tokens_) {
    if (t.scopes == normalised && TokenLiveLocked(t) &&
        (token == nullptr || t.issued_ms > token->issued_ms)) {
      value = &v;
      token = &t;
    }
  }
  if (token == nullptr) {
    constexpr std::string_view kB64 =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string access = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.";
    for (int i = 0; i < 64; ++i) access.push_back(kB64[noise_rng_() % kB64.size()]);
    access.push_back('.');
    for (int i = 0; i < 43; ++i) access.push_back(kB64[noise_rng_() % kB64.size()]);
    Token t;
    t.scopes = normalised;
    t.scope_set = scopes;
    t.refresh_token = fmt::format("def50200{:016x}{:016x}", noise_rng_(), noise_rng_());
    t.issued_ms = now;
    auto [it, inserted] = tokens_.emplace(std::move(access), std::move(t));
    value = &it->first;
    token = &it->second;
    ++tokens_issued_;
  }
  const int64_t remaining_ms = token->issued_ms + int64_t{token_ttl_s_} * kSecondMs - now;
  JsonWriter w;
  w.BeginObject()
      .Field("token_type", "Bearer")
      .IntField("expires_in", std::max<int64_t>(0, (remaining_ms + kSecondMs - 1) / kSecondMs))
      .Field("access_token", *value)
      .Field("refresh_token", token->refresh_token)
      .EndObject();
  return {200, w.Take(), std::string(kJsonType)};
}

Reply OkkiEmulator::ProductListLocked(const httplib::Request& req) {
  const std::string auth = req.get_header_value("Authorization");
  const Token* token = nullptr;
  if (auth.size() > 7 && (auth.starts_with("Bearer ") || auth.starts_with("bearer "))) {
    auto it = tokens_.find(std::string_view(auth).substr(7));
    if (it != tokens_.end() && TokenLiveLocked(it->second)) token = &it->second;
  }
  if (token == nullptr) {
    return OAuthErrorLocked(401, "access_denied",
                            "The resource owner or authorization server denied the request.");
  }
  if (!token->scope_set.contains("product")) {
    return EnvelopeErrorLocked(403, 403, "no permission product scopes");
  }

  const Params params = QueryParams(req);
  int time_type = 1;
  if (const std::string_view v = Param(params, "time_type");
      !v.empty() && (!ParseNumber(v, &time_type) || (time_type != 1 && time_type != 2))) {
    return EnvelopeErrorLocked(400, 400, "Invalid query: time_type");
  }
  // [I] A date-only bound covers its whole day; datetime bounds are inclusive on both ends.
  int64_t start = std::numeric_limits<int64_t>::min();
  int64_t end = std::numeric_limits<int64_t>::max();
  bool date_only = false;
  if (const std::string_view v = Param(params, "start_time"); !v.empty()) {
    if (!ParseBeijing(v, &start, &date_only)) {
      return EnvelopeErrorLocked(400, 400, "Invalid query: start_time");
    }
  }
  if (const std::string_view v = Param(params, "end_time"); !v.empty()) {
    if (!ParseBeijing(v, &end, &date_only)) {
      return EnvelopeErrorLocked(400, 400, "Invalid query: end_time");
    }
    if (date_only) end += kDayMs - kSecondMs;
  }
  int64_t page = 1;
  if (const std::string_view v = Param(params, "start_index");
      !v.empty() && (!ParseNumber(v, &page) || page < 1)) {
    return EnvelopeErrorLocked(400, 400, "Invalid query: start_index");
  }
  int64_t count = kOkkiDefaultPageSize;
  if (const std::string_view v = Param(params, "count");
      !v.empty() && (!ParseNumber(v, &count) || count < 1)) {
    return EnvelopeErrorLocked(400, 400, "Invalid query: count");
  }
  count = std::min<int64_t>(count, kOkkiMaxPageSize);
  int product_type = 0;
  if (const std::string_view v = Param(params, "product_type");
      !v.empty() && (!ParseNumber(v, &product_type) || product_type < 1 || product_type > 3)) {
    return EnvelopeErrorLocked(400, 400, "Invalid query: product_type");
  }

  // [I] Ordered by the filtered time (update_time or create_time) ascending, then product_id.
  std::vector<std::pair<int64_t, int64_t>> order;
  if (end < start) {
    // Nothing matches.
  } else if (time_type == 1) {
    order.assign(by_update_.lower_bound({start, std::numeric_limits<int64_t>::min()}),
                 by_update_.upper_bound({end, std::numeric_limits<int64_t>::max()}));
  } else {
    for (const auto& [id, p] : products_) {
      if (p.create_time_ms >= start && p.create_time_ms <= end) {
        order.emplace_back(p.create_time_ms, id);
      }
    }
    std::sort(order.begin(), order.end());
  }
  const int64_t offset = page > std::numeric_limits<int64_t>::max() / kOkkiMaxPageSize
                             ? std::numeric_limits<int64_t>::max()
                             : (page - 1) * count;
  int64_t total = 0;
  std::vector<int64_t> ids;
  for (const auto& [t, id] : order) {
    if (product_type != 0 && products_.at(id).product_type != product_type) continue;
    if (total >= offset && total - offset < count) ids.push_back(id);
    ++total;
  }

  JsonWriter w;
  w.BeginObject()
      .IntField("code", 0)
      .Field("message", "success")
      .Field("now", FormatBeijing(NowMsLocked()))
      .Key("data")
      .BeginObject()
      .IntField("count", total)
      .Key("list")
      .BeginArray();
  for (int64_t id : ids) w.Raw(ProductJsonOf(products_.at(id)));
  w.EndArray().EndObject().EndObject();
  Reply reply{200, w.Take(), std::string(kJsonType)};

  if (!ids.empty() && mutate_pages_left_ > 0) {
    --mutate_pages_left_;
    const size_t n = std::min(ids.size(), static_cast<size_t>(mutate_count_));
    for (size_t i = 0; i < n; ++i) ModifyLocked(FindLocked(ids[i]));
  }
  return reply;
}

}  // namespace stagesync::emulators
