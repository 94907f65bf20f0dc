#include "emulators/dingtalk_emulator.h"

#include <fmt/format.h>
#include <httplib.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <optional>

#include "emulators/json_writer.h"

namespace stagesync::emulators {
namespace {

constexpr int64_t kMinuteMs = 60 * kSecondMs;
constexpr int kDefaultListSize = 10;  // [I] used when the body has no "size"
constexpr int kMaxUseridList = 10;

constexpr std::string_view kJsonType = "application/json;charset=utf-8";
constexpr std::string_view kHtmlType = "text/html;charset=utf-8";

constexpr std::string_view kBadGatewayHtml =
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>Tengine</center>\r\n"
    "</body>\r\n</html>\r\n";
constexpr std::string_view kIpBanHtml =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>访问被拒绝</title></head>\n"
    "<body><div class=\"punish-title\">很抱歉，由于您访问的URL有可能对网站造成安全威胁，"
    "您的访问被阻断。</div>\n<div class=\"punish-tip\">请稍后再试</div>\n</body></html>\n";
constexpr std::string_view kIpBanJson = R"({"status":1111,"wait":5,"punish":"deny"})";

// Fixed component ids of the emulated payment-request template.
constexpr std::string_view kTableId = "TableField_1K9R2WQ";
constexpr std::string_view kBillNumberId = "TextField_1A15";
// Salts for the generators that must not share a sequence with data_rng_.
constexpr uint64_t kBillSalt = 0x4b53'5146'4b53'5146ULL;  // "FKSQFKSQ"
constexpr uint64_t kYidaSalt = 0x5949'4441'5949'4441ULL;  // "YIDAYIDA"
constexpr int kBillDigits = 6;
constexpr uint64_t kBillRange = 1'000'000;  // 10^kBillDigits

struct Person {
  std::string_view userid;
  std::string_view name;
  std::string_view dept_id;
  std::string_view dept_name;
};
constexpr std::array<Person, 8> kPeople = {{
    {"manager7", "张三", "1", "财务部"},
    {"0912345678", "李四", "2", "市场部"},
    {"user_wang", "王五", "3", "研发部"},
    {"1730129934", "赵六", "4", "行政部"},
    {"staff042", "陈晓明", "5", "销售一部"},
    {"staff108", "刘洋", "6", "采购部"},
    {"05532411", "孙丽", "2", "市场部"},
    {"staff233", "周杰", "3", "研发部"},
}};
constexpr std::array<std::string_view, 4> kApprovers = {"u1", "boss01", "cfo_li", "fin_zhao"};
constexpr std::array<std::string_view, 8> kPayees = {
    "杭州云栖科技有限公司", "上海明远贸易有限公司", "王建国",
    "深圳华信电子有限公司", "北京创联广告有限公司", "李红梅",
    "广州顺达物流有限公司", "成都天府印务有限公司"};
constexpr std::array<std::string_view, 8> kPurposes = {
    "采购办公用品", "支付服务器租赁费", "市场推广费用", "差旅费报销",
    "支付物流运费", "设备维修",         "软件订阅费",   "会议场地租金"};
constexpr std::array<std::string_view, 8> kSubjects = {
    "办公费", "差旅费", "业务招待费", "租赁费", "广告费", "运输费", "维修费", "软件服务费"};
constexpr std::array<std::string_view, 8> kRowNotes = {
    "3月份办公用品采购", "客户拜访交通费", "服务器月租", "展会物料制作", "快递费",
    "打印机维修",        "年度订阅",       "季度场地费"};
constexpr std::array<std::string_view, 4> kPayMethods = {"银行转账", "现金", "支付宝", "承兑汇票"};
constexpr std::array<std::string_view, 5> kBanks = {
    "中国工商银行杭州西湖支行", "招商银行上海分行营业部", "中国建设银行深圳福田支行",
    "中国农业银行北京朝阳支行", "交通银行广州天河支行"};
// Some carry a newline or ASCII quotes so clients meet escaped characters.
constexpr std::array<std::string_view, 5> kDescriptions = {
    "按合同约定付款", "合同编号HT-2024-031\n分两期付款", "详见附件\"报价单\"", "月度例行付款",
    "紧急：供应商催款，请尽快处理"};

std::string_view YidaOpName(int op) {
  constexpr std::array<std::string_view, 5> kNames = {"start", "update", "search", "delete",
                                                      "terminate"};
  return kNames[static_cast<size_t>(op)];
}

struct CivilTime {
  int year;
  unsigned month, day;
  int64_t hour, minute, second;
};

CivilTime BeijingTime(int64_t epoch_ms) {
  using namespace std::chrono;
  const sys_time<milliseconds> tp{milliseconds{epoch_ms + kBeijingOffsetMs}};
  const auto day = floor<days>(tp);
  const year_month_day ymd{day};
  const hh_mm_ss hms{floor<seconds>(tp - day)};
  return {static_cast<int>(ymd.year()),
          static_cast<unsigned>(ymd.month()),
          static_cast<unsigned>(ymd.day()),
          hms.hours().count(),
          hms.minutes().count(),
          hms.seconds().count()};
}

std::string FormatDateTime(int64_t epoch_ms) {
  const CivilTime t = BeijingTime(epoch_ms);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", t.year, t.month, t.day, t.hour,
                     t.minute, t.second);
}

std::string FormatDate(int64_t epoch_ms) {
  const CivilTime t = BeijingTime(epoch_ms);
  return fmt::format("{:04}-{:02}-{:02}", t.year, t.month, t.day);
}

std::string FormatCents(int64_t cents, bool thousands) {
  std::string whole = std::to_string(cents / 100);
  if (thousands) {
    for (int i = static_cast<int>(whole.size()) - 3; i > 0; i -= 3) {
      whole.insert(static_cast<size_t>(i), 1, ',');
    }
  }
  return fmt::format("{}.{:02}", whole, cents % 100);
}

int64_t ParseCents(std::string_view s) {
  int64_t whole = 0;
  int64_t frac = 0;
  int frac_digits = -1;
  for (char c : s) {
    if (c == '.') {
      frac_digits = 0;
    } else if (c >= '0' && c <= '9') {
      if (frac_digits < 0) {
        whole = whole * 10 + (c - '0');
      } else if (frac_digits < 2) {
        frac = frac * 10 + (c - '0');
        ++frac_digits;
      }
    }
  }
  if (frac_digits == 1) frac *= 10;
  return whole * 100 + frac;
}

constexpr std::array<std::string_view, 10> kUpperDigits = {"零", "壹", "贰", "叁", "肆",
                                                           "伍", "陆", "柒", "捌", "玖"};

// 0 < group < 10000, without leading 零.
std::string UpperGroup(int64_t group) {
  constexpr std::array<std::string_view, 4> kPlaces = {"", "拾", "佰", "仟"};
  std::string out;
  bool zero_pending = false;
  for (int place = 3; place >= 0; --place) {
    int64_t divisor = 1;
    for (int i = 0; i < place; ++i) divisor *= 10;
    const int64_t d = group / divisor % 10;
    if (d == 0) {
      zero_pending = !out.empty();
      continue;
    }
    if (zero_pending) out += kUpperDigits[0];
    out += kUpperDigits[static_cast<size_t>(d)];
    out += kPlaces[static_cast<size_t>(place)];
    zero_pending = false;
  }
  return out;
}

// Chinese financial upper-case amount, e.g. 123456 -> 壹仟贰佰叁拾肆元伍角陆分.
std::string UpperMoney(int64_t cents) {
  if (cents <= 0) return "零元整";
  constexpr std::array<std::string_view, 3> kGroupUnits = {"", "万", "亿"};
  const int64_t yuan = cents / 100;
  std::string out;
  if (yuan > 0) {
    std::array<int64_t, 3> groups = {yuan % 10000, yuan / 10000 % 10000, yuan / 100000000};
    // A gap of zeros between two written groups reads as a single 零 (壹佰万零伍仟).
    bool need_zero = false;
    for (int i = 2; i >= 0; --i) {
      const int64_t g = groups[static_cast<size_t>(i)];
      if (g == 0) {
        need_zero = !out.empty();
        continue;
      }
      if (!out.empty() && (need_zero || g < 1000)) out += kUpperDigits[0];
      out += UpperGroup(g);
      out += kGroupUnits[static_cast<size_t>(i)];
      need_zero = g % 10 == 0;
    }
    out += "元";
  }
  const int64_t jiao = cents / 10 % 10;
  const int64_t fen = cents % 10;
  if (jiao == 0 && fen == 0) return out + "整";
  if (jiao > 0) {
    out += kUpperDigits[static_cast<size_t>(jiao)];
    out += "角";
  } else if (yuan > 0) {
    out += kUpperDigits[0];
  }
  if (fen > 0) {
    out += kUpperDigits[static_cast<size_t>(fen)];
    out += "分";
  }
  return out;
}

enum class FieldState { kMissing, kOk, kBad };

FieldState GetInt(const simdjson::dom::object& obj, std::string_view key, int64_t* out) {
  simdjson::dom::element e;
  if (obj.at_key(key).get(e) != simdjson::SUCCESS) return FieldState::kMissing;
  switch (e.type()) {
    case simdjson::dom::element_type::INT64:
      return e.get_int64().get(*out) == simdjson::SUCCESS ? FieldState::kOk : FieldState::kBad;
    case simdjson::dom::element_type::UINT64:
      return FieldState::kBad;  // > INT64_MAX
    case simdjson::dom::element_type::DOUBLE: {
      double d = 0;
      if (e.get_double().get(d) != simdjson::SUCCESS) return FieldState::kBad;
      if (d != static_cast<double>(static_cast<int64_t>(d))) return FieldState::kBad;
      *out = static_cast<int64_t>(d);
      return FieldState::kOk;
    }
    case simdjson::dom::element_type::STRING: {
      // The TOP gateway coerces numeric strings [I].
      std::string_view s;
      if (e.get_string().get(s) != simdjson::SUCCESS || s.empty()) return FieldState::kBad;
      const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
      return ec == std::errc() && ptr == s.data() + s.size() ? FieldState::kOk : FieldState::kBad;
    }
    case simdjson::dom::element_type::NULL_VALUE:
      return FieldState::kMissing;
    default:
      return FieldState::kBad;
  }
}

FieldState GetString(const simdjson::dom::object& obj, std::string_view key, std::string* out) {
  simdjson::dom::element e;
  if (obj.at_key(key).get(e) != simdjson::SUCCESS || e.is_null()) return FieldState::kMissing;
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS) return FieldState::kBad;
  *out = std::string(s);
  return FieldState::kOk;
}

