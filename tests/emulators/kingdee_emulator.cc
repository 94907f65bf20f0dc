#include "emulators/kingdee_emulator.h"

#include <fmt/format.h>
#include <httplib.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <iterator>
#include <limits>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "emulators/json_writer.h"

namespace stagesync::emulators {
namespace {

// 2024-01-01T00:00:00 Beijing: the base of generated modify dates.
constexpr int64_t kGeneratedEpochMs = 1'704'038'400'000;

constexpr std::string_view kJsonType = "application/json; charset=utf-8";
constexpr std::string_view kHtmlType = "text/html; charset=utf-8";
constexpr std::string_view kBom = "\xEF\xBB\xBF";
constexpr std::string_view kPathPrefix = "/k3cloud/";
constexpr std::string_view kPathSuffix = ".common.kdsvc";

// What IIS/ARR in front of K3Cloud answers when the application pool is unavailable [I].
constexpr std::string_view kBadGatewayHtml =
    "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" "
    "\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\">\r\n"
    "<html xmlns=\"http://www.w3.org/1999/xhtml\">\r\n<head>\r\n"
    "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\"/>\r\n"
    "<title>502 - Web server received an invalid response while acting as a gateway or proxy "
    "server.</title>\r\n</head>\r\n<body>\r\n<div id=\"header\"><h1>Server Error</h1></div>\r\n"
    "<div id=\"content\"><fieldset><h2>502 - Web server received an invalid response while "
    "acting as a gateway or proxy server.</h2></fieldset></div>\r\n</body>\r\n</html>\r\n";
constexpr std::string_view kNotFoundHtml =
    "<!DOCTYPE html>\r\n<html><head><title>404 - File or directory not found.</title></head>\r\n"
    "<body><h2>404 - File or directory not found.</h2></body></html>\r\n";

constexpr std::string_view kThrottleMessage = "调用次数超限：接口访问过于频繁，请稍后再试";
constexpr std::string_view kLockMessage = "网控冲突：数据正在被其他用户操作，请稍后再试";
constexpr std::string_view kSettleTypeRequired = "结算方式是必填项";

// ---------------------------------------------------------------------------------------------
// Small helpers

// "yyyy-MM-ddTHH:mm:ss" in Beijing time.
std::string FormatKdDateTime(int64_t epoch_ms) {
  using namespace std::chrono;
  const sys_time<milliseconds> tp{milliseconds{epoch_ms + kBeijingOffsetMs}};
  const auto day = floor<days>(tp);
  const year_month_day ymd{day};
  const hh_mm_ss hms{floor<seconds>(tp - day)};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                     hms.hours().count(), hms.minutes().count(), hms.seconds().count());
}

char LowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = LowerAscii(c);
  return out;
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (LowerAscii(a[i]) != LowerAscii(b[i])) return false;
  }
  return true;
}

bool IStartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && IEquals(s.substr(0, prefix.size()), prefix);
}

bool IEndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && IEquals(s.substr(s.size() - suffix.size()), suffix);
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

std::vector<std::string_view> SplitTrimmed(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t end = s.find(sep, pos);
    if (end == std::string_view::npos) end = s.size();
    out.push_back(Trim(s.substr(pos, end - pos)));
    pos = end + 1;
  }
  return out;
}

template <typename T>
bool ParseWhole(std::string_view s, T* out) {
  s = Trim(s);
  if (s.empty()) return false;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

std::string Base64Decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  uint32_t buf = 0;
  int bits = 0;
  for (char c : in) {
    const int v = value(c);
    if (v < 0) continue;  // '=' padding and whitespace
    buf = (buf << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buf >> bits) & 0xff));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Envelopes

struct KdError {
  std::optional<std::string> field;  // nullopt = null
  std::string message;
  int64_t dindex = 0;
};

struct KdEntity {
  int64_t id = 0;
  std::string number;
  int64_t dindex = 0;
};

void WriteErrors(JsonWriter* w, const std::vector<KdError>& errors) {
  w->BeginArray();
  for (const KdError& e : errors) {
    w->BeginObject()
        .FieldOrNull("FieldName", e.field)
        .Field("Message", e.message)
        .Key("DIndex")
        .Int(e.dindex)
        .EndObject();
  }
  w->EndArray();
}

void WriteEntities(JsonWriter* w, const std::vector<KdEntity>& entities) {
  w->BeginArray();
  for (const KdEntity& e : entities) {
    w->BeginObject()
        .Key("Id")
        .Int(e.id)
        .Field("Number", e.number)
        .Key("DIndex")
        .Int(e.dindex)
        .EndObject();
  }
  w->EndArray();
}

// "IsSuccess":true -> "IsSuccess":"true", "MsgCode":11 -> "MsgCode":"11" (the doc templates'
// spelling). The emulator's own JsonWriter output has no spaces around ':'.
std::string StatusFieldsAsStrings(const std::string& body) {
  static const std::regex kIsSuccess("\"IsSuccess\":(true|false)");
  static const std::regex kMsgCode("\"MsgCode\":(-?[0-9]+)");
  std::string out = std::regex_replace(body, kIsSuccess, "\"IsSuccess\":\"$1\"");
  return std::regex_replace(out, kMsgCode, "\"MsgCode\":\"$1\"");
}

// {"Result":{"ResponseStatus":{"ErrorCode":500,"IsSuccess":false,"Errors":[...],
//  "SuccessEntitys":[],"SuccessMessages":[],"MsgCode":N}}}, wrapped in [[...]] if asked.
std::string ErrorEnvelope(int msg_code, const std::vector<KdError>& errors, bool wrap) {
  JsonWriter w;
  if (wrap) w.BeginArray().BeginArray();
  w.BeginObject().Key("Result").BeginObject().Key("ResponseStatus").BeginObject();
  w.Key("ErrorCode").Int(500).Key("IsSuccess").Bool(false).Key("Errors");
  WriteErrors(&w, errors);
  w.Key("SuccessEntitys").BeginArray().EndArray();
  w.Key("SuccessMessages").BeginArray().EndArray();
  w.Key("MsgCode").Int(msg_code);
  w.EndObject().EndObject().EndObject();
  if (wrap) w.EndArray().EndArray();
  return w.Take();
}

std::string ErrorEnvelope(int msg_code, std::optional<std::string> field, std::string message,
                          bool wrap) {
  return ErrorEnvelope(msg_code, {KdError{std::move(field), std::move(message), 0}}, wrap);
}

// ---------------------------------------------------------------------------------------------
// Request bodies

// Reads a string (numbers are formatted) from an element; false for other types.
bool ElementString(simdjson::dom::element e, std::string* out) {
  switch (e.type()) {
    case simdjson::dom::element_type::STRING: {
      std::string_view s;
      if (e.get_string().get(s) != simdjson::SUCCESS) return false;
      *out = std::string(s);
      return true;
    }
    case simdjson::dom::element_type::INT64:
      *out = std::to_string(int64_t(e));
      return true;
    case simdjson::dom::element_type::UINT64:
      *out = std::to_string(uint64_t(e));
      return true;
    default:
      return false;
  }
}

bool GetStringCI(simdjson::dom::object obj, std::string_view key, std::string* out) {
  simdjson::dom::element e;
  if (obj.at_key_case_insensitive(key).get(e) != simdjson::SUCCESS || e.is_null()) return false;
  return ElementString(e, out);
}

// Integer from an int, an integral double or a numeric string ("numbers may be strings").
bool ElementInt(simdjson::dom::element e, int64_t* out) {
  switch (e.type()) {
    case simdjson::dom::element_type::INT64:
      return e.get_int64().get(*out) == simdjson::SUCCESS;
    case simdjson::dom::element_type::DOUBLE: {
      const double d = double(e);
      if (d != static_cast<double>(static_cast<int64_t>(d))) return false;
      *out = static_cast<int64_t>(d);
      return true;
    }
    case simdjson::dom::element_type::STRING:
      return ParseWhole(std::string_view(e), out);
    default:
      return false;
  }
}

// Missing/null -> fallback; unreadable -> false.
bool GetIntCI(simdjson::dom::object obj, std::string_view key, int64_t fallback, int64_t* out) {
  simdjson::dom::element e;
  if (obj.at_key_case_insensitive(key).get(e) != simdjson::SUCCESS || e.is_null()) {
    *out = fallback;
    return true;
  }
  if (e.is_string() && Trim(std::string_view(e)).empty()) {
    *out = fallback;
    return true;
  }
  return ElementInt(e, out);
}

bool GetBoolCI(simdjson::dom::object obj, std::string_view key) {
  simdjson::dom::element e;
  if (obj.at_key_case_insensitive(key).get(e) != simdjson::SUCCESS) return false;
  switch (e.type()) {
    case simdjson::dom::element_type::BOOL:
      return bool(e);
    case simdjson::dom::element_type::INT64:
      return int64_t(e) != 0;
    case simdjson::dom::element_type::STRING:
      return IEquals(Trim(std::string_view(e)), "true") || Trim(std::string_view(e)) == "1";
    default:
      return false;
  }
}

// The request body, in any of the accepted shapes:
//   {"formid":"X","data":{...}}   {"data":{...}}   {"parameters":[...]}
// where data (or a parameter) may also be a JSON string. Keys are case-insensitive.
class CallBody {
 public:
  enum class Shape { kQuery, kFormAndData, kLogin };

