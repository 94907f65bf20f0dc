// In-process emulator of the Kuaimai ERP open-API gateway (`POST /router`) for the calls the agent
// uses: erp.aftersale.list.query and open.token.refresh. Served over real HTTP on 127.0.0.1 with
// signature checks, sessions, fault injection and request statistics.
// Follows doc/vendors/kuaimai.md; every detail marked [I] below or Assumed there is a
// guess (numeric codes other than 25/27/105/106, the refresh reply, the 429 body, ...).
// Thread-safety: as Emulator (emulator_base.h).
#ifndef STAGESYNC_TESTS_EMULATORS_KUAIMAI_EMULATOR_H_
#define STAGESYNC_TESTS_EMULATORS_KUAIMAI_EMULATOR_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "emulators/emulator_base.h"

namespace stagesync::emulators {

// One goods line of a work order.
struct KuaimaiItem {
  std::string main_outer_id;  // mainOuterId (SPU)
  std::string outer_id;       // outerId (SKU)
  std::string title;
  int receivable_count = 0;   // receivableCount
  int item_real_qty = 0;      // itemRealQty
  int64_t price_cents = 0;    // price, served as "59.00"
  int64_t payment_cents = 0;  // payment
  int good_item_count = 0;
  int bad_item_count = 0;
  int type = 1;
};

// The state behind one after-sale work order. The served JSON is a pure function of this struct.
struct KuaimaiOrder {
  int64_t id = 0;
  std::string modified;     // "yyyy-MM-dd HH:mm:ss" (UTC+8), exactly as served
  int64_t modified_ms = 0;  // epoch ms, whole seconds; what ordering and filters use
  std::string created;
  int64_t created_ms = 0;
  int64_t finished_ms = 0;  // 0 = served as null
  std::string tid;          // platform order number, digits
  int64_t sid = 0;          // system order id
  int64_t short_id = 0;
  std::string status;       // WAIT_AUDIT WAIT_RECEIVE RECEIVED FINISHED CLOSED [I]
  int after_sale_type = 0;  // 0 1 2 3 4 5 7 8 9 (see doc/vendors/kuaimai.md)
  int64_t refund_money_cents = 0;
  int64_t raw_refund_money_cents = 0;
  std::string text_reason;
  std::string shop_name;
  std::string source;  // tb jd pdd fxg sys
  int good_status = 0;
  std::string refund_warehouse_name;
  std::string refund_express_id;   // "" for refund-only tickets
  std::vector<KuaimaiItem> items;  // may be empty for types 1 and 5
  int version = 0;                 // 0 when created, bumped by every mutation
};

struct KuaimaiEmulatorOptions {
  std::string app_key = "demo-kuaimai";
  std::string app_secret = "demo-kuaimai-secret";
  std::string access_token = "at-0";
  std::string refresh_token = "rt-0";
  int64_t session_ttl_s = 30 * 86'400;  // [I] access-token lifetime; clients cache ~29 d
  int max_skew_s = 600;                 // [I] |timestamp - now| above this is rejected
  // [I] Whether open.token.refresh also kills access tokens issued before it. Off: an old access
  // token keeps working until it expires (or ExpireSessionNow).
  bool refresh_kills_old_access_tokens = false;
};

// Codes (always strings in the body, HTTP 200). Only 25, 27, 105, 106 are confirmed; the rest
// follow the Taobao TOP gateway numbering Kuaimai's gateway copies [I].
inline constexpr std::string_view kKuaimaiErrInvalidMethod = "22";  // missing/unknown method
inline constexpr std::string_view kKuaimaiErrInvalidFormat = "23";  // format other than json
inline constexpr std::string_view kKuaimaiErrBadSign = "25";  // also missing sign / sign_method
inline constexpr std::string_view kKuaimaiErrMissingSession = "26";  // no session param
inline constexpr std::string_view kKuaimaiErrSessionExpired =
    "27";                                                          // default; 105/106 configurable
inline constexpr std::string_view kKuaimaiErrBadAppKey = "29";     // missing/unknown appKey
inline constexpr std::string_view kKuaimaiErrBadTimestamp = "31";  // missing, malformed or skewed
inline constexpr std::string_view kKuaimaiErrBadVersion = "33";    // version other than 1.0
inline constexpr std::string_view kKuaimaiErrThrottled = "7";      // message mode; msg has 频繁
inline constexpr std::string_view kKuaimaiErrBadParam = "99";      // business parameter errors
inline constexpr std::string_view kKuaimaiErrRefreshTokenInvalid =
    "108";  // stale/unknown refresh token

inline constexpr std::string_view kKuaimaiMethodAftersaleList = "erp.aftersale.list.query";
inline constexpr std::string_view kKuaimaiMethodTokenRefresh = "open.token.refresh";
inline constexpr int kKuaimaiDefaultPageSize = 20;  // [I] "tiny default"
inline constexpr int kKuaimaiMaxPageSize = 200;

enum class KuaimaiThrottleMode {
  kHttp429,  // HTTP 429, Retry-After: 1, an HTML body
  kMessage,  // HTTP 200 {"success":false,"code":"7","msg":"…频繁…"}
};

// The gateway's signature over `params` (the "sign" key and empty values are skipped): upper-case
// hex of MD5(secret+s+secret), HMAC_MD5(secret, s) or HMAC_SHA256(secret, s) for sign_method
// "md5", "hmac" or "hmac-sha256"; "" for any other sign_method.
std::string KuaimaiSign(const std::map<std::string, std::string>& params, std::string_view secret,
                        std::string_view sign_method);
// "yyyy-MM-dd HH:mm:ss" in UTC+8.
std::string KuaimaiFormatTime(int64_t epoch_ms);

// Emulator's keys are method names; its data calls are all but open.token.refresh. The endpoint
// is base_url()+"/router".
class KuaimaiEmulator : public Emulator {
 public:
  explicit KuaimaiEmulator(KuaimaiEmulatorOptions opts = {});
  ~KuaimaiEmulator() override;

