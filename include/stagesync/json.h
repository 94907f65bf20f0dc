// A small owning JSON value, parsed with simdjson On-Demand, plus the canonical form that
// content hashes are computed from. Numbers keep their source text (no binary floating point
// round trip), so money like 1234.5600 reaches a target exactly as the vendor sent it.
// Values are plain data: safe to share read-only between threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stagesync/status.h"

namespace stagesync::json {

enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };

class Value {
 public:
  using Member = std::pair<std::string, Value>;

  Value() = default;
  static Value Null() { return Value(); }
  static Value Bool(bool b);
  static Value Number(std::string text);  // REQUIRES: text is a valid JSON number
  static Value String(std::string s);
  static Value Array(std::vector<Value> items = {});
  static Value Object(std::vector<Member> members = {});

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_number() const { return type_ == Type::kNumber; }
  bool is_object() const { return type_ == Type::kObject; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_bool() const { return type_ == Type::kBool; }

  // A placeholder left by a parse with ParseOptions::isolate for one unreadable value (a bad
  // record in a vendor page): its type is kNull, it serializes as null, and it keeps the
  // value's raw bytes (invalid_raw) and why it could not be read (invalid_error).
  static Value Invalid(std::string raw, std::string error);
  bool is_invalid() const { return invalid_; }
  const std::string& invalid_raw() const { return text_; }
  std::string invalid_error() const { return invalid_ ? items_.front().text() : std::string(); }

  bool bool_value() const { return bool_; }
  // The string's value, or a number's source text.
  const std::string& text() const { return text_; }
  const std::vector<Value>& items() const { return items_; }
  std::vector<Value>& mutable_items() { return items_; }
  const std::vector<Member>& members() const { return members_; }
  std::vector<Member>& mutable_members() { return members_; }

  // Object lookup by key (first match); nullptr when absent or not an object.
  const Value* Find(std::string_view key) const;
  // Number as int64 if it is an integer in range (strings of digits are accepted too).
  bool AsInt64(int64_t* out) const;

  // Appends a member (objects) or an item (arrays).
  void Add(std::string key, Value v) { members_.emplace_back(std::move(key), std::move(v)); }
  void Push(Value v) { items_.push_back(std::move(v)); }

 private:
  Type type_ = Type::kNull;
  bool bool_ = false;
  bool invalid_ = false;
  std::string text_;
  std::vector<Value> items_;
  std::vector<Member> members_;
};

// Where a parse may confine an unreadable value instead of failing the whole document.
enum class Isolate {
  kNone,
  // The items of the shallowest arrays (a vendor page's record list, wherever it sits).
  kArrayItems,
  // The members of the root object (a reply that carries one record as a member).
  kRootMembers,
};

struct ParseOptions {
  size_t max_depth = 64;
  // A value inside an isolation unit that is well-formed JSON but unreadable (invalid UTF-8, a
  // lone surrogate escape such as "\ud800", a control character in a string, nesting deeper
  // than max_depth) makes that unit a Value::Invalid placeholder; the rest parses as usual. A
  // syntax error (e.g. a truncated document) still fails the whole parse. Default: kNone.
  Isolate isolate = Isolate::kNone;
  // Reads what it can instead: invalid UTF-8 and lone surrogates become U+FFFD and values
  // nested deeper than max_depth become null. For locating an id in a quarantined record's raw
  // bytes, never for staging. Default: false.
  bool lossy = false;
  // false (vendor data): of duplicate object keys the last value wins, kept at the first key's
  // place. true: every member is kept in order, for a caller that rejects duplicates with a
  // path (the config loader).
  bool keep_duplicate_keys = false;
};

// Parses a complete JSON document. A leading UTF-8 BOM is skipped (Kingdee sends one).
// Fails with InvalidArgument naming the problem (syntax, invalid UTF-8, depth) on bad input;
// see ParseOptions for the isolated and lossy modes.
Result<Value> Parse(std::string_view text, const ParseOptions& opts = {});

// Compact serialization, members in their stored order.
std::string Serialize(const Value& v);
void SerializeTo(const Value& v, std::string* out);

// Canonical form: object keys sorted bytewise, no insignificant whitespace, strings escaped
// minimally. The same content always yields the same bytes. Top-level members named in
// `exclude` are left out (a pipeline's volatile fields).
void CanonicalTo(const Value& v, std::string* out, const std::vector<std::string>& exclude = {});
std::string Canonical(const Value& v, const std::vector<std::string>& exclude = {});

// Appends s as a JSON string literal (with quotes). Invalid UTF-8 is passed through as is.
void AppendQuoted(std::string_view s, std::string* out);
std::string Quote(std::string_view s);

// The name of the simdjson kernel the parser uses ("haswell", "icelake", "fallback", ...).
std::string_view ParserImplementation();

}  // namespace stagesync::json
