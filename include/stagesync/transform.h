// Transform: a sink's declarative mapping (the seeds' vocabulary: `{path}`, `{{label}}`,
// `|filters`, constants, `flatten` = beatFlat) compiled once per pipeline into an executable
// form, then applied to every record. Pure: no I/O, no clock. A compiled Mapping is immutable
// and safe to share between threads.
#pragma once

#include <cstdint>
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

struct MappingSpec {
  std::vector<std::pair<std::string, std::string>> columns;  // name -> template, in order
  std::string flatten;  // template yielding the array to flatten (beatFlat), or empty
  std::string time_zone = "Asia/Shanghai";
  std::string path;  // JSON path of the sink, for error messages
};

class Template;

class Mapping {
 public:
  ~Mapping();
  Mapping(Mapping&&) noexcept;
  Mapping& operator=(Mapping&&) noexcept;

  // Compiles every template; InvalidArgument naming "path.columns.NAME" and the position in
  // the template for a syntax error, unknown filter or bad time zone.
  static Result<Mapping> Compile(const MappingSpec& spec);

  const std::vector<std::string>& columns() const { return columns_; }
  bool flattens() const { return flatten_ != nullptr; }
  // 16 hex digits identifying the compiled mapping: a change means targets must be rewritten.
  const std::string& hash() const { return hash_; }

  // Maps one record to its rows (one, or one per flattened element; a record whose array is
  // empty still yields one row with the element's columns NULL). InvalidArgument naming the
  // column and the value when a filter cannot convert it.
  Status Map(const json::Value& record, std::vector<MappedRow>* out) const;

 private:
  Mapping();
  std::vector<std::string> columns_;
  std::vector<std::unique_ptr<Template>> templates_;
  std::unique_ptr<Template> flatten_;
  int tz_offset_minutes_ = 480;
  std::string hash_;
};

// Offset of a supported time zone name ("Asia/Shanghai", "UTC", "+08:00", ...), in minutes.
Result<int> TimeZoneOffsetMinutes(std::string_view name);

}  // namespace stagesync::transform
