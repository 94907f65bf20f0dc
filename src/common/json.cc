#include "stagesync/json.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <limits>
#include <type_traits>

#include "simdjson.h"

namespace stagesync::json {

namespace od = simdjson::ondemand;

Value Value::Bool(bool b) {
  Value v;
  v.type_ = Type::kBool;
  v.bool_ = b;
  return v;
}
Value Value::Number(std::string text) {
  Value v;
  v.type_ = Type::kNumber;
  v.text_ = std::move(text);
  return v;
}
Value Value::String(std::string s) {
  Value v;
  v.type_ = Type::kString;
  v.text_ = std::move(s);
  return v;
}
Value Value::Array(std::vector<Value> items) {
  Value v;
  v.type_ = Type::kArray;
  v.items_ = std::move(items);
  return v;
}
Value Value::Object(std::vector<Member> members) {
  Value v;
  v.type_ = Type::kObject;
  v.members_ = std::move(members);
  return v;
}

Value Value::Invalid(std::string raw, std::string error) {
  Value v;
  v.invalid_ = true;
  v.text_ = std::move(raw);
  v.items_.push_back(Value::String(std::move(error)));
  return v;
}

const Value* Value::Find(std::string_view key) const {
  if (type_ != Type::kObject) return nullptr;
  for (const auto& m : members_) {
    if (m.first == key) return &m.second;
  }
  return nullptr;
}

bool Value::AsInt64(int64_t* out) const {
  if (type_ != Type::kNumber && type_ != Type::kString) return false;
  std::string_view t = text_;
  if (t.empty() || t.size() > 20) return false;
  size_t i = 0;
  bool neg = false;
  if (t[0] == '-') {
    neg = true;
    i = 1;
    if (t.size() == 1) return false;
  }
  // Accumulate negatively so INT64_MIN fits; any overflow fails instead of wrapping (a
  // 19-digit port of 9999999999999999999 once became -1981284353).
  int64_t v = 0;
  for (; i < t.size(); ++i) {
    if (t[i] < '0' || t[i] > '9') return false;
    const int d = t[i] - '0';
    if (v < (std::numeric_limits<int64_t>::min() + d) / 10) return false;
    v = v * 10 - d;
  }
  if (!neg && v == std::numeric_limits<int64_t>::min()) return false;
  *out = neg ? v : -v;
  return true;
}

namespace {

// RFC 8259 number grammar; On-Demand does not validate a token we only read raw.
bool IsJsonNumber(std::string_view s) {
  size_t i = 0, n = s.size();
  if (i < n && s[i] == '-') ++i;
  if (i >= n) return false;
  if (s[i] == '0') {
    ++i;
  } else if (s[i] >= '1' && s[i] <= '9') {
    while (i < n && s[i] >= '0' && s[i] <= '9') ++i;
  } else {
    return false;
  }
  if (i < n && s[i] == '.') {
    ++i;
    size_t start = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start) return false;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    size_t start = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start) return false;
  }
  return i == n;
}

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// Duplicate keys: the last value wins, at the position of the first (as JavaScript's
// JSON.parse and Python's json do), so every reader of the value (Find, Canonical, the
// content hash, a mapping) sees one member and the same one.
void KeepLastOfDuplicates(std::vector<Value::Member>* ms) {
  const size_t n = ms->size();
  if (n < 2) return;
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return (*ms)[a].first < (*ms)[b].first; });
  std::vector<bool> drop(n, false);
  bool any = false;
  for (size_t k = 0; k < n;) {
    size_t e = k + 1;
    while (e < n && (*ms)[order[e]].first == (*ms)[order[k]].first) ++e;
    if (e - k > 1) {  // order[k] is the first occurrence, order[e - 1] the last
      (*ms)[order[k]].second = std::move((*ms)[order[e - 1]].second);
      for (size_t j = k + 1; j < e; ++j) drop[order[j]] = true;
      any = true;
    }
    k = e;
  }
  if (!any) return;
  size_t w = 0;
  for (size_t i = 0; i < n; ++i) {
    if (drop[i]) continue;
    if (w != i) (*ms)[w] = std::move((*ms)[i]);
    ++w;
  }
  ms->erase(ms->begin() + static_cast<std::ptrdiff_t>(w), ms->end());
}

