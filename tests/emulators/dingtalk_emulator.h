// In-process emulator of the DingTalk oapi endpoints the agent uses (gettoken, processinstance
// listids/get) and of the v1.0 Yida (宜搭) process-instance API (start, update, search, delete,
// terminate), served over real HTTP on 127.0.0.1, with fault injection and request statistics.
// Follows doc/vendors/dingtalk.md and doc/vendors/yida.md; details marked Assumed there
// are guesses.
// Thread-safety: as Emulator (emulator_base.h).
#ifndef STAGESYNC_TESTS_EMULATORS_DINGTALK_EMULATOR_H_
#define STAGESYNC_TESTS_EMULATORS_DINGTALK_EMULATOR_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "emulators/emulator_base.h"

namespace stagesync::emulators {

// One row of the 费用明细 table.
struct DingTalkDetailRow {
  std::string row_number;    // "TableField_…_<suffix>", stable for the row's lifetime
  int64_t amount_cents = 0;  // 金额
  std::string subject;       // 对应科目
  std::string note;          // 明细说明
};

// The state behind one instance. The served JSON is a pure function of this struct.
struct DingTalkInstance {
  std::string id;
  int64_t create_time_ms = 0;
  int64_t finish_time_ms = 0;  // 0 = no finish_time (RUNNING / NEW)
  std::string status;          // NEW RUNNING COMPLETED TERMINATED CANCELED
  std::string result;          // agree refuse ""
  std::string business_id;
  std::string payee_name;    // 收款人姓名 value
  std::string total_amount;  // 总额 value, e.g. "1234.56" (sum of the detail rows)
  int version = 0;           // 0 when created, bumped by every mutation

  std::string originator_userid;
  std::string originator_name;  // used in the title "<name>提交的付款申请"
  std::string originator_dept_id;
  std::string originator_dept_name;
  std::string biz_action = "NONE";  // NONE MODIFY REVOKE
  std::vector<std::string> approver_userids;
  std::vector<std::string> cc_userids;
  std::vector<std::string> attached_process_instance_ids;
  std::vector<std::string> task_ids;  // one per approver

  std::string purpose;        // 用途
  std::string pay_date;       // 预计付款日期 "YYYY-MM-DD"
  std::string pay_method;     // 付款方式
  std::string payee_account;  // 收款账号
  std::string bank;           // 开户行
  std::string description;    // 用途说明
  std::string other_fee;      // 其他费用, may carry thousands separators ("1,000.50")
  std::vector<DingTalkDetailRow> detail_rows;
  bool has_text_note = false;  // nameless TextNote component present
  int attachment_mode = 0;     // 0 = no 附件 field, 1 = literal "null", 2 = one file
  std::string attachment_file_id;
  // 单据编号: the Kingdee CN_PAYAPPLY bill number, "FKSQ" + 6 digits, unique unless set otherwise
  // through SetBillNumber. Drawn from its own generator, so every other field is unchanged by it.
  std::string bill_number;
  // Form labels this instance carries under another name (original name -> name), set when it
  // is created from the renames made so far (RenameFormLabel).
  std::map<std::string, std::string> renamed_labels;
};

// One Yida process instance as stored by the emulator.
struct YidaInstance {
  std::string id, form_uuid, status;  // status: RUNNING TERMINATED (COMPLETED via YidaAddInstance)
  std::string form_data_json;         // minified object, components in first-set order
  int version = 0;                    // 1 when started, bumped by every update and terminate
};

struct DingTalkEmulatorOptions {
  std::string app_key = "demo-key";
  std::string app_secret = "demo-secret";
  std::string process_code = "PROC-PAYMENT-0001";
  int token_ttl_s = 7200;
  // The one Yida app and form the v1.0 Yida endpoints accept.
  std::string yida_app_type = "APP_DEMO";
  std::string yida_system_token = "demo-system-token";
  std::string yida_form_uuid = "FORM-DEMO";
};

// Error codes the emulator answers with (HTTP 200 envelopes unless noted).
inline constexpr int kDingTalkErrBadAppKey = 40089;
inline constexpr int kDingTalkErrBadToken = 40014;
inline constexpr int kDingTalkErrInvalidParam = 400002;  // [I] code for every parameter error
inline constexpr int kDingTalkErrNotFound = 60121;
inline constexpr int kDingTalkErrGateway = 88;
inline constexpr int kDingTalkErrAppQps = 90018;
inline constexpr int kDingTalkListMaxSize = 20;
inline constexpr int kDingTalkListMaxIds = 10000;

// Yida (v1.0) error codes: non-2xx answers {"code":…,"message":…,"requestid":…}. A missing
// required parameter answers 400 with code "Missing" + the parameter name ("MissingsystemToken").
inline constexpr std::string_view kYidaErrInvalidAuth = "InvalidAuthentication";  // 400
inline constexpr std::string_view kYidaErrInvalidParam = "InvalidParameter";      // 400
inline constexpr std::string_view kYidaErrQps = "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi";
inline constexpr std::string_view kYidaErrTooFast = "failure.operation.requestTooFast";  // 400
// 400 for a wrong appType/systemToken pair [I].
inline constexpr std::string_view kYidaErrBadApp =
    "invalidState.authorization.invalidAuthorizationInformation";
inline constexpr std::string_view kYidaErrFormNotFound = "invalidState.form.formNotExist";  // 400
inline constexpr std::string_view kYidaErrNotFound =
    "invalidState.form.dataDoesNotExistOrIsDeleted";  // 400, unknown or deleted instance
inline constexpr std::string_view kYidaErrStatusChanged =
    "invalidState.instance.instanceStatusHasChanged";  // 400, terminate of a finished instance
inline constexpr int kYidaDefaultPageSize = 10;
inline constexpr int kYidaMaxPageSize = 100;

// Emulator's keys are request paths; its data calls are listids and get.
class DingTalkEmulator : public Emulator {
 public:
  explicit DingTalkEmulator(DingTalkEmulatorOptions opts = {});
  ~DingTalkEmulator() override;