std::string ThrottleMessage(int errcode) {
  switch (errcode) {
    case 90002:
      return "您的服务器调用钉钉开放平台所有接口的请求都被暂时禁用了";
    case 90018:
      return "当前应用调用该接口的QPS超过了限制";
    case 90019:
      return "第三方应用调用该企业接口的QPS超过了限制";
    case 90020:
      return "当前企业本月的接口调用量已达上限";
    case -1:
      return "系统繁忙";
    default:
      return "调用频率超过限制";
  }
}

bool IsOpen(const std::string& status) { return status == "RUNNING" || status == "NEW"; }

void NormalizeStatus(DingTalkInstance* inst) {
  if (IsOpen(inst->status)) inst->finish_time_ms = 0;
  if (inst->status != "COMPLETED") inst->result.clear();
}

void RecomputeTotal(DingTalkInstance* inst) {
  int64_t sum = 0;
  for (const DingTalkDetailRow& row : inst->detail_rows) sum += row.amount_cents;
  inst->total_amount = FormatCents(sum, false);
}

// Links a re-submission to its original, copying what the submitter would have kept.
void LinkResubmission(DingTalkInstance* orig, DingTalkInstance* inst, const std::string& action) {
  inst->biz_action = action;
  inst->originator_userid = orig->originator_userid;
  inst->originator_name = orig->originator_name;
  inst->originator_dept_id = orig->originator_dept_id;
  inst->originator_dept_name = orig->originator_dept_name;
  inst->payee_name = orig->payee_name;
  inst->payee_account = orig->payee_account;
  inst->bank = orig->bank;
  inst->purpose = orig->purpose;
  // [I] which side lists which is unconfirmed; listing both lets either reading work.
  inst->attached_process_instance_ids = {orig->id};
  orig->attached_process_instance_ids.push_back(inst->id);
  if (action == "REVOKE") {
    orig->status = "TERMINATED";
    orig->result.clear();
    orig->finish_time_ms = std::max(orig->create_time_ms, inst->create_time_ms - kMinuteMs);
  }
}

}  // namespace

DingTalkEmulator::DingTalkEmulator(DingTalkEmulatorOptions opts)
    : Emulator(kBadGatewayHtml),
      opts_(std::move(opts)),
      data_rng_(0),
      noise_rng_(std::random_device{}()),
      bill_rng_(kBillSalt),
      token_ttl_s_(opts_.token_ttl_s),
      yida_rng_(kYidaSalt) {}

DingTalkEmulator::~DingTalkEmulator() { Stop(); }

std::vector<Emulator::Route> DingTalkEmulator::Routes() const {
  constexpr std::string_view kYida = "/v1\\.0/yida/processes/instances";
  return {{"GET", "/gettoken", kGetToken},
          {"POST", "/topapi/processinstance/listids", kListIds},
          {"POST", "/topapi/processinstance/get", kGet},
          {"POST", fmt::format("{}/start", kYida), kYidaStart},
          {"PUT", fmt::format("{}/terminate", kYida), kYidaTerminate},
          {"PUT", std::string(kYida), kYidaUpdate},
          {"POST", std::string(kYida), kYidaSearch},
          {"DELETE", std::string(kYida), kYidaDelete}};
}

// ---------------------------------------------------------------------------------------------
// Data

uint64_t DingTalkEmulator::RandLocked(uint64_t bound) {
  return bound == 0 ? 0 : data_rng_() % bound;
}

std::string DingTalkEmulator::NewIdLocked() {
  for (;;) {
    const uint64_t a = data_rng_();
    const uint64_t b = data_rng_();
    std::string id =
        fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xfff,
                    ((b >> 48) & 0x3fff) | 0x8000, b & 0xffffffffffffULL);
    if (!instances_.contains(id)) return id;
  }
}

// Uniform over the 10^6 numbers, probing past taken ones; a seventh digit only once all are taken.
std::string DingTalkEmulator::NewBillNumberLocked() {
  for (int attempt = 0;; ++attempt) {
    const uint64_t range = attempt < 64 ? kBillRange : kBillRange * 10;
    std::string number = fmt::format("FKSQ{:0{}}", bill_rng_() % range,
                                     attempt < 64 ? kBillDigits : kBillDigits + 1);
    if (!bill_numbers_.contains(number)) return number;
  }
}

