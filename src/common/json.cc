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

}  // namespace

Result<Value> Parse(std::string_view text, const ParseOptions& opts) {
  if (text.size() >= 3 && std::memcmp(text.data(), "\xEF\xBB\xBF", 3) == 0) text.remove_prefix(3);
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