  // Data. Generation is deterministic: the same sequence of calls with the same seed yields
  // identical instances (a fixed default seed is used until Generate is first called).
  // Generate appends n instances with create times uniform in [from_ms, to_ms); a few of them are
  // MODIFY/REVOKE re-submissions linked to an earlier one through attached_process_instance_ids.
  void Generate(int n, int64_t from_ms, int64_t to_ms, uint64_t seed);
  // For any status but COMPLETED the result is forced to "".
  std::string AddInstance(int64_t create_time_ms, const std::string& status = "COMPLETED",
                          const std::string& result = "agree");
  bool Complete(const std::string& id, const std::string& result = "agree");  // RUNNING/NEW only
  bool Modify(const std::string& id);           // new payee and amounts
  bool RemoveDetailRow(const std::string& id);  // drops the last 费用明细 row if there are > 1
  bool SetPayeeName(const std::string& id, const std::string& name);
  // Re-submits `id` as a new instance created now with biz_action MODIFY or REVOKE; both sides
  // list each other in attached_process_instance_ids and REVOKE terminates the original.
  // Returns the new id, or "" if `id` is unknown or biz_action is not MODIFY/REVOKE.
  std::string Resubmit(const std::string& id, const std::string& biz_action = "MODIFY");
  void Clear();  // drops every DingTalk instance (the Yida ones stay: YidaClear)
  std::vector<DingTalkInstance> Instances() const;        // ordered by create time, then id
  std::string InstanceJson(const std::string& id) const;  // "" if unknown
  // Sets the 单据编号 value (any string, duplicates and "" included); bumps version.
  bool SetBillNumber(const std::string& id, const std::string& number);
  // An admin renames a field of the approval form: instances created from now on carry `to`
  // as the component's `name` in form_component_values, where `from` was (component id, type
  // and value unchanged); existing instances keep the name they were submitted with, as DingTalk
  // snapshots the form with each instance (a MODIFY re-submission is a new instance). `from` is
  // the label's original or current name; renaming back to the original undoes it.
  void RenameFormLabel(const std::string& from, const std::string& to);

  // The clock (AdvanceClockMs) drives token expiry, the listids default end_time, the 365-day
  // rule and the finish_time set by Complete.

  // Faults (Fail5xxNext, SetMaxQps: 90018 and the rest in Emulator). They apply to the data calls
  // (listids/get) only, never to gettoken, and each request takes at most one of IP ban > 5xx > QPS
  // limit > throttle, in that order.
  void ExpireTokenNow();
  void SetTokenTtl(int seconds);  // also applies to the current token
  // The errcode a data call with an expired or unknown token gets. Default 40014 (what expired
  // tokens come back as [V:D9]); 42001 ("access token expired") is the documented alternative.
  void SetBadTokenErrcode(int errcode);
  // errcode 88 adds sub_code 90002; other codes (90018, 90020, -1, 90002, …) come bare.
  void ThrottleNext(int n, int errcode = kDingTalkErrGateway);
  void IpBanNext(int n);            // HTTP 200 with an HTML page, no errcode
  void IpBanPunishJsonNext(int n);  // HTTP 200 {"status":1111,"wait":5,"punish":"deny"}
  void IpBanForMs(int ms);          // every data call answers the HTML page for this long
  void MalformedNext(int n) { TruncateNext(n); }  // HTTP 200, the JSON body cut in half
  void OversizeNext(int n, size_t bytes);  // successful gets padded to `bytes` (top-level field)
  // Successful gets omit this process_instance key, or the whole object for "process_instance".
  void DropFieldNext(int n, const std::string& field);
  void SetRequireGzip(bool) {}
  // The counted faults above also hit gettoken when on (the real gateway throttles and bans
  // token calls like any other). Default: off.
  void SetFaultsOnTokenCalls(bool on);
  // A storm: every oapi request (gettoken too when `token_calls`) that no counted fault took
  // draws one fault at random: throttling (errcode 88/90002, -1 and 90018 in turn), HTTP 502,
  // or the flood guard's HTML page. Seeded, so a run is repeatable. All zero = off (default).
  struct Storm {
    double throttle = 0;
    double fail5xx = 0;
    double ipban = 0;
    bool token_calls = true;
    uint64_t seed = 1;
  };
  void SetStorm(const Storm& storm);