std::string DingTalkEmulator::NewBusinessIdLocked(int64_t create_ms) {
  const CivilTime t = BeijingTime(create_ms);
  const std::string prefix =
      fmt::format("{:04}{:02}{:02}{:02}{:02}", t.year, t.month, t.day, t.hour, t.minute);
  for (;;) {
    std::string id = fmt::format("{}{:09}", prefix, RandLocked(1'000'000'000));
    if (!business_ids_.contains(id)) return id;
  }
}

DingTalkInstance DingTalkEmulator::MakeInstanceLocked(int64_t create_ms, int64_t finish_cap_ms) {
  constexpr std::string_view kAlnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  // Every draw is its own statement: argument evaluation order is unspecified.
  DingTalkInstance in;
  in.id = NewIdLocked();
  in.create_time_ms = create_ms;
  in.business_id = NewBusinessIdLocked(create_ms);

  const Person& p = kPeople[RandLocked(kPeople.size())];
  in.originator_userid = p.userid;
  in.originator_name = p.name;
  in.originator_dept_id = p.dept_id;
  in.originator_dept_name = p.dept_name;

  const uint64_t first = RandLocked(kApprovers.size());
  in.approver_userids.emplace_back(kApprovers[first]);
  if (RandLocked(2) == 1) {
    const uint64_t second = (first + 1 + RandLocked(kApprovers.size() - 1)) % kApprovers.size();
    in.approver_userids.emplace_back(kApprovers[second]);
  }
  for (size_t i = 0; i < in.approver_userids.size(); ++i) {
    in.task_ids.push_back(std::to_string(60'000'000'000 + RandLocked(9'999'999'999)));
  }

  in.purpose = kPurposes[RandLocked(kPurposes.size())];
  const int64_t pay_in_days = 1 + static_cast<int64_t>(RandLocked(10));
  in.pay_date = FormatDate(create_ms + pay_in_days * kDayMs);
  in.pay_method = kPayMethods[RandLocked(kPayMethods.size())];
  in.payee_name = kPayees[RandLocked(kPayees.size())];
  in.payee_account = "62";
  for (int i = 0; i < 17; ++i) in.payee_account.push_back(static_cast<char>('0' + RandLocked(10)));
  in.bank = kBanks[RandLocked(kBanks.size())];
  in.description = kDescriptions[RandLocked(kDescriptions.size())];

  const uint64_t rows = 1 + RandLocked(4);
  for (uint64_t i = 0; i < rows; ++i) {
    DingTalkDetailRow row;
    row.row_number = std::string(kTableId) + "_";
    for (int j = 0; j < 4; ++j) row.row_number.push_back(kAlnum[RandLocked(kAlnum.size())]);
    row.amount_cents = 2000 + static_cast<int64_t>(RandLocked(498'000));
    row.subject = kSubjects[RandLocked(kSubjects.size())];
    row.note = kRowNotes[RandLocked(kRowNotes.size())];
    in.detail_rows.push_back(std::move(row));
  }
  RecomputeTotal(&in);

  if (RandLocked(3) == 0) {
    in.other_fee = "0.00";
  } else {
    const int64_t cents = 1000 + static_cast<int64_t>(RandLocked(250'000));
    const bool comma = RandLocked(2) == 0;
    in.other_fee = FormatCents(cents, comma);
  }
  in.has_text_note = RandLocked(10) < 3;
  const uint64_t attachment = RandLocked(10);
  in.attachment_mode = attachment < 2 ? 1 : (attachment < 5 ? 2 : 0);
  in.attachment_file_id = std::to_string(40'000'000'000 + RandLocked(9'999'999'999));

  const uint64_t r = RandLocked(100);
  if (r < 74) {
    in.status = "COMPLETED";
    in.result = "agree";
  } else if (r < 84) {
    in.status = "RUNNING";
  } else if (r < 91) {
    in.status = "TERMINATED";
  } else {
    in.status = "COMPLETED";
    in.result = "refuse";
  }
  const int64_t took = 10 * kMinuteMs + static_cast<int64_t>(RandLocked(3 * kDayMs));
  in.finish_time_ms = create_ms + took;
  if (in.finish_time_ms > finish_cap_ms) {
    in.finish_time_ms = std::max(create_ms + kSecondMs, finish_cap_ms);
  }
  in.bill_number = NewBillNumberLocked();
  return in;
}

void DingTalkEmulator::InsertLocked(DingTalkInstance inst) {
  inst.renamed_labels = label_renames_;
  by_time_.emplace(inst.create_time_ms, inst.id);
  business_ids_.insert(inst.business_id);
  ++bill_numbers_[inst.bill_number];
  std::string id = inst.id;
  instances_.emplace(std::move(id), std::move(inst));
}

DingTalkInstance* DingTalkEmulator::FindLocked(const std::string& id) {
  auto it = instances_.find(id);
  return it == instances_.end() ? nullptr : &it->second;
}

void DingTalkEmulator::Generate(int n, int64_t from_ms, int64_t to_ms, uint64_t seed) {
  std::lock_guard<std::mutex> lock(mu_);
  data_rng_.seed(seed);
  bill_rng_.seed(seed ^ kBillSalt);
  if (n <= 0 || to_ms <= from_ms) return;
  std::vector<int64_t> times;
  times.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    times.push_back(from_ms +
                    static_cast<int64_t>(RandLocked(static_cast<uint64_t>(to_ms - from_ms))));
  }
  std::sort(times.begin(), times.end());
  std::vector<std::string> batch;
  for (int64_t t : times) {
    DingTalkInstance inst = MakeInstanceLocked(t, to_ms);
    NormalizeStatus(&inst);
    if (!batch.empty() && RandLocked(100) < 3) {
      DingTalkInstance* orig = FindLocked(batch[RandLocked(batch.size())]);
      const std::string action = RandLocked(2) == 0 ? "MODIFY" : "REVOKE";
      if (action == "MODIFY") {
        // Only approved instances get modified; make the original one.
        orig->status = "COMPLETED";
        orig->result = "agree";
        if (orig->finish_time_ms == 0 || orig->finish_time_ms > t) {
          orig->finish_time_ms = std::max(orig->create_time_ms, t - kMinuteMs);
        }
      }
      LinkResubmission(orig, &inst, action);
    }
    batch.push_back(inst.id);
    InsertLocked(std::move(inst));
  }
}

std::string DingTalkEmulator::AddInstance(int64_t create_time_ms, const std::string& status,
                                          const std::string& result) {
  std::lock_guard<std::mutex> lock(mu_);
  DingTalkInstance inst = MakeInstanceLocked(create_time_ms, NowMsLocked());
  inst.status = status;
  inst.result = result;
  NormalizeStatus(&inst);
  std::string id = inst.id;
  InsertLocked(std::move(inst));
  return id;
}

bool DingTalkEmulator::Complete(const std::string& id, const std::string& result) {
  std::lock_guard<std::mutex> lock(mu_);
  DingTalkInstance* inst = FindLocked(id);
  if (inst == nullptr || !IsOpen(inst->status)) return false;
  inst->status = "COMPLETED";
  inst->result = result;
  inst->finish_time_ms = std::max(inst->create_time_ms, NowMsLocked());
  ++inst->version;
  return true;
}

bool DingTalkEmulator::Modify(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  DingTalkInstance* inst = FindLocked(id);
  if (inst == nullptr) return false;
  size_t payee = RandLocked(kPayees.size());
  if (kPayees[payee] == inst->payee_name) payee = (payee + 1) % kPayees.size();
  inst->payee_name = kPayees[payee];
  const size_t row = RandLocked(inst->detail_rows.size());
  if (row < inst->detail_rows.size()) {
    inst->detail_rows[row].amount_cents += 100 + static_cast<int64_t>(RandLocked(50'000));
  }
  RecomputeTotal(inst);
  ++inst->version;
  return true;
}

bool DingTalkEmulator::RemoveDetailRow(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  DingTalkInstance* inst = FindLocked(id);
  if (inst == nullptr || inst->detail_rows.size() <= 1) return false;
  inst->detail_rows.pop_back();
  RecomputeTotal(inst);
  ++inst->version;
  return true;
}

bool DingTalkEmulator::SetPayeeName(const std::string& id, const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  DingTalkInstance* inst = FindLocked(id);
  if (inst == nullptr) return false;
  inst->payee_name = name;
  ++inst->version;
  return true;
}

std::string DingTalkEmulator::Resubmit(const std::string& id, const std::string& biz_action) {
  std::lock_guard<std::mutex> lock(mu_);
  if (biz_action != "MODIFY" && biz_action != "REVOKE") return "";
  if (FindLocked(id) == nullptr) return "";
  const int64_t now = NowMsLocked();
  DingTalkInstance inst = MakeInstanceLocked(now, now);
  inst.status = "RUNNING";
  NormalizeStatus(&inst);
  DingTalkInstance* orig = FindLocked(id);
  LinkResubmission(orig, &inst, biz_action);
  ++orig->version;
  std::string new_id = inst.id;
  InsertLocked(std::move(inst));
  return new_id;
}

void DingTalkEmulator::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  instances_.clear();
  by_time_.clear();
  business_ids_.clear();
  bill_numbers_.clear();
}

bool DingTalkEmulator::SetBillNumber(const std::string& id, const std::string& number) {
  std::lock_guard<std::mutex> lock(mu_);
  DingTalkInstance* inst = FindLocked(id);
  if (inst == nullptr) return false;
  if (auto it = bill_numbers_.find(inst->bill_number); it != bill_numbers_.end()) {
    if (--it->second <= 0) bill_numbers_.erase(it);
  }
  inst->bill_number = number;
  ++bill_numbers_[number];
  ++inst->version;
  return true;
}

void DingTalkEmulator::RenameFormLabel(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string original = from;
  for (const auto& [orig, now] : label_renames_) {
    if (now == from) original = orig;
  }
  if (to == original) {
    label_renames_.erase(original);
  } else {
    label_renames_[original] = to;
  }
}

std::vector<DingTalkInstance> DingTalkEmulator::Instances() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<DingTalkInstance> out;
  out.reserve(instances_.size());
  for (const auto& [create_ms, id] : by_time_) out.push_back(instances_.at(id));
  return out;
}

std::string DingTalkEmulator::InstanceJson(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = instances_.find(id);
  return it == instances_.end() ? std::string() : InstanceJsonLocked(it->second, "");
}

std::string DingTalkEmulator::InstanceJsonLocked(const DingTalkInstance& in,
                                                 std::string_view drop) const {
  JsonWriter w;
  auto key = [&](std::string_view k) {
    if (k == drop) return false;
    w.Key(k);
    return true;
  };
  const bool finished = in.finish_time_ms != 0;
  const int64_t finish_ms = std::max(in.finish_time_ms, in.create_time_ms);

  w.BeginObject();
  if (key("title")) w.String(in.originator_name + "提交的付款申请");
  if (key("create_time")) w.String(FormatDateTime(in.create_time_ms));
  if (finished && key("finish_time")) w.String(FormatDateTime(finish_ms));
  if (key("originator_userid")) w.String(in.originator_userid);
  if (key("originator_dept_id")) w.String(in.originator_dept_id);
  if (key("originator_dept_name")) w.String(in.originator_dept_name);
  if (key("status")) w.String(in.status);
  if (key("result")) w.String(in.result);
  if (key("business_id")) w.String(in.business_id);
  if (key("biz_action")) w.String(in.biz_action);
  if (key("approver_userids")) w.Strings(in.approver_userids);
  if (key("cc_userids")) w.Strings(in.cc_userids);
  if (key("attached_process_instance_ids")) w.Strings(in.attached_process_instance_ids);

  if (key("form_component_values")) {
    w.BeginArray();
    auto component = [&w, &in](std::string_view name, std::string_view id, std::string_view type,
                               std::string_view value) {
      w.BeginObject();
      if (auto renamed = in.renamed_labels.find(std::string(name));
          renamed != in.renamed_labels.end()) {
        name = renamed->second;
      }
      if (!name.empty()) w.Field("name", name);
      w.Field("id", id).Field("component_type", type).Field("value", value);
    };
    auto text = [&](std::string_view name, std::string_view id, std::string_view value) {
      component(name, id, "TextField", value);
      w.EndObject();
    };
    auto money = [&](std::string_view name, std::string_view id, std::string_view value) {
      component(name, id, "MoneyField", value);
      JsonWriter ext;
      ext.BeginObject()
          .Field("upper", UpperMoney(ParseCents(value)))
          .Field("componentName", "MoneyField")
          .EndObject();
      w.Field("ext_value", ext.Take()).EndObject();
    };

    text("所属部门", "TextField_1A01", in.originator_dept_name);
    text("单据编号", kBillNumberId, in.bill_number);
    text("用途", "TextField_1A02", in.purpose);
    component("预计付款日期", "DDDateField_1A03", "DDDateField", in.pay_date);
    w.EndObject();
    money("总额", "MoneyField_1A04", in.total_amount);
    component("付款方式", "DDSelectField_1A05", "DDSelectField", in.pay_method);
    w.EndObject();
    text("收款人姓名", "TextField_1A06", in.payee_name);
    text("收款账号", "TextField_1A07", in.payee_account);
    text("开户行", "TextField_1A08", in.bank);
    money("实际付款金额", "MoneyField_1A09", in.total_amount);
    component("用途说明", "TextareaField_1A10", "TextareaField", in.description);
    w.EndObject();
    money("其他费用", "MoneyField_1A11", in.other_fee);

    JsonWriter rows;
    rows.BeginArray();
    for (const DingTalkDetailRow& row : in.detail_rows) {
      rows.BeginObject().Field("rowNumber", row.row_number).Key("rowValue").BeginArray();
      rows.BeginObject()
          .Field("label", "金额")
          .Field("value", FormatCents(row.amount_cents, false))
          .Field("key", "MoneyField_2")
          .EndObject();
      rows.BeginObject()
          .Field("label", "对应科目")
          .Field("value", row.subject)
          .Field("key", "TextField_3")
          .EndObject();
      rows.BeginObject()
          .Field("label", "明细说明")
          .Field("value", row.note)
          .Field("key", "TextField_4")
          .EndObject();
      rows.EndArray().EndObject();
    }
    rows.EndArray();
    component("费用明细", kTableId, "TableField", rows.Take());
    w.Field("ext_value", R"({"statValue":[],"componentName":"TableField"})").EndObject();

    if (in.has_text_note) {
      component("", "TextNote_1A13", "TextNote", "付款申请需附发票或合同，金额以实际付款为准");
      w.EndObject();
    }
    if (in.attachment_mode == 1) {
      component("附件", "DDAttachment_1A14", "DDAttachment", "null");
      w.EndObject();
    } else if (in.attachment_mode == 2) {
      JsonWriter files;
      files.BeginArray()
          .BeginObject()
          .Field("spaceId", "20482716")
          .Field("fileName", "付款凭证.pdf")
          .Field("fileSize", "183245")
          .Field("fileType", "pdf")
          .Field("fileId", in.attachment_file_id)
          .EndObject()
          .EndArray();
      component("附件", "DDAttachment_1A14", "DDAttachment", files.Take());
      w.EndObject();
    }
    w.EndArray();
  }

  // Approval history is derived from status/result/times so it always agrees with them.
  const size_t approvers = std::min(in.approver_userids.size(), in.task_ids.size());
  auto step_time = [&](size_t i) {
    return in.create_time_ms + (finish_ms - in.create_time_ms) * static_cast<int64_t>(i + 1) /
                                   static_cast<int64_t>(approvers);
  };
  if (key("operation_records")) {
    w.BeginArray();
    w.BeginObject()
        .Field("userid", in.originator_userid)
        .Field("date", FormatDateTime(in.create_time_ms))
        .Field("operation_type", "START_PROCESS_INSTANCE")
        .Field("operation_result", "NONE")
        .EndObject();
    if (in.status == "COMPLETED") {
      for (size_t i = 0; i < approvers; ++i) {
        const bool refused = in.result == "refuse" && i + 1 == approvers;
        w.BeginObject()
            .Field("userid", in.approver_userids[i])
            .Field("date", FormatDateTime(step_time(i)))
            .Field("operation_type", "EXECUTE_TASK_NORMAL")
            .Field("operation_result", refused ? "REFUSE" : "AGREE");
        if (refused) w.Field("remark", "金额有误，请核对后重新提交");
        w.EndObject();
      }
    } else if (finished) {
      w.BeginObject()
          .Field("userid", in.originator_userid)
          .Field("date", FormatDateTime(finish_ms))
          .Field("operation_type", "TERMINATE_PROCESS_INSTANCE")
          .Field("operation_result", "NONE")
          .EndObject();
    }
    w.EndArray();
  }
  if (key("tasks")) {
    w.BeginArray();
    auto task = [&](size_t i, std::string_view status, std::string_view result, int64_t start,
                    int64_t end) {
      w.BeginObject()
          .Field("taskid", in.task_ids[i])
          .Field("userid", in.approver_userids[i])
          .Field("task_status", status)
          .Field("task_result", result)
          .Field("create_time", FormatDateTime(start));
      if (end != 0) w.Field("finish_time", FormatDateTime(end));
      w.Field("url",
              fmt::format("aflow.dingtalk.com?procInsId={}&taskId={}", in.id, in.task_ids[i]))
          .EndObject();
    };
    if (in.status == "COMPLETED") {
      for (size_t i = 0; i < approvers; ++i) {
        const bool refused = in.result == "refuse" && i + 1 == approvers;
        task(i, "COMPLETED", refused ? "REFUSE" : "AGREE",
             i == 0 ? in.create_time_ms : step_time(i - 1), step_time(i));
      }
    } else if (approvers > 0 && in.status == "RUNNING") {
      task(0, "RUNNING", "NONE", in.create_time_ms, 0);
    } else if (approvers > 0 && finished) {
      task(0, "CANCELED", "NONE", in.create_time_ms, finish_ms);
    }
    w.EndArray();
  }
  w.EndObject();
  return w.Take();
}

// ---------------------------------------------------------------------------------------------
// Clock and faults

void DingTalkEmulator::ExpireTokenNow() {
  std::lock_guard<std::mutex> lock(mu_);
  token_.clear();
}

void DingTalkEmulator::SetTokenTtl(int seconds) { Set(&token_ttl_s_, seconds); }

void DingTalkEmulator::ThrottleNext(int n, int errcode) {
  std::lock_guard<std::mutex> lock(mu_);
  throttle_ = {n, ""};
  throttle_errcode_ = errcode;
}

void DingTalkEmulator::IpBanNext(int n) { Set(&ipban_left_, n); }

void DingTalkEmulator::IpBanPunishJsonNext(int n) { Set(&ipban_json_left_, n); }

void DingTalkEmulator::IpBanForMs(int ms) { Set(&ipban_until_steady_ms_, SteadyMs() + ms); }

void DingTalkEmulator::OversizeNext(int n, size_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  oversize_left_ = n;
  oversize_bytes_ = bytes;
}

void DingTalkEmulator::DropFieldNext(int n, const std::string& field) {
  std::lock_guard<std::mutex> lock(mu_);
  drop_left_ = n;
  drop_field_ = field;
}

// ---------------------------------------------------------------------------------------------
// Stats

int64_t DingTalkEmulator::TokensIssued() const { return Get(tokens_issued_); }

void DingTalkEmulator::ResetVendorStatsLocked() {
  tokens_issued_ = 0;
  yida_op_counts_.clear();
}

// ---------------------------------------------------------------------------------------------
// HTTP

Call DingTalkEmulator::ClassifyLocked(int ep, const httplib::Request& req) {
  Call call{.endpoint = ep, .key = req.path};
  if (ep >= kYidaStart) {
    ++yida_op_counts_[std::string(YidaOpName(ep - kYidaStart))];
    auto& [bucket, count] = yida_qps_[ep];
    if (const int64_t second = SteadyMs() / 1000; bucket != second) {
      bucket = second;
      count = 0;
    }
    call.over_qps = yida_max_qps_ > 0 && ++count > yida_max_qps_;
    return call;
  }
  call.data = ep != kGetToken;
  call.faultable = call.data || faults_on_token_;
  return call;
}

std::optional<Reply> DingTalkEmulator::FaultLocked(const Call& call) {
  if (call.endpoint >= kYidaStart) return YidaFaultLocked(call.over_qps);
  if (call.faultable) {
    if (ipban_until_steady_ms_ > SteadyMs() || ipban_left_ > 0) {
      if (ipban_until_steady_ms_ <= SteadyMs()) --ipban_left_;
      return Reply{200, std::string(kIpBanHtml), std::string(kHtmlType)};
    }
    if (ipban_json_left_ > 0) {
      --ipban_json_left_;
      return Reply{200, std::string(kIpBanJson), std::string(kJsonType)};
    }
    if (auto fault = Emulator::FaultLocked(call)) return fault;
  }
  if (call.data || storm_.token_calls) return StormFaultLocked();
  return std::nullopt;
}

Reply DingTalkEmulator::QpsReplyLocked(const Call&) {
  return ErrorLocked(kDingTalkErrAppQps, ThrottleMessage(kDingTalkErrAppQps));
}

Reply DingTalkEmulator::ThrottleReplyLocked(const Call&) {
  return ThrottleErrorLocked(throttle_errcode_);
}

Reply DingTalkEmulator::AnswerLocked(const Call& call, const httplib::Request& req) {
  switch (call.endpoint) {
    case kGetToken:
      return GetTokenLocked(req);
    case kListIds:
      return ListIdsLocked(req);
    case kGet:
      return GetLocked(req);
  }
  return YidaAnswerLocked(call.endpoint, req);
}

std::optional<Reply> DingTalkEmulator::StormFaultLocked() {
  if (storm_.throttle <= 0 && storm_.fail5xx <= 0 && storm_.ipban <= 0) return std::nullopt;
  const double x = std::uniform_real_distribution<double>(0, 1)(storm_rng_);
  if (x < storm_.throttle) {
    static constexpr int kCodes[] = {kDingTalkErrGateway, -1, kDingTalkErrAppQps};
    return ThrottleErrorLocked(kCodes[storm_throttles_++ % 3]);
  }
  if (x < storm_.throttle + storm_.fail5xx) return BadGateway();
  if (x < storm_.throttle + storm_.fail5xx + storm_.ipban) {
    return Reply{200, std::string(kIpBanHtml), std::string(kHtmlType)};
  }
  return std::nullopt;
}

void DingTalkEmulator::SetFaultsOnTokenCalls(bool on) { Set(&faults_on_token_, on); }

void DingTalkEmulator::SetStorm(const Storm& storm) {
  std::lock_guard<std::mutex> lock(mu_);
  storm_ = storm;
  storm_rng_.seed(storm.seed);
}

Reply DingTalkEmulator::ThrottleErrorLocked(int errcode) {
  if (errcode != kDingTalkErrGateway) {
    return ErrorLocked(errcode, ThrottleMessage(errcode));
  }
  const std::string sub_msg =
      "您的服务器调用钉钉开放平台当前接口的所有请求都被暂时禁用了, "
      "apiPath(dingtalk.oapi.processinstance), 请求总次数超过了限制";
  JsonWriter w;
  w.BeginObject()
      .Key("errcode")
      .Int(kDingTalkErrGateway)
      .Field("errmsg", fmt::format("ding talk error[subcode=90002,submsg={}]", sub_msg))
      .Field("sub_code", "90002")
      .Field("sub_msg", sub_msg)
      .Field("request_id", RequestIdLocked())
      .EndObject();
  return {200, w.Take(), std::string(kJsonType)};
}

std::string DingTalkEmulator::RequestIdLocked() {
  constexpr std::string_view kChars = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string id;
  for (int i = 0; i < 14; ++i) id.push_back(kChars[noise_rng_() % kChars.size()]);
  return id;
}

Reply DingTalkEmulator::ErrorLocked(int errcode, std::string_view errmsg) {
  JsonWriter w;
  w.BeginObject()
      .Key("errcode")
      .Int(errcode)
      .Field("errmsg", errmsg)
      .Field("request_id", RequestIdLocked())
      .EndObject();
  return {200, w.Take(), std::string(kJsonType)};
}

bool DingTalkEmulator::TokenValidLocked(const httplib::Request& req) const {
  if (token_.empty() || NowMsLocked() >= token_issued_ms_ + int64_t{token_ttl_s_} * kSecondMs) {
    return false;
  }
  return req.get_param_value("access_token") == token_;
}

Reply DingTalkEmulator::GetTokenLocked(const httplib::Request& req) {
  if (req.get_param_value("appkey") != opts_.app_key ||
      req.get_param_value("appsecret") != opts_.app_secret) {
    return ErrorLocked(kDingTalkErrBadAppKey, "不合法的appKey或appSecret");
  }
  const int64_t now = NowMsLocked();
  const int64_t ttl_ms = int64_t{token_ttl_s_} * kSecondMs;
  if (token_.empty() || now >= token_issued_ms_ + ttl_ms) {
    token_ = fmt::format("{:016x}{:016x}", noise_rng_(), noise_rng_());
    token_issued_ms_ = now;
    ++tokens_issued_;
  }
  // [I] a re-fetch returns the same token with its remaining lifetime, not a renewed one.
  const int64_t remaining_s = std::max<int64_t>(0, (token_issued_ms_ + ttl_ms - now + 999) / 1000);
  JsonWriter w;
  w.BeginObject()
      .Key("errcode")
      .Int(0)
      .Field("errmsg", "ok")
      .Field("access_token", token_)
      .Key("expires_in")
      .Int(remaining_s)
      .EndObject();
  return {200, w.Take(), std::string(kJsonType)};
}

Reply DingTalkEmulator::ListIdsLocked(const httplib::Request& req) {
  if (!TokenValidLocked(req)) return ErrorLocked(bad_token_errcode_, "不合法的access_token");
  simdjson::dom::parser parser;
  simdjson::dom::object body;
  if (parser.parse(req.body).get(body) != simdjson::SUCCESS) {
    return ErrorLocked(kDingTalkErrInvalidParam, "请求体不是合法的JSON对象");
  }
  const int64_t now = NowMsLocked();
  std::string process_code;
  if (GetString(body, "process_code", &process_code) != FieldState::kOk || process_code.empty()) {
    return ErrorLocked(kDingTalkErrInvalidParam, "缺少参数 process_code");
  }
  int64_t start = 0;
  if (GetInt(body, "start_time", &start) != FieldState::kOk) {
    return ErrorLocked(kDingTalkErrInvalidParam, "缺少参数 start_time");
  }
  int64_t end = now;
  if (GetInt(body, "end_time", &end) == FieldState::kBad) {
    return ErrorLocked(kDingTalkErrInvalidParam, "end_time 不合法");
  }
  int64_t size = kDefaultListSize;
  if (GetInt(body, "size", &size) == FieldState::kBad) {
    return ErrorLocked(kDingTalkErrInvalidParam, "size 不合法");
  }
  if (size > kDingTalkListMaxSize) {
    return ErrorLocked(kDingTalkErrInvalidParam, "size must be <= 20");
  }
  if (size < 1) return ErrorLocked(kDingTalkErrInvalidParam, "size must be >= 1");
  int64_t cursor = 0;
  if (GetInt(body, "cursor", &cursor) == FieldState::kBad || cursor < 0) {
    return ErrorLocked(kDingTalkErrInvalidParam, "cursor 不合法");
  }
  std::string userid_list;
  if (GetString(body, "userid_list", &userid_list) == FieldState::kBad) {
    return ErrorLocked(kDingTalkErrInvalidParam, "userid_list 不合法");
  }
  std::set<std::string, std::less<>> userids;
  for (size_t pos = 0; pos < userid_list.size();) {
    size_t comma = userid_list.find(',', pos);
    if (comma == std::string::npos) comma = userid_list.size();
    if (comma > pos) userids.emplace(userid_list.substr(pos, comma - pos));
    pos = comma + 1;
  }
  if (userids.size() > kMaxUseridList) {
    return ErrorLocked(kDingTalkErrInvalidParam, "userid_list 最多10个");
  }
  // The real API reports a too-old start_time with this misleading message [V:D1].
  if (start < now - 365 * kDayMs || end < start) {
    return ErrorLocked(kDingTalkErrInvalidParam, "end time earlier than start time");
  }
  if (end - start > 120 * kDayMs) {
    return ErrorLocked(kDingTalkErrInvalidParam, "时间跨度不能超过120天");
  }
  if (process_code != opts_.process_code) {
    return ErrorLocked(kDingTalkErrNotFound, "process_code not found");
  }

  // [I] window is [start_time, end_time): start inclusive, end exclusive.
  std::vector<const std::string*> ids;
  for (auto it = by_time_.lower_bound({start, std::string()});
       it != by_time_.end() && it->first < end && ids.size() < size_t{kDingTalkListMaxIds}; ++it) {
    if (!userids.empty() && !userids.contains(instances_.at(it->second).originator_userid)) {
      continue;
    }
    ids.push_back(&it->second);
  }
  const size_t first = std::min(ids.size(), static_cast<size_t>(cursor));
  const size_t last = std::min(ids.size(), first + static_cast<size_t>(size));

  JsonWriter w;
  w.BeginObject().Key("errcode").Int(0).Field("errmsg", "ok").Key("result").BeginObject();
  w.Key("list").BeginArray();
  for (size_t i = first; i < last; ++i) w.String(*ids[i]);
  w.EndArray();
  if (last < ids.size()) w.Key("next_cursor").Int(static_cast<int64_t>(last));
  w.EndObject().Field("request_id", RequestIdLocked()).EndObject();
  return {200, w.Take(), std::string(kJsonType)};
}

Reply DingTalkEmulator::GetLocked(const httplib::Request& req) {
  if (!TokenValidLocked(req)) return ErrorLocked(bad_token_errcode_, "不合法的access_token");
  simdjson::dom::parser parser;
  simdjson::dom::object body;
  if (parser.parse(req.body).get(body) != simdjson::SUCCESS) {
    return ErrorLocked(kDingTalkErrInvalidParam, "请求体不是合法的JSON对象");
  }
  std::string id;
  if (GetString(body, "process_instance_id", &id) != FieldState::kOk || id.empty()) {
    return ErrorLocked(kDingTalkErrInvalidParam, "缺少参数 process_instance_id");
  }
  const DingTalkInstance* inst = FindLocked(id);
  if (inst == nullptr) return ErrorLocked(kDingTalkErrNotFound, "审批实例不存在");

  std::string drop;
  if (drop_left_ > 0) {
    --drop_left_;
    drop = drop_field_;
  }
  std::string body_out =
      fmt::format(R"({{"errcode":0,"errmsg":"ok","request_id":"{}")", RequestIdLocked());
  if (drop != "process_instance") {
    body_out += R"(,"process_instance":)";
    body_out += InstanceJsonLocked(*inst, drop);
  }
  if (oversize_left_ > 0) {
    --oversize_left_;
    constexpr std::string_view kPadKey = R"(,"x_padding":")";
    const size_t fixed = body_out.size() + kPadKey.size() + 2;  // closing quote and brace
    body_out += kPadKey;
    if (oversize_bytes_ > fixed) body_out.append(oversize_bytes_ - fixed, 'x');
    body_out += '"';
  }
  body_out += '}';
  return {200, std::move(body_out), std::string(kJsonType)};
}

// ---------------------------------------------------------------------------------------------
// Yida (宜搭) v1.0 process-instance API

namespace {

constexpr std::string_view kYidaTokenHeader = "x-acs-dingtalk-access-token";

// "2024-01-02T03:04Z" (UTC, minutes) [I].
std::string FormatGmt(int64_t epoch_ms) {
  using namespace std::chrono;
  const sys_time<milliseconds> tp{milliseconds{epoch_ms}};
  const auto day = floor<days>(tp);
  const year_month_day ymd{day};
  const hh_mm_ss hms{floor<seconds>(tp - day)};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}Z", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                     hms.hours().count(), hms.minutes().count());
}

// The request's parameters: a JSON body, or the query string when `body` is null (DELETE).
class YidaParams {
 public:
  YidaParams(const httplib::Request& req, const simdjson::dom::object* body)
      : req_(req), body_(body) {}

  FieldState String(std::string_view key, std::string* out) const {
    if (body_ == nullptr) {
      const std::string k(key);
      if (!req_.has_param(k.c_str())) return FieldState::kMissing;
      *out = req_.get_param_value(k.c_str());
      return FieldState::kOk;
    }
    return GetString(*body_, key, out);
  }

 private:
  const httplib::Request& req_;
  const simdjson::dom::object* body_;
};

// Parses a *Json string parameter that must hold a JSON object into ordered (key, minified
// value) pairs. False if it is not an object.
bool ParseComponents(const std::string& json,
                     std::vector<std::pair<std::string, std::string>>* out) {
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(json).get(obj) != simdjson::SUCCESS) return false;
  for (auto [key, value] : obj) {
    std::string k(key);
    std::string v = simdjson::to_string(value);
    auto it = std::find_if(out->begin(), out->end(), [&](const auto& kv) { return kv.first == k; });
    if (it != out->end()) {
      it->second = std::move(v);
    } else {
      out->emplace_back(std::move(k), std::move(v));
    }
  }
  return true;
}

// A page parameter from the query string, else the body; default when absent.
FieldState GetPageParam(const httplib::Request& req, const simdjson::dom::object& body,
                        std::string_view key, int64_t dflt, int64_t* out) {
  *out = dflt;
  const std::string k(key);
  if (req.has_param(k.c_str())) {
    const std::string v = req.get_param_value(k.c_str());
    const auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), *out);
    return ec == std::errc() && ptr == v.data() + v.size() && !v.empty() ? FieldState::kOk
                                                                         : FieldState::kBad;
  }
  const FieldState st = GetInt(body, key, out);
  if (st == FieldState::kMissing) *out = dflt;
  return st;
}

