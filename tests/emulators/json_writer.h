// JsonWriter: the small streaming JSON writer every vendor emulator answers with. Keys come out
// in call order, so an unchanged record is always served byte-identical. Header-only; a writer
// is used by one thread.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace stagesync::emulators {

inline void AppendQuoted(std::string* out, std::string_view s) {
  out->push_back('"');
  for (char c : s) {
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      case '\b':
        *out += "\\b";
        break;
      case '\f':
        *out += "\\f";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          fmt::format_to(std::back_inserter(*out), "\\u{:04x}", static_cast<unsigned>(c));
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

class JsonWriter {
 public:
  JsonWriter& BeginObject() { return Open('{'); }
  JsonWriter& EndObject() { return Close('}'); }
  JsonWriter& BeginArray() { return Open('['); }
  JsonWriter& EndArray() { return Close(']'); }
  JsonWriter& Key(std::string_view k) {
    Separate();
    AppendQuoted(&out_, k);
    out_.push_back(':');
    after_key_ = true;
    return *this;
  }
  JsonWriter& String(std::string_view s) {
    Separate();
    AppendQuoted(&out_, s);
    return *this;
  }
  JsonWriter& Int(int64_t v) {
    Separate();
    fmt::format_to(std::back_inserter(out_), "{}", v);
    return *this;
  }
  JsonWriter& Bool(bool v) { return Raw(v ? "true" : "false"); }
  JsonWriter& Null() { return Raw("null"); }
  JsonWriter& Raw(std::string_view json) {
    Separate();
    out_ += json;
    return *this;
  }
  JsonWriter& Strings(const std::vector<std::string>& v) {
    BeginArray();
    for (const std::string& s : v) String(s);
    return EndArray();
  }
  JsonWriter& Field(std::string_view k, std::string_view v) { return Key(k).String(v); }
  JsonWriter& IntField(std::string_view k, int64_t v) { return Key(k).Int(v); }
  JsonWriter& FieldOrNull(std::string_view k, const std::optional<std::string>& v) {
    Key(k);
    return v ? String(*v) : Null();
  }
  std::string Take() { return std::move(out_); }

 private:
  JsonWriter& Open(char c) {
    Separate();
    out_.push_back(c);
    first_.push_back(true);
    return *this;
  }
  JsonWriter& Close(char c) {
    out_.push_back(c);
    first_.pop_back();
    return *this;
  }
  void Separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (first_.empty()) return;
    if (!first_.back()) out_.push_back(',');
    first_.back() = false;
  }

  std::string out_;
  std::vector<bool> first_;
  bool after_key_ = false;
};

}  // namespace stagesync::emulators