  // Yida (v1.0) faults and knobs. They apply to the Yida calls only (never to oapi), and the
  // DingTalk faults above never apply to Yida calls. Each Yida call takes at most one of
  // 5xx > QPS limit > throttle > too-fast, in that order, before its token is even checked; every
  // counted fault is consumed by the next Yida call of any operation.
  void YidaThrottleNext(int n);  // HTTP 403 Forbidden.AccessDenied.QpsLimitForAppkeyAndApi
  void YidaTooFastNext(int n);   // HTTP 400 failure.operation.requestTooFast
  void YidaFail5xxNext(int n);   // HTTP 502 with an HTML body, nothing performed
  // The next n writes (start, update, delete, terminate) that succeed are fully performed, then
  // answered with HTTP 502 HTML as if the gateway lost the reply. `always` does it to every one.
  void YidaDropResponseAfterCommitNext(int n);
  void SetYidaDropResponseAfterCommit(bool always);
  // A started instance stays invisible to search until this long (emulator clock, setting at
  // search time) after its start.
  void SetYidaSearchLagMs(int ms);
  void SetYidaMaxQps(int qps);  // > 0: per operation, calls beyond qps in one second get 403
  // Search matching of string values: false (default) = exact, true = the stored string contains
  // the searched one (real Yida text search is fuzzy [I]). Other values always match exactly.
  void SetYidaSearchTextContains(bool contains);
  // Key(s) that carry the form data of each search result: "formData", "data" (the name in
  // DingTalk's yida_1_0 SDK model) or "both" (default).
  void SetYidaSearchDataKey(const std::string& key);

  // Yida data. YidaAddInstance stores an instance directly (no request, not counted by
  // YidaCreatedCount, visible to search at once); "" if form_data_json is not a JSON object.
  std::string YidaAddInstance(const std::string& form_data_json,
                              const std::string& status = "RUNNING");
  std::vector<YidaInstance> YidaInstances() const;  // live ones (not deleted), by start order
  // Test hooks acting as a person in the Yida UI would: deletes an instance; sets one component
  // of an instance's form data to `value_json` (a JSON value), bumping its version and modified
  // time as an edit does. False when there is no such instance (or value_json is not JSON).
  bool YidaDeleteInstance(const std::string& id);
  bool YidaEditField(const std::string& id, const std::string& component,
                     const std::string& value_json);
  int64_t YidaCreatedCount() const;  // starts that created an instance, dropped replies included
  // Requests per op ("start", "update", "search", "delete", "terminate"), faulted ones included.
  int64_t YidaRequestCount(const std::string& op) const;
  void YidaClear();  // drops every Yida instance and zeroes YidaCreatedCount

  // Stats (Emulator's): RequestCount covers every request, Yida ones included. ResetStats also
  // zeroes TokensIssued and the YidaRequestCount figures.
  int64_t TokensIssued() const;

 private:
  // Yida ones last, in YidaOpName order.
  enum Endpoint {
    kGetToken,
    kListIds,
    kGet,
    kYidaStart,
    kYidaUpdate,
    kYidaSearch,
    kYidaDelete,
    kYidaTerminate
  };
  struct YidaRecord {
    std::string id;
    std::string form_uuid;
    std::string process_code;
    std::string originator;
    std::string title;
    std::string status;
    std::vector<std::pair<std::string, std::string>> fields;  // component id -> minified JSON
    int64_t create_ms = 0;
    int64_t modified_ms = 0;
    bool lagged = false;  // subject to the search lag (started through the API)
    int version = 1;
    int64_t seq = 0;
  };