bool StoredStringContains(const std::string& stored_json, std::string_view needle) {
  simdjson::dom::parser parser;
  std::string_view s;
  if (parser.parse(stored_json).get_string().get(s) != simdjson::SUCCESS) return false;
  return s.find(needle) != std::string_view::npos;
}

}  // namespace

void DingTalkEmulator::YidaThrottleNext(int n) { Set(&yida_throttle_left_, n); }

void DingTalkEmulator::YidaTooFastNext(int n) { Set(&yida_too_fast_left_, n); }

void DingTalkEmulator::YidaFail5xxNext(int n) { Set(&yida_fail5xx_left_, n); }

void DingTalkEmulator::SetBadTokenErrcode(int errcode) { Set(&bad_token_errcode_, errcode); }

void DingTalkEmulator::YidaDropResponseAfterCommitNext(int n) { Set(&yida_drop_left_, n); }

void DingTalkEmulator::SetYidaDropResponseAfterCommit(bool always) {
  Set(&yida_drop_always_, always);
}

void DingTalkEmulator::SetYidaSearchLagMs(int ms) { Set(&yida_search_lag_ms_, ms); }

void DingTalkEmulator::SetYidaMaxQps(int qps) { Set(&yida_max_qps_, qps); }

void DingTalkEmulator::SetYidaSearchTextContains(bool contains) {
  Set(&yida_search_contains_, contains);
}

