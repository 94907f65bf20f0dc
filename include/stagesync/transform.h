// Transform: a sink's declarative mapping (the seeds' vocabulary: `{path}`, `{{label}}`,
// `|filters`, `_function` expressions, constants, `flatten` = beatFlat, a `where` filter and
// data-quality rules) compiled once per pipeline into an executable form, then applied to
// every record. Pure: no I/O, no clock (time comes in as variables). A compiled Mapping is
// immutable and safe to share between threads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "stagesync/json.h"
#include "stagesync/status.h"

namespace stagesync::transform {

using Cell = std::optional<std::string>;  // nullopt = SQL NULL

struct MappedRow {
  std::vector<Cell> cells;  // in Mapping::columns() order
};

// A data-quality rule on one output column. Unset parts are not checked.
struct ColumnRule {
  bool required = false;                // not NULL and not ""
  std::string type;                     // int | decimal(P,S) | date | datetime | string(N)
  std::string regex;                    // POSIX extended, must match the whole value
  std::vector<std::string> allowed;     // enum
  std::optional<std::string> min, max;  // numeric bounds (exact decimals)
};

// What a flattening mapping makes of a record whose array is empty, null or absent.
enum class FlattenEmpty {
  kNullRow,  // one row, the element's columns NULL and {_row} 0 (an outer explode). Default.
  kNoRows,   // no row: the record's earlier rows are removed from the target
};

struct MappingSpec {
  std::vector<std::pair<std::string, std::string>> columns;  // name -> template, in order
  std::string flatten;  // template yielding the array to flatten (beatFlat), or empty
  FlattenEmpty flatten_empty = FlattenEmpty::kNullRow;
  std::string where;  // expression selecting the records this sink receives, or empty
  std::map<std::string, ColumnRule> rules;                            // column -> rule
  std::map<std::string, std::map<std::string, std::string>> lookups;  // table -> code -> name
  std::string time_zone = "Asia/Shanghai";
  std::string path;  // JSON path of the sink, for error messages
};

// Values a record does not carry: LAST_SYNC_TIME and CURRENT_TIME (epoch seconds).
using Variables = std::map<std::string, std::string>;

// Why a record produced no rows.
struct MapVerdict {
  bool filtered = false;  // `where` said no: skip, count, do not quarantine
  std::string rule;       // "required:col", "type:col", ... when a rule rejected it
};

// One mapping reference evaluated while mapping a record, for drift detection (src/obs/drift.h).
// `reference` is the reference as written, without its filters: "{{form:实际付款金额}}",
// "{{用途}}", "{originator_userid}". `resolved` is false when the record had nothing there
// (absent or JSON null) every time the reference was evaluated for it (a flattened record
// evaluates a form reference once per row). Variables (CURRENT_TIME, ...) and {_row} are not
// references to the record and are not listed.
struct RefUse {
  std::string reference;
  bool resolved = false;
};

class Template;

class Mapping {
 public:
  ~Mapping();
  Mapping(Mapping&&) noexcept;
  Mapping& operator=(Mapping&&) noexcept;

  // Compiles every template, the where expression and the rules; InvalidArgument naming
  // "path.columns.NAME" (or .where, .rules.NAME, .flatten) and the position in the text.
  // Inside a flatten a label must say its level ({{row:X}} or {{form:X}}); `{{row:X}}`
  // outside one is an error.
  static Result<Mapping> Compile(const MappingSpec& spec);

  const std::vector<std::string>& columns() const { return columns_; }
  bool flattens() const { return flatten_ != nullptr; }
  // 16 hex digits identifying the compiled mapping: a change means targets must be rewritten.
  const std::string& hash() const { return hash_; }

  // Maps one record to its rows (one, or one per flattened element, {_row} counting from 1; a
  // record whose array is empty or absent yields one row with the element's columns NULL, or
  // none with FlattenEmpty::kNoRows). A record the `where`
  // expression rejects yields no rows and verdict->filtered. InvalidArgument naming the
  // column (and the rule, in verdict->rule) when a value cannot be converted or breaks a rule.
  // `refs`, when given, is filled with every reference evaluated for the record (once each, in
  // first-evaluation order), also when mapping fails part-way; nothing is collected otherwise.
  Status Map(const json::Value& record, std::vector<MappedRow>* out, MapVerdict* verdict = nullptr,
             const Variables* vars = nullptr, std::vector<RefUse>* refs = nullptr) const;

  // For `check`: the scoped label references ({{row:X}}, {{form:X}}) of a flattening mapping
  // whose label X exists at both levels of `record` (a form component or record key, and a
  // cell or key of a flattened element), one line each naming the column: the explicit scope
  // decides which one is read, and an operator should know the other exists.
  std::vector<std::string> LabelsAtBothLevels(const json::Value& record) const;

 private:
  Mapping();
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::vector<std::string> columns_;
  std::unique_ptr<Template> flatten_;
  FlattenEmpty flatten_empty_ = FlattenEmpty::kNullRow;
  std::string hash_;
};

// Offset of a supported time zone name ("Asia/Shanghai", "UTC", "+08:00", ...), in minutes.
Result<int> TimeZoneOffsetMinutes(std::string_view name);

// Compiles and evaluates one template string against a record, for source request
// parameters such as OKKI's start_time (`_function SUBTIME('{{LAST_SYNC_TIME|datetime}}',
// '00:30:01')`). NULL comes back as nullopt.
Result<Cell> EvaluateOnce(const std::string& tmpl, const json::Value& record, const Variables& vars,
                          const std::string& time_zone, const std::string& path);

}  // namespace stagesync::transform
