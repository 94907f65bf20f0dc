#include "audit/values.h"

#include <algorithm>
#include <set>

namespace stagesync::audit {
namespace {

bool IsNumericType(const std::string& t) {
  static const std::set<std::string> kNum = {"tinyint", "smallint", "mediumint", "int",
                                             "integer", "bigint",   "decimal",   "numeric",
                                             "float",   "double",   "real",      "bit"};
  return kNum.contains(t);
}

bool IsTimeType(const std::string& t) {
  return t == "date" || t == "datetime" || t == "timestamp" || t == "time";
}

}  // namespace

// An exact decimal in one spelling: no leading '+' or zeros, no trailing fraction zeros, "-0"
// is "0". Anything not a plain decimal is returned as it is.
std::string NormalNumber(const std::string& s) {
  std::string v = s;
  bool neg = false;
  if (!v.empty() && (v[0] == '-' || v[0] == '+')) {
    neg = v[0] == '-';
    v.erase(0, 1);
  }
  if (v.empty()) return s;
  size_t dot = v.find('.');
  for (size_t i = 0; i < v.size(); ++i) {
    if (i != dot && (v[i] < '0' || v[i] > '9')) return s;
  }
  std::string ip = v.substr(0, dot);
  std::string fp = dot == std::string::npos ? "" : v.substr(dot + 1);
  ip.erase(0, std::min(ip.find_first_not_of('0'), ip.size()));
  while (!fp.empty() && fp.back() == '0') fp.pop_back();
  if (ip.empty()) ip = "0";
  std::string out = ip + (fp.empty() ? "" : "." + fp);
  if (neg && out != "0") out = "-" + out;
  return out;
}

// A datetime as the server prints it: 'T' becomes ' ', a zero fraction and a 'Z' go, so
// "2024-05-01T08:00:00.000" equals the DATETIME column's "2024-05-01 08:00:00".
std::string NormalTime(const std::string& s, const std::string& type) {
  std::string v = s;
  if (v.size() > 10 && v[10] == 'T') v[10] = ' ';
  if (!v.empty() && v.back() == 'Z') v.pop_back();
  if (size_t dot = v.find('.'); dot != std::string::npos && dot >= 19) {
    if (v.find_first_not_of('0', dot + 1) == std::string::npos) v.erase(dot);
  }
  // A date written into a DATETIME column reads back at midnight.
  if (type != "date" && v.size() == 10) v += " 00:00:00";
  if (type == "date" && v.size() > 10) v.erase(10);
  return v;
}

// Whether the value the sink writes (`mapped`) is the value the column holds (`target`).
bool SameValue(const std::optional<std::string>& mapped, const std::optional<std::string>& target,
               const std::string& type) {
  if (!mapped || !target) return !mapped && !target;
  if (*mapped == *target) return true;
  if (IsNumericType(type)) {
    std::string m = *mapped;
    // Booleans go into TINYINT(1) as 1 / 0.
    if (m == "true") m = "1";
    if (m == "false") m = "0";
    return NormalNumber(m) == NormalNumber(*target);
  }
  if (IsTimeType(type)) return NormalTime(*mapped, type) == NormalTime(*target, type);
  if (type == "char") {
    // CHAR columns drop trailing spaces.
    std::string m = *mapped;
    while (!m.empty() && m.back() == ' ') m.pop_back();
    return m == *target;
  }
  return false;
}

bool UsesWriteTime(const std::string& tmpl) {
  return tmpl.find("CURRENT_TIME") != std::string::npos ||
         tmpl.find("LAST_SYNC_TIME") != std::string::npos;
}

}  // namespace stagesync::audit