  bool Parse(std::string_view body, Shape shape) {
    if (body.starts_with(kBom)) body.remove_prefix(kBom.size());
    if (outer_.parse(std::string(body)).get(root_) != simdjson::SUCCESS) {
      error_ = "请求体不是合法的JSON";
      return false;
    }
    simdjson::dom::object obj;
    if (root_.get_object().get(obj) != simdjson::SUCCESS) {
      error_ = "请求体必须是JSON对象";
      return false;
    }
    root_obj_ = obj;
    simdjson::dom::element e;
    if (obj.at_key_case_insensitive("parameters").get(e) == simdjson::SUCCESS) {
      simdjson::dom::array arr;
      if (e.get_array().get(arr) == simdjson::SUCCESS) {
        for (simdjson::dom::element p : arr) params_.push_back(p);
        has_params_ = true;
      } else if (e.is_string()) {
        // A stringified parameter array.
        if (params_parser_.parse(std::string(std::string_view(e))).get(e) == simdjson::SUCCESS &&
            e.get_array().get(arr) == simdjson::SUCCESS) {
          for (simdjson::dom::element p : arr) params_.push_back(p);
          has_params_ = true;
        }
      }
    }
    GetStringCI(obj, "formid", &formid_);
    if (obj.at_key_case_insensitive("data").get(e) == simdjson::SUCCESS && !e.is_null()) {
      if (!SetData(e)) return false;
    } else if (has_params_ && shape == Shape::kQuery && !params_.empty()) {
      if (!SetData(params_[0])) return false;
    } else if (has_params_ && shape == Shape::kFormAndData && params_.size() >= 2) {
      ElementString(params_[0], &formid_);
      if (!SetData(params_[1])) return false;
    } else if (shape == Shape::kQuery &&
               obj.at_key_case_insensitive("FormId").error() == simdjson::SUCCESS) {
      data_ = obj;  // emulator choice: the data object itself at top level
      has_data_ = true;
    }
    return true;
  }

  const std::string& error() const { return error_; }
  bool has_data() const { return has_data_; }
  simdjson::dom::object data() const { return data_; }
  const std::string& formid() const { return formid_; }
  bool has_params() const { return has_params_; }
  const std::vector<simdjson::dom::element>& params() const { return params_; }
  simdjson::dom::object root() const { return root_obj_; }

 private:
  bool SetData(simdjson::dom::element e) {
    if (e.is_string()) {
      if (inner_.parse(std::string(std::string_view(e))).get(e) != simdjson::SUCCESS) {
        error_ = "data 不是合法的JSON";
        return false;
      }
    }
    if (e.get_object().get(data_) != simdjson::SUCCESS) {
      error_ = "data 必须是JSON对象";
      return false;
    }
    has_data_ = true;
    return true;
  }

  simdjson::dom::parser outer_;
  simdjson::dom::parser inner_;
  simdjson::dom::parser params_parser_;
  simdjson::dom::element root_;
  simdjson::dom::object root_obj_;
  simdjson::dom::object data_;
  bool has_data_ = false;
  bool has_params_ = false;
  std::vector<simdjson::dom::element> params_;
  std::string formid_;
  std::string error_;
};

// ---------------------------------------------------------------------------------------------
// Query: field catalogs, values, FilterString

struct Value {
  enum class Kind { kNull, kInt, kNum, kStr };
  Kind kind = Kind::kNull;
  int64_t i = 0;
  double d = 0;
  std::string_view s;
  bool datetime = false;

  static Value Null() { return {}; }
  static Value Int(int64_t v) {
    Value out;
    out.kind = Kind::kInt;
    out.i = v;
    out.d = static_cast<double>(v);
    return out;
  }
  static Value Str(std::string_view v, bool is_datetime = false) {
    Value out;
    out.kind = Kind::kStr;
    out.s = v;
    out.datetime = is_datetime;
    return out;
  }
  // Base data: null when unset.
  static Value Base(std::string_view v) { return v.empty() ? Null() : Str(v); }
};

struct FieldDef {
  std::string_view key;  // lower case
  Value (*get)(const void*);
};

template <typename T>
const T& As(const void* p) {
  return *static_cast<const T*>(p);
}

const std::vector<FieldDef>& MaterialFields() {
  static const std::vector<FieldDef> fields = {
      {"fmasterid", [](const void* p) { return Value::Int(As<KingdeeMaterial>(p).master_id); }},
      {"fmaterialid", [](const void* p) { return Value::Int(As<KingdeeMaterial>(p).master_id); }},
      {"fnumber", [](const void* p) { return Value::Str(As<KingdeeMaterial>(p).number); }},
      {"fname", [](const void* p) { return Value::Str(As<KingdeeMaterial>(p).name); }},
      {"fspecification",
       [](const void* p) { return Value::Str(As<KingdeeMaterial>(p).specification); }},
      {"f_productline",
       [](const void* p) { return Value::Str(As<KingdeeMaterial>(p).product_line); }},
      {"fmaterialgroup.fnumber",
       [](const void* p) { return Value::Base(As<KingdeeMaterial>(p).group_number); }},
      {"fbaseunitid.fnumber",
       [](const void* p) { return Value::Base(As<KingdeeMaterial>(p).base_unit); }},
      {"fuseorgid.fnumber",
       [](const void* p) { return Value::Base(As<KingdeeMaterial>(p).use_org); }},
      {"fdocumentstatus",
       [](const void* p) { return Value::Str(As<KingdeeMaterial>(p).document_status); }},
      {"fforbidstatus",
       [](const void* p) { return Value::Str(As<KingdeeMaterial>(p).forbid_status); }},
      {"fmodifydate",
       [](const void* p) { return Value::Str(As<KingdeeMaterial>(p).modify_date, true); }},
  };
  return fields;
}

const std::vector<FieldDef>& PayApplyFields() {
  static const std::vector<FieldDef> fields = {
      {"fid", [](const void* p) { return Value::Int(As<KingdeePayApply>(p).fid); }},
      {"fbillno", [](const void* p) { return Value::Str(As<KingdeePayApply>(p).number); }},
      {"fdocumentstatus", [](const void*) { return Value::Str("C"); }},
      {"fsettletypeid.fnumber",
       [](const void* p) { return Value::Base(As<KingdeePayApply>(p).settle_type); }},
  };
  return fields;
}

const std::vector<FieldDef>& PayBillFields() {
  static const std::vector<FieldDef> fields = {
      {"fid", [](const void* p) { return Value::Int(As<KingdeePayBill>(p).fid); }},
      {"fbillno", [](const void* p) { return Value::Str(As<KingdeePayBill>(p).number); }},
      {"fdocumentstatus",
       [](const void* p) { return Value::Str(As<KingdeePayBill>(p).document_status); }},
      {"fsourcetype", [](const void* p) { return Value::Str(As<KingdeePayBill>(p).source_type); }},
      {"fsrcbillno", [](const void* p) { return Value::Str(As<KingdeePayBill>(p).source_number); }},
      {"fdate", [](const void* p) { return Value::Str(As<KingdeePayBill>(p).date, true); }},
  };
  return fields;
}

const std::vector<FieldDef>& SavedBillFields() {
  static const std::vector<FieldDef> fields = {
      {"fid", [](const void* p) { return Value::Int(As<KingdeeSavedBill>(p).id); }},
      {"fbillno", [](const void* p) { return Value::Str(As<KingdeeSavedBill>(p).number); }},
      {"fnumber", [](const void* p) { return Value::Str(As<KingdeeSavedBill>(p).number); }},
      {"fdocumentstatus", [](const void*) { return Value::Str("A"); }},
  };
  return fields;
}

int FindField(const std::vector<FieldDef>& fields, std::string_view key) {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (IEquals(fields[i].key, key)) return static_cast<int>(i);
  }
  return -1;
}

// "2024-01-05" / "2024/01/05 08:30" / "2024-01-05T08:30:00.000" -> "2024-01-05T08:30:00";
// anything else unchanged.
std::string NormalizeDateTime(std::string_view s) {
  s = Trim(s);
  if (s.size() < 10 || (s[4] != '-' && s[4] != '/') || (s[7] != '-' && s[7] != '/')) {
    return std::string(s);
  }
  std::string out(s.substr(0, 10));
  out[4] = '-';
  out[7] = '-';
  std::string_view rest = s.substr(10);
  std::string time = "00:00:00";
  if (!rest.empty() && (rest[0] == ' ' || rest[0] == 'T')) {
    rest = Trim(rest.substr(1));
    if (rest.size() >= 8) {
      time = std::string(rest.substr(0, 8));
    } else if (rest.size() == 5) {
      time = std::string(rest) + ":00";
    } else {
      return std::string(s);
    }
  } else if (!rest.empty()) {
    return std::string(s);
  }
  return out + "T" + time;
}

// SQL Server with a case-insensitive collation: ASCII case and trailing spaces are ignored.
int CompareCI(std::string_view a, std::string_view b) {
  while (!a.empty() && a.back() == ' ') a.remove_suffix(1);
  while (!b.empty() && b.back() == ' ') b.remove_suffix(1);
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const auto x = static_cast<unsigned char>(LowerAscii(a[i]));
    const auto y = static_cast<unsigned char>(LowerAscii(b[i]));
    if (x != y) return x < y ? -1 : 1;
  }
  if (a.size() == b.size()) return 0;
  return a.size() < b.size() ? -1 : 1;
}

bool AsNumber(const Value& v, double* out) {
  switch (v.kind) {
    case Value::Kind::kInt:
    case Value::Kind::kNum:
      *out = v.d;
      return true;
    case Value::Kind::kStr:
      return ParseWhole(v.s, out);
    default:
      return false;
  }
}

