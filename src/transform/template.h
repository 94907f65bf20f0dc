// Internal to the transform module: compiled templates (`{path|f}`, `{{label|f}}`, literal
// text, `_function EXPR`), the values they evaluate to, and the context a record provides.
// Pure functions over immutable compiled forms; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stagesync/json.h"
#include "stagesync/status.h"

namespace stagesync::transform {
struct RefUse;  // stagesync/transform.h
}  // namespace stagesync::transform

namespace stagesync::transform::internal {

// A value during evaluation: NULL or text (numbers are text in their source form).
struct Val {
  bool null = true;
  std::string s;
  bool boolean = false;  // a JSON true/false, held as "1"/"0" (what a MySQL column takes)
  static Val Null() { return {}; }
  static Val Str(std::string v) { return {false, std::move(v), false}; }
};

Val FromJson(const json::Value* v);

using FilterArgs = std::vector<std::string>;

// One mapping filter, `{ref|name(args)}`: the only place a filter is declared. Unless it is
// `takes_null`, NULL passes through without a call. `function`: also callable in a `_function`
// expression as `name(value, args...)`.
struct FilterSpec {
  const char* name;
  size_t min_args, max_args;
  // Rewrites *v; false with *err (ApplyFilter prefixes "|name: ") on a value it cannot take.
  bool (*apply)(const FilterArgs& args, int tz_minutes, Val* v, std::string* err);
  bool (*check_args)(const FilterArgs& args, std::string* err) = nullptr;  // beyond the count
  bool takes_null = false;
  bool function = true;
};

std::span<const FilterSpec> FilterTable();
const FilterSpec* FindFilter(std::string_view name);
// Checks the number and content of a filter's arguments; the error names the filter.
bool CheckFilterArgs(const FilterSpec& spec, const FilterArgs& args, std::string* err);

struct Filter {
  const FilterSpec* spec = nullptr;  // resolved when the template is compiled
  FilterArgs args;
};

struct Part {
  enum Kind { kLiteral, kPath, kLabel } kind = kLiteral;
  // Where a label is looked up: `{{form:X}}` the record only, `{{row:X}}` the flattened
  // element only, `{{X}}` the record (outside a flatten; inside one it must be scoped).
  enum Scope { kUnscoped, kForm, kRow } scope = kUnscoped;
  std::string text;  // literal text, or the label (without its scope), or the path as written
  struct Seg {
    std::string key;
    int index = -1;  // >= 0: array index
  };
  std::vector<Seg> path;
  std::vector<Filter> filters;
};

class Expr;  // expression.h

class Template {
 public:
  std::vector<Part> parts;
  std::shared_ptr<const Expr> expr;  // set for "_function ..." templates
  bool single_ref() const { return !expr && parts.size() == 1 && parts[0].kind != Part::kLiteral; }
  bool constant() const {
    return !expr && (parts.empty() || (parts.size() == 1 && parts[0].kind == Part::kLiteral));
  }
};

using LookupTables = std::map<std::string, std::map<std::string, std::string>>;

// What references can see while mapping one (possibly flattened) row of one record.
struct Context {
  const json::Value* record = nullptr;
  const json::Value* row = nullptr;  // the flattened element, if any
  int row_index = 0;                 // 1-based; 0 when the array was empty or absent
  std::vector<std::pair<std::string_view, const json::Value*>> labels;      // record's
  std::vector<std::pair<std::string_view, const json::Value*>> row_labels;  // element's
  const std::map<std::string, std::string>* variables = nullptr;            // LAST_SYNC_TIME, ...
  const LookupTables* lookups = nullptr;
  int tz_minutes = 480;
  // When set, every reference resolved is noted here (drift detection); null costs nothing.
  std::vector<RefUse>* ref_uses = nullptr;
};

// Parses a template; "_function EXPR" compiles an expression. Errors name `path` and the
// 1-based position in the text.
Result<std::unique_ptr<Template>> ParseTemplate(const std::string& text, const std::string& path,
                                                const LookupTables* lookups = nullptr);

// Evaluates a template. A single reference keeps NULL; mixed text concatenates (NULL = "").
Status Evaluate(const Template& t, const Context& ctx, Val* out);

// Resolves a reference and applies its filters.
Status ResolveFiltered(const Part& p, const Context& ctx, Val* out);
bool ApplyFilter(const Filter& f, int tz, Val* v, std::string* err);
bool ParseRef(std::string_view body, bool label, Part* out, std::string* err);

void CollectLabels(const json::Value* arr, std::string_view name_key,
                   std::vector<std::pair<std::string_view, const json::Value*>>* out);
const json::Value* Walk(const json::Value* v, const std::vector<Part::Seg>& path, size_t from);

// Dates and exact decimals, shared with the expression functions.
bool ToLocalSeconds(const std::string& in, int tz_minutes, int64_t* out, std::string* err);
std::string FormatLocal(int64_t local_secs, bool with_time);
bool CleanNumber(const std::string& in, std::string* out);
std::string RoundDecimal(const std::string& clean, int scale);

}  // namespace stagesync::transform::internal