struct Builder {
  size_t max_depth;
  bool keep_duplicate_keys;
  std::string error;

  template <typename V>
  bool Build(V& in, Value* out, size_t depth) {
    if (depth > max_depth) {
      error = "nesting deeper than " + std::to_string(max_depth);
      return false;
    }
    od::json_type t;
    if (auto e = in.type().get(t); e) return Fail(e);
    switch (t) {
      case od::json_type::object: {
        od::object obj;
        if (auto e = in.get_object().get(obj); e) return Fail(e);
        *out = Value::Object();
        for (auto field : obj) {
          std::string_view key;
          if (auto e = field.unescaped_key().get(key); e) return Fail(e);
          od::value child;
          if (auto e = field.value().get(child); e) return Fail(e);
          Value cv;
          if (!Build(child, &cv, depth + 1)) return false;
          out->Add(std::string(key), std::move(cv));
        }
        if (!keep_duplicate_keys) KeepLastOfDuplicates(&out->mutable_members());
        return true;
      }
      case od::json_type::array: {
        od::array arr;
        if (auto e = in.get_array().get(arr); e) return Fail(e);
        *out = Value::Array();
        for (auto item : arr) {
          od::value child;
          if (auto e = item.get(child); e) return Fail(e);
          Value cv;
          if (!Build(child, &cv, depth + 1)) return false;
          out->Push(std::move(cv));
        }
        return true;
      }
      case od::json_type::string: {
        std::string_view s;
        if (auto e = in.get_string().get(s); e) return Fail(e);
        *out = Value::String(std::string(s));
        return true;
      }
      case od::json_type::number: {
        std::string_view raw;
        auto token = in.raw_json_token();
        if constexpr (std::is_same_v<decltype(token), std::string_view>) {
          raw = token;  // a document's root token
        } else if (auto e = std::move(token).get(raw); e) {
          return Fail(e);
        }
        raw = TrimRight(raw);
        if (!IsJsonNumber(raw)) {
          error = "invalid number '" + std::string(raw.substr(0, 40)) + "'";
          return false;
        }
        *out = Value::Number(std::string(raw));
        return true;
      }
      case od::json_type::boolean: {
        bool b;
        if (auto e = in.get_bool().get(b); e) return Fail(e);
        *out = Value::Bool(b);
        return true;
      }
      case od::json_type::null: {
        bool is_null = false;
        if (auto e = in.is_null().get(is_null); e) return Fail(e);
        if (!is_null) {
          error = "invalid literal";
          return false;
        }
        *out = Value::Null();
        return true;
      }
    }
    error = "unknown JSON type";
    return false;
  }

  bool Fail(simdjson::error_code e) {
    error = simdjson::error_message(e);
    return false;
  }
};

// A plain recursive-descent parser for what simdjson refuses as a whole: it tells syntax errors
// (fatal: the document may be truncated) from content errors confined to one value (invalid
// UTF-8, a lone surrogate, a control character, nesting too deep), which become Invalid
// placeholders for their isolation unit (or are repaired in lossy mode). It builds the same
// Values as the simdjson path, so a record's canonical form and hash do not depend on which
// parser read its page. Only runs after simdjson failed, so its speed does not matter.
class TolerantParser {
 public:
  TolerantParser(std::string_view in, const ParseOptions& opts) : in_(in), opts_(opts) {}

  bool Parse(Value* out) {
    SkipSpace();
    if (!ParseValue(out, 0)) return false;
    SkipSpace();
    if (pos_ != in_.size()) return Syntax("trailing content after the document");
    return true;
  }
  const std::string& error() const { return error_; }
  int isolated() const { return isolated_; }