void DingTalkEmulator::SetYidaSearchDataKey(const std::string& key) {
  Set(&yida_search_data_key_, key);
}

std::string DingTalkEmulator::YidaAddInstance(const std::string& form_data_json,
                                              const std::string& status) {
  std::lock_guard<std::mutex> lock(mu_);
  YidaRecord rec;
  if (!ParseComponents(form_data_json, &rec.fields)) return "";
  rec.id = NewYidaIdLocked();
  rec.form_uuid = opts_.yida_form_uuid;
  rec.process_code = "TPROC--DEMO";
  rec.originator = "manager7";
  rec.title = rec.originator + "发起的流程";
  rec.status = status;
  rec.create_ms = rec.modified_ms = NowMsLocked();
  rec.seq = ++yida_seq_;
  std::string id = rec.id;
  yida_.emplace(id, std::move(rec));
  return id;
}

std::vector<YidaInstance> DingTalkEmulator::YidaInstances() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<const YidaRecord*> recs;
  for (const auto& [id, rec] : yida_) recs.push_back(&rec);
  std::sort(recs.begin(), recs.end(), [](auto* a, auto* b) { return a->seq < b->seq; });
  std::vector<YidaInstance> out;
  out.reserve(recs.size());
  for (const YidaRecord* rec : recs) {
    out.push_back({rec->id, rec->form_uuid, rec->status, YidaFormDataJson(*rec), rec->version});
  }
  return out;
}

