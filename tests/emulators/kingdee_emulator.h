// In-process emulator of the Kingdee K3Cloud WebAPI calls the agent uses (AuthService
// ValidateUser/LoginByAppSecret, DynamicFormService ExecuteBillQuery/Save/Push), served over real
// HTTP on 127.0.0.1, with fault injection and request statistics.
// Follows doc/vendors/kingdee.md; details marked Assumed there are guesses, and so
// is everything the comments below call "emulator choice".
//
// Forms served by ExecuteBillQuery (field keys are matched case-insensitively):
//   BD_MATERIAL  FMasterId FMATERIALID FNumber FName FSpecification F_ProductLine
//                FMaterialGroup.FNumber FBaseUnitId.FNumber FUseOrgId.FNumber FDocumentStatus
//                FForbidStatus FModifyDate
//   CN_PAYAPPLY  FID FBillNo FDocumentStatus FSETTLETYPEID.FNumber
//   AP_PAYBILL   FID FBillNo FDocumentStatus FSOURCETYPE FSRCBILLNO FDate
//   any other form written by Save: FID FBillNo FNumber FDocumentStatus
// Base-data keys (".FNumber") answer null when empty; FBillNo of a draft answers "".
//
// Thread-safety: as Emulator (emulator_base.h).
#ifndef STAGESYNC_TESTS_EMULATORS_KINGDEE_EMULATOR_H_
#define STAGESYNC_TESTS_EMULATORS_KINGDEE_EMULATOR_H_

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "emulators/emulator_base.h"

namespace stagesync::emulators {

struct KingdeeMaterial {
  int64_t master_id = 0;  // 0 in AddMaterial = assign the next free id
  std::string number;     // "MAT000123"; empty in AddMaterial = assign
  std::string name;
  std::string specification;  // may carry leading/trailing spaces
  std::string product_line;
  std::string group_number;
  std::string base_unit;
  std::string use_org = "T00";
  std::string document_status = "C";
  std::string forbid_status = "A";
  std::string modify_date;  // "yyyy-MM-ddTHH:mm:ss"; empty in AddMaterial = now
};

struct KingdeePayApply {
  int64_t fid = 0;
  std::string number;
  std::string settle_type = "JSFS04_SYS";  // empty = a push of this bill fails validation
};

struct KingdeePayBill {
  int64_t fid = 0;
  std::string number;           // "" for drafts
  std::string document_status;  // "A" saved, "Z" draft
  std::string source_type;      // "CN_PAYAPPLY" when created by Push
  std::string source_number;    // the CN_PAYAPPLY FBillNo
  std::string date;             // FDate, "yyyy-MM-ddT00:00:00"
};

// A bill written by Save (every form, AP_PAYBILL included).
struct KingdeeSavedBill {
  std::string form_id;
  int64_t id = 0;
  std::string number;
  std::string model_json;  // the request's Model, minified
};

struct KingdeeEmulatorOptions {
  std::string acct_id = "demo-acct";
  std::string username = "api";
  std::string password = "demo-pass";
  std::string app_id = "demo-app";
  std::string app_secret = "demo-app-secret";
};

// MsgCode values the emulator answers with.
inline constexpr int kKingdeeMsgSessionLost = 1;
inline constexpr int kKingdeeMsgEmptyBillId = 5;
inline constexpr int kKingdeeMsgBadParameter = 8;
inline constexpr int kKingdeeMsgFieldNotFound = 9;
inline constexpr int kKingdeeMsgNoData = 10;
inline constexpr int kKingdeeMsgValidation = 11;
inline constexpr int kKingdeeMsgNotOperable = 12;
inline constexpr int kKingdeeMsgLocked = 13;
inline constexpr int kKingdeeMsgThrottled = 14;
inline constexpr std::string_view kKingdeeSessionLostMessage = "会话信息已丢失，请重新登录";
inline constexpr int kKingdeeQueryLimitCap = 2000;

// Emulator's keys are service names (the path between /k3cloud/ and .common.kdsvc, the path
// itself for anything else), matched case-insensitively as substrings; its data calls are the
// business calls (every service but the logins). Clients append /k3cloud/... to base_url().
class KingdeeEmulator : public Emulator {
 public:
  explicit KingdeeEmulator(KingdeeEmulatorOptions o = {});
  ~KingdeeEmulator() override;

