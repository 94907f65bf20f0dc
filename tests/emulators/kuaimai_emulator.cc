#include "emulators/kuaimai_emulator.h"

#include <fmt/format.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <iterator>
#include <limits>

#include "emulators/json_writer.h"

namespace stagesync::emulators {
namespace {

constexpr std::string_view kJsonType = "application/json;charset=UTF-8";

constexpr std::string_view kBadGatewayHtml =
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n";
constexpr std::string_view kTooManyHtml =
    "<html>\r\n<head><title>429 Too Many Requests</title></head>\r\n<body>\r\n"
    "<center><h1>429 Too Many Requests</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n";
constexpr std::string_view kThrottleMsg = "接口调用过于频繁，请稍后再试(限流)";

constexpr std::array<std::string_view, 6> kShops = {
    "旗舰店", "天猫官方旗舰店", "京东自营专区", "拼多多专卖店", "抖音小店", "线下门店"};
constexpr std::array<std::string_view, 5> kSources = {"tb", "jd", "pdd", "fxg", "sys"};
constexpr std::array<std::string_view, 4> kWarehouses = {"主仓", "退货仓", "华东仓", "华南仓"};
// Some carry a newline or ASCII quotes so clients meet escaped characters.
constexpr std::array<std::string_view, 8> kReasons = {
    "不想要了", "尺码不合适", "质量问题",           "与商品描述不符",
    "发错货",   "少件/漏发",  "买家说\"颜色偏差\"", "快递破损\n外包装压坏"};
constexpr std::array<std::string_view, 8> kTitles = {"纯棉短袖T恤",  "休闲牛仔裤", "运动跑鞋",
                                                     "保温杯 500ml", "蓝牙耳机",   "羽绒服",
                                                     "双肩背包",     "真丝围巾"};
constexpr std::array<std::string_view, 5> kColors = {"RED", "BLK", "WHT", "BLU", "GRY"};

std::string UpperHex(const unsigned char* data, size_t n) {
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) fmt::format_to(std::back_inserter(out), "{:02X}", data[i]);
  return out;
}

bool IsRefundOnly(int type) { return type == 1 || type == 5; }
bool IsFinal(const std::string& status) { return status == "FINISHED" || status == "CLOSED"; }

void SetModified(KuaimaiOrder* o, int64_t ms) {
  o->modified_ms = ms;
  o->modified = FormatBeijing(ms);
}

}  // namespace