bool DingTalkEmulator::YidaDeleteInstance(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  return yida_.erase(id) > 0;
}

bool DingTalkEmulator::YidaEditField(const std::string& id, const std::string& component,
                                     const std::string& value_json) {
  std::lock_guard<std::mutex> lock(mu_);
  YidaRecord* rec = YidaFindLocked(id);
  if (rec == nullptr) return false;
  std::string one = "{";
  AppendQuoted(&one, component);
  one += ":" + value_json + "}";
  return YidaMergeLocked(rec, one);
}

bool DingTalkEmulator::YidaMergeLocked(YidaRecord* rec, const std::string& form_data_json) {
  std::vector<std::pair<std::string, std::string>> fields = rec->fields;
  if (!ParseComponents(form_data_json, &fields)) return false;
  rec->fields = std::move(fields);
  rec->modified_ms = NowMsLocked();
  ++rec->version;
  return true;
}

int64_t DingTalkEmulator::YidaCreatedCount() const { return Get(yida_created_); }

int64_t DingTalkEmulator::YidaRequestCount(const std::string& op) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = yida_op_counts_.find(op);
  return it == yida_op_counts_.end() ? 0 : it->second;
}

void DingTalkEmulator::YidaClear() {
  std::lock_guard<std::mutex> lock(mu_);
  yida_.clear();
  yida_created_ = 0;
}