// nullopt when either side is null or the two cannot be compared.
std::optional<int> CompareValues(const Value& a, const Value& b) {
  if (a.kind == Value::Kind::kNull || b.kind == Value::Kind::kNull) return std::nullopt;
  const bool a_num = a.kind == Value::Kind::kInt || a.kind == Value::Kind::kNum;
  const bool b_num = b.kind == Value::Kind::kInt || b.kind == Value::Kind::kNum;
  if (a.kind == Value::Kind::kInt && b.kind == Value::Kind::kInt) {
    return a.i < b.i ? -1 : (a.i > b.i ? 1 : 0);
  }
  if (a_num || b_num) {
    double x = 0;
    double y = 0;
    if (!AsNumber(a, &x) || !AsNumber(b, &y)) return std::nullopt;
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.datetime && b.datetime) return a.s < b.s ? -1 : (a.s > b.s ? 1 : 0);  // both stored
  if (a.datetime || b.datetime) {
    const std::string x = NormalizeDateTime(a.s);
    const std::string y = NormalizeDateTime(b.s);
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  return CompareCI(a.s, b.s);
}

std::vector<uint32_t> CodePointsLower(std::string_view s) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = 1;
    uint32_t cp = c;
    if (c >= 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else if (c >= 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xC0) {
      len = 2;
      cp = c & 0x1F;
    }
    for (size_t k = 1; k < len && i + k < s.size(); ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    }
    if (cp >= 'A' && cp <= 'Z') cp += 'a' - 'A';
    out.push_back(cp);
    i += len;
  }
  return out;
}

// LIKE with % and _, case-insensitive, per code point.
bool LikeMatch(std::string_view value, std::string_view pattern) {
  const std::vector<uint32_t> v = CodePointsLower(value);
  const std::vector<uint32_t> p = CodePointsLower(pattern);
  size_t vi = 0;
  size_t pi = 0;
  size_t star = std::string_view::npos;
  size_t mark = 0;
  while (vi < v.size()) {
    if (pi < p.size() && (p[pi] == '_' || (p[pi] != '%' && p[pi] == v[vi]))) {
      ++vi;
      ++pi;
    } else if (pi < p.size() && p[pi] == '%') {
      star = pi++;
      mark = vi;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      vi = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '%') ++pi;
  return pi == p.size();
}

struct QueryError {
  int msg_code = kKingdeeMsgBadParameter;
  std::optional<std::string> field;
  std::string message;
};

struct Operand {
  int field = -1;  // >= 0: a catalog field
  bool null_literal = false;
  bool quoted = false;
  std::string text;  // literal text (quotes removed)
  bool is_int = false;
  int64_t i = 0;
  double d = 0;

  Value Eval(const std::vector<FieldDef>& fields, const void* row) const {
    if (field >= 0) return fields[static_cast<size_t>(field)].get(row);
    if (null_literal) return Value::Null();
    if (quoted) return Value::Str(text);
    Value v;
    v.kind = is_int ? Value::Kind::kInt : Value::Kind::kNum;
    v.i = i;
    v.d = d;
    return v;
  }
};

enum class CmpOp { kEq, kNe, kLt, kLe, kGt, kGe };

struct Node {
  enum class Kind { kOr, kAnd, kNot, kCmp, kLike, kIn, kIsNull };
  Kind kind = Kind::kCmp;
  std::vector<std::unique_ptr<Node>> kids;
  Operand lhs;
  Operand rhs;
  CmpOp op = CmpOp::kEq;
  std::vector<Operand> list;
  bool negate = false;

  bool Eval(const std::vector<FieldDef>& fields, const void* row) const {
    switch (kind) {
      case Kind::kOr:
        for (const auto& k : kids) {
          if (k->Eval(fields, row)) return true;
        }
        return false;
      case Kind::kAnd:
        for (const auto& k : kids) {
          if (!k->Eval(fields, row)) return false;
        }
        return true;
      case Kind::kNot:
        return !kids[0]->Eval(fields, row);
      case Kind::kCmp: {
        const std::optional<int> c = CompareValues(lhs.Eval(fields, row), rhs.Eval(fields, row));
        if (!c) return false;
        switch (op) {
          case CmpOp::kEq:
            return *c == 0;
          case CmpOp::kNe:
            return *c != 0;
          case CmpOp::kLt:
            return *c < 0;
          case CmpOp::kLe:
            return *c <= 0;
          case CmpOp::kGt:
            return *c > 0;
          case CmpOp::kGe:
            return *c >= 0;
        }
        return false;
      }
      case Kind::kLike: {
        const Value v = lhs.Eval(fields, row);
        const Value p = rhs.Eval(fields, row);
        if (v.kind == Value::Kind::kNull || p.kind == Value::Kind::kNull) return false;
        const std::string vs = v.kind == Value::Kind::kStr ? std::string(v.s) : std::to_string(v.i);
        const std::string ps = p.kind == Value::Kind::kStr   ? std::string(p.s)
                               : p.kind == Value::Kind::kInt ? std::to_string(p.i)
                                                             : fmt::format("{}", p.d);
        return LikeMatch(vs, ps) != negate;
      }
      case Kind::kIn: {
        const Value v = lhs.Eval(fields, row);
        if (v.kind == Value::Kind::kNull) return false;
        bool found = false;
        for (const Operand& o : list) {
          const std::optional<int> c = CompareValues(v, o.Eval(fields, row));
          if (c && *c == 0) found = true;
        }
        return found != negate;
      }
      case Kind::kIsNull:
        return (lhs.Eval(fields, row).kind == Value::Kind::kNull) != negate;
    }
    return false;
  }
};

struct Token {
  enum class Kind { kIdent, kString, kNumber, kOp, kLParen, kRParen, kComma, kEnd };
  Kind kind = Kind::kEnd;
  std::string text;
  size_t pos = 0;
};

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Splits a FilterString; false (with the offending position) on an unknown character or an
// unterminated string.
bool Tokenize(std::string_view s, std::vector<Token>* out, size_t* bad_pos) {
  auto prev_is_operand = [&] {
    if (out->empty()) return false;
    const Token::Kind k = out->back().kind;
    return k == Token::Kind::kIdent || k == Token::Kind::kString || k == Token::Kind::kNumber ||
           k == Token::Kind::kRParen;
  };
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    const size_t start = i;
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ++i;
      continue;
    }
    const bool n_prefix = (c == 'N' || c == 'n') && i + 1 < s.size() && s[i + 1] == '\'';
    if (c == '\'' || n_prefix) {
      if (n_prefix) ++i;  // N'...' (unicode literal)
      std::string text;
      ++i;
      bool closed = false;
      while (i < s.size()) {
        if (s[i] == '\'') {
          if (i + 1 < s.size() && s[i + 1] == '\'') {
            text.push_back('\'');
            i += 2;
            continue;
          }
          ++i;
          closed = true;
          break;
        }
        text.push_back(s[i++]);
      }
      if (!closed) {
        *bad_pos = start;
        return false;
      }
      out->push_back({Token::Kind::kString, std::move(text), start});
    } else if (IsDigit(c) || (c == '.' && i + 1 < s.size() && IsDigit(s[i + 1])) ||
               (c == '-' && i + 1 < s.size() && (IsDigit(s[i + 1]) || s[i + 1] == '.') &&
                !prev_is_operand())) {
      ++i;
      while (i < s.size() && (IsDigit(s[i]) || s[i] == '.')) ++i;
      out->push_back({Token::Kind::kNumber, std::string(s.substr(start, i - start)), start});
    } else if (IsAlpha(c)) {
      while (i < s.size() && (IsAlpha(s[i]) || IsDigit(s[i]) || s[i] == '.')) ++i;
      out->push_back({Token::Kind::kIdent, std::string(s.substr(start, i - start)), start});
    } else if (c == '(') {
      out->push_back({Token::Kind::kLParen, "(", i++});
    } else if (c == ')') {
      out->push_back({Token::Kind::kRParen, ")", i++});
    } else if (c == ',') {
      out->push_back({Token::Kind::kComma, ",", i++});
    } else if (c == '<' || c == '>' || c == '=' || c == '!') {
      std::string op(1, c);
      ++i;
      if (i < s.size() && (s[i] == '=' || (c == '<' && s[i] == '>'))) op.push_back(s[i++]);
      if (op == "!") {
        *bad_pos = start;
        return false;
      }
      out->push_back({Token::Kind::kOp, std::move(op), start});
    } else {
      *bad_pos = start;
      return false;
    }
  }
  out->push_back({Token::Kind::kEnd, "", s.size()});
  return true;
}

// Recursive descent over the FilterString subset:
//   expr := and (OR and)*      and := not (AND not)*      not := NOT not | '(' expr ')' | pred
//   pred := operand (= | <> | != | < | <= | > | >=) operand | operand [NOT] LIKE operand
//         | operand [NOT] IN (operand, ...) | operand IS [NOT] NULL
//   operand := field key | 'string' | N'string' | number | NULL
class FilterParser {
 public:
  FilterParser(const std::vector<FieldDef>& fields, std::string_view filter)
      : fields_(fields), filter_(filter) {}

  std::unique_ptr<Node> Parse(QueryError* err) {
    size_t bad = 0;
    if (!Tokenize(filter_, &toks_, &bad)) {
      *err = SyntaxError(bad);
      return nullptr;
    }
    std::unique_ptr<Node> root = ParseOr();
    if (root && Peek().kind != Token::Kind::kEnd) Fail(Peek().pos);
    if (err_) {
      *err = *err_;
      return nullptr;
    }
    return root;
  }

 private:
  QueryError SyntaxError(size_t pos) const {
    return {kKingdeeMsgBadParameter, std::nullopt,
            fmt::format("过滤条件语法错误（位置 {}）：{}", pos, filter_)};
  }
  void Fail(size_t pos) {
    if (!err_) err_ = SyntaxError(pos);
  }
  const Token& Peek() const { return toks_[std::min(at_, toks_.size() - 1)]; }
  const Token& Next() { return toks_[std::min(at_++, toks_.size() - 1)]; }
  bool IsKeyword(std::string_view kw) const {
    return Peek().kind == Token::Kind::kIdent && IEquals(Peek().text, kw);
  }
  static bool Reserved(std::string_view word) {
    for (std::string_view kw : {"and", "or", "not", "like", "in", "is"}) {
      if (IEquals(word, kw)) return true;
    }
    return false;
  }