  // ---- Data ----
  // Appends n materials. Deterministic: the same calls with the same seed give identical data.
  // Master ids ascend with gaps of 1..9 unused ids (room for InsertMaterialsBetweenPagesNext);
  // about 10% use org T01, 15% are not audited (A/B), 7% forbidden, 12% have a specification
  // with leading/trailing spaces; modify dates are spread over 2024 (fixed, not wall clock).
  void GenerateMaterials(int n, uint64_t seed);
  // Appends m (or replaces the material with the same master_id in place).
  void AddMaterial(KingdeeMaterial m);
  // Renames and sets FModifyDate to now (strictly later than before). False if unknown.
  bool UpdateMaterial(int64_t master_id, const std::string& new_name);
  bool RemoveMaterial(int64_t master_id);
  std::vector<KingdeeMaterial> Materials() const;  // insertion order

  // Returns number; assigns the FID (100231, 100232, ...). An existing number is updated.
  std::string AddPayApply(const std::string& number, const std::string& settle_type = "JSFS04_SYS");
  std::vector<KingdeePayApply> PayApplies() const;
  // Every later push of `number` fails its save with this error (empty field_name = null).
  void RejectPushOf(const std::string& number, const std::string& message,
                    const std::string& field_name = "FSETTLETYPEID");
  void AllowPushOf(const std::string& number);   // undoes RejectPushOf
  std::vector<KingdeePayBill> PayBills() const;  // creation order, drafts included
  // Default false (real behaviour): pushing a source again creates another bill. When true, a
  // source with any AP_PAYBILL already (drafts included) fails conversion with MsgCode 12.
  void SetBlockDuplicatePush(bool block);
  // Test hooks acting as a person or another client would, outside any request: pushes the
  // CN_PAYAPPLY `number` down once more (a new AP_PAYBILL, saved, its own FID and number, as
  // the real server does when a push is repeated; `number` need not be a known CN_PAYAPPLY);
  // deletes the AP_PAYBILL with this FID (false if none).
  KingdeePayBill PushAgain(const std::string& number);
  bool DeletePayBill(int64_t fid);
  std::vector<KingdeeSavedBill> SavedBills(const std::string& form_id = "") const;

  // ---- Clock ---- (AdvanceClockMs) in Beijing time; drives FModifyDate of updated materials,
  // FDate of new bills and SetSessionExpiresAfterMs.

  // ---- Faults ----
  // "Next(n)" faults (Fail5xxNext and TruncateNext are Emulator's) count business calls only
  // (never logins). A non-empty service_substring (case-insensitive, e.g. "Push") limits the fault
  // to calls whose service name contains it; only those calls use it up. Order per call:
  // 5xx > MaxQps (MsgCode 14) > throttle > session > lock. TruncateNext cuts JSON bodies in half.
  void ExpireSessionNow();                    // every issued session is lost
  void SetSessionExpiresAfterCalls(int n);    // 0 = never; a session serves n business calls
  void SetSessionExpiresAfterMs(int64_t ms);  // 0 = never; age measured on the emulator clock
  void ThrottleNext(int n, const std::string& service_substring = "");  // MsgCode 14
  void LockNext(int n, const std::string& service_substring = "");      // MsgCode 13
  void BomAlways(bool on);  // every body (logins and HTML pages too) starts with a UTF-8 BOM
  // Business answers carry IsSuccess and MsgCode as strings ("true", "11"), as the doc templates
  // show them (real servers send bool/int; clients must accept both, doc/vendors/kingdee.md).
  void SetStatusFieldsAsStrings(bool on);
  // The MsgCode of the lost-session answer (its text stays 会话信息已丢失…). Default 1; the same
  // text has been seen with other codes [V:K9].
  void SetSessionLostMsgCode(int msg_code);
  // When on, logins also take the counted 5xx and throttle faults (the real gateway throttles
  // logins like any other call). Default: off.
  void SetFaultsOnLogin(bool on);
  // Save/Push: the write is performed completely, then the answer is HTTP 502 with HTML.
  void DropResponseAfterCommitNext(int n);
  void SetDropResponseAfterCommit(bool always);
  // The next n Saves fail validation (MsgCode 11, this FieldName and Message), writing nothing.
  void RejectSaveNext(int n, const std::string& field_name, const std::string& message);
  // After answering the next successful BD_MATERIAL ExecuteBillQuery with at least one row,
  // inserts n materials. Each is a copy of the page's middle row (index size/2 of the page rows
  // sorted by FMasterId: same org, statuses, group, unit, product line and FModifyDate, so it
  // matches the same filters) with a new FNumber/FName and the highest unused FMasterId below
  // that middle row, i.e. inside the range the page already served. They are appended to the
  // insertion order. Consequence for StartRow paging ordered by FMasterId: the next page
  // starts n rows early (its first n rows repeat the end of the page just served) and the n
  // new rows are never served in this pass; keyset paging (FMasterId > last) misses them too.
  void InsertMaterialsBetweenPagesNext(int n);
  std::vector<int64_t> InsertedBetweenPages() const;  // master ids inserted so far