std::string DingTalkEmulator::NewYidaIdLocked() {
  for (;;) {
    const uint64_t a = yida_rng_();
    const uint64_t b = yida_rng_();
    std::string id =
        fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xfff,
                    ((b >> 48) & 0x3fff) | 0x8000, b & 0xffffffffffffULL);
    if (!yida_.contains(id)) return id;
  }
}

std::string DingTalkEmulator::YidaFormDataJson(const YidaRecord& rec) const {
  std::string out = "{";
  for (const auto& [key, value] : rec.fields) {
    if (out.size() > 1) out.push_back(',');
    AppendQuoted(&out, key);
    out.push_back(':');
    out += value;
  }
  out.push_back('}');
  return out;
}

Reply DingTalkEmulator::YidaAnswerLocked(int ep, const httplib::Request& req) {
  Reply reply;
  bool committed = false;
  switch (ep) {
    case kYidaStart:
      reply = YidaStartLocked(req, &committed);
      break;
    case kYidaUpdate:
      reply = YidaUpdateLocked(req, &committed);
      break;
    case kYidaSearch:
      reply = YidaSearchLocked(req);
      break;
    case kYidaDelete:
      reply = YidaDeleteLocked(req, &committed);
      break;
    default:
      reply = YidaTerminateLocked(req, &committed);
      break;
  }
  if (committed && (yida_drop_always_ || yida_drop_left_ > 0)) {
    if (!yida_drop_always_) --yida_drop_left_;
    reply = BadGateway();
  }
  return reply;
}

Reply DingTalkEmulator::YidaErrorLocked(int status, std::string_view code,
                                        std::string_view message) {
  JsonWriter w;
  w.BeginObject()
      .Field("code", code)
      .Field("message", message)
      .Field("requestid", RequestIdLocked())
      .EndObject();
  return {status, w.Take(), std::string(kJsonType)};
}

std::optional<Reply> DingTalkEmulator::YidaFaultLocked(bool over_qps) {
  if (yida_fail5xx_left_ > 0) {
    --yida_fail5xx_left_;
    return BadGateway();
  }
  if (over_qps || yida_throttle_left_ > 0) {
    if (!over_qps) --yida_throttle_left_;
    return YidaErrorLocked(403, kYidaErrQps, "当前应用调用该接口的QPS超过了限制，请求被拒绝");
  }
  if (yida_too_fast_left_ > 0) {
    --yida_too_fast_left_;
    return YidaErrorLocked(400, kYidaErrTooFast, "请求过于频繁，请稍后重试");
  }
  return std::nullopt;
}

namespace {

// Shared checks of every Yida request: token, body, required string parameters, app identity.
// Returns false with *error set when the request must be refused.
struct YidaCheck {
  int status = 0;
  std::string code;
  std::string message;
  bool Fail(int s, std::string_view c, std::string m) {
    status = s;
    code = c;
    message = std::move(m);
    return false;
  }
};

bool RequireStrings(const YidaParams& params, std::initializer_list<std::string_view> keys,
                    std::map<std::string, std::string, std::less<>>* out, YidaCheck* check) {
  for (std::string_view key : keys) {
    std::string v;
    switch (params.String(key, &v)) {
      case FieldState::kMissing:
        return check->Fail(400, fmt::format("Missing{}", key),
                           fmt::format("{} is mandatory for this action.", key));
      case FieldState::kBad:
        return check->Fail(400, kYidaErrInvalidParam, fmt::format("{} must be a string", key));
      case FieldState::kOk:
        if (v.empty()) {
          return check->Fail(400, fmt::format("Missing{}", key),
                             fmt::format("{} is mandatory for this action.", key));
        }
        (*out)[std::string(key)] = std::move(v);
    }
  }
  return true;
}

bool OptionalStrings(const YidaParams& params, std::initializer_list<std::string_view> keys,
                     std::map<std::string, std::string, std::less<>>* out, YidaCheck* check) {
  for (std::string_view key : keys) {
    std::string v;
    const FieldState st = params.String(key, &v);
    if (st == FieldState::kBad) {
      return check->Fail(400, kYidaErrInvalidParam, fmt::format("{} must be a string", key));
    }
    if (st == FieldState::kOk) (*out)[std::string(key)] = std::move(v);
  }
  return true;
}

}  // namespace

std::optional<Reply> DingTalkEmulator::YidaPrepareLocked(
    const httplib::Request& req, bool from_query, std::initializer_list<std::string_view> required,
    std::initializer_list<std::string_view> optional,
    std::map<std::string, std::string, std::less<>>* p) {
  const std::string token = req.get_header_value(std::string(kYidaTokenHeader).c_str());
  if (token.empty()) {
    return YidaErrorLocked(400, kYidaErrInvalidAuth, "缺少访问凭证x-acs-dingtalk-access-token");
  }
  if (token_.empty() || NowMsLocked() >= token_issued_ms_ + int64_t{token_ttl_s_} * kSecondMs ||
      token != token_) {
    return YidaErrorLocked(400, kYidaErrInvalidAuth, "不合法的access_token");
  }
  simdjson::dom::parser parser;
  simdjson::dom::object body;
  if (!from_query && parser.parse(req.body).get(body) != simdjson::SUCCESS) {
    return YidaErrorLocked(400, kYidaErrInvalidParam, "请求体不是合法的JSON对象");
  }
  const YidaParams params(req, from_query ? nullptr : &body);
  YidaCheck check;
  if (!RequireStrings(params, required, p, &check) ||
      !OptionalStrings(params, optional, p, &check)) {
    return YidaErrorLocked(check.status, check.code, check.message);
  }
  if ((*p)["appType"] != opts_.yida_app_type || (*p)["systemToken"] != opts_.yida_system_token) {
    return YidaErrorLocked(400, kYidaErrBadApp, "无效的认证信息:appType或systemToken不正确");
  }
  return std::nullopt;
}

DingTalkEmulator::YidaRecord* DingTalkEmulator::YidaFindLocked(const std::string& id) {
  auto it = yida_.find(id);
  return it == yida_.end() ? nullptr : &it->second;
}