  std::vector<Route> Routes() const override;
  Call ClassifyLocked(int ep, const httplib::Request& req) override;
  std::optional<Reply> FaultLocked(const Call& call) override;
  Reply QpsReplyLocked(const Call& call) override;
  Reply ThrottleReplyLocked(const Call& call) override;
  Reply AnswerLocked(const Call& call, const httplib::Request& req) override;
  void ResetVendorStatsLocked() override;
  std::optional<Reply> StormFaultLocked();
  Reply ThrottleErrorLocked(int errcode);
  Reply GetTokenLocked(const httplib::Request& req);
  Reply ListIdsLocked(const httplib::Request& req);
  Reply GetLocked(const httplib::Request& req);
  bool TokenValidLocked(const httplib::Request& req) const;
  Reply ErrorLocked(int errcode, std::string_view errmsg);
  std::string RequestIdLocked();

  DingTalkInstance MakeInstanceLocked(int64_t create_ms, int64_t finish_cap_ms);
  void InsertLocked(DingTalkInstance inst);
  DingTalkInstance* FindLocked(const std::string& id);
  std::string NewIdLocked();
  std::string NewBusinessIdLocked(int64_t create_ms);
  uint64_t RandLocked(uint64_t bound);  // uniform-ish in [0, bound)
  std::string InstanceJsonLocked(const DingTalkInstance& inst, std::string_view drop) const;
  std::string NewBillNumberLocked();

  Reply YidaAnswerLocked(int ep, const httplib::Request& req);
  std::optional<Reply> YidaFaultLocked(bool over_qps);
  Reply YidaErrorLocked(int status, std::string_view code, std::string_view message);
  // Token, body, required/optional string parameters (into *p) and app identity; the refusal if
  // any of them is wrong.
  std::optional<Reply> YidaPrepareLocked(const httplib::Request& req, bool from_query,
                                         std::initializer_list<std::string_view> required,
                                         std::initializer_list<std::string_view> optional,
                                         std::map<std::string, std::string, std::less<>>* p);
  YidaRecord* YidaFindLocked(const std::string& id);
  // Sets the components of a JSON object string over the record's (an update, an edit).
  bool YidaMergeLocked(YidaRecord* rec, const std::string& form_data_json);
  Reply YidaStartLocked(const httplib::Request& req, bool* committed);
  Reply YidaUpdateLocked(const httplib::Request& req, bool* committed);
  Reply YidaSearchLocked(const httplib::Request& req);
  Reply YidaDeleteLocked(const httplib::Request& req, bool* committed);
  Reply YidaTerminateLocked(const httplib::Request& req, bool* committed);
  std::string NewYidaIdLocked();
  std::string YidaFormDataJson(const YidaRecord& rec) const;

  const DingTalkEmulatorOptions opts_;

  std::map<std::string, DingTalkInstance> instances_;
  std::set<std::pair<int64_t, std::string>> by_time_;
  std::set<std::string> business_ids_;
  std::mt19937_64 data_rng_;
  std::mt19937_64 noise_rng_;  // tokens and request ids; never affects instance data
  std::mt19937_64 bill_rng_;   // 单据编号 only, so adding it left every other field unchanged
  std::map<std::string, int> bill_numbers_;           // value -> how many instances carry it
  std::map<std::string, std::string> label_renames_;  // original form label -> current name

  std::string token_;
  int64_t token_issued_ms_ = 0;
  int token_ttl_s_;

  bool faults_on_token_ = false;
  Storm storm_;
  std::mt19937_64 storm_rng_{1};
  uint64_t storm_throttles_ = 0;
  int throttle_errcode_ = kDingTalkErrGateway;
  int bad_token_errcode_ = kDingTalkErrBadToken;
  int ipban_left_ = 0;
  int ipban_json_left_ = 0;
  int64_t ipban_until_steady_ms_ = 0;
  int oversize_left_ = 0;
  size_t oversize_bytes_ = 0;
  int drop_left_ = 0;
  std::string drop_field_;
  int64_t tokens_issued_ = 0;

  std::map<std::string, YidaRecord> yida_;
  std::mt19937_64 yida_rng_;
  int64_t yida_seq_ = 0;
  int64_t yida_created_ = 0;
  std::map<std::string, int64_t> yida_op_counts_;
  int yida_throttle_left_ = 0;
  int yida_too_fast_left_ = 0;
  int yida_fail5xx_left_ = 0;
  int yida_drop_left_ = 0;
  bool yida_drop_always_ = false;
  int yida_search_lag_ms_ = 0;
  int yida_max_qps_ = 0;
  std::map<int, std::pair<int64_t, int>> yida_qps_;  // endpoint -> (steady second, calls in it)
  bool yida_search_contains_ = false;
  std::string yida_search_data_key_ = "both";
};

}  // namespace stagesync::emulators

#endif  // STAGESYNC_TESTS_EMULATORS_DINGTALK_EMULATOR_H_