  // ---- Stats ---- (Emulator's, plus these, which ResetStats zeroes too)
  int64_t LoginCount() const;  // login requests, failed ones included
  int64_t PushCount() const;   // pushes performed (calls that reached the write)
  int64_t SaveCount() const;   // saves performed
  std::string LastRequestBody(const std::string& service_substring) const;

 private:
  struct Session {
    std::string aspnet_id;
    int calls = 0;
    int64_t created_ms = 0;
  };

  static Reply JsonReply(std::string body);
  static Reply HtmlReply(int status, std::string_view body);
  std::vector<Route> Routes() const override;
  Call ClassifyLocked(int ep, const httplib::Request& req) override;
  Reply QpsReplyLocked(const Call& call) override;
  Reply AnswerLocked(const Call& call, const httplib::Request& req) override;
  void FinishLocked(const Call& call, bool faulted, Reply* reply) override;
  bool KeyMatches(std::string_view key, std::string_view query) const override;
  void ResetVendorStatsLocked() override;
  Reply LoginLocked(bool app_secret, const httplib::Request& req);
  bool AuthenticatedLocked(const httplib::Request& req);
  bool SignatureHeadersValidLocked(const httplib::Request& req) const;
  Reply QueryLocked(const httplib::Request& req);
  Reply SaveLocked(const httplib::Request& req);
  Reply PushLocked(const httplib::Request& req);
  void InsertBetweenPagesLocked(const std::vector<int64_t>& page_ids);
  // Appends an AP_PAYBILL pushed from CN_PAYAPPLY `source_number`, dated today; a draft has no
  // number.
  const KingdeePayBill& NewPayBillLocked(const std::string& source_number, bool draft);

  std::string NewSessionIdLocked(bool guid);
  KingdeeMaterial* FindMaterialLocked(int64_t master_id);
  KingdeeMaterial MakeMaterialLocked(int64_t master_id);
  std::string NextMaterialNumberLocked();
  uint64_t RandLocked(uint64_t bound);

  const KingdeeEmulatorOptions opts_;

  std::vector<KingdeeMaterial> materials_;
  std::vector<KingdeePayApply> pay_applies_;
  std::vector<KingdeePayBill> pay_bills_;
  std::vector<KingdeeSavedBill> saved_;
  std::map<std::string, std::pair<std::string, std::string>> push_rejects_;  // msg, field
  bool block_duplicate_push_ = false;
  int64_t next_master_id_ = 100001;
  int64_t material_seq_ = 0;
  int64_t next_apply_fid_ = 100231;
  int64_t next_bill_fid_ = 108812;
  int64_t next_bill_no_ = 871;
  int64_t next_saved_id_ = 200001;
  std::mt19937_64 data_rng_;
  std::mt19937_64 noise_rng_;  // session ids; never affects data

  std::map<std::string, Session> sessions_;             // by kdservice-sessionid
  std::map<std::string, std::string> aspnet_sessions_;  // ASP.NET_SessionId -> kdservice id
  int session_max_calls_ = 0;
  int64_t session_max_age_ms_ = 0;

  bool faults_on_login_ = false;
  CountedFault lock_;
  bool bom_ = false;
  bool status_strings_ = false;
  int session_lost_code_ = kKingdeeMsgSessionLost;
  int drop_after_commit_left_ = 0;
  bool drop_after_commit_always_ = false;
  int reject_save_left_ = 0;
  std::string reject_save_field_;
  std::string reject_save_message_;
  int insert_between_pages_ = 0;
  std::vector<int64_t> inserted_ids_;

  std::map<std::string, std::pair<int64_t, std::string>> last_bodies_;  // name -> (seq, body)
  int64_t request_seq_ = 0;
  int64_t login_count_ = 0;
  int64_t push_count_ = 0;
  int64_t save_count_ = 0;
};

}  // namespace stagesync::emulators

#endif  // STAGESYNC_TESTS_EMULATORS_KINGDEE_EMULATOR_H_