 private:
  bool Syntax(std::string m) {
    error_ = std::move(m);
    content_ = false;
    return false;
  }
  bool Content(std::string m) {
    error_ = std::move(m);
    content_ = true;
    return false;
  }
  void SkipSpace() {
    while (pos_ < in_.size() &&
           (in_[pos_] == ' ' || in_[pos_] == '\n' || in_[pos_] == '\r' || in_[pos_] == '\t')) {
      ++pos_;
    }
  }

  // Parses one isolation unit; a content error inside it makes it an Invalid placeholder.
  bool ParseUnit(Value* out, size_t depth) {
    const size_t start = pos_;
    const int saved_arrays = arrays_;
    if (ParseValue(out, depth)) return true;
    if (!content_) return false;
    const std::string why = error_;
    arrays_ = saved_arrays;
    pos_ = start;
    if (!SkipValue()) return false;
    *out = Value::Invalid(std::string(in_.substr(start, pos_ - start)), why);
    ++isolated_;
    error_.clear();
    return true;
  }

  // Moves past one value by its structure alone (strings, brackets), reading nothing.
  bool SkipValue() {
    if (pos_ >= in_.size()) return Syntax("unexpected end of input");
    const char c = in_[pos_];
    if (c == '"') return SkipString();
    if (c == '{' || c == '[') {
      std::string stack;
      while (pos_ < in_.size()) {
        const char d = in_[pos_];
        if (d == '"') {
          if (!SkipString()) return false;
          continue;
        }
        ++pos_;
        if (d == '{' || d == '[') {
          stack.push_back(d == '{' ? '}' : ']');
        } else if (d == '}' || d == ']') {
          if (stack.empty() || stack.back() != d) return Syntax("mismatched brackets");
          stack.pop_back();
          if (stack.empty()) return true;
        }
      }
      return Syntax("unexpected end of input");
    }
    while (pos_ < in_.size() && in_[pos_] != ',' && in_[pos_] != ']' && in_[pos_] != '}' &&
           in_[pos_] != ' ' && in_[pos_] != '\n' && in_[pos_] != '\r' && in_[pos_] != '\t') {
      ++pos_;
    }
    return true;
  }
  bool SkipString() {
    ++pos_;  // the opening quote
    while (pos_ < in_.size()) {
      const char c = in_[pos_++];
      if (c == '\\') {
        ++pos_;
      } else if (c == '"') {
        return true;
      }
    }
    return Syntax("unterminated string");
  }

  bool ParseValue(Value* out, size_t depth) {
    if (pos_ >= in_.size()) return Syntax("unexpected end of input");
    const char c = in_[pos_];
    if (depth > opts_.max_depth) {
      if (!opts_.lossy) return Content("nesting deeper than " + std::to_string(opts_.max_depth));
      if (!SkipValue()) return false;
      *out = Value::Null();
      return true;
    }
    if (c == '{') return ParseObject(out, depth);
    if (c == '[') return ParseArray(out, depth);
    if (c == '"') {
      std::string s;
      if (!ParseString(&s)) return false;
      *out = Value::String(std::move(s));
      return true;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      const size_t start = pos_;
      while (pos_ < in_.size() && (std::strchr("+-.eE0123456789", in_[pos_]) != nullptr) &&
             in_[pos_] != '\0') {
        ++pos_;
      }
      std::string_view raw = in_.substr(start, pos_ - start);
      if (!IsJsonNumber(raw)) {
        return Syntax("invalid number '" + std::string(raw.substr(0, 40)) + "'");
      }
      *out = Value::Number(std::string(raw));
      return true;
    }
    for (const auto& [word, value] :
         {std::pair<std::string_view, int>{"true", 1}, {"false", 0}, {"null", -1}}) {
      if (in_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        *out = value < 0 ? Value::Null() : Value::Bool(value == 1);
        return true;
      }
    }
    return Syntax("unexpected character");
  }

