// In-process emulator of the OKKI / Xiaoman CRM open API (https://api-sandbox.xiaoman.cn, which
// is production) for the calls the agent uses: POST /v1/oauth2/access_token (client_credentials)
// and GET /v1/product/list. Served over real HTTP on 127.0.0.1 with scopes, token expiry and
// revocation, fault injection and request statistics.
// Follows doc/vendors/okki.md; every detail marked [I] below or Assumed there is a
// guess (error bodies, window bounds, ordering, the page-size cap, ...).
// Thread-safety: as Emulator (emulator_base.h).
#ifndef STAGESYNC_TESTS_EMULATORS_OKKI_EMULATOR_H_
#define STAGESYNC_TESTS_EMULATORS_OKKI_EMULATOR_H_

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

// The state behind one product. The served JSON is a pure function of this struct.
struct OkkiProduct {
  int64_t product_id = 0;
  std::string product_no;  // "P-000123"
  std::string name;
  int64_t group_id = 0;
  std::string group_name;
  int64_t cost_cents = 0;           // cost, served as a string "3.20"
  int64_t cost_with_tax_cents = 0;  // cost_with_tax, string
  std::string cost_currency;
  std::string cost_unit;
  int enable_flag = 1;        // 0 = deleted (still listed)
  int disable_flag = 1;       // 0 = stopped selling
  std::string fob_currency;   // fob.price_currency
  int64_t fob_min_cents = 0;  // fob.price_min, a JSON number (1.1)
  int64_t fob_max_cents = 0;  // fob.price_max
  std::string fob_unit;       // fob.price_unit, "USD/PCS"
  int64_t minimum_order_quantity = 0;
  std::string model;
  std::vector<int64_t> category_ids;
  std::string unit;
  std::string hs_code;
  int source_type = 0;
  int pin_flag = 0;
  std::string info_json = "{}";  // raw JSON object
  int64_t create_time_ms = 0;    // whole seconds
  int64_t update_time_ms = 0;    // whole seconds; what time_type=1 filters and orders on
  std::string create_time;       // "yyyy-MM-dd HH:mm:ss" (UTC+8), as served
  std::string update_time;
  int product_type = 1;  // 1 single, 2 multi-spec, 3 combo
  std::string product_remark;
  // [I] "numbers may be strings": minimum_order_quantity and fob.price_min/max served quoted.
  bool numbers_as_strings = false;
  int version = 0;  // 0 when created, bumped by every mutation
};

struct OkkiEmulatorOptions {
  std::string client_id = "demo-okki";
  std::string client_secret = "demo-okki-secret";
  // Scopes a token may be granted; anything else asked for is invalid_scope.
  std::vector<std::string> allowed_scopes = {"product", "company", "invoices", "order",
                                             "opportunity"};
  int token_ttl_s = 28'800;
};

inline constexpr int kOkkiDefaultPageSize = 10;
inline constexpr int kOkkiMaxPageSize = 100;  // [I] larger counts are silently clamped

// Emulator's keys are request paths; its data calls are the product list calls.
class OkkiEmulator : public Emulator {
 public:
  explicit OkkiEmulator(OkkiEmulatorOptions opts = {});
  ~OkkiEmulator() override;

  // Data. Deterministic: the same calls with the same seed yield identical products (a fixed
  // default seed is used until Generate is first called). Generate appends n products created
  // uniformly in [from_ms, to_ms) with update_time in [create_time, to_ms), whole seconds; a few
  // come soft-deleted (enable_flag 0) or stopped (disable_flag 0).
  void Generate(int n, int64_t from_ms, int64_t to_ms, uint64_t seed);
  // Changes cost/name/remark and moves update_time to now (at least one second past the old
  // value), which moves the product to the end of the update_time ordering.
  bool Modify(int64_t product_id);
  // Sets `info` to any raw JSON text (a lone "\ud800", nesting past 64, invalid UTF-8), served
  // as it is; no bump. For unreadable-record tests. False if unknown.
  bool SetInfoJson(int64_t product_id, std::string raw);
  bool SoftDelete(int64_t product_id);  // enable_flag = 0, update_time = now; false if unknown
  void Clear();
  std::vector<OkkiProduct> Products() const;          // ordered by update_time, then product_id
  std::string ProductJson(int64_t product_id) const;  // one element of data.list; "" if unknown

  // The clock (AdvanceClockMs) drives token expiry, "now" in replies and Modify.

  // Faults. Emulator's (Fail5xxNext, TruncateNext, SetMaxQps: HTTP 429 {"code":429,...} [I]) hit
  // /v1/product/list only, never the token endpoint; precedence 5xx > QPS limit.
  void RevokeTokenNow();          // every token issued so far answers 401 from now on
  void SetTokenTtl(int seconds);  // also applies to tokens already issued
  // After each of the next `pages` non-empty pages served, the first n products of that page are
  // modified (see Modify); when the query's window reaches past now they move behind the later
  // pages, so a client paging by start_index skips n not-yet-served products.
  void MutateBetweenPagesNext(int n, int pages = 1);

  int64_t TokensIssued() const;  // distinct access tokens minted; zeroed by ResetStats

 private:
  struct Token {
    std::string scopes;  // normalised: sorted, space separated
    std::set<std::string, std::less<>> scope_set;
    std::string refresh_token;
    int64_t issued_ms = 0;
    bool revoked = false;
  };
  enum Endpoint { kToken, kProductList };

  std::vector<Route> Routes() const override;
  Call ClassifyLocked(int ep, const httplib::Request& req) override;
  Reply QpsReplyLocked(const Call& call) override;
  Reply AnswerLocked(const Call& call, const httplib::Request& req) override;
  void ResetVendorStatsLocked() override;
  Reply TokenLocked(const httplib::Request& req);
  Reply ProductListLocked(const httplib::Request& req);
  Reply OAuthErrorLocked(int status, std::string_view error, std::string_view description);
  Reply EnvelopeErrorLocked(int status, int code, std::string_view message);
  bool TokenLiveLocked(const Token& token) const;

  OkkiProduct MakeProductLocked(int64_t create_ms, int64_t update_ms);
  void InsertLocked(OkkiProduct product);
  void TouchLocked(OkkiProduct* product);  // update_time -> now, version++
  void ModifyLocked(OkkiProduct* product);
  OkkiProduct* FindLocked(int64_t id);
  uint64_t RandLocked(uint64_t bound);  // uniform-ish in [0, bound)

  const OkkiEmulatorOptions opts_;

  std::map<int64_t, OkkiProduct> products_;
  std::set<std::pair<int64_t, int64_t>> by_update_;  // (update_time_ms, product_id)
  int64_t next_id_ = 3'100'000;
  std::mt19937_64 data_rng_;
  std::mt19937_64 noise_rng_;  // tokens; never affects product data

  std::map<std::string, Token, std::less<>> tokens_;
  int token_ttl_s_;

  int mutate_pages_left_ = 0;
  int mutate_count_ = 0;
  int64_t tokens_issued_ = 0;
};

}  // namespace stagesync::emulators

#endif  // STAGESYNC_TESTS_EMULATORS_OKKI_EMULATOR_H_
