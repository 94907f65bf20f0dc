// OptionTable: a connector's options bound to the fields of its options struct, the way Fluent
// Bit's config_map binds a table to a struct. Each option's name, type, default, range and help
// are written once, here; Read() checks an options object (unknown names, types, ranges) and
// fills a T, and `check`, `stagesync --help-config` and the docs all read the same table.
// Built once (a function-local static); const afterwards, so safe to share between threads.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stagesync/config.h"

namespace stagesync::config {

// "10", "0.5", "1e+06": a number as the docs print it.
std::string FormatNumber(double x);

template <class T>
class OptionTable {
 public:
  // Reads one option (or derives fields) into `*out`; errors name r.PathOf(option).
  using Hook = std::function<Status(const OptionReader& r, T* out)>;

  OptionTable& Str(std::string_view name, std::string T::*field, std::string_view def,
                   std::string_view help) {
    std::string d(def);
    return Add({name, OptionType::kString, false, d.empty() ? "\"\"" : d, help},
               [=](const OptionReader& r, T* o) {
                 o->*field = r.String(name, d);
                 return Status::Ok();
               });
  }
  OptionTable& Required(std::string_view name, std::string T::*field, std::string_view help) {
    return Add({name, OptionType::kString, true, "", help}, [=](const OptionReader& r, T* o) {
      o->*field = r.String(name);
      return Status::Ok();
    });
  }
  // An integer in [lo, hi]; the field gets value x `scale` (e.g. 1000 for seconds -> ms).
  template <class I>
  OptionTable& Int(std::string_view name, I T::*field, int64_t def, int64_t lo, int64_t hi,
                   std::string_view help, int64_t scale = 1) {
    OptionSpec spec(name, OptionType::kInt, false, std::to_string(def), help,
                    "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return Add(std::move(spec), [=](const OptionReader& r, T* o) -> Status {
      const int64_t x = r.Int(name, def);
      if (x < lo || x > hi) {
        return InvalidArgument(r.PathOf(name) + ": must be in [" + std::to_string(lo) + ", " +
                               std::to_string(hi) + "]");
      }
      o->*field = static_cast<I>(x * scale);
      return Status::Ok();
    });
  }
  OptionTable& Num(std::string_view name, double T::*field, double def, double lo, double hi,
                   std::string_view help) {
    OptionSpec spec(name, OptionType::kNumber, false, FormatNumber(def), help,
                    "[" + FormatNumber(lo) + ", " + FormatNumber(hi) + "]");
    return Add(std::move(spec), [=](const OptionReader& r, T* o) -> Status {
      auto x = r.NumberIn(name, def, lo, hi);
      if (!x.ok()) return x.status();
      o->*field = *x;
      return Status::Ok();
    });
  }
  // A string that must be one of `choices` (the first unless given: `def`).
  OptionTable& OneOf(std::string_view name, std::string T::*field, std::string_view def,
                     std::vector<std::string> choices, std::string_view help) {
    std::string d(def), list;
    for (size_t i = 0; i < choices.size(); ++i) {
      list += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i];
    }
    return Add({name, OptionType::kString, false, d, help, list},
               [=](const OptionReader& r, T* o) -> Status {
                 o->*field = r.String(name, d);
                 for (const auto& c : choices) {
                   if (o->*field == c) return Status::Ok();
                 }
                 return InvalidArgument(r.PathOf(name) + ": must be " + list);
               });
  }
  OptionTable& Flag(std::string_view name, bool T::*field, bool def, std::string_view help) {
    return Add({name, OptionType::kBool, false, def ? "true" : "false", help},
               [=](const OptionReader& r, T* o) {
                 o->*field = r.Bool(name, def);
                 return Status::Ok();
               });
  }
  OptionTable& List(std::string_view name, std::vector<std::string> T::*field, bool required,
                    std::string_view help) {
    return Add({name, OptionType::kStringList, required, required ? "" : "[]", help},
               [=](const OptionReader& r, T* o) {
                 o->*field = r.StringList(name);
                 return Status::Ok();
               });
  }
  // Anything the typed entries do not cover (objects, derived fields); `read` may be null for an
  // option another entry's hook reads.
  OptionTable& Custom(std::string_view name, OptionType type, bool required,
                      std::string_view default_text, std::string_view help, Hook read) {
    return Add({name, type, required, std::string(default_text), help}, std::move(read));
  }
  // The options of a nested struct (e.g. the retry policy every connection takes).
  template <class U>
  OptionTable& Include(const OptionTable<U>& other, U T::*member) {
    for (size_t i = 0; i < other.specs().size(); ++i) {
      specs_.push_back(other.specs()[i]);
      auto read = other.reader(i);
      readers_.push_back([=](const OptionReader& r, T* o) { return read(r, &(o->*member)); });
    }
    return *this;
  }
  // Checks across options, run after every option was read.
  OptionTable& Check(Hook finish) {
    finish_ = std::move(finish);
    return *this;
  }

  // Checks `options` (at JSON path `path`) against the table and fills a T; `base` gives the
  // fields the table does not own (e.g. the pipeline's time zone).
  Result<T> Read(const json::Value& options, const std::string& path, T base = T{}) const {
    OptionReader r(options, path);
    SS_RETURN_IF_ERROR(r.Validate(specs_));
    for (const Hook& read : readers_) {
      if (read) SS_RETURN_IF_ERROR(read(r, &base));
    }
    if (finish_) SS_RETURN_IF_ERROR(finish_(r, &base));
    return base;
  }

  const std::vector<OptionSpec>& specs() const { return specs_; }
  const Hook& reader(size_t i) const { return readers_[i]; }

 private:
  OptionTable& Add(OptionSpec spec, Hook read) {
    specs_.push_back(std::move(spec));
    readers_.push_back(std::move(read));
    return *this;
  }

  std::vector<OptionSpec> specs_;
  std::vector<Hook> readers_;
  Hook finish_;
};

// The config's `agent` section (for `--help-config` and the loader).
const OptionTable<AgentConfig>& AgentOptionTable();
// The `alerts` section (doc/alerts.md).
const OptionTable<AlertsConfig>& AlertsOptionTable();

}  // namespace stagesync::config