  // Data. Deterministic: the same calls with the same seed yield identical orders (a fixed default
  // seed is used until Generate is first called). Generate appends n orders created uniformly in
  // [from_ms, to_ms) with `modified` in [created, to_ms), both in whole seconds.
  void Generate(int n, int64_t from_ms, int64_t to_ms, uint64_t seed);
  // Changes status/money/reason and moves `modified` to now (at least one second past the old
  // value), which moves the order to the end of the modified ordering.
  bool Modify(int64_t id);
  // Sets textReason to any bytes (invalid UTF-8 included), served as they are; no bump. For
  // unreadable-record tests. False if unknown.
  bool SetTextReason(int64_t id, std::string reason);
  void Clear();
  std::vector<KuaimaiOrder> Orders() const;  // ordered by modified, then id
  std::string OrderJson(int64_t id) const;   // one element of "list"; "" if unknown

  // Sessions.
  std::string CurrentAccessToken() const;
  std::string CurrentRefreshToken() const;

  // The clock (AdvanceClockMs) drives the timestamp check, session expiry and Modify.

  // Faults (Fail5xxNext, TruncateNext and SetLatencyMs are Emulator's). The gateway faults (5xx,
  // QPS limit, throttle) hit every method except open.token.refresh, in that order of precedence,
  // before any parameter check. Truncation hits any successful or failed reply of those methods;
  // NoList only list queries that would succeed.
  void ExpireSessionNow();  // every access token issued so far now answers the expired code
  void SetSessionExpiredCode(std::string code);  // "27" (default), "105" or "106"
  void ThrottleNext(int n, KuaimaiThrottleMode mode = KuaimaiThrottleMode::kHttp429);
  void NoListNext(int n);  // list queries answer {"success":true} alone
  // > 0: calls beyond qps in one steady-clock second are throttled in `mode`.
  void SetMaxQps(int qps, KuaimaiThrottleMode mode = KuaimaiThrottleMode::kHttp429);
  // After each of the next `pages` non-empty list pages served, the first n orders of that page
  // are modified (see Modify); with an endModified past now they move behind the later pages, so
  // a client paging by pageNo skips n not-yet-served orders.
  void MutateBetweenPagesNext(int n, int pages = 1);
  // [I] > 0: a list query whose startModified..endModified spans more than this answers "99".
  void SetMaxWindowMs(int64_t ms);

  // Stats. RequestCount(method) covers every request to /router with that method ("" = all; a
  // request with no method counts under ""). ResetStats zeroes the figures below too.
  int64_t RefreshCount() const;            // successful refreshes
  int64_t RefreshTokenReuseCount() const;  // refreshes with an already rotated-out refresh token
  int64_t SignatureFailures() const;       // replies with code 25

 private:
  std::vector<Route> Routes() const override;
  Call ClassifyLocked(int ep, const httplib::Request& req) override;
  Reply QpsReplyLocked(const Call&) override { return ThrottleModeReplyLocked(qps_mode_); }
  Reply ThrottleReplyLocked(const Call&) override {
    return ThrottleModeReplyLocked(throttle_mode_);
  }
  Reply AnswerLocked(const Call& call, const httplib::Request& req) override;
  bool KeyMatches(std::string_view key, std::string_view query) const override;
  void ResetVendorStatsLocked() override;
  static Params RequestParams(const httplib::Request& req);  // query string and form body
  Reply ThrottleModeReplyLocked(KuaimaiThrottleMode mode);
  Reply RouteLocked(const Params& params);
  Reply ListLocked(const Params& params);
  Reply RefreshLocked(const Params& params);
  Reply ErrorLocked(std::string_view code, std::string_view msg);
  std::string TraceIdLocked();
  std::string NewTokenLocked(std::string_view prefix);

  KuaimaiOrder MakeOrderLocked(int64_t created_ms, int64_t modified_ms);
  void InsertLocked(KuaimaiOrder order);
  void ModifyLocked(KuaimaiOrder* order);
  KuaimaiOrder* FindLocked(int64_t id);
  uint64_t RandLocked(uint64_t bound);  // uniform-ish in [0, bound)

  const KuaimaiEmulatorOptions opts_;

  std::map<int64_t, KuaimaiOrder> orders_;
  std::set<std::pair<int64_t, int64_t>> by_modified_;  // (modified_ms, id)
  std::set<std::string> tids_;
  int64_t next_id_ = 400'000'001;
  std::mt19937_64 data_rng_;
  std::mt19937_64 noise_rng_;  // tokens and trace ids; never affects order data

  std::map<std::string, int64_t> access_tokens_;  // token -> expiry (emulator clock ms)
  std::string access_token_;
  std::string refresh_token_;
  std::set<std::string> retired_refresh_tokens_;
  int64_t token_serial_ = 0;
  std::string expired_code_{kKuaimaiErrSessionExpired};

  KuaimaiThrottleMode throttle_mode_ = KuaimaiThrottleMode::kHttp429;
  int nolist_left_ = 0;
  int mutate_pages_left_ = 0;
  int mutate_count_ = 0;
  int64_t max_window_ms_ = 0;
  KuaimaiThrottleMode qps_mode_ = KuaimaiThrottleMode::kHttp429;

  int64_t refreshes_ = 0;
  int64_t refresh_reuses_ = 0;
  int64_t sign_failures_ = 0;
};

}  // namespace stagesync::emulators

#endif  // STAGESYNC_TESTS_EMULATORS_KUAIMAI_EMULATOR_H_
