#include <regex.h>

#include <algorithm>

#include "stagesync/hash.h"
#include "stagesync/transform.h"
#include "transform/expression.h"
#include "transform/template.h"

namespace stagesync::transform {

class Template : public internal::Template {};

namespace {

using internal::Val;

// A compiled POSIX regex, freed with the rule.
struct Regex {
  regex_t re{};
  bool ok = false;
  ~Regex() {
    if (ok) regfree(&re);
  }
};

struct CompiledRule {
  size_t column = 0;
  ColumnRule rule;
  std::shared_ptr<Regex> regex;
  // Parsed type.
  enum Type { kNone, kInt, kDecimal, kDate, kDatetime, kString } type = kNone;
  int precision = 0, scale = 0;
  size_t max_chars = 0;
};

size_t Utf8Chars(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// A clean decimal's sign, integer digits without leading zeros, fraction without trailing ones.
void SplitDecimal(std::string s, bool* neg, std::string* ip, std::string* fp) {
  *neg = !s.empty() && s[0] == '-';
  if (*neg) s.erase(0, 1);
  size_t dot = s.find('.');
  *ip = s.substr(0, dot);
  *fp = dot == std::string::npos ? "" : s.substr(dot + 1);
  size_t nz = ip->find_first_not_of('0');
  *ip = nz == std::string::npos ? "" : ip->substr(nz);
  while (!fp->empty() && fp->back() == '0') fp->pop_back();
}

int CompareDecimal(const std::string& a, const std::string& b) {
  // Both clean decimals: compare sign, then integer digits, then lexicographically.
  bool na, nb;
  std::string ia, fa, ib, fb;
  SplitDecimal(a, &na, &ia, &fa);
  SplitDecimal(b, &nb, &ib, &fb);
  bool za = ia.empty() && fa.empty(), zb = ib.empty() && fb.empty();
  if (za) na = false;
  if (zb) nb = false;
  if (na != nb) return na ? -1 : 1;
  int mag;
  if (ia.size() != ib.size()) {
    mag = ia.size() < ib.size() ? -1 : 1;
  } else if (ia != ib) {
    mag = ia < ib ? -1 : 1;
  } else {
    size_t n = std::max(fa.size(), fb.size());
    fa.resize(n, '0');
    fb.resize(n, '0');
    mag = fa == fb ? 0 : (fa < fb ? -1 : 1);
  }
  return na ? -mag : mag;
}

// Checks one value against a rule; on failure sets *rule_name and *why.
bool CheckRule(const CompiledRule& r, const std::string& column, const Cell& cell,
               std::string* rule_name, std::string* why) {
  auto fail = [&](const std::string& name, const std::string& text) {
    *rule_name = name + ":" + column;
    *why = "rule " + name + " on column " + column + ": " + text;
    return false;
  };
  const bool empty = !cell || cell->empty();
  if (r.rule.required && empty) return fail("required", "value is missing");
  if (empty) return true;
  const std::string& v = *cell;
  std::string shown = v.size() > 64 ? v.substr(0, 64) + "..." : v;
  switch (r.type) {
    case CompiledRule::kInt: {
      std::string clean;
      if (!internal::CleanNumber(v, &clean) || clean.find('.') != std::string::npos ||
          clean.size() > 19) {
        return fail("type", "'" + shown + "' is not an int");
      }
      break;
    }
    case CompiledRule::kDecimal: {
      std::string clean;
      if (!internal::CleanNumber(v, &clean)) return fail("type", "'" + shown + "' is not a number");
      bool neg;
      std::string ip, fp;
      SplitDecimal(clean, &neg, &ip, &fp);
      if (static_cast<int>(ip.size()) > r.precision - r.scale ||
          static_cast<int>(fp.size()) > r.scale) {
        return fail("type", "'" + shown + "' does not fit decimal(" + std::to_string(r.precision) +
                                "," + std::to_string(r.scale) + ")");
      }
      break;
    }
    case CompiledRule::kDate:
    case CompiledRule::kDatetime: {
      int64_t secs;
      std::string err;
      bool shape = r.type == CompiledRule::kDate ? v.size() == 10 : v.size() == 19;
      if (!shape || !internal::ToLocalSeconds(v, 0, &secs, &err)) {
        return fail("type", "'" + shown + "' is not a " +
                                (r.type == CompiledRule::kDate ? "date" : "datetime"));
      }
      break;
    }
    case CompiledRule::kString:
      if (Utf8Chars(v) > r.max_chars) {
        return fail("type", std::to_string(Utf8Chars(v)) + " characters, over string(" +
                                std::to_string(r.max_chars) + ")");
      }
      break;
    case CompiledRule::kNone:
      break;
  }
  if (r.regex && regexec(&r.regex->re, v.c_str(), 0, nullptr, 0) != 0) {
    return fail("regex", "'" + shown + "' does not match " + r.rule.regex);
  }
  if (!r.rule.allowed.empty() &&
      std::find(r.rule.allowed.begin(), r.rule.allowed.end(), v) == r.rule.allowed.end()) {
    return fail("enum", "'" + shown + "' is not one of the allowed values");
  }
  if (r.rule.min || r.rule.max) {
    std::string clean;
    if (!internal::CleanNumber(v, &clean)) return fail("type", "'" + shown + "' is not a number");
    if (r.rule.min && CompareDecimal(clean, *r.rule.min) < 0) {
      return fail("min", shown + " is below " + *r.rule.min);
    }
    if (r.rule.max && CompareDecimal(clean, *r.rule.max) > 0) {
      return fail("max", shown + " is above " + *r.rule.max);
    }
  }
  return true;
}

Result<CompiledRule> CompileRule(const std::string& path, size_t column, const ColumnRule& in) {
  CompiledRule r;
  r.column = column;
  r.rule = in;
  const std::string& t = in.type;
  auto bad = [&](const std::string& why) { return InvalidArgument(path + ": " + why); };
  if (t.empty()) {
  } else if (t == "int") {
    r.type = CompiledRule::kInt;
  } else if (t == "date") {
    r.type = CompiledRule::kDate;
  } else if (t == "datetime") {
    r.type = CompiledRule::kDatetime;
  } else if (t.rfind("decimal(", 0) == 0 && t.back() == ')') {
    r.type = CompiledRule::kDecimal;
    if (std::sscanf(t.c_str(), "decimal(%d,%d)", &r.precision, &r.scale) != 2 || r.precision < 1 ||
        r.precision > 65 || r.scale < 0 || r.scale > r.precision) {
      return bad("type '" + t + "': use decimal(P,S) with 1 <= P <= 65, 0 <= S <= P");
    }
  } else if (t.rfind("string(", 0) == 0 && t.back() == ')') {
    r.type = CompiledRule::kString;
    long n = std::atol(t.c_str() + 7);
    if (n <= 0) return bad("type '" + t + "': use string(N) with N > 0");
    r.max_chars = static_cast<size_t>(n);
  } else {
    return bad("unknown type '" + t + "' (int, decimal(P,S), date, datetime, string(N))");
  }
  if (!in.regex.empty()) {
    r.regex = std::make_shared<Regex>();
    std::string anchored = "^(" + in.regex + ")$";
    int rc = regcomp(&r.regex->re, anchored.c_str(), REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
      char buf[256];
      regerror(rc, &r.regex->re, buf, sizeof buf);
      return bad("regex: " + std::string(buf));
    }
    r.regex->ok = true;
  }
  for (const auto* bound : {&in.min, &in.max}) {
    std::string clean;
    if (*bound && !internal::CleanNumber(**bound, &clean)) {
      return bad("min/max '" + **bound + "' is not a number");
    }
  }
  if (in.min) internal::CleanNumber(*in.min, &*r.rule.min);
  if (in.max) internal::CleanNumber(*in.max, &*r.rule.max);
  return r;
}

// The `{{...}}` label references in a template or expression text, by their text as written
// (without filters), e.g. "row:金额" or "用途".
std::vector<std::string> LabelRefs(const std::string& text) {
  std::vector<std::string> out;
  for (size_t i = text.find("{{"); i != std::string::npos; i = text.find("{{", i)) {
    size_t close = text.find("}}", i + 2);
    if (close == std::string::npos) break;
    std::string body = text.substr(i + 2, close - i - 2);
    body = body.substr(0, body.find('|'));
    size_t a = body.find_first_not_of(" \t"), b = body.find_last_not_of(" \t");
    out.push_back(a == std::string::npos ? "" : body.substr(a, b - a + 1));
    i = close + 2;
  }
  return out;
}

bool StartsWith(const std::string& s, std::string_view prefix) {
  return std::string_view(s).substr(0, prefix.size()) == prefix;
}

// A flattening mapping sees two levels that often share labels (a DingTalk form's 其他费用
// beside a 其他费用 column of its detail table): every label must name its level, so a row
// without the cell reads NULL instead of the form's value. Without a flatten there is no row.
Status CheckLabelScopes(const std::string& text, const std::string& path, bool flattens) {
  for (const std::string& ref : LabelRefs(text)) {
    if (ref == "LAST_SYNC_TIME" || ref == "CURRENT_TIME") continue;  // variables
    if (flattens && !StartsWith(ref, "row:") && !StartsWith(ref, "form:")) {
      return InvalidArgument(
          path + ": {{" + ref + "}} inside a flatten is ambiguous: write {{row:" + ref +
          "}} for the element's cell or {{form:" + ref + "}} for the record's (form's) field");
    }
    if (!flattens && StartsWith(ref, "row:")) {
      return InvalidArgument(path + ": {{" + ref +
                             "}} names a row, but the mapping has no flatten");
    }
  }
  return Status::Ok();
}

using Labels = std::vector<std::pair<std::string_view, const json::Value*>>;

// The array a flatten reference names: JSON itself or (DingTalk TableField) a string holding
// JSON, which *parsed then keeps. nullptr when absent, "" or "null".
Result<const json::Value*> FlattenArray(const internal::Part& ref, const Labels& labels,
                                        const json::Value& record, json::Value* parsed) {
  const json::Value* arr = nullptr;
  if (ref.kind == internal::Part::kLabel) {
    for (const auto& [name, v] : labels) {
      if (name == ref.text) arr = v;
    }
  } else {
    arr = internal::Walk(&record, ref.path, 0);
  }
  if (arr != nullptr && arr->is_string()) {
    if (arr->text().empty() || arr->text() == "null") {
      arr = nullptr;
    } else {
      auto p = json::Parse(arr->text());
      if (!p.ok()) {
        return InvalidArgument("flatten " + ref.text +
                               ": value is not a JSON array: " + p.status().message());
      }
      *parsed = std::move(p).value();
      arr = parsed;
    }
  }
  if (arr != nullptr && !arr->is_array() && !arr->is_null()) {
    return InvalidArgument("flatten " + ref.text + ": value is not an array");
  }
  return arr;
}

std::unique_ptr<Template> Wrap(std::unique_ptr<internal::Template> t) {
  auto w = std::make_unique<Template>();
  static_cast<internal::Template&>(*w) = std::move(*t);
  return w;
}

}  // namespace

struct Mapping::Impl {
  struct ScopedLabel {
    std::string column, ref;  // ref as written, e.g. "row:金额"
  };
  std::vector<ScopedLabel> scoped_labels;  // of a flattening mapping
  std::vector<std::unique_ptr<Template>> templates;
  std::shared_ptr<const internal::Expr> where;
  std::vector<CompiledRule> rules;
  std::unique_ptr<internal::LookupTables> lookups;
  int tz_minutes = 480;
};

Mapping::Mapping() : impl_(std::make_unique<Impl>()) {}
Mapping::~Mapping() = default;
Mapping::Mapping(Mapping&&) noexcept = default;
Mapping& Mapping::operator=(Mapping&&) noexcept = default;

Result<Mapping> Mapping::Compile(const MappingSpec& spec) {
  Mapping m;
  if (spec.columns.empty()) return InvalidArgument(spec.path + ".columns: no columns");
  auto tz = TimeZoneOffsetMinutes(spec.time_zone);
  if (!tz.ok()) return tz.status().WithContext(spec.path + ".time_zone");
  m.impl_->tz_minutes = *tz;
  m.impl_->lookups = std::make_unique<internal::LookupTables>(spec.lookups);
  const internal::LookupTables* lookups = m.impl_->lookups.get();
  std::string fingerprint =
      "tz=" + spec.time_zone + "\nflatten=" + spec.flatten + "\nwhere=" + spec.where + "\n";
  // Only a non-default choice enters the hash, so existing mappings keep theirs.
  if (spec.flatten_empty == FlattenEmpty::kNoRows) fingerprint += "flatten_empty=no_rows\n";
  m.flatten_empty_ = spec.flatten_empty;
  const bool flattens = !spec.flatten.empty();
  for (const auto& [name, text] : spec.columns) {
    SS_RETURN_IF_ERROR(CheckLabelScopes(text, spec.path + ".columns." + name, flattens));
    if (flattens) {
      for (const std::string& ref : LabelRefs(text)) {
        if (StartsWith(ref, "row:") || StartsWith(ref, "form:")) {
          m.impl_->scoped_labels.push_back({name, ref});
        }
      }
    }
    SS_ASSIGN_OR_RETURN(auto t,
                        internal::ParseTemplate(text, spec.path + ".columns." + name, lookups));
    m.columns_.push_back(name);
    m.impl_->templates.push_back(Wrap(std::move(t)));
    fingerprint += name + "=" + text + "\n";
  }
  if (!spec.flatten.empty()) {
    SS_ASSIGN_OR_RETURN(auto t, internal::ParseTemplate(spec.flatten, spec.path + ".flatten"));
    if (!t->single_ref()) {
      return InvalidArgument(spec.path + ".flatten: must be one reference like \"{{费用明细}}\"" +
                             " or \"{items}\"");
    }
    m.flatten_ = Wrap(std::move(t));
  }
  if (!spec.where.empty()) {
    // `where` selects whole records: it sees no row.
    SS_RETURN_IF_ERROR(CheckLabelScopes(spec.where, spec.path + ".where", false));
    SS_ASSIGN_OR_RETURN(m.impl_->where,
                        internal::CompileExpr(spec.where, spec.path + ".where", 0, lookups));
  }
  for (const auto& [col, rule] : spec.rules) {
    auto it = std::find(m.columns_.begin(), m.columns_.end(), col);
    if (it == m.columns_.end()) {
      return InvalidArgument(spec.path + ".rules." + col + ": not one of the mapped columns");
    }
    SS_ASSIGN_OR_RETURN(auto r, CompileRule(spec.path + ".rules." + col,
                                            static_cast<size_t>(it - m.columns_.begin()), rule));
    m.impl_->rules.push_back(std::move(r));
    fingerprint += "rule:" + col + "=" + rule.type + "/" + rule.regex + "\n";
  }
  for (const auto& [table, entries] : spec.lookups) {
    for (const auto& [k, v] : entries) fingerprint += "lookup:" + table + ":" + k + "=" + v + "\n";
  }
  Hash128 h = HashBytes(fingerprint);
  m.hash_ = h.ToHex().substr(16);
  return m;
}

Status Mapping::Map(const json::Value& record, std::vector<MappedRow>* out, MapVerdict* verdict,
                    const Variables* vars, std::vector<RefUse>* refs) const {
  internal::Context ctx;
  ctx.ref_uses = refs;
  ctx.record = &record;
  ctx.tz_minutes = impl_->tz_minutes;
  ctx.variables = vars;
  ctx.lookups = impl_->lookups.get();
  internal::CollectLabels(record.Find("form_component_values"), "name", &ctx.labels);

  if (impl_->where) {
    Val v;
    Status s = internal::EvaluateExpr(*impl_->where, ctx, &v);
    if (!s.ok()) return InvalidArgument("where: " + s.message());
    if (!internal::Truthy(v)) {
      if (verdict) verdict->filtered = true;
      return Status::Ok();
    }
  }

  std::vector<MappedRow> rows;
  auto emit = [&]() -> Status {
    MappedRow row;
    row.cells.resize(columns_.size());
    for (size_t i = 0; i < columns_.size(); ++i) {
      Val v;
      Status s = internal::Evaluate(*impl_->templates[i], ctx, &v);
      if (!s.ok()) return InvalidArgument("column " + columns_[i] + ": " + s.message());
      row.cells[i] = v.null ? Cell() : Cell(std::move(v.s));
    }
    for (const auto& r : impl_->rules) {
      std::string rule, why;
      if (!CheckRule(r, columns_[r.column], row.cells[r.column], &rule, &why)) {
        if (verdict) verdict->rule = rule;
        return InvalidArgument(why);
      }
    }
    rows.push_back(std::move(row));
    return Status::Ok();
  };

  if (!flatten_) {
    SS_RETURN_IF_ERROR(emit());
  } else {
    json::Value parsed;  // beatFlat
    SS_ASSIGN_OR_RETURN(const json::Value* arr,
                        FlattenArray(flatten_->parts[0], ctx.labels, record, &parsed));
    if (arr == nullptr || arr->is_null() || arr->items().empty()) {
      if (flatten_empty_ == FlattenEmpty::kNullRow) SS_RETURN_IF_ERROR(emit());
    } else {
      int index = 0;
      for (const auto& el : arr->items()) {
        ctx.row = &el;
        ctx.row_index = ++index;
        ctx.row_labels.clear();
        internal::CollectLabels(el.Find("rowValue"), "label", &ctx.row_labels);
        SS_RETURN_IF_ERROR(emit());
      }
    }
  }
  for (auto& r : rows) out->push_back(std::move(r));
  return Status::Ok();
}

std::vector<std::string> Mapping::LabelsAtBothLevels(const json::Value& record) const {
  std::vector<std::string> out;
  if (!flatten_ || impl_->scoped_labels.empty()) return out;
  Labels form;
  internal::CollectLabels(record.Find("form_component_values"), "name", &form);
  json::Value parsed;
  auto found = FlattenArray(flatten_->parts[0], form, record, &parsed);
  if (!found.ok() || *found == nullptr || !(*found)->is_array()) return out;
  const json::Value* arr = *found;
  auto at_form = [&](std::string_view name) {
    for (const auto& [n, v] : form) {
      if (n == name) return true;
    }
    return record.Find(name) != nullptr;
  };
  auto at_row = [&](std::string_view name) {
    for (const auto& el : arr->items()) {
      Labels cells;
      internal::CollectLabels(el.Find("rowValue"), "label", &cells);
      for (const auto& [n, v] : cells) {
        if (n == name) return true;
      }
      if (el.is_object() && el.Find(name) != nullptr) return true;
    }
    return false;
  };
  for (const auto& l : impl_->scoped_labels) {
    const bool row = StartsWith(l.ref, "row:");
    std::string name = l.ref.substr(row ? 4 : 5);
    size_t a = name.find_first_not_of(" \t");
    name = a == std::string::npos ? "" : name.substr(a);
    if (!name.empty() && at_form(name) && at_row(name)) {
      out.push_back("columns." + l.column + ": '" + name +
                    "' is both a form field and a column of the flattened rows; {{" + l.ref +
                    "}} reads the " + (row ? "row's" : "form's"));
    }
  }
  return out;
}

Result<Cell> EvaluateOnce(const std::string& tmpl, const json::Value& record, const Variables& vars,
                          const std::string& time_zone, const std::string& path) {
  SS_ASSIGN_OR_RETURN(int tz, TimeZoneOffsetMinutes(time_zone));
  SS_ASSIGN_OR_RETURN(auto t, internal::ParseTemplate(tmpl, path));
  internal::Context ctx;
  ctx.record = &record;
  ctx.tz_minutes = tz;
  ctx.variables = &vars;
  internal::CollectLabels(record.Find("form_component_values"), "name", &ctx.labels);
  Val v;
  Status s = internal::Evaluate(*t, ctx, &v);
  if (!s.ok()) return s.WithContext(path);
  return v.null ? Cell() : Cell(std::move(v.s));
}

}  // namespace stagesync::transform