  bool ParseObject(Value* out, size_t depth) {
    ++pos_;
    *out = Value::Object();
    SkipSpace();
    if (pos_ < in_.size() && in_[pos_] == '}') {
      ++pos_;
      return true;
    }
    const bool units = opts_.isolate == Isolate::kRootMembers && depth == 0;
    while (true) {
      SkipSpace();
      if (pos_ >= in_.size() || in_[pos_] != '"') return Syntax("expected a key");
      std::string key;
      if (!ParseString(&key)) return false;
      SkipSpace();
      if (pos_ >= in_.size() || in_[pos_] != ':') return Syntax("expected ':'");
      ++pos_;
      SkipSpace();
      Value v;
      if (!(units ? ParseUnit(&v, depth + 1) : ParseValue(&v, depth + 1))) return false;
      out->Add(std::move(key), std::move(v));
      SkipSpace();
      if (pos_ < in_.size() && in_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < in_.size() && in_[pos_] == '}') {
        ++pos_;
        return true;
      }
      return Syntax("expected ',' or '}'");
    }
  }

  bool ParseArray(Value* out, size_t depth) {
    ++pos_;
    *out = Value::Array();
    const bool units = opts_.isolate == Isolate::kArrayItems && arrays_ == 0;
    ++arrays_;
    SkipSpace();
    if (pos_ < in_.size() && in_[pos_] == ']') {
      ++pos_;
      --arrays_;
      return true;
    }
    while (true) {
      SkipSpace();
      Value v;
      if (!(units ? ParseUnit(&v, depth + 1) : ParseValue(&v, depth + 1))) return false;
      out->Push(std::move(v));
      SkipSpace();
      if (pos_ < in_.size() && in_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < in_.size() && in_[pos_] == ']') {
        ++pos_;
        --arrays_;
        return true;
      }
      return Syntax("expected ',' or ']'");
    }
  }

  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  bool Hex4(uint32_t* cp) {
    if (pos_ + 4 > in_.size()) return Syntax("unterminated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = in_[pos_++];
      v <<= 4;
      if (h >= '0' && h <= '9') {
        v |= static_cast<uint32_t>(h - '0');
      } else if (h >= 'a' && h <= 'f') {
        v |= static_cast<uint32_t>(h - 'a' + 10);
      } else if (h >= 'A' && h <= 'F') {
        v |= static_cast<uint32_t>(h - 'A' + 10);
      } else {
        return Syntax("bad \\u escape");
      }
    }
    *cp = v;
    return true;
  }