std::string KuaimaiSign(const std::map<std::string, std::string>& params, std::string_view secret,
                        std::string_view sign_method) {
  std::string s;
  for (const auto& [key, value] : params) {  // std::map orders keys byte-wise, i.e. ASCII
    if (key == "sign" || value.empty()) continue;
    s += key;
    s += value;
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (sign_method == "md5") {
    const std::string text = std::string(secret) + s + std::string(secret);
    if (EVP_Digest(text.data(), text.size(), md.data(), &len, EVP_md5(), nullptr) != 1) return "";
  } else if (sign_method == "hmac" || sign_method == "hmac-sha256") {
    const EVP_MD* evp = sign_method == "hmac" ? EVP_md5() : EVP_sha256();
    if (HMAC(evp, secret.data(), static_cast<int>(secret.size()),
             reinterpret_cast<const unsigned char*>(s.data()), s.size(), md.data(),
             &len) == nullptr) {
      return "";
    }
  } else {
    return "";
  }
  return UpperHex(md.data(), len);
}

std::string KuaimaiFormatTime(int64_t epoch_ms) { return FormatBeijing(epoch_ms); }

KuaimaiEmulator::KuaimaiEmulator(KuaimaiEmulatorOptions opts)
    : Emulator(kBadGatewayHtml),
      opts_(std::move(opts)),
      data_rng_(0),
      noise_rng_(std::random_device{}()) {
  access_token_ = opts_.access_token;
  refresh_token_ = opts_.refresh_token;
  access_tokens_[access_token_] = SystemMs() + opts_.session_ttl_s * kSecondMs;
}

KuaimaiEmulator::~KuaimaiEmulator() { Stop(); }

std::vector<Emulator::Route> KuaimaiEmulator::Routes() const { return {{"POST", "/router", 0}}; }

// ---------------------------------------------------------------------------------------------
// Data

uint64_t KuaimaiEmulator::RandLocked(uint64_t bound) {
  return bound == 0 ? 0 : data_rng_() % bound;
}

KuaimaiOrder KuaimaiEmulator::MakeOrderLocked(int64_t created_ms, int64_t modified_ms) {
  // Every draw is its own statement: argument evaluation order is unspecified.
  KuaimaiOrder o;
  next_id_ += 1 + static_cast<int64_t>(RandLocked(7));
  o.id = next_id_;
  o.created_ms = created_ms;
  o.created = FormatBeijing(created_ms);
  SetModified(&o, modified_ms);
  do {
    o.tid = std::to_string(1 + RandLocked(4));
    for (int i = 0; i < 18; ++i) o.tid.push_back(static_cast<char>('0' + RandLocked(10)));
  } while (tids_.contains(o.tid));
  o.sid = 5'000'000 + static_cast<int64_t>(RandLocked(5'000'000));
  o.short_id = 1 + static_cast<int64_t>(RandLocked(99'999));

  const uint64_t t = RandLocked(100);
  o.after_sale_type = t < 30   ? 2
                      : t < 50 ? 1
                      : t < 65 ? 5
                      : t < 75 ? 4
                      : t < 82 ? 3
                      : t < 87 ? 0
                      : t < 91 ? 7
                      : t < 95 ? 8
                               : 9;
  const uint64_t s = RandLocked(100);
  o.status = s < 15   ? "WAIT_AUDIT"
             : s < 35 ? "WAIT_RECEIVE"
             : s < 45 ? "RECEIVED"
             : s < 85 ? "FINISHED"
                      : "CLOSED";
  if (IsRefundOnly(o.after_sale_type) && (o.status == "WAIT_RECEIVE" || o.status == "RECEIVED")) {
    o.status = "WAIT_AUDIT";
  }
  if (IsFinal(o.status)) o.finished_ms = modified_ms;

  o.text_reason = kReasons[RandLocked(kReasons.size())];
  o.shop_name = kShops[RandLocked(kShops.size())];
  o.source = kSources[RandLocked(kSources.size())];
  o.good_status = 1 + static_cast<int>(RandLocked(4));

  size_t lines = 0;
  if (IsRefundOnly(o.after_sale_type)) {
    lines = RandLocked(10) < 6 ? 0 : 1;
  } else {
    lines = 1 + RandLocked(3);
  }
  const bool received = o.status == "RECEIVED" || o.status == "FINISHED";
  int64_t payments = 0;
  for (size_t i = 0; i < lines; ++i) {
    KuaimaiItem item;
    const uint64_t spu = RandLocked(kTitles.size());
    item.main_outer_id = fmt::format("SPU{:03}", 100 + spu);
    item.outer_id = fmt::format("{}-{}", item.main_outer_id, kColors[RandLocked(kColors.size())]);
    item.title = kTitles[spu];
    item.receivable_count = 1 + static_cast<int>(RandLocked(3));
    item.item_real_qty = received ? item.receivable_count : 0;
    item.price_cents = 990 + static_cast<int64_t>(RandLocked(29'000));
    item.payment_cents = item.price_cents * item.receivable_count;
    if (RandLocked(4) == 0) item.payment_cents -= item.payment_cents / 10;  // a discount
    item.bad_item_count = received && RandLocked(5) == 0 ? 1 : 0;
    item.good_item_count = item.item_real_qty - item.bad_item_count;
    // [I] 1 = returned goods line, 2 = goods sent out again (reissue / exchange).
    item.type = (o.after_sale_type == 3 || (o.after_sale_type == 4 && i > 0)) ? 2 : 1;
    payments += item.payment_cents;
    o.items.push_back(std::move(item));
  }
  if (o.after_sale_type == 3 || o.after_sale_type == 9) {
    o.refund_money_cents = 0;
  } else if (payments > 0) {
    o.refund_money_cents = payments;
  } else {
    o.refund_money_cents = 500 + static_cast<int64_t>(RandLocked(50'000));
  }
  o.raw_refund_money_cents = o.refund_money_cents;
  if (RandLocked(7) == 0)
    o.raw_refund_money_cents += 100 * (1 + static_cast<int64_t>(RandLocked(20)));

  if (!IsRefundOnly(o.after_sale_type)) {
    o.refund_warehouse_name = kWarehouses[RandLocked(kWarehouses.size())];
    if (o.status != "WAIT_AUDIT") {
      o.refund_express_id = RandLocked(2) == 0 ? "SF" : "7312";
      for (int i = 0; i < 10; ++i)
        o.refund_express_id.push_back(static_cast<char>('0' + RandLocked(10)));
    }
  }
  return o;
}

void KuaimaiEmulator::InsertLocked(KuaimaiOrder order) {
  by_modified_.emplace(order.modified_ms, order.id);
  tids_.insert(order.tid);
  const int64_t id = order.id;
  orders_.emplace(id, std::move(order));
}

KuaimaiOrder* KuaimaiEmulator::FindLocked(int64_t id) {
  auto it = orders_.find(id);
  return it == orders_.end() ? nullptr : &it->second;
}

void KuaimaiEmulator::Generate(int n, int64_t from_ms, int64_t to_ms, uint64_t seed) {
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
    const int64_t modified =
        c + FloorSecond(static_cast<int64_t>(RandLocked(static_cast<uint64_t>(span))));
    InsertLocked(MakeOrderLocked(c, std::max(c, modified)));
  }
}

void KuaimaiEmulator::ModifyLocked(KuaimaiOrder* o) {
  by_modified_.erase({o->modified_ms, o->id});
  SetModified(o, std::max(FloorSecond(NowMsLocked()), o->modified_ms + kSecondMs));
  by_modified_.emplace(o->modified_ms, o->id);
  if (o->status == "WAIT_AUDIT") {
    o->status = IsRefundOnly(o->after_sale_type) ? "FINISHED" : "WAIT_RECEIVE";
  } else if (o->status == "WAIT_RECEIVE") {
    o->status = "RECEIVED";
    for (KuaimaiItem& item : o->items) {
      item.item_real_qty = item.receivable_count;
      item.good_item_count = item.receivable_count;
    }
    if (o->refund_express_id.empty()) o->refund_express_id = "SF1000000001";
  } else if (o->status == "RECEIVED") {
    o->status = "FINISHED";
  } else {
    // Already final: a note or amount correction.
    o->text_reason =
        kReasons[(static_cast<size_t>(o->version) + 1 + RandLocked(kReasons.size() - 1)) %
                 kReasons.size()];
    if (o->text_reason == kReasons[0]) o->text_reason = kReasons[1];
    o->refund_money_cents += 1;
  }
  if (IsFinal(o->status)) o->finished_ms = o->modified_ms;
  ++o->version;
}

bool KuaimaiEmulator::Modify(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  KuaimaiOrder* o = FindLocked(id);
  if (o == nullptr) return false;
  ModifyLocked(o);
  return true;
}

bool KuaimaiEmulator::SetTextReason(int64_t id, std::string reason) {
  std::lock_guard<std::mutex> lock(mu_);
  KuaimaiOrder* o = FindLocked(id);
  if (o == nullptr) return false;
  o->text_reason = std::move(reason);
  return true;
}

void KuaimaiEmulator::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  orders_.clear();
  by_modified_.clear();
  tids_.clear();
}

std::vector<KuaimaiOrder> KuaimaiEmulator::Orders() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<KuaimaiOrder> out;
  out.reserve(orders_.size());
  for (const auto& [modified, id] : by_modified_) out.push_back(orders_.at(id));
  return out;
}

namespace {

std::string OrderJsonOf(const KuaimaiOrder& o) {
  JsonWriter w;
  w.BeginObject()
      .IntField("id", o.id)
      .Field("tid", o.tid)
      .IntField("sid", o.sid)
      .IntField("shortId", o.short_id)
      .Field("status", o.status)
      .IntField("afterSaleType", o.after_sale_type)
      .Field("refundMoney", FormatCents(o.refund_money_cents))
      .Field("rawRefundMoney", FormatCents(o.raw_refund_money_cents))
      .Field("textReason", o.text_reason)
      .Field("created", o.created)
      .Field("modified", o.modified);
  w.Key("finished");
  if (o.finished_ms == 0) {
    w.Null();
  } else {
    w.String(FormatBeijing(o.finished_ms));
  }
  w.Field("shopName", o.shop_name)
      .Field("source", o.source)
      .IntField("goodStatus", o.good_status)
      .Field("refundWarehouseName", o.refund_warehouse_name)
      .Field("refundExpressId", o.refund_express_id)
      .Key("items")
      .BeginArray();
  for (const KuaimaiItem& item : o.items) {
    w.BeginObject()
        .Field("mainOuterId", item.main_outer_id)
        .Field("outerId", item.outer_id)
        .Field("title", item.title)
        .IntField("receivableCount", item.receivable_count)
        .IntField("itemRealQty", item.item_real_qty)
        .Field("price", FormatCents(item.price_cents))
        .Field("payment", FormatCents(item.payment_cents))
        .IntField("goodItemCount", item.good_item_count)
        .IntField("badItemCount", item.bad_item_count)
        .IntField("type", item.type)
        .EndObject();
  }
  w.EndArray().EndObject();
  return w.Take();
}

}  // namespace

std::string KuaimaiEmulator::OrderJson(int64_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = orders_.find(id);
  return it == orders_.end() ? std::string() : OrderJsonOf(it->second);
}

std::string KuaimaiEmulator::CurrentAccessToken() const { return Get(access_token_); }

std::string KuaimaiEmulator::CurrentRefreshToken() const { return Get(refresh_token_); }

// ---------------------------------------------------------------------------------------------
// Clock and faults

void KuaimaiEmulator::ExpireSessionNow() {
  std::lock_guard<std::mutex> lock(mu_);
  access_tokens_.clear();
}

void KuaimaiEmulator::SetSessionExpiredCode(std::string code) {
  Set(&expired_code_, std::move(code));
}

void KuaimaiEmulator::ThrottleNext(int n, KuaimaiThrottleMode mode) {
  std::lock_guard<std::mutex> lock(mu_);
  throttle_ = {n, ""};
  throttle_mode_ = mode;
}

void KuaimaiEmulator::NoListNext(int n) { Set(&nolist_left_, n); }

void KuaimaiEmulator::SetMaxQps(int qps, KuaimaiThrottleMode mode) {
  Emulator::SetMaxQps(qps);
  std::lock_guard<std::mutex> lock(mu_);
  qps_mode_ = mode;
}

void KuaimaiEmulator::MutateBetweenPagesNext(int n, int pages) {
  std::lock_guard<std::mutex> lock(mu_);
  mutate_count_ = n;
  mutate_pages_left_ = n > 0 ? pages : 0;
}

void KuaimaiEmulator::SetMaxWindowMs(int64_t ms) { Set(&max_window_ms_, ms); }

// ---------------------------------------------------------------------------------------------
// Stats

bool KuaimaiEmulator::KeyMatches(std::string_view key, std::string_view query) const {
  return query.empty() || key == query;
}

int64_t KuaimaiEmulator::RefreshCount() const { return Get(refreshes_); }

int64_t KuaimaiEmulator::RefreshTokenReuseCount() const { return Get(refresh_reuses_); }

int64_t KuaimaiEmulator::SignatureFailures() const { return Get(sign_failures_); }

void KuaimaiEmulator::ResetVendorStatsLocked() {
  refreshes_ = 0;
  refresh_reuses_ = 0;
  sign_failures_ = 0;
}

// ---------------------------------------------------------------------------------------------
// HTTP

Params KuaimaiEmulator::RequestParams(const httplib::Request& req) {
  Params params = QueryParams(req);
  if (req.get_header_value("Content-Type").starts_with("application/x-www-form-urlencoded")) {
    ParseForm(req.body, &params);
  }
  return params;
}

Call KuaimaiEmulator::ClassifyLocked(int, const httplib::Request& req) {
  Call call{.key = std::string(Param(RequestParams(req), "method"))};
  call.data = call.faultable = call.key != kKuaimaiMethodTokenRefresh;
  return call;
}

Reply KuaimaiEmulator::AnswerLocked(const Call&, const httplib::Request& req) {
  return RouteLocked(RequestParams(req));
}

Reply KuaimaiEmulator::ThrottleModeReplyLocked(KuaimaiThrottleMode mode) {
  if (mode == KuaimaiThrottleMode::kHttp429) {
    return {429, std::string(kTooManyHtml), "text/html;charset=utf-8", {{"Retry-After", "1"}}};
  }
  return ErrorLocked(kKuaimaiErrThrottled, kThrottleMsg);
}

std::string KuaimaiEmulator::TraceIdLocked() {
  return fmt::format("{:016x}{:08x}", noise_rng_(), noise_rng_() & 0xffffffffU);
}

std::string KuaimaiEmulator::NewTokenLocked(std::string_view prefix) {
  return fmt::format("{}-{}-{:016x}", prefix, ++token_serial_, noise_rng_());
}

Reply KuaimaiEmulator::ErrorLocked(std::string_view code, std::string_view msg) {
  if (code == kKuaimaiErrBadSign) ++sign_failures_;
  JsonWriter w;
  w.BeginObject()
      .Key("success")
      .Bool(false)
      .Field("code", code)
      .Field("msg", msg)
      .Field("traceId", TraceIdLocked())
      .EndObject();
  return {200, w.Take(), std::string(kJsonType)};
}

Reply KuaimaiEmulator::RouteLocked(const Params& params) {
  const std::string_view app_key = Param(params, "appKey");
  if (app_key.empty()) return ErrorLocked(kKuaimaiErrBadAppKey, "缺少appKey参数");
  if (app_key != opts_.app_key) return ErrorLocked(kKuaimaiErrBadAppKey, "appKey无效");

  std::string_view sign_method = Param(params, "sign_method");
  if (sign_method.empty()) sign_method = "hmac";
  if (sign_method != "md5" && sign_method != "hmac" && sign_method != "hmac-sha256") {
    return ErrorLocked(kKuaimaiErrBadSign, "不支持的签名方法");
  }
  const std::string_view sign = Param(params, "sign");
  if (sign.empty()) return ErrorLocked(kKuaimaiErrBadSign, "缺少签名参数sign");
  // [I] compared exactly: doc/vendors/kuaimai.md ("signing") asks for upper-case hex.
  if (sign != KuaimaiSign(params, opts_.app_secret, sign_method)) {
    return ErrorLocked(kKuaimaiErrBadSign, "签名无效");
  }

  int64_t ts = 0;
  if (!ParseBeijing(Param(params, "timestamp"), &ts)) {
    return ErrorLocked(kKuaimaiErrBadTimestamp, "timestamp参数缺失或格式错误(yyyy-MM-dd HH:mm:ss)");
  }
  const int64_t skew = ts - NowMsLocked();
  if (skew > opts_.max_skew_s * kSecondMs || -skew > opts_.max_skew_s * kSecondMs) {
    return ErrorLocked(kKuaimaiErrBadTimestamp, "timestamp与服务器时间相差超过10分钟");
  }
  if (const std::string_view format = Param(params, "format");
      !format.empty() && format != "json") {
    return ErrorLocked(kKuaimaiErrInvalidFormat, "不支持的format");
  }
  if (const std::string_view v = Param(params, "version"); !v.empty() && v != "1.0") {
    return ErrorLocked(kKuaimaiErrBadVersion, "不支持的version");
  }

  const std::string_view method = Param(params, "method");
  if (method.empty()) return ErrorLocked(kKuaimaiErrInvalidMethod, "缺少method参数");
  if (method == kKuaimaiMethodTokenRefresh) return RefreshLocked(params);
  if (method != kKuaimaiMethodAftersaleList) {
    return ErrorLocked(kKuaimaiErrInvalidMethod, "不存在的方法名");
  }

  const std::string_view session = Param(params, "session");
  if (session.empty()) return ErrorLocked(kKuaimaiErrMissingSession, "缺少session参数");
  auto it = access_tokens_.find(std::string(session));
  if (it == access_tokens_.end() || it->second <= NowMsLocked()) {
    return ErrorLocked(expired_code_, "session已过期或无效，请刷新");
  }
  return ListLocked(params);
}

Reply KuaimaiEmulator::RefreshLocked(const Params& params) {
  const std::string refresh(Param(params, "refreshToken"));
  if (refresh.empty()) return ErrorLocked(kKuaimaiErrBadParam, "refreshToken不能为空");
  if (refresh != refresh_token_) {
    if (retired_refresh_tokens_.contains(refresh)) {
      ++refresh_reuses_;
      return ErrorLocked(kKuaimaiErrRefreshTokenInvalid, "refreshToken已失效(已被使用过)");
    }
    return ErrorLocked(kKuaimaiErrRefreshTokenInvalid, "refreshToken无效");
  }
  if (opts_.refresh_kills_old_access_tokens) access_tokens_.clear();
  retired_refresh_tokens_.insert(refresh_token_);
  access_token_ = NewTokenLocked("at");
  refresh_token_ = NewTokenLocked("rt");
  const int64_t expire = NowMsLocked() + opts_.session_ttl_s * kSecondMs;
  access_tokens_[access_token_] = expire;
  ++refreshes_;
  JsonWriter w;
  w.BeginObject()
      .Key("success")
      .Bool(true)
      .Key("session")
      .BeginObject()
      .Field("accessToken", access_token_)
      .Field("refreshToken", refresh_token_)
      .IntField("expireTime", expire)
      .EndObject()
      .EndObject();
  return {200, w.Take(), std::string(kJsonType)};
}

Reply KuaimaiEmulator::ListLocked(const Params& params) {
  const std::string_view page_no_s = Param(params, "pageNo");
  if (page_no_s.empty()) return ErrorLocked(kKuaimaiErrBadParam, "页码不能为空");
  int64_t page_no = 0;
  if (!ParseNumber(page_no_s, &page_no) || page_no < 1) {
    return ErrorLocked(kKuaimaiErrBadParam, "页码必须为正整数");
  }
  int64_t page_size = kKuaimaiDefaultPageSize;
  if (const std::string_view s = Param(params, "pageSize"); !s.empty()) {
    if (!ParseNumber(s, &page_size) || page_size < 1 || page_size > kKuaimaiMaxPageSize) {
      return ErrorLocked(kKuaimaiErrBadParam, "pageSize必须在1到200之间");
    }
  }
  if (const std::string_view v = Param(params, "asVersion"); !v.empty() && v != "1" && v != "2") {
    return ErrorLocked(kKuaimaiErrBadParam, "asVersion只能为1或2");
  }
  struct Range {
    std::string_view start_key, end_key;
    int64_t start = std::numeric_limits<int64_t>::min();
    int64_t end = std::numeric_limits<int64_t>::max();
  };
  Range modified{"startModified", "endModified"};
  Range applied{"startApplyTime", "endApplyTime"};
  for (Range* r : {&modified, &applied}) {
    for (auto [key, out] : {std::pair{r->start_key, &r->start}, std::pair{r->end_key, &r->end}}) {
      const std::string_view v = Param(params, key);
      if (!v.empty() && !ParseBeijing(v, out)) {
        return ErrorLocked(kKuaimaiErrBadParam,
                           fmt::format("{}格式错误，应为yyyy-MM-dd HH:mm:ss", key));
      }
    }
    if (r->end < r->start) return ErrorLocked(kKuaimaiErrBadParam, "结束时间不能早于开始时间");
  }
  if (max_window_ms_ > 0) {
    const bool bounded = modified.start != std::numeric_limits<int64_t>::min() &&
                         modified.end != std::numeric_limits<int64_t>::max();
    if (!bounded || modified.end - modified.start > max_window_ms_) {
      return ErrorLocked(kKuaimaiErrBadParam, "修改时间跨度不能超过1天");
    }
  }
  int64_t want_id = 0;
  if (const std::string_view v = Param(params, "id"); !v.empty() && !ParseNumber(v, &want_id)) {
    return ErrorLocked(kKuaimaiErrBadParam, "id格式错误");
  }
  int want_type = -1;
  if (const std::string_view v = Param(params, "afterSaleType");
      !v.empty() && !ParseNumber(v, &want_type)) {
    return ErrorLocked(kKuaimaiErrBadParam, "afterSaleType格式错误");
  }
  const std::string_view want_tid = Param(params, "tid");
  // userIds, warehouseIds and suiteSingle are accepted and ignored.

  if (nolist_left_ > 0) {
    --nolist_left_;
    return {200, R"({"success":true})", std::string(kJsonType)};
  }

  // Window on modified: [startModified, endModified).
  const int64_t offset = page_no > std::numeric_limits<int64_t>::max() / kKuaimaiMaxPageSize
                             ? std::numeric_limits<int64_t>::max()
                             : (page_no - 1) * page_size;
  int64_t total = 0;
  std::vector<int64_t> page;
  for (auto it = by_modified_.lower_bound({modified.start, std::numeric_limits<int64_t>::min()});
       it != by_modified_.end() && it->first < modified.end; ++it) {
    const KuaimaiOrder& o = orders_.at(it->second);
    if (o.created_ms < applied.start || o.created_ms >= applied.end) continue;
    if (want_id != 0 && o.id != want_id) continue;
    if (want_type >= 0 && o.after_sale_type != want_type) continue;
    if (!want_tid.empty() && o.tid != want_tid) continue;
    if (total >= offset && total - offset < page_size) page.push_back(o.id);
    ++total;
  }
  const bool has_next = offset < total && offset + static_cast<int64_t>(page.size()) < total;

  JsonWriter w;
  w.BeginObject()
      .Key("success")
      .Bool(true)
      .IntField("total", total)
      .Key("hasNext")
      .Bool(has_next)
      .Key("list")
      .BeginArray();
  for (int64_t id : page) w.Raw(OrderJsonOf(orders_.at(id)));
  w.EndArray().EndObject();
  Reply reply{200, w.Take(), std::string(kJsonType)};

  if (!page.empty() && mutate_pages_left_ > 0) {
    --mutate_pages_left_;
    const size_t n = std::min(page.size(), static_cast<size_t>(mutate_count_));
    for (size_t i = 0; i < n; ++i) ModifyLocked(FindLocked(page[i]));
  }
  return reply;
}

}  // namespace stagesync::emulators