  std::unique_ptr<Node> Combine(Node::Kind kind, std::string_view kw,
                                std::unique_ptr<Node> (FilterParser::*sub)()) {
    std::unique_ptr<Node> first = (this->*sub)();
    if (!first || !IsKeyword(kw)) return first;
    auto node = std::make_unique<Node>();
    node->kind = kind;
    node->kids.push_back(std::move(first));
    while (IsKeyword(kw)) {
      Next();
      std::unique_ptr<Node> next = (this->*sub)();
      if (!next) return nullptr;
      node->kids.push_back(std::move(next));
    }
    return node;
  }
  std::unique_ptr<Node> ParseOr() {
    return Combine(Node::Kind::kOr, "or", &FilterParser::ParseAnd);
  }
  std::unique_ptr<Node> ParseAnd() {
    return Combine(Node::Kind::kAnd, "and", &FilterParser::ParseNot);
  }
  std::unique_ptr<Node> ParseNot() {
    if (IsKeyword("not")) {
      Next();
      std::unique_ptr<Node> kid = ParseNot();
      if (!kid) return nullptr;
      auto node = std::make_unique<Node>();
      node->kind = Node::Kind::kNot;
      node->kids.push_back(std::move(kid));
      return node;
    }
    if (Peek().kind == Token::Kind::kLParen) {
      Next();
      std::unique_ptr<Node> inner = ParseOr();
      if (!inner) return nullptr;
      if (Peek().kind != Token::Kind::kRParen) {
        Fail(Peek().pos);
        return nullptr;
      }
      Next();
      return inner;
    }
    return ParsePredicate();
  }

  std::unique_ptr<Node> ParsePredicate() {
    auto node = std::make_unique<Node>();
    if (!ParseOperand(&node->lhs)) return nullptr;
    if (IsKeyword("is")) {
      Next();
      node->kind = Node::Kind::kIsNull;
      if (IsKeyword("not")) {
        Next();
        node->negate = true;
      }
      if (!IsKeyword("null")) {
        Fail(Peek().pos);
        return nullptr;
      }
      Next();
      return node;
    }
    if (IsKeyword("not")) {
      Next();
      node->negate = true;
      if (!IsKeyword("like") && !IsKeyword("in")) {
        Fail(Peek().pos);
        return nullptr;
      }
    }
    if (IsKeyword("like")) {
      Next();
      node->kind = Node::Kind::kLike;
      if (!ParseOperand(&node->rhs)) return nullptr;
      return node;
    }
    if (IsKeyword("in")) {
      Next();
      node->kind = Node::Kind::kIn;
      if (Next().kind != Token::Kind::kLParen) {
        Fail(toks_[at_ - 1].pos);
        return nullptr;
      }
      for (;;) {
        Operand item;
        if (!ParseOperand(&item)) return nullptr;
        node->list.push_back(std::move(item));
        const Token& t = Next();
        if (t.kind == Token::Kind::kRParen) break;
        if (t.kind != Token::Kind::kComma) {
          Fail(t.pos);
          return nullptr;
        }
      }
      return node;
    }
    if (Peek().kind != Token::Kind::kOp) {
      Fail(Peek().pos);
      return nullptr;
    }
    const std::string op = Next().text;
    node->kind = Node::Kind::kCmp;
    if (op == "=" || op == "==") {
      node->op = CmpOp::kEq;
    } else if (op == "<>" || op == "!=") {
      node->op = CmpOp::kNe;
    } else if (op == "<") {
      node->op = CmpOp::kLt;
    } else if (op == "<=") {
      node->op = CmpOp::kLe;
    } else if (op == ">") {
      node->op = CmpOp::kGt;
    } else {
      node->op = CmpOp::kGe;
    }
    if (!ParseOperand(&node->rhs)) return nullptr;
    return node;
  }

  bool ParseOperand(Operand* out) {
    const Token& t = Next();
    switch (t.kind) {
      case Token::Kind::kString:
        out->quoted = true;
        out->text = t.text;
        return true;
      case Token::Kind::kNumber:
        out->text = t.text;
        out->is_int = ParseWhole(t.text, &out->i);
        if (out->is_int) {
          out->d = static_cast<double>(out->i);
          return true;
        }
        if (ParseWhole(t.text, &out->d)) return true;
        Fail(t.pos);
        return false;
      case Token::Kind::kIdent: {
        if (IEquals(t.text, "null")) {
          out->null_literal = true;
          return true;
        }
        if (Reserved(t.text)) {
          Fail(t.pos);
          return false;
        }
        out->field = FindField(fields_, t.text);
        if (out->field < 0) {
          if (!err_) {
            err_ =
                QueryError{kKingdeeMsgFieldNotFound, t.text, fmt::format("字段{}不存在", t.text)};
          }
          return false;
        }
        return true;
      }
      default:
        Fail(t.pos);
        return false;
    }
  }

  const std::vector<FieldDef>& fields_;
  std::string_view filter_;
  std::vector<Token> toks_;
  size_t at_ = 0;
  std::optional<QueryError> err_;
};

struct OrderKey {
  int field = -1;
  bool desc = false;
};

// "FMasterId ASC, FNumber desc"; false with *err set on an unknown field or a bad direction.
bool ParseOrder(const std::vector<FieldDef>& fields, std::string_view order,
                std::vector<OrderKey>* out, QueryError* err) {
  for (std::string_view part : SplitTrimmed(order, ',')) {
    if (part.empty()) continue;
    size_t sp = part.find_first_of(" \t");
    const std::string_view name = part.substr(0, sp);
    const std::string_view dir = sp == std::string_view::npos ? "" : Trim(part.substr(sp));
    OrderKey key;
    key.field = FindField(fields, name);
    if (key.field < 0) {
      *err = {kKingdeeMsgFieldNotFound, std::string(name), fmt::format("字段{}不存在", name)};
      return false;
    }
    if (IEquals(dir, "desc")) {
      key.desc = true;
    } else if (!dir.empty() && !IEquals(dir, "asc")) {
      *err = {kKingdeeMsgBadParameter, std::nullopt, fmt::format("排序条件错误：{}", order)};
      return false;
    }
    out->push_back(key);
  }
  return true;
}

// ORDER BY: nulls first, then CompareValues; incomparable values tie.
int OrderCompare(const Value& a, const Value& b) {
  const bool an = a.kind == Value::Kind::kNull;
  const bool bn = b.kind == Value::Kind::kNull;
  if (an || bn) return an == bn ? 0 : (an ? -1 : 1);
  return CompareValues(a, b).value_or(0);
}

