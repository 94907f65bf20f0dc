#include "transform/template.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string>

#include "stagesync/civil_time.h"
#include "stagesync/transform.h"
#include "transform/expression.h"

namespace stagesync::transform::internal {

// ---- values during evaluation ----

Val FromJson(const json::Value* v) {
  if (v == nullptr || v->is_null()) return Val::Null();
  switch (v->type()) {
    case json::Type::kString:
    case json::Type::kNumber:
      return Val::Str(v->text());
    case json::Type::kBool: {
      Val b = Val::Str(v->bool_value() ? "1" : "0");
      b.boolean = true;
      return b;
    }
    default:
      return Val::Str(json::Serialize(*v));
  }
}

// ---- dates ----

static bool ParseDigits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// Local wall-clock seconds since the epoch (as if UTC) for the pipeline's zone, from a number
// (epoch seconds or milliseconds) or a date/datetime string (local unless it names a zone).
bool ToLocalSeconds(const std::string& in, int tz_minutes, int64_t* out, std::string* err) {
  std::string_view s = in;
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  bool all_digits = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c));
  });
  if (all_digits && s.size() <= 16) {
    int64_t n = std::stoll(std::string(s));
    // 10^11 s is the year 5138: anything larger is milliseconds.
    int64_t secs = n > 100000000000LL ? n / 1000 : n;
    *out = secs + int64_t{tz_minutes} * 60;
    return true;
  }
  int y, mo, d, h = 0, mi = 0, se = 0;
  if (!ParseDigits(s, 0, 4, &y) || s.size() < 10 || s[4] != '-' || !ParseDigits(s, 5, 2, &mo) ||
      s[7] != '-' || !ParseDigits(s, 8, 2, &d)) {
    *err = "'" + in + "' is not a date, datetime or epoch timestamp";
    return false;
  }
  size_t pos = 10;
  if (pos < s.size() && (s[pos] == ' ' || s[pos] == 'T')) {
    if (!ParseDigits(s, pos + 1, 2, &h) || s.size() < pos + 6 || s[pos + 3] != ':' ||
        !ParseDigits(s, pos + 4, 2, &mi)) {
      *err = "'" + in + "' has a malformed time";
      return false;
    }
    pos += 6;
    if (pos < s.size() && s[pos] == ':') {
      if (!ParseDigits(s, pos + 1, 2, &se)) {
        *err = "'" + in + "' has malformed seconds";
        return false;
      }
      pos += 3;
    }
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) ++pos;
    }
  }
  int zone_minutes = tz_minutes;  // no zone in the text: already local
  if (pos < s.size()) {
    if (s[pos] == 'Z' && pos + 1 == s.size()) {
      zone_minutes = 0;
    } else if ((s[pos] == '+' || s[pos] == '-') && s.size() == pos + 6 && s[pos + 3] == ':') {
      int zh, zm;
      if (!ParseDigits(s, pos + 1, 2, &zh) || !ParseDigits(s, pos + 4, 2, &zm)) {
        *err = "'" + in + "' has a malformed zone";
        return false;
      }
      zone_minutes = (s[pos] == '-' ? -1 : 1) * (zh * 60 + zm);
    } else {
      *err = "'" + in + "' has trailing text";
      return false;
    }
  }
  if (mo < 1 || mo > 12 || d < 1 || static_cast<unsigned>(d) > DaysInMonth(y, mo) || h > 23 ||
      mi > 59 || se > 60) {
    *err = "'" + in + "' is not a valid date";
    return false;
  }
  int64_t secs = DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
  *out = secs - int64_t{zone_minutes} * 60 + int64_t{tz_minutes} * 60;
  return true;
}