  // Length of the valid UTF-8 sequence at pos_, or 0.
  size_t Utf8At() const {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(in_[pos_ + k]); };
    const unsigned char c = b(0);
    const size_t n = (c >= 0xC2 && c <= 0xDF)   ? 2
                     : (c >= 0xE0 && c <= 0xEF) ? 3
                     : (c >= 0xF0 && c <= 0xF4) ? 4
                                                : 0;
    if (n == 0 || pos_ + n > in_.size()) return 0;
    for (size_t k = 1; k < n; ++k) {
      if ((b(k) & 0xC0) != 0x80) return 0;
    }
    if (n == 3) {
      const uint32_t cp = ((c & 0x0Fu) << 12) | ((b(1) & 0x3Fu) << 6);
      if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    }
    if (n == 4) {
      const uint32_t cp = ((c & 0x07u) << 18) | ((b(1) & 0x3Fu) << 12);
      if (cp < 0x10000 || cp > 0x10FFFF) return 0;
    }
    return n;
  }

  bool ParseString(std::string* out) {
    ++pos_;
    while (true) {
      if (pos_ >= in_.size()) return Syntax("unterminated string");
      const unsigned char c = static_cast<unsigned char>(in_[pos_]);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c == '\\') {
        if (++pos_ >= in_.size()) return Syntax("unterminated string");
        const char e = in_[pos_++];
        switch (e) {
          case '"':
          case '\\':
          case '/':
            out->push_back(e);
            break;
          case 'b':
            out->push_back('\b');
            break;
          case 'f':
            out->push_back('\f');
            break;
          case 'n':
            out->push_back('\n');
            break;
          case 'r':
            out->push_back('\r');
            break;
          case 't':
            out->push_back('\t');
            break;
          case 'u': {
            uint32_t cp = 0;
            if (!Hex4(&cp)) return false;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
              uint32_t lo = 0;
              const size_t save = pos_;
              if (in_.substr(pos_, 2) == "\\u" && (pos_ += 2, Hex4(&lo)) && lo >= 0xDC00 &&
                  lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
              } else {
                if (!opts_.lossy) return Content("a lone surrogate escape in a string");
                pos_ = save;
                cp = 0xFFFD;
              }
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
              if (!opts_.lossy) return Content("a lone surrogate escape in a string");
              cp = 0xFFFD;
            }
            AppendUtf8(cp, out);
            break;
          }
          default:
            return Syntax("bad escape in a string");
        }
        continue;
      }
      if (c < 0x20) {
        if (!opts_.lossy) return Content("a control character in a string");
        out->push_back(static_cast<char>(c));
        ++pos_;
        continue;
      }
      if (c < 0x80) {
        out->push_back(static_cast<char>(c));
        ++pos_;
        continue;
      }
      const size_t n = Utf8At();
      if (n == 0) {
        if (!opts_.lossy) return Content("invalid UTF-8 in a string");
        AppendUtf8(0xFFFD, out);
        ++pos_;
        continue;
      }
      out->append(in_.substr(pos_, n));
      pos_ += n;
    }
  }

  std::string_view in_;
  const ParseOptions& opts_;
  size_t pos_ = 0;
  int arrays_ = 0;  // arrays enclosing the current position
  int isolated_ = 0;
  std::string error_;
  bool content_ = false;
};

Result<Value> ParseStrict(std::string_view text, const ParseOptions& opts) {
  thread_local od::parser parser;
  // One padded buffer per thread, reused: no allocation per document once it has grown.
  thread_local std::string padded;
  padded.assign(text.data(), text.size());
  padded.resize(text.size() + simdjson::SIMDJSON_PADDING, '\0');
  od::document doc;
  if (auto e = parser.iterate(padded.data(), text.size(), padded.size()).get(doc); e) {
    return InvalidArgument(std::string("malformed JSON: ") + simdjson::error_message(e));
  }
  Builder b{opts.max_depth, opts.keep_duplicate_keys, {}};
  Value out;
  bool ok = false;
  od::json_type t;
  if (auto e = doc.type().get(t); e) {
    return InvalidArgument(std::string("malformed JSON: ") + simdjson::error_message(e));
  }
  if (t == od::json_type::object || t == od::json_type::array) {
    od::value root;
    if (auto e = doc.get_value().get(root); e) {
      return InvalidArgument(std::string("malformed JSON: ") + simdjson::error_message(e));
    }
    ok = b.Build(root, &out, 0);
  } else {
    ok = b.Build(doc, &out, 0);
  }
  if (!ok) return InvalidArgument("malformed JSON: " + b.error);
  // current_location() fails with OUT_OF_BOUNDS exactly when the whole input was consumed.
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
    return InvalidArgument("malformed JSON: trailing content after the document");
  }
  return out;
}

}  // namespace