Reply DingTalkEmulator::YidaStartLocked(const httplib::Request& req, bool* committed) {
  std::map<std::string, std::string, std::less<>> p;
  if (auto err = YidaPrepareLocked(
          req, false,
          {"appType", "systemToken", "userId", "formUuid", "processCode", "formDataJson"},
          {"language", "departmentId"}, &p)) {
    return *err;
  }
  if (p["formUuid"] != opts_.yida_form_uuid) {
    return YidaErrorLocked(400, kYidaErrFormNotFound, "表单不存在:" + p["formUuid"]);
  }
  YidaRecord rec;
  if (!ParseComponents(p["formDataJson"], &rec.fields)) {
    return YidaErrorLocked(400, kYidaErrInvalidParam, "formDataJson必须是JSON对象字符串");
  }
  rec.id = NewYidaIdLocked();
  rec.form_uuid = p["formUuid"];
  rec.process_code = p["processCode"];
  rec.originator = p["userId"];
  rec.title = rec.originator + "发起的流程";
  rec.status = "RUNNING";
  rec.create_ms = rec.modified_ms = NowMsLocked();
  rec.lagged = true;
  rec.seq = ++yida_seq_;
  const std::string id = rec.id;
  yida_.emplace(id, std::move(rec));
  ++yida_created_;
  *committed = true;
  JsonWriter w;
  w.BeginObject().Field("result", id).EndObject();
  return {200, w.Take(), std::string(kJsonType)};
}

Reply DingTalkEmulator::YidaUpdateLocked(const httplib::Request& req, bool* committed) {
  std::map<std::string, std::string, std::less<>> p;
  if (auto err = YidaPrepareLocked(
          req, false,
          {"processInstanceId", "appType", "systemToken", "userId", "updateFormDataJson"},
          {"language"}, &p)) {
    return *err;
  }
  YidaRecord* rec = YidaFindLocked(p["processInstanceId"]);
  if (rec == nullptr) {
    return YidaErrorLocked(400, kYidaErrNotFound, "数据不存在或已删除:" + p["processInstanceId"]);
  }
  if (!YidaMergeLocked(rec, p["updateFormDataJson"])) {
    return YidaErrorLocked(400, kYidaErrInvalidParam, "updateFormDataJson必须是JSON对象字符串");
  }
  *committed = true;
  return {200, "{}", std::string(kJsonType)};
}

Reply DingTalkEmulator::YidaSearchLocked(const httplib::Request& req) {
  std::map<std::string, std::string, std::less<>> p;
  if (auto err = YidaPrepareLocked(req, false, {"appType", "systemToken", "userId", "formUuid"},
                                   {"language", "searchFieldJson", "instanceStatus"}, &p)) {
    return *err;
  }
  simdjson::dom::parser parser;
  simdjson::dom::object body;
  if (parser.parse(req.body).get(body) != simdjson::SUCCESS) {
    return YidaErrorLocked(400, kYidaErrInvalidParam, "请求体不是合法的JSON对象");
  }
  int64_t page_number = 1;
  int64_t page_size = kYidaDefaultPageSize;
  if (GetPageParam(req, body, "pageNumber", 1, &page_number) == FieldState::kBad ||
      page_number < 1) {
    return YidaErrorLocked(400, kYidaErrInvalidParam, "pageNumber不合法");
  }
  if (GetPageParam(req, body, "pageSize", kYidaDefaultPageSize, &page_size) == FieldState::kBad ||
      page_size < 1 || page_size > kYidaMaxPageSize) {
    return YidaErrorLocked(400, kYidaErrInvalidParam,
                           fmt::format("pageSize必须在1到{}之间", kYidaMaxPageSize));
  }
  if (p["formUuid"] != opts_.yida_form_uuid) {
    return YidaErrorLocked(400, kYidaErrFormNotFound, "表单不存在:" + p["formUuid"]);
  }
  std::vector<std::pair<std::string, std::string>> wanted;
  if (const std::string& search = p["searchFieldJson"];
      !search.empty() && !ParseComponents(search, &wanted)) {
    return YidaErrorLocked(400, kYidaErrInvalidParam, "searchFieldJson必须是JSON对象字符串");
  }
  const std::string& status = p["instanceStatus"];
  const int64_t now = NowMsLocked();

  std::vector<const YidaRecord*> hits;
  for (const auto& [id, rec] : yida_) {
    if (rec.form_uuid != p["formUuid"]) continue;
    if (!status.empty() && rec.status != status) continue;
    if (rec.lagged && now < rec.create_ms + yida_search_lag_ms_) continue;
    bool match = true;
    for (const auto& want : wanted) {
      const auto& [key, value] = want;
      // (A lambda may not capture a structured binding before C++20 in clang 14.)
      auto it = std::find_if(rec.fields.begin(), rec.fields.end(),
                             [&](const auto& kv) { return kv.first == want.first; });
      if (it == rec.fields.end()) {
        match = false;
      } else if (yida_search_contains_ && value.starts_with('"')) {
        simdjson::dom::parser inner;
        std::string_view needle;
        match = inner.parse(value).get_string().get(needle) == simdjson::SUCCESS &&
                StoredStringContains(it->second, needle);
      } else {
        match = it->second == value;
      }
      if (!match) break;
    }
    if (match) hits.push_back(&rec);
  }
  // [I] newest first.
  std::sort(hits.begin(), hits.end(), [](auto* a, auto* b) { return a->seq > b->seq; });

  const bool form_data_key = yida_search_data_key_ != "data";
  const bool data_key = yida_search_data_key_ != "formData";
  const size_t first = std::min(hits.size(), static_cast<size_t>((page_number - 1) * page_size));
  const size_t last = std::min(hits.size(), first + static_cast<size_t>(page_size));
  JsonWriter w;
  w.BeginObject()
      .Key("totalCount")
      .Int(static_cast<int64_t>(hits.size()))
      .Key("pageNumber")
      .Int(page_number)
      .Key("data")
      .BeginArray();
  for (size_t i = first; i < last; ++i) {
    const YidaRecord& rec = *hits[i];
    const std::string form_data = YidaFormDataJson(rec);
    w.BeginObject()
        .Field("processInstanceId", rec.id)
        .Field("formUuid", rec.form_uuid)
        .Field("processCode", rec.process_code)
        .Field("title", rec.title)
        .Field("instanceStatus", rec.status)
        .Field("approvedResult", "")
        .Field("createTimeGMT", FormatGmt(rec.create_ms))
        .Field("modifiedTimeGMT", FormatGmt(rec.modified_ms))
        .Key("version")
        .Int(rec.version)
        .Key("originator")
        .BeginObject()
        .Field("userId", rec.originator)
        .EndObject();
    if (form_data_key) w.Key("formData").Raw(form_data);
    if (data_key) w.Key("data").Raw(form_data);
    w.EndObject();
  }
  w.EndArray().EndObject();
  return {200, w.Take(), std::string(kJsonType)};
}

Reply DingTalkEmulator::YidaDeleteLocked(const httplib::Request& req, bool* committed) {
  std::map<std::string, std::string, std::less<>> p;
  if (auto err = YidaPrepareLocked(
          req, true, {"processInstanceId", "appType", "systemToken", "userId"}, {"language"}, &p)) {
    return *err;
  }
  if (yida_.erase(p["processInstanceId"]) == 0) {
    return YidaErrorLocked(400, kYidaErrNotFound, "数据不存在或已删除:" + p["processInstanceId"]);
  }
  *committed = true;
  return {200, "{}", std::string(kJsonType)};
}

Reply DingTalkEmulator::YidaTerminateLocked(const httplib::Request& req, bool* committed) {
  std::map<std::string, std::string, std::less<>> p;
  if (auto err =
          YidaPrepareLocked(req, false, {"processInstanceId", "appType", "systemToken", "userId"},
                            {"language"}, &p)) {
    return *err;
  }
  YidaRecord* rec = YidaFindLocked(p["processInstanceId"]);
  if (rec == nullptr) {
    return YidaErrorLocked(400, kYidaErrNotFound, "数据不存在或已删除:" + p["processInstanceId"]);
  }
  if (rec->status != "RUNNING") {
    return YidaErrorLocked(400, kYidaErrStatusChanged, "实例状态已变更，请刷新当前页面");
  }
  rec->status = "TERMINATED";
  rec->modified_ms = NowMsLocked();
  ++rec->version;
  *committed = true;
  return {200, "{}", std::string(kJsonType)};
}

}  // namespace stagesync::emulators