std::string FormatLocal(int64_t local_secs, bool with_time) {
  int64_t days = local_secs >= 0 ? local_secs / 86400 : (local_secs - 86399) / 86400;
  int64_t rem = local_secs - days * 86400;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  char buf[96];
  if (with_time) {
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u %02lld:%02lld:%02lld",
                  static_cast<long long>(y), m, d, static_cast<long long>(rem / 3600),
                  static_cast<long long>(rem / 60 % 60), static_cast<long long>(rem % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u", static_cast<long long>(y), m, d);
  }
  return buf;
}

// ---- exact decimals ----

// Normalises "5,000.50" / " 12 " / "-0.5" to a plain decimal string; false if not a number.
bool CleanNumber(const std::string& in, std::string* out) {
  std::string s;
  for (char c : in) {
    if (c == ',' || c == ' ' || c == '\t') continue;
    s.push_back(c);
  }
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t digits = 0, dots = 0;
  for (size_t j = i; j < s.size(); ++j) {
    if (std::isdigit(static_cast<unsigned char>(s[j]))) {
      ++digits;
    } else if (s[j] == '.') {
      ++dots;
    } else {
      return false;
    }
  }
  if (digits == 0 || dots > 1) return false;
  if (s[0] == '+') s.erase(0, 1);
  *out = s;
  return true;
}

// Rounds a clean decimal string half away from zero to `scale` places, exactly.
std::string RoundDecimal(const std::string& clean, int scale) {
  bool neg = !clean.empty() && clean[0] == '-';
  std::string s = neg ? clean.substr(1) : clean;
  size_t dot = s.find('.');
  std::string ip = dot == std::string::npos ? s : s.substr(0, dot);
  std::string fp = dot == std::string::npos ? "" : s.substr(dot + 1);
  if (ip.empty()) ip = "0";
  bool round_up = static_cast<int>(fp.size()) > scale && fp[static_cast<size_t>(scale)] >= '5';
  fp.resize(static_cast<size_t>(scale), '0');
  std::string digits = ip + fp;
  if (round_up) {
    int k = static_cast<int>(digits.size()) - 1;
    while (k >= 0 && digits[static_cast<size_t>(k)] == '9') digits[static_cast<size_t>(k--)] = '0';
    if (k < 0) {
      digits.insert(digits.begin(), '1');
    } else {
      ++digits[static_cast<size_t>(k)];
    }
  }
  std::string int_part = digits.substr(0, digits.size() - static_cast<size_t>(scale));
  size_t nz = int_part.find_first_not_of('0');
  int_part = nz == std::string::npos ? "0" : int_part.substr(nz);
  std::string out = int_part;
  if (scale > 0) out += "." + digits.substr(digits.size() - static_cast<size_t>(scale));
  bool zero = out.find_first_not_of("0.") == std::string::npos;
  return (neg && !zero ? "-" : "") + out;
}

// ---- templates ----

// ---- filters ----

namespace {

bool Trim(const FilterArgs&, int, Val* v, std::string*) {
  size_t a = v->s.find_first_not_of(" \t\r\n"), b = v->s.find_last_not_of(" \t\r\n");
  v->s = a == std::string::npos ? "" : v->s.substr(a, b - a + 1);
  return true;
}

template <bool kUpper>
bool AsciiCase(const FilterArgs&, int, Val* v, std::string*) {
  for (char& c : v->s) {
    if (static_cast<unsigned char>(c) < 0x80)
      c = static_cast<char>(kUpper ? std::toupper(c) : std::tolower(c));
  }
  return true;
}

bool Keep(const FilterArgs&, int, Val*, std::string*) { return true; }

// Values are already text and objects were serialised when resolved; a boolean is JSON's
// true/false, not the 1/0 a plain column gets.
bool Json(const FilterArgs&, int, Val* v, std::string*) {
  if (v->boolean) v->s = v->s == "1" ? "true" : "false";
  return true;
}

bool Default(const FilterArgs& args, int, Val* v, std::string*) {
  if (v->null || v->s.empty()) *v = Val::Str(args[0]);
  return true;
}

enum class DateOut { kDatetime, kDate, kSeconds, kMillis };

template <DateOut kOut>
bool Date(const FilterArgs&, int tz, Val* v, std::string* err) {
  if (v->boolean) {
    *err = "a boolean is not a date";
    return false;
  }
  if (v->s.empty()) {
    *v = Val::Null();
    return true;
  }
  int64_t local;
  if (!ToLocalSeconds(v->s, tz, &local, err)) return false;
  int64_t utc = local - int64_t{tz} * 60;
  v->s = kOut == DateOut::kSeconds  ? std::to_string(utc)
         : kOut == DateOut::kMillis ? std::to_string(utc * 1000)
                                    : FormatLocal(local, kOut == DateOut::kDatetime);
  return true;
}

// int and decimal: "" is NULL, anything else must be a number. int is exact only: 1.5 is not
// an integer (|decimal(0) rounds on purpose), 3.00 is.
template <bool kInt>
bool Number(const FilterArgs& args, int, Val* v, std::string* err) {
  std::string clean;
  if (v->s.empty()) {
    *v = Val::Null();
    return true;
  }
  if (!CleanNumber(v->s, &clean)) {
    *err = "'" + v->s + "' is not a number";
    return false;
  }
  size_t dot = clean.find('.');
  if (kInt && dot != std::string::npos &&
      clean.find_first_not_of('0', dot + 1) != std::string::npos) {
    *err = "'" + v->s + "' is not an integer (|decimal(0) rounds)";
    return false;
  }
  v->s = kInt || !args.empty() ? RoundDecimal(clean, kInt ? 0 : std::stoi(args[0])) : clean;
  return true;
}

bool DecimalScale(const FilterArgs& args, std::string* err) {
  const std::string& a = args.empty() ? "0" : args[0];
  if (!a.empty() && a.size() <= 2 && std::all_of(a.begin(), a.end(), ::isdigit)) return true;
  *err = "|decimal(N) needs a scale N from 0 to 30";
  return false;
}

constexpr FilterSpec kFilters[] = {
    {"datetime", 0, 0, Date<DateOut::kDatetime>},
    {"date", 0, 0, Date<DateOut::kDate>},
    {"timestamp", 0, 0, Date<DateOut::kSeconds>},
    {"timestamp_ms", 0, 0, Date<DateOut::kMillis>},
    {"int", 0, 0, Number<true>},
    {"decimal", 0, 1, Number<false>, DecimalScale},
    {"string", 0, 0, Keep},
    {"trim", 0, 0, Trim},
    {"upper", 0, 0, AsciiCase<true>},
    {"lower", 0, 0, AsciiCase<false>},
    {"default", 1, 1, Default, nullptr, /*takes_null=*/true, /*function=*/false},
    {"json", 0, 0, Json},
};

}  // namespace

std::span<const FilterSpec> FilterTable() { return kFilters; }

const FilterSpec* FindFilter(std::string_view name) {
  for (const auto& f : kFilters) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

bool CheckFilterArgs(const FilterSpec& spec, const FilterArgs& args, std::string* err) {
  if (args.size() < spec.min_args || args.size() > spec.max_args) {
    *err = "filter |" + std::string(spec.name) + " takes " +
           (spec.max_args == 0 ? std::string("no arguments")
                               : std::to_string(spec.max_args) + " argument(s)");
    return false;
  }
  return spec.check_args == nullptr || spec.check_args(args, err);
}

bool ApplyFilter(const Filter& f, int tz, Val* v, std::string* err) {
  if (v->null && !f.spec->takes_null) return true;
  if (f.spec->apply(f.args, tz, v, err)) return true;
  *err = "|" + std::string(f.spec->name) + ": " + *err;
  return false;
}

// Parses "name(arg, 'arg')" filters and the path or label of one reference.
bool ParseRef(std::string_view body, bool label, Part* out, std::string* err) {
  std::vector<std::string> pieces;
  std::string cur;
  char quote = 0;
  int depth = 0;
  for (char c : body) {
    if (quote) {
      cur.push_back(c);
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '\'' || c == '"') quote = c;
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == '|' && depth == 0) {
      pieces.push_back(cur);
      cur.clear();
      continue;
    }
    cur.push_back(c);
  }
  pieces.push_back(cur);
  auto trim = [](std::string s) {
    size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
    return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
  };
  std::string head = trim(pieces[0]);
  if (head.empty()) {
    *err = "empty reference";
    return false;
  }
  out->kind = label ? Part::kLabel : Part::kPath;
  if (label) {
    for (auto [prefix, scope] : {std::pair<std::string_view, Part::Scope>{"row:", Part::kRow},
                                 std::pair<std::string_view, Part::Scope>{"form:", Part::kForm}}) {
      if (std::string_view(head).substr(0, prefix.size()) == prefix) {
        out->scope = scope;
        head = trim(head.substr(prefix.size()));
        if (head.empty()) {
          *err = "empty label after '" + std::string(prefix) + "'";
          return false;
        }
        break;
      }
    }
  }
  out->text = head;
  if (!label) {
    size_t i = 0;
    while (i < head.size()) {
      Part::Seg seg;
      if (head[i] == '[') {
        size_t close = head.find(']', i);
        if (close == std::string::npos) {
          *err = "unterminated [ in path '" + head + "'";
          return false;
        }
        std::string idx = head.substr(i + 1, close - i - 1);
        if (idx.empty() || !std::all_of(idx.begin(), idx.end(), ::isdigit)) {
          *err = "bad array index [" + idx + "] in path '" + head + "'";
          return false;
        }
        if (idx.size() > 9) {  // found by the expression fuzzer: stoi would throw
          *err = "array index [" + idx.substr(0, 12) + "...] too large in path '" +
                 head.substr(0, 40) + "'";
          return false;
        }
        seg.index = std::stoi(idx);
        i = close + 1;
        if (i < head.size() && head[i] == '.') ++i;
      } else {
        size_t end = head.find_first_of(".[", i);
        if (end == std::string::npos) end = head.size();
        seg.key = head.substr(i, end - i);
        if (seg.key.empty()) {
          *err = "empty segment in path '" + head + "'";
          return false;
        }
        i = end;
        if (i < head.size() && head[i] == '.') ++i;
      }
      out->path.push_back(std::move(seg));
    }
  }
  for (size_t k = 1; k < pieces.size(); ++k) {
    std::string p = trim(pieces[k]);
    Filter f;
    std::string name = p;
    size_t open = p.find('(');
    if (open != std::string::npos) {
      if (p.back() != ')') {
        *err = "filter '" + p + "' is missing ')'";
        return false;
      }
      name = trim(p.substr(0, open));
      std::string args = p.substr(open + 1, p.size() - open - 2);
      std::string a;
      char q = 0;
      bool any = false;
      for (char c : args) {
        if (q) {
          if (c == q) {
            q = 0;
          } else {
            a.push_back(c);
          }
          continue;
        }
        if (c == '\'' || c == '"') {
          q = c;
          any = true;
          continue;
        }
        if (c == ',') {
          f.args.push_back(any ? a : trim(a));
          a.clear();
          any = false;
          continue;
        }
        a.push_back(c);
      }
      if (q) {
        *err = "unterminated quote in filter '" + p + "'";
        return false;
      }
      if (!trim(a).empty() || any) f.args.push_back(any ? a : trim(a));
    }
    f.spec = FindFilter(name);
    if (f.spec == nullptr) {
      *err = "unknown filter |" + name;
      return false;
    }
    if (!CheckFilterArgs(*f.spec, f.args, err)) return false;
    out->filters.push_back(std::move(f));
  }
  return true;
}

Result<std::unique_ptr<Template>> ParseTemplate(const std::string& text, const std::string& path,
                                                const LookupTables* lookups) {
  auto t = std::make_unique<Template>();
  constexpr std::string_view kFunction = "_function ";
  if (std::string_view(text).substr(0, kFunction.size()) == kFunction) {
    SS_ASSIGN_OR_RETURN(
        t->expr, CompileExpr(text.substr(kFunction.size()), path, kFunction.size(), lookups));
    return t;
  }
  size_t i = 0;
  std::string literal;
  while (i < text.size()) {
    char c = text[i];
    if (c == '}') {
      return InvalidArgument(path + ": unexpected '}' at position " + std::to_string(i + 1) +
                             " in \"" + text + "\"");
    }
    if (c != '{') {
      literal.push_back(c);
      ++i;
      continue;
    }
    bool label = i + 1 < text.size() && text[i + 1] == '{';
    size_t start = i + (label ? 2 : 1);
    size_t close = text.find(label ? "}}" : "}", start);
    if (close == std::string::npos) {
      return InvalidArgument(path + ": unterminated '" + (label ? "{{" : "{") + "' at position " +
                             std::to_string(i + 1) + " in \"" + text + "\"");
    }
    if (!literal.empty()) {
      Part lit;
      lit.text = literal;
      t->parts.push_back(std::move(lit));
      literal.clear();
    }
    Part ref;
    std::string err;
    if (!ParseRef(std::string_view(text).substr(start, close - start), label, &ref, &err)) {
      return InvalidArgument(path + ": " + err + " at position " + std::to_string(i + 1) +
                             " in \"" + text + "\"");
    }
    t->parts.push_back(std::move(ref));
    i = close + (label ? 2 : 1);
  }
  if (!literal.empty()) {
    Part lit;
    lit.text = literal;
    t->parts.push_back(std::move(lit));
  }
  return t;
}

void CollectLabels(const json::Value* arr, std::string_view name_key,
                   std::vector<std::pair<std::string_view, const json::Value*>>* out) {
  if (arr == nullptr || !arr->is_array()) return;
  for (const auto& item : arr->items()) {
    const json::Value* name = item.Find(name_key);
    if (name != nullptr && name->is_string()) out->emplace_back(name->text(), item.Find("value"));
  }
}

const json::Value* Walk(const json::Value* v, const std::vector<Part::Seg>& path, size_t from) {
  for (size_t i = from; i < path.size() && v != nullptr; ++i) {
    if (path[i].index >= 0) {
      if (!v->is_array() || static_cast<size_t>(path[i].index) >= v->items().size()) return nullptr;
      v = &v->items()[static_cast<size_t>(path[i].index)];
    } else {
      v = v->Find(path[i].key);
    }
  }
  return v;
}

// *not_record: the value came from a variable or {_row}, not from the record.
static Val Resolve(const Part& p, const Context& ctx, bool* not_record) {
  if (p.kind == Part::kLabel) {
    if (ctx.variables != nullptr && p.scope == Part::kUnscoped) {
      auto it = ctx.variables->find(p.text);
      if (it != ctx.variables->end()) {
        *not_record = true;
        return Val::Str(it->second);
      }
    }
    // One level only, never the other as a fallback: a row's missing cell must not become the
    // form's component of the same name. Kingdee rows are keyed by their FieldKeys
    // ("FMaterialGroup.FNumber"), so a label may also name a flat key at its level.
    if (p.scope == Part::kRow) {
      for (const auto& [name, v] : ctx.row_labels) {
        if (name == p.text) return FromJson(v);
      }
      if (ctx.row != nullptr && ctx.row->is_object()) {
        if (const json::Value* v = ctx.row->Find(p.text)) return FromJson(v);
      }
      return Val::Null();
    }
    for (const auto& [name, v] : ctx.labels) {
      if (name == p.text) return FromJson(v);
    }
    if (ctx.record != nullptr) {
      if (const json::Value* v = ctx.record->Find(p.text)) return FromJson(v);
    }
    return Val::Null();
  }
  if (p.path.size() == 1 && p.path[0].key == "_row") {
    *not_record = true;
    return Val::Str(std::to_string(ctx.row_index));
  }
  if (p.path.size() == 1 && ctx.variables != nullptr) {
    auto it = ctx.variables->find(p.path[0].key);
    if (it != ctx.variables->end()) {
      *not_record = true;
      return Val::Str(it->second);
    }
  }
  if (ctx.row != nullptr && ctx.row->is_object() && !p.path.empty() && p.path[0].index < 0 &&
      ctx.row->Find(p.path[0].key) != nullptr) {
    return FromJson(Walk(ctx.row, p.path, 0));
  }
  return FromJson(Walk(ctx.record, p.path, 0));
}

// Notes one evaluation of `p` for drift detection: a reference resolves for a record when any
// of its evaluations found a value (a form reference is evaluated once per flattened row).
static void NoteRefUse(const Part& p, bool resolved, std::vector<RefUse>* uses) {
  std::string name;
  if (p.kind == Part::kLabel) {
    name = "{{";
    if (p.scope == Part::kForm) name += "form:";
    if (p.scope == Part::kRow) name += "row:";
    name += p.text + "}}";
  } else {
    name = "{" + p.text + "}";
  }
  for (RefUse& u : *uses) {
    if (u.reference == name) {
      u.resolved = u.resolved || resolved;
      return;
    }
  }
  uses->push_back(RefUse{std::move(name), resolved});
}

Status ResolveFiltered(const Part& p, const Context& ctx, Val* out) {
  bool not_record = false;
  *out = Resolve(p, ctx, &not_record);
  if (ctx.ref_uses != nullptr && !not_record) NoteRefUse(p, !out->null, ctx.ref_uses);
  std::string err;
  for (const auto& f : p.filters) {
    if (!ApplyFilter(f, ctx.tz_minutes, out, &err)) return InvalidArgument(err);
  }
  return Status::Ok();
}

Status Evaluate(const Template& t, const Context& ctx, Val* out) {
  if (t.expr) return EvaluateExpr(*t.expr, ctx, out);
  if (t.single_ref()) return ResolveFiltered(t.parts[0], ctx, out);
  std::string s;
  for (const auto& p : t.parts) {
    if (p.kind == Part::kLiteral) {
      s += p.text;
      continue;
    }
    Val v;
    SS_RETURN_IF_ERROR(ResolveFiltered(p, ctx, &v));
    if (!v.null) s += v.s;
  }
  *out = Val::Str(std::move(s));
  return Status::Ok();
}

}  // namespace stagesync::transform::internal

namespace stagesync::transform {

// Moved to common (the config check and the schedules need it too); kept here for the
// transform API.
Result<int> TimeZoneOffsetMinutes(std::string_view name) {
  return ::stagesync::TimeZoneOffsetMinutes(name);
}

}  // namespace stagesync::transform