void WriteValue(JsonWriter* w, const Value& v) {
  switch (v.kind) {
    case Value::Kind::kNull:
      w->Null();
      break;
    case Value::Kind::kInt:
      w->Int(v.i);
      break;
    case Value::Kind::kNum:
      w->Int(static_cast<int64_t>(v.d));
      break;
    case Value::Kind::kStr:
      w->String(v.s);
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// Generated materials

struct ItemKind {
  std::string_view name;
  std::string_view group;
  std::string_view line;
  std::string_view unit;
  int spec_kind;
};
constexpr std::array<ItemKind, 12> kItems = {{
    {"六角螺栓", "01.01", "紧固件", "Pcs", 0},
    {"平垫圈", "01.02", "紧固件", "Pcs", 1},
    {"膨胀螺丝", "01.01", "紧固件", "Pcs", 0},
    {"法兰", "02.01", "阀门管件", "Pcs", 2},
    {"球阀", "02.02", "阀门管件", "Pcs", 2},
    {"弯头", "02.01", "阀门管件", "Pcs", 2},
    {"电力电缆", "03.01", "电气", "m", 3},
    {"接线端子", "03.02", "电气", "Pcs", 4},
    {"等边角钢", "04.01", "型材", "kg", 5},
    {"方管", "04.01", "型材", "kg", 5},
    {"深沟球轴承", "05.01", "轴承密封", "套", 6},
    {"O型圈\"耐油\"", "05.02", "轴承密封", "个", 7},
}};
constexpr std::array<std::string_view, 6> kMaterialPrefixes = {"不锈钢", "碳钢",   "镀锌",
                                                               "黄铜",   "铝合金", "尼龙"};

int64_t ParseKdDateTime(std::string_view s) {
  int y = 0;
  unsigned mo = 0;
  unsigned d = 0;
  int h = 0;
  int mi = 0;
  int se = 0;
  if (s.size() < 19 || !ParseWhole(s.substr(0, 4), &y) || !ParseWhole(s.substr(5, 2), &mo) ||
      !ParseWhole(s.substr(8, 2), &d) || !ParseWhole(s.substr(11, 2), &h) ||
      !ParseWhole(s.substr(14, 2), &mi) || !ParseWhole(s.substr(17, 2), &se)) {
    return 0;
  }
  using namespace std::chrono;
  const sys_days day{year{y} / month{mo} / std::chrono::day{d}};
  const int64_t ms = duration_cast<milliseconds>(day.time_since_epoch()).count() +
                     ((int64_t{h} * 60 + mi) * 60 + se) * 1000;
  return ms - kBeijingOffsetMs;
}

enum class Service {
  kValidateUser,
  kLoginByAppSecret,
  kQuery,
  kSave,
  kPush,
  kOtherBusiness,
  kUnknown
};

Service Classify(std::string_view lower) {
  if (lower.ends_with("authservice.validateuser")) return Service::kValidateUser;
  if (lower.ends_with("authservice.loginbyappsecret")) return Service::kLoginByAppSecret;
  if (lower.ends_with("dynamicformservice.executebillquery")) return Service::kQuery;
  if (lower.ends_with("dynamicformservice.save")) return Service::kSave;
  if (lower.ends_with("dynamicformservice.push")) return Service::kPush;
  if (lower.find("dynamicformservice.") != std::string_view::npos) return Service::kOtherBusiness;
  return Service::kUnknown;
}

}  // namespace

Reply KingdeeEmulator::JsonReply(std::string body) {
  return {200, std::move(body), std::string(kJsonType)};
}

Reply KingdeeEmulator::HtmlReply(int status, std::string_view body) {
  return {status, std::string(body), std::string(kHtmlType)};
}

void KingdeeEmulator::SetFaultsOnLogin(bool on) { Set(&faults_on_login_, on); }

KingdeeEmulator::KingdeeEmulator(KingdeeEmulatorOptions o)
    : Emulator(kBadGatewayHtml, kHtmlType),
      opts_(std::move(o)),
      data_rng_(0),
      noise_rng_(std::random_device{}()) {}

KingdeeEmulator::~KingdeeEmulator() { Stop(); }

// One catch-all route: service names are matched case-insensitively (ClassifyLocked).
std::vector<Emulator::Route> KingdeeEmulator::Routes() const { return {{"POST", R"(/.*)", 0}}; }

// ---------------------------------------------------------------------------------------------
// Data

uint64_t KingdeeEmulator::RandLocked(uint64_t bound) {
  return bound == 0 ? 0 : data_rng_() % bound;
}

std::string KingdeeEmulator::NextMaterialNumberLocked() {
  return fmt::format("MAT{:06}", ++material_seq_);
}

KingdeeMaterial* KingdeeEmulator::FindMaterialLocked(int64_t master_id) {
  for (KingdeeMaterial& m : materials_) {
    if (m.master_id == master_id) return &m;
  }
  return nullptr;
}

KingdeeMaterial KingdeeEmulator::MakeMaterialLocked(int64_t master_id) {
  // Every draw is its own statement: argument evaluation order is unspecified.
  KingdeeMaterial m;
  m.master_id = master_id;
  m.number = NextMaterialNumberLocked();
  const ItemKind& item = kItems[RandLocked(kItems.size())];
  const std::string_view prefix = kMaterialPrefixes[RandLocked(kMaterialPrefixes.size())];
  m.name = fmt::format("{}{}", prefix, item.name);
  m.group_number = item.group;
  m.product_line = item.line;
  m.base_unit = item.unit;
  const uint64_t a = RandLocked(9);
  const uint64_t b = RandLocked(10);
  switch (item.spec_kind) {
    case 0: {
      constexpr std::array<int, 6> kDia = {6, 8, 10, 12, 16, 20};
      m.specification = fmt::format("M{}*{}", kDia[a % kDia.size()], 10 * (1 + b));
      break;
    }
    case 1:
      m.specification = fmt::format("Φ{}", 4 + 2 * a);
      break;
    case 2: {
      constexpr std::array<int, 9> kDn = {15, 20, 25, 32, 40, 50, 65, 80, 100};
      m.specification = fmt::format("DN{}", kDn[a]);
      break;
    }
    case 3: {
      constexpr std::array<int, 6> kArea = {4, 6, 10, 16, 25, 35};
      m.specification = fmt::format("YJV-{}*{}", 2 + a % 4, kArea[b % kArea.size()]);
      break;
    }
    case 4:
      m.specification = fmt::format("{}P", 2 + a);
      break;
    case 5: {
      const uint64_t side = 20 + 5 * a;
      m.specification = fmt::format("{}*{}*{}", side, side, 3 + b % 5);
      break;
    }
    case 6:
      m.specification = fmt::format("62{:02}-2RS", a + b);
      break;
    default:
      m.specification = fmt::format("{}*{}", 10 + 7 * a, 2 + b % 3);
      break;
  }
  const uint64_t spaces = RandLocked(100);
  if (spaces < 4) {
    m.specification = " " + m.specification;
  } else if (spaces < 8) {
    m.specification += " ";
  } else if (spaces < 12) {
    m.specification = "  " + m.specification + "  ";
  }
  m.use_org = RandLocked(10) == 0 ? "T01" : "T00";
  const uint64_t status = RandLocked(100);
  m.document_status = status < 8 ? "A" : (status < 15 ? "B" : "C");
  m.forbid_status = RandLocked(100) < 7 ? "B" : "A";
  const int64_t offset_s = static_cast<int64_t>(RandLocked(365 * 86'400));
  m.modify_date = FormatKdDateTime(kGeneratedEpochMs + offset_s * 1000);
  return m;
}

void KingdeeEmulator::GenerateMaterials(int n, uint64_t seed) {
  std::lock_guard<std::mutex> lock(mu_);
  data_rng_.seed(seed);
  for (int i = 0; i < n; ++i) {
    const int64_t id = next_master_id_;
    next_master_id_ += 2 + static_cast<int64_t>(RandLocked(9));  // leaves 1..9 ids unused
    materials_.push_back(MakeMaterialLocked(id));
  }
}

void KingdeeEmulator::AddMaterial(KingdeeMaterial m) {
  std::lock_guard<std::mutex> lock(mu_);
  if (m.master_id <= 0) m.master_id = next_master_id_;
  next_master_id_ = std::max(next_master_id_, m.master_id + 2);
  if (m.number.empty()) m.number = NextMaterialNumberLocked();
  if (m.modify_date.empty()) m.modify_date = FormatKdDateTime(NowMsLocked());
  if (KingdeeMaterial* existing = FindMaterialLocked(m.master_id)) {
    *existing = std::move(m);
  } else {
    materials_.push_back(std::move(m));
  }
}

bool KingdeeEmulator::UpdateMaterial(int64_t master_id, const std::string& new_name) {
  std::lock_guard<std::mutex> lock(mu_);
  KingdeeMaterial* m = FindMaterialLocked(master_id);
  if (m == nullptr) return false;
  m->name = new_name;
  std::string date = FormatKdDateTime(NowMsLocked());
  if (date <= m->modify_date) date = FormatKdDateTime(ParseKdDateTime(m->modify_date) + 1000);
  m->modify_date = std::move(date);
  return true;
}

bool KingdeeEmulator::RemoveMaterial(int64_t master_id) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = std::find_if(materials_.begin(), materials_.end(),
                               [&](const KingdeeMaterial& m) { return m.master_id == master_id; });
  if (it == materials_.end()) return false;
  materials_.erase(it);
  return true;
}

std::vector<KingdeeMaterial> KingdeeEmulator::Materials() const { return Get(materials_); }

std::string KingdeeEmulator::AddPayApply(const std::string& number,
                                         const std::string& settle_type) {
  std::lock_guard<std::mutex> lock(mu_);
  for (KingdeePayApply& a : pay_applies_) {
    if (a.number == number) {
      a.settle_type = settle_type;
      return number;
    }
  }
  pay_applies_.push_back({next_apply_fid_++, number, settle_type});
  return number;
}

std::vector<KingdeePayApply> KingdeeEmulator::PayApplies() const { return Get(pay_applies_); }

void KingdeeEmulator::RejectPushOf(const std::string& number, const std::string& message,
                                   const std::string& field_name) {
  std::lock_guard<std::mutex> lock(mu_);
  push_rejects_[number] = {message, field_name};
}

void KingdeeEmulator::AllowPushOf(const std::string& number) {
  std::lock_guard<std::mutex> lock(mu_);
  push_rejects_.erase(number);
}

std::vector<KingdeePayBill> KingdeeEmulator::PayBills() const { return Get(pay_bills_); }

const KingdeePayBill& KingdeeEmulator::NewPayBillLocked(const std::string& source_number,
                                                        bool draft) {
  const std::string today = FormatKdDateTime(NowMsLocked()).substr(0, 10) + "T00:00:00";
  pay_bills_.push_back({next_bill_fid_++, draft ? "" : fmt::format("FKD{:08}", next_bill_no_++),
                        draft ? "Z" : "A", "CN_PAYAPPLY", source_number, today});
  return pay_bills_.back();
}

KingdeePayBill KingdeeEmulator::PushAgain(const std::string& number) {
  std::lock_guard<std::mutex> lock(mu_);
  return NewPayBillLocked(number, /*draft=*/false);
}

bool KingdeeEmulator::DeletePayBill(int64_t fid) {
  std::lock_guard<std::mutex> lock(mu_);
  return std::erase_if(pay_bills_, [&](const KingdeePayBill& b) { return b.fid == fid; }) > 0;
}

void KingdeeEmulator::SetBlockDuplicatePush(bool block) { Set(&block_duplicate_push_, block); }

std::vector<KingdeeSavedBill> KingdeeEmulator::SavedBills(const std::string& form_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<KingdeeSavedBill> out;
  for (const KingdeeSavedBill& b : saved_) {
    if (form_id.empty() || IEquals(b.form_id, form_id)) out.push_back(b);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Faults

void KingdeeEmulator::ExpireSessionNow() {
  std::lock_guard<std::mutex> lock(mu_);
  sessions_.clear();
  aspnet_sessions_.clear();
}

void KingdeeEmulator::SetSessionExpiresAfterCalls(int n) {
  Set(&session_max_calls_, std::max(0, n));
}

void KingdeeEmulator::SetSessionExpiresAfterMs(int64_t ms) {
  Set(&session_max_age_ms_, std::max<int64_t>(0, ms));
}

void KingdeeEmulator::ThrottleNext(int n, const std::string& service_substring) {
  Set(&throttle_, {n, service_substring});
}

void KingdeeEmulator::LockNext(int n, const std::string& service_substring) {
  Set(&lock_, {n, service_substring});
}

void KingdeeEmulator::BomAlways(bool on) { Set(&bom_, on); }

void KingdeeEmulator::SetStatusFieldsAsStrings(bool on) { Set(&status_strings_, on); }

void KingdeeEmulator::SetSessionLostMsgCode(int msg_code) { Set(&session_lost_code_, msg_code); }

void KingdeeEmulator::DropResponseAfterCommitNext(int n) { Set(&drop_after_commit_left_, n); }

void KingdeeEmulator::SetDropResponseAfterCommit(bool always) {
  Set(&drop_after_commit_always_, always);
}

void KingdeeEmulator::RejectSaveNext(int n, const std::string& field_name,
                                     const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  reject_save_left_ = n;
  reject_save_field_ = field_name;
  reject_save_message_ = message;
}

void KingdeeEmulator::InsertMaterialsBetweenPagesNext(int n) { Set(&insert_between_pages_, n); }

std::vector<int64_t> KingdeeEmulator::InsertedBetweenPages() const { return Get(inserted_ids_); }

void KingdeeEmulator::InsertBetweenPagesLocked(const std::vector<int64_t>& page_ids) {
  std::vector<int64_t> sorted = page_ids;
  std::sort(sorted.begin(), sorted.end());
  const int64_t middle = sorted[sorted.size() / 2];
  const KingdeeMaterial* tmpl_ptr = FindMaterialLocked(middle);
  if (tmpl_ptr == nullptr) return;
  const KingdeeMaterial tmpl = *tmpl_ptr;
  std::set<int64_t> used;
  for (const KingdeeMaterial& m : materials_) used.insert(m.master_id);
  int64_t candidate = middle - 1;
  for (int k = 0; k < insert_between_pages_; ++k) {
    while (candidate > 0 && used.contains(candidate)) --candidate;
    const int64_t id = candidate > 0 ? candidate : *used.rbegin() + 1;
    KingdeeMaterial m = tmpl;
    m.master_id = id;
    m.number = NextMaterialNumberLocked();
    m.name = fmt::format("{}（补录{}）", tmpl.name, inserted_ids_.size() + 1);
    used.insert(id);
    next_master_id_ = std::max(next_master_id_, id + 2);
    materials_.push_back(std::move(m));
    inserted_ids_.push_back(id);
    candidate = id - 1;
  }
  insert_between_pages_ = 0;
}

// ---------------------------------------------------------------------------------------------
// Stats

bool KingdeeEmulator::KeyMatches(std::string_view key, std::string_view query) const {
  return Lower(key).find(Lower(query)) != std::string::npos;
}

int64_t KingdeeEmulator::LoginCount() const { return Get(login_count_); }

int64_t KingdeeEmulator::PushCount() const { return Get(push_count_); }

int64_t KingdeeEmulator::SaveCount() const { return Get(save_count_); }

std::string KingdeeEmulator::LastRequestBody(const std::string& service_substring) const {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string needle = Lower(service_substring);
  int64_t best = -1;
  std::string body;
  for (const auto& [name, entry] : last_bodies_) {
    if (Lower(name).find(needle) != std::string::npos && entry.first > best) {
      best = entry.first;
      body = entry.second;
    }
  }
  return body;
}

void KingdeeEmulator::ResetVendorStatsLocked() {
  last_bodies_.clear();
  login_count_ = 0;
  push_count_ = 0;
  save_count_ = 0;
}

// ---------------------------------------------------------------------------------------------
// HTTP

Call KingdeeEmulator::ClassifyLocked(int, const httplib::Request& req) {
  const std::string_view path = req.path;
  std::string service;
  Service kind = Service::kUnknown;
  if (path.size() > kPathPrefix.size() + kPathSuffix.size() && IStartsWith(path, kPathPrefix) &&
      IEndsWith(path, kPathSuffix)) {
    service = std::string(
        path.substr(kPathPrefix.size(), path.size() - kPathPrefix.size() - kPathSuffix.size()));
    kind = Classify(Lower(service));
  }
  const bool login = kind == Service::kValidateUser || kind == Service::kLoginByAppSecret;
  if (login) ++login_count_;
  const bool known = kind != Service::kUnknown;
  Call call{.endpoint = static_cast<int>(kind),
            .key = known ? service : std::string(path),
            .data = known && !login,
            .faultable = known && (!login || faults_on_login_)};
  last_bodies_[call.key] = {++request_seq_, req.body};
  return call;
}

Reply KingdeeEmulator::QpsReplyLocked(const Call& call) {
  return JsonReply(ErrorEnvelope(kKingdeeMsgThrottled, std::nullopt, std::string(kThrottleMessage),
                                 call.endpoint == static_cast<int>(Service::kQuery)));
}

Reply KingdeeEmulator::AnswerLocked(const Call& call, const httplib::Request& req) {
  const auto kind = static_cast<Service>(call.endpoint);
  const bool wrap = kind == Service::kQuery;
  if (kind == Service::kUnknown) return HtmlReply(404, kNotFoundHtml);
  if (kind == Service::kValidateUser || kind == Service::kLoginByAppSecret) {
    return LoginLocked(kind == Service::kLoginByAppSecret, req);
  }
  if (!AuthenticatedLocked(req)) {
    return JsonReply(ErrorEnvelope(session_lost_code_, std::nullopt,
                                   std::string(kKingdeeSessionLostMessage), wrap));
  }
  if (lock_.Take(call.key)) {
    return JsonReply(
        ErrorEnvelope(kKingdeeMsgLocked, std::nullopt, std::string(kLockMessage), wrap));
  }
  const int64_t writes_before = push_count_ + save_count_;
  Reply reply;
  switch (kind) {
    case Service::kQuery:
      reply = QueryLocked(req);
      break;
    case Service::kSave:
      reply = SaveLocked(req);
      break;
    case Service::kPush:
      reply = PushLocked(req);
      break;
    default:
      reply = JsonReply(ErrorEnvelope(kKingdeeMsgBadParameter, std::nullopt,
                                      fmt::format("模拟器未实现服务 {}", call.key), false));
      break;
  }
  const bool wrote = push_count_ + save_count_ != writes_before;
  if (wrote && (drop_after_commit_always_ || drop_after_commit_left_ > 0)) {
    if (!drop_after_commit_always_) --drop_after_commit_left_;
    reply = BadGateway();
  }
  return reply;
}

// Truncation, string status fields and the BOM hit faulted answers too.
void KingdeeEmulator::FinishLocked(const Call& call, bool, Reply* reply) {
  if (call.data && reply->status == 200 && truncate_.Take(call.key)) Truncate(&reply->body);
  if (call.data && status_strings_) reply->body = StatusFieldsAsStrings(reply->body);
  if (bom_) reply->body.insert(0, kBom);
}

std::string KingdeeEmulator::NewSessionIdLocked(bool guid) {
  if (guid) {
    const uint64_t a = noise_rng_();
    const uint64_t b = noise_rng_();
    return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff,
                       a & 0xfff, ((b >> 48) & 0x3fff) | 0x8000, b & 0xffffffffffffULL);
  }
  // ASP.NET session ids: 24 characters from a-z and 0-5.
  constexpr std::string_view kChars = "abcdefghijklmnopqrstuvwxyz012345";
  std::string id;
  for (int i = 0; i < 24; ++i) id.push_back(kChars[noise_rng_() % kChars.size()]);
  return id;
}

Reply KingdeeEmulator::LoginLocked(bool app_secret, const httplib::Request& req) {
  auto failure = [](std::string_view message) {
    JsonWriter w;
    w.BeginObject()
        .Field("Message", message)
        .Key("MessageCode")
        .Null()
        .Key("LoginResultType")
        .Int(0)
        .Key("Context")
        .Null()
        .Key("KDSVCSessionId")
        .Null()
        .Key("IsSuccessByAPI")
        .Bool(false)
        .EndObject();
    return JsonReply(w.Take());
  };

  CallBody body;
  if (!body.Parse(req.body, CallBody::Shape::kLogin)) return failure(body.error());
  // [acctId, username, password|appId, appSecret?, lcid], positional or named.
  std::vector<std::string> p(4);
  if (body.has_params()) {
    for (size_t i = 0; i < body.params().size() && i < p.size(); ++i) {
      ElementString(body.params()[i], &p[i]);
    }
  } else {
    const simdjson::dom::object obj = body.root();
    GetStringCI(obj, "acctid", &p[0]);
    GetStringCI(obj, "username", &p[1]);
    if (app_secret) {
      GetStringCI(obj, "appid", &p[2]);
      if (!GetStringCI(obj, "appsecret", &p[3])) GetStringCI(obj, "appsec", &p[3]);
    } else {
      GetStringCI(obj, "password", &p[2]);
    }
  }
  // A wrong data centre or app authorisation answers with the lost-session text [V:K8].
  if (p[0] != opts_.acct_id) return failure(kKingdeeSessionLostMessage);
  if (app_secret && (p[2] != opts_.app_id || p[3] != opts_.app_secret)) {
    return failure(kKingdeeSessionLostMessage);
  }
  if (p[1] != opts_.username || (!app_secret && p[2] != opts_.password)) {
    return failure("用户名或密码错误！");
  }

  const std::string kd_id = NewSessionIdLocked(true);
  const std::string aspnet_id = NewSessionIdLocked(false);
  sessions_[kd_id] = Session{aspnet_id, 0, NowMsLocked()};
  aspnet_sessions_[aspnet_id] = kd_id;

  JsonWriter w;
  w.BeginObject()
      .Key("Message")
      .Null()
      .Field("MessageCode", "CheckPasswordPolicy")
      .Key("LoginResultType")
      .Int(1)
      .Key("Context")
      .BeginObject()
      .Field("UserLocale", "zh-CN")
      .Field("LogLocale", "zh-CN")
      .Field("DBid", opts_.acct_id)
      .Key("DatabaseType")
      .Int(3)
      .Field("SessionId", aspnet_id)
      .Key("UseLanguages")
      .BeginArray()
      .BeginObject()
      .Key("LocaleId")
      .Int(2052)
      .Field("LocaleName", "中文(简体)")
      .Field("Alias", "CN")
      .EndObject()
      .EndArray()
      .Key("UserId")
      .Int(16394)
      .Field("UserName", opts_.username)
      .Field("CustomName", "演示公司")
      .Field("DisplayVersion", "8.2.880.8")
      .Field("DataCenterName", "演示数据中心")
      .Field("UserToken", NewSessionIdLocked(true))
      .Key("CurrentOrganizationInfo")
      .BeginObject()
      .Key("ID")
      .Int(1)
      .Field("AcctOrgType", "1")
      .Field("Name", "总部")
      .EndObject()
      .Key("IsCH_ZH_AutoTrans")
      .Bool(false)
      .Key("ClientType")
      .Int(32)
      .EndObject()
      .Field("KDSVCSessionId", kd_id)
      .Key("FormId")
      .Null()
      .Key("RedirectFormParam")
      .Null()
      .Key("FormInputObject")
      .Null()
      .Key("ErrorStackTrace")
      .Null()
      .Key("Lcid")
      .Int(0)
      .Key("AccessToken")
      .Null()
      .Key("KdAccessResult")
      .Null()
      .Key("IsSuccessByAPI")
      .Bool(true)
      .EndObject();
  Reply reply = JsonReply(w.Take());
  reply.headers.emplace_back("Set-Cookie", fmt::format("kdservice-sessionid={}; path=/", kd_id));
  reply.headers.emplace_back("Set-Cookie",
                             fmt::format("ASP.NET_SessionId={}; path=/; HttpOnly", aspnet_id));
  return reply;
}

bool KingdeeEmulator::SignatureHeadersValidLocked(const httplib::Request& req) const {
  if (req.get_header_value("X-Kd-Appkey") != opts_.app_id) return false;
  for (const char* h : {"X-Kd-Signature", "X-Api-Signature", "x-api-timestamp", "x-api-nonce"}) {
    if (req.get_header_value(h).empty()) return false;
  }
  // X-Kd-Appdata = Base64("acctId,username,lcid,orgNum"); the signatures are not re-derived.
  const std::string appdata = Base64Decode(req.get_header_value("X-Kd-Appdata"));
  const std::vector<std::string_view> parts = SplitTrimmed(appdata, ',');
  return parts.size() >= 2 && parts[0] == opts_.acct_id && parts[1] == opts_.username;
}

bool KingdeeEmulator::AuthenticatedLocked(const httplib::Request& req) {
  if (req.has_header("X-Kd-Appkey") || req.has_header("X-Api-Signature")) {
    return SignatureHeadersValidLocked(req);
  }
  std::vector<std::string> kd_ids;
  if (req.has_header("kdservice-sessionid")) {
    kd_ids.push_back(std::string(Trim(req.get_header_value("kdservice-sessionid"))));
  }
  const auto range = req.headers.equal_range("Cookie");
  for (auto it = range.first; it != range.second; ++it) {
    for (std::string_view part : SplitTrimmed(it->second, ';')) {
      const size_t eq = part.find('=');
      if (eq == std::string_view::npos) continue;
      const std::string_view name = Trim(part.substr(0, eq));
      const std::string value(Trim(part.substr(eq + 1)));
      if (IEquals(name, "kdservice-sessionid")) {
        kd_ids.push_back(value);
      } else if (IEquals(name, "ASP.NET_SessionId")) {
        const auto found = aspnet_sessions_.find(value);
        if (found != aspnet_sessions_.end()) kd_ids.push_back(found->second);
      }
    }
  }
  for (const std::string& id : kd_ids) {
    const auto it = sessions_.find(id);
    if (it == sessions_.end()) continue;
    Session& s = it->second;
    const bool too_old =
        session_max_age_ms_ > 0 && NowMsLocked() - s.created_ms >= session_max_age_ms_;
    const bool used_up = session_max_calls_ > 0 && s.calls >= session_max_calls_;
    if (too_old || used_up) {
      aspnet_sessions_.erase(s.aspnet_id);
      sessions_.erase(it);
      return false;
    }
    ++s.calls;
    return true;
  }
  return false;
}

Reply KingdeeEmulator::QueryLocked(const httplib::Request& req) {
  auto error = [](const QueryError& e) {
    return JsonReply(ErrorEnvelope(e.msg_code, e.field, e.message, true));
  };
  auto bad = [&](std::string message) {
    return error({kKingdeeMsgBadParameter, std::nullopt, std::move(message)});
  };
  CallBody body;
  if (!body.Parse(req.body, CallBody::Shape::kQuery)) return bad(body.error());
  if (!body.has_data()) return bad("缺少参数 data");
  const simdjson::dom::object data = body.data();
  std::string form;
  if (!GetStringCI(data, "FormId", &form) || Trim(form).empty()) form = body.formid();
  form = std::string(Trim(form));
  if (form.empty()) return bad("FormId 不能为空");

  const std::vector<FieldDef>* fields = nullptr;
  std::vector<const void*> rows;
  const bool is_material = IEquals(form, "BD_MATERIAL");
  if (is_material) {
    fields = &MaterialFields();
    for (const KingdeeMaterial& m : materials_) rows.push_back(&m);
  } else if (IEquals(form, "CN_PAYAPPLY")) {
    fields = &PayApplyFields();
    for (const KingdeePayApply& a : pay_applies_) rows.push_back(&a);
  } else if (IEquals(form, "AP_PAYBILL")) {
    fields = &PayBillFields();
    for (const KingdeePayBill& b : pay_bills_) rows.push_back(&b);
  } else {
    for (const KingdeeSavedBill& b : saved_) {
      if (IEquals(b.form_id, form)) rows.push_back(&b);
    }
    if (rows.empty()) return bad(fmt::format("业务对象 {} 不存在", form));
    fields = &SavedBillFields();
  }

  // FieldKeys: "A,B,C" (an array of names is tolerated).
  std::vector<std::string> keys;
  simdjson::dom::element e;
  if (data.at_key_case_insensitive("FieldKeys").get(e) == simdjson::SUCCESS) {
    if (e.is_string()) {
      for (std::string_view k : SplitTrimmed(std::string_view(e), ',')) {
        if (!k.empty()) keys.emplace_back(k);
      }
    } else if (e.is_array()) {
      for (simdjson::dom::element k : simdjson::dom::array(e)) {
        std::string s;
        if (ElementString(k, &s) && !Trim(s).empty()) keys.emplace_back(Trim(s));
      }
    }
  }
  if (keys.empty()) return bad("FieldKeys 不能为空");
  std::vector<int> columns;
  for (const std::string& k : keys) {
    const int idx = FindField(*fields, k);
    if (idx < 0) return error({kKingdeeMsgFieldNotFound, k, fmt::format("字段{}不存在", k)});
    columns.push_back(idx);
  }

  std::unique_ptr<Node> filter;
  if (data.at_key_case_insensitive("FilterString").get(e) == simdjson::SUCCESS && !e.is_null()) {
    if (e.is_string()) {
      const std::string_view text = Trim(std::string_view(e));
      if (!text.empty()) {
        QueryError err;
        filter = FilterParser(*fields, text).Parse(&err);
        if (!filter) return error(err);
      }
    } else if (!e.is_array() || simdjson::dom::array(e).size() != 0) {
      return bad("模拟器只支持字符串形式的 FilterString");
    }
  }
  std::vector<OrderKey> order;
  std::string order_text;
  if (GetStringCI(data, "OrderString", &order_text)) {
    QueryError err;
    if (!ParseOrder(*fields, order_text, &order, &err)) return error(err);
  }
  int64_t top = 0;
  int64_t start = 0;
  int64_t limit = 0;
  if (!GetIntCI(data, "TopRowCount", 0, &top)) return bad("TopRowCount 不合法");
  if (!GetIntCI(data, "StartRow", 0, &start)) return bad("StartRow 不合法");
  if (!GetIntCI(data, "Limit", 0, &limit)) return bad("Limit 不合法");

  std::vector<const void*> matched;
  for (const void* row : rows) {
    if (!filter || filter->Eval(*fields, row)) matched.push_back(row);
  }
  if (!order.empty()) {
    auto less = [&](const void* a, const void* b) {
      for (const OrderKey& k : order) {
        const FieldDef& f = (*fields)[static_cast<size_t>(k.field)];
        const int c = OrderCompare(f.get(a), f.get(b));
        if (c != 0) return k.desc ? c > 0 : c < 0;
      }
      return false;
    };
    // Paging by the insertion-ordered key is the common case: skip the sort then.
    if (!std::is_sorted(matched.begin(), matched.end(), less)) {
      std::stable_sort(matched.begin(), matched.end(), less);
    }
  }
  if (top > 0 && static_cast<size_t>(top) < matched.size())
    matched.resize(static_cast<size_t>(top));
  const size_t first = std::min(matched.size(), static_cast<size_t>(std::max<int64_t>(0, start)));
  const int64_t cap =
      limit <= 0 ? kKingdeeQueryLimitCap : std::min<int64_t>(limit, kKingdeeQueryLimitCap);
  const size_t last = std::min(matched.size(), first + static_cast<size_t>(cap));

  JsonWriter w;
  w.BeginArray();
  std::vector<int64_t> page_ids;
  for (size_t r = first; r < last; ++r) {
    w.BeginArray();
    for (int c : columns) WriteValue(&w, (*fields)[static_cast<size_t>(c)].get(matched[r]));
    w.EndArray();
    if (is_material) page_ids.push_back(As<KingdeeMaterial>(matched[r]).master_id);
  }
  w.EndArray();
  Reply reply = JsonReply(w.Take());
  if (is_material && insert_between_pages_ > 0 && !page_ids.empty()) {
    InsertBetweenPagesLocked(page_ids);  // invalidates `rows`/`matched`
  }
  return reply;
}

Reply KingdeeEmulator::SaveLocked(const httplib::Request& req) {
  auto bad = [](int code, std::optional<std::string> field, std::string message) {
    return JsonReply(ErrorEnvelope(code, std::move(field), std::move(message), false));
  };
  CallBody body;
  if (!body.Parse(req.body, CallBody::Shape::kFormAndData)) {
    return bad(kKingdeeMsgBadParameter, std::nullopt, body.error());
  }
  const std::string form(Trim(body.formid()));
  if (form.empty()) return bad(kKingdeeMsgBadParameter, std::nullopt, "formid 不能为空");
  if (!body.has_data()) return bad(kKingdeeMsgBadParameter, std::nullopt, "缺少参数 data");
  simdjson::dom::object model;
  simdjson::dom::element e;
  if (body.data().at_key_case_insensitive("Model").get(e) != simdjson::SUCCESS ||
      e.get_object().get(model) != simdjson::SUCCESS) {
    return bad(kKingdeeMsgBadParameter, std::nullopt, "Model 不能为空");
  }
  if (reject_save_left_ > 0) {
    --reject_save_left_;
    return bad(
        kKingdeeMsgValidation,
        reject_save_field_.empty() ? std::nullopt : std::optional<std::string>(reject_save_field_),
        reject_save_message_);
  }
  int64_t fid = 0;
  if (!GetIntCI(model, "FID", 0, &fid)) {
    return bad(kKingdeeMsgBadParameter, "FID", "FID 不合法");
  }
  const bool pay_bill = IEquals(form, "AP_PAYBILL");
  KingdeeSavedBill* existing = nullptr;
  KingdeePayBill* existing_bill = nullptr;
  if (fid > 0) {
    for (KingdeeSavedBill& b : saved_) {
      if (b.id == fid && IEquals(b.form_id, form)) existing = &b;
    }
    if (pay_bill) {
      for (KingdeePayBill& b : pay_bills_) {
        if (b.fid == fid) existing_bill = &b;
      }
    }
    if (existing == nullptr && existing_bill == nullptr) {
      return bad(kKingdeeMsgNoData, std::nullopt, fmt::format("单据内码 {} 不存在", fid));
    }
  }
  ++save_count_;
  const std::string model_json = simdjson::minify(model);
  int64_t id = fid;
  std::string number;
  if (existing_bill != nullptr) {
    // Saving a draft created by a push completes it: it gets a number and status A.
    if (existing_bill->number.empty()) {
      existing_bill->number = fmt::format("FKD{:08}", next_bill_no_++);
    }
    existing_bill->document_status = "A";
    number = existing_bill->number;
    if (existing == nullptr) saved_.push_back({std::string(form), fid, number, model_json});
  }
  if (existing != nullptr) {
    existing->model_json = model_json;
    number = existing->number;
  } else if (existing_bill == nullptr) {
    std::string given;
    if (!GetStringCI(model, "FBillNo", &given) || Trim(given).empty()) {
      GetStringCI(model, "FNumber", &given);
    }
    given = std::string(Trim(given));
    if (pay_bill) {
      id = next_bill_fid_++;
      number = given.empty() ? fmt::format("FKD{:08}", next_bill_no_++) : given;
      pay_bills_.push_back(
          {id, number, "A", "", "", FormatKdDateTime(NowMsLocked()).substr(0, 10) + "T00:00:00"});
    } else {
      id = next_saved_id_++;
      number = given.empty() ? fmt::format("{}{:06}", form, id - 200000) : given;
    }
    saved_.push_back({form, id, number, model_json});
  }

  JsonWriter w;
  w.BeginObject().Key("Result").BeginObject().Key("ResponseStatus").BeginObject();
  w.Key("IsSuccess").Bool(true).Key("Errors").BeginArray().EndArray().Key("SuccessEntitys");
  WriteEntities(&w, {KdEntity{id, number, 0}});
  w.Key("SuccessMessages").BeginArray().EndArray().Key("MsgCode").Int(0).EndObject();
  w.Key("Id").Int(id).Field("Number", number);
  w.Key("NeedReturnData").BeginArray().BeginObject().EndObject().EndArray();
  w.EndObject().EndObject();
  return JsonReply(w.Take());
}

Reply KingdeeEmulator::PushLocked(const httplib::Request& req) {
  auto bad = [](int code, std::string message) {
    return JsonReply(ErrorEnvelope(code, std::nullopt, std::move(message), false));
  };
  CallBody body;
  if (!body.Parse(req.body, CallBody::Shape::kFormAndData)) {
    return bad(kKingdeeMsgBadParameter, body.error());
  }
  const std::string form(Trim(body.formid()));
  if (form.empty()) return bad(kKingdeeMsgBadParameter, "formid 不能为空");
  if (!IEquals(form, "CN_PAYAPPLY")) {
    return bad(kKingdeeMsgBadParameter,
               fmt::format("模拟器只支持 CN_PAYAPPLY 下推 AP_PAYBILL，不支持 {}", form));
  }
  if (!body.has_data()) return bad(kKingdeeMsgBadParameter, "缺少参数 data");
  const simdjson::dom::object data = body.data();
  std::string rule;
  std::string target;
  GetStringCI(data, "RuleId", &rule);
  GetStringCI(data, "TargetFormId", &target);
  rule = std::string(Trim(rule));
  target = std::string(Trim(target));
  if (!rule.empty()) {
    if (!IEquals(rule, "CN_PAYAPPLYTOPAYBILL")) {
      return bad(kKingdeeMsgBadParameter, fmt::format("单据转换规则 {} 不存在", rule));
    }
  } else if (!GetBoolCI(data, "IsEnableDefaultRule")) {
    return bad(kKingdeeMsgBadParameter, "RuleId 不能为空（或设置 IsEnableDefaultRule=true）");
  } else if (target.empty()) {
    return bad(kKingdeeMsgBadParameter, "启用默认转换规则时 TargetFormId 不能为空");
  }
  if (!target.empty() && !IEquals(target, "AP_PAYBILL")) {
    return bad(kKingdeeMsgBadParameter, fmt::format("目标单据 {} 与转换规则不符", target));
  }
  const bool draft_on_fail = GetBoolCI(data, "IsDraftWhenSaveFail");

  auto read_list = [&](std::string_view key) {
    std::vector<std::string> out;
    simdjson::dom::element e;
    if (data.at_key_case_insensitive(key).get(e) != simdjson::SUCCESS) return out;
    if (e.is_array()) {
      for (simdjson::dom::element item : simdjson::dom::array(e)) {
        std::string s;
        if (ElementString(item, &s) && !Trim(s).empty()) out.emplace_back(Trim(s));
      }
    } else {
      std::string s;
      if (ElementString(e, &s)) {
        for (std::string_view part : SplitTrimmed(s, ',')) {
          if (!part.empty()) out.emplace_back(part);
        }
      }
    }
    return out;
  };
  std::vector<std::string> sources = read_list("Ids");
  const bool by_id = !sources.empty();
  if (!by_id) sources = read_list("Numbers");
  if (sources.empty()) return bad(kKingdeeMsgEmptyBillId, "单据内码和单据编号不能同时为空");

  ++push_count_;
  std::vector<KdError> convert_errors;
  std::vector<KdEntity> converted;
  int convert_code = 0;
  std::vector<KdError> save_errors;
  std::vector<KdEntity> saved;
  for (size_t i = 0; i < sources.size(); ++i) {
    const int64_t dindex = static_cast<int64_t>(i);
    const KingdeePayApply* apply = nullptr;
    for (const KingdeePayApply& a : pay_applies_) {
      int64_t fid = 0;
      if (by_id ? (ParseWhole(sources[i], &fid) && fid == a.fid) : IEquals(a.number, sources[i])) {
        apply = &a;
        break;
      }
    }
    if (apply == nullptr) {
      convert_errors.push_back({std::nullopt,
                                by_id ? fmt::format("内码为{}的源单不存在", sources[i])
                                      : fmt::format("单据编号为{}的源单不存在", sources[i]),
                                dindex});
      if (convert_code == 0) convert_code = kKingdeeMsgNoData;
      continue;
    }
    const std::string number = apply->number;
    if (block_duplicate_push_ &&
        std::any_of(pay_bills_.begin(), pay_bills_.end(),
                    [&](const KingdeePayBill& b) { return b.source_number == number; })) {
      convert_errors.push_back(
          {std::nullopt, fmt::format("付款申请单{}已全部下推，不能重复下推", number), dindex});
      if (convert_code == 0) convert_code = kKingdeeMsgNotOperable;
      continue;
    }
    converted.push_back({apply->fid, number, dindex});
    std::optional<KdError> reject;
    if (const auto it = push_rejects_.find(number); it != push_rejects_.end()) {
      const auto& [message, field] = it->second;
      reject = KdError{field.empty() ? std::nullopt : std::optional<std::string>(field),
                       message.empty() ? std::string(kSettleTypeRequired) : message, dindex};
    } else if (apply->settle_type.empty()) {
      reject = KdError{"FSETTLETYPEID", std::string(kSettleTypeRequired), dindex};
    }
    if (reject) {
      save_errors.push_back(*reject);
      if (draft_on_fail) NewPayBillLocked(number, /*draft=*/true);
      continue;
    }
    const KingdeePayBill& bill = NewPayBillLocked(number, /*draft=*/false);
    saved.push_back({bill.fid, bill.number, dindex});
  }

  const bool convert_ok = convert_errors.empty();
  const bool ok = convert_ok && save_errors.empty();
  JsonWriter w;
  w.BeginObject().Key("Result").BeginObject();
  w.Key("ConvertResponseStatus").BeginObject();
  if (!convert_ok) w.Key("ErrorCode").Int(500);
  w.Key("IsSuccess").Bool(convert_ok).Key("Errors");
  WriteErrors(&w, convert_errors);
  w.Key("MsgCode").Int(convert_code).Key("SuccessEntitys");
  WriteEntities(&w, converted);
  w.EndObject();
  w.Key("ResponseStatus").BeginObject();
  if (!ok) w.Key("ErrorCode").Int(500);
  w.Key("IsSuccess").Bool(ok);
  w.Key("MsgCode").Int(!save_errors.empty() ? kKingdeeMsgValidation : convert_code);
  w.Key("SuccessMessages").BeginArray().EndArray().Key("Errors");
  WriteErrors(&w, save_errors);
  w.Key("SuccessEntitys");
  WriteEntities(&w, saved);
  w.EndObject();
  w.EndObject().EndObject();
  return JsonReply(w.Take());
}

}  // namespace stagesync::emulators