Result<Value> Parse(std::string_view text, const ParseOptions& opts) {
  if (text.size() >= 3 && std::memcmp(text.data(), "\xEF\xBB\xBF", 3) == 0) text.remove_prefix(3);
  if (opts.lossy) {
    TolerantParser t(text, opts);
    Value out;
    if (!t.Parse(&out)) return InvalidArgument("malformed JSON: " + t.error());
    return out;
  }
  auto strict = ParseStrict(text, opts);
  if (strict.ok() || opts.isolate == Isolate::kNone) return strict;
  // Some value is unreadable: confine it to its record if the document's structure allows.
  TolerantParser t(text, opts);
  Value out;
  if (!t.Parse(&out) || t.isolated() == 0) return strict;
  return out;
}

void AppendQuoted(std::string_view s, std::string* out) {
  static const char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default:
        out->append("\\u00");
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 15]);
    }
  }
  out->append(s.data() + run, s.size() - run);
  out->push_back('"');
}

std::string Quote(std::string_view s) {
  std::string out;
  AppendQuoted(s, &out);
  return out;
}

namespace {
void Write(const Value& v, std::string* out, bool sorted, const std::vector<std::string>* exclude) {
  switch (v.type()) {
    case Type::kNull:
      out->append("null");
      return;
    case Type::kBool:
      out->append(v.bool_value() ? "true" : "false");
      return;
    case Type::kNumber:
      out->append(v.text());
      return;
    case Type::kString:
      AppendQuoted(v.text(), out);
      return;
    case Type::kArray: {
      out->push_back('[');
      bool first = true;
      for (const auto& item : v.items()) {
        if (!first) out->push_back(',');
        first = false;
        Write(item, out, sorted, nullptr);
      }
      out->push_back(']');
      return;
    }
    case Type::kObject: {
      const auto& ms = v.members();
      // Small objects (the common case) sort on the stack; insertion sort keeps equal keys in
      // their order, like a stable sort, without stable_sort's temporary buffer.
      constexpr size_t kInline = 32;
      const Value::Member* inline_order[kInline];
      std::vector<const Value::Member*> heap_order;
      const Value::Member** order = inline_order;
      if (ms.size() > kInline) {
        heap_order.resize(ms.size());
        order = heap_order.data();
      }
      size_t n = 0;
      for (const auto& m : ms) {
        if (exclude && std::find(exclude->begin(), exclude->end(), m.first) != exclude->end())
          continue;
        order[n++] = &m;
      }
      if (sorted) {
        if (n <= kInline) {
          for (size_t i = 1; i < n; ++i) {
            const Value::Member* cur = order[i];
            size_t j = i;
            while (j > 0 && cur->first < order[j - 1]->first) {
              order[j] = order[j - 1];
              --j;
            }
            order[j] = cur;
          }
        } else {
          std::stable_sort(order, order + n, [](const Value::Member* a, const Value::Member* b) {
            return a->first < b->first;
          });
        }
      }
      out->push_back('{');
      bool first = true;
      for (size_t k = 0; k < n; ++k) {
        const Value::Member* m = order[k];
        if (!first) out->push_back(',');
        first = false;
        AppendQuoted(m->first, out);
        out->push_back(':');
        Write(m->second, out, sorted, nullptr);
      }
      out->push_back('}');
      return;
    }
  }
}
}  // namespace

void SerializeTo(const Value& v, std::string* out) { Write(v, out, false, nullptr); }
std::string Serialize(const Value& v) {
  std::string s;
  SerializeTo(v, &s);
  return s;
}
void CanonicalTo(const Value& v, std::string* out, const std::vector<std::string>& exclude) {
  Write(v, out, true, exclude.empty() ? nullptr : &exclude);
}
std::string Canonical(const Value& v, const std::vector<std::string>& exclude) {
  std::string s;
  CanonicalTo(v, &s, exclude);
  return s;
}

std::string_view ParserImplementation() {
  // On-Demand runs the kernel this file was compiled for (not the library's runtime choice).
  return SIMDJSON_STRINGIFY(SIMDJSON_BUILTIN_IMPLEMENTATION);
}

}  // namespace stagesync::json
