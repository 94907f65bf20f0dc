// A deliberately naive second reading of a schedule, for tests and the fuzzer only: sets of
// values instead of bit masks, the C library's gmtime_r instead of civil-date arithmetic, and a
// minute-by-minute scan instead of skipping. It assumes the text was accepted by
// schedule::Schedule::Parse (it does not validate).
#pragma once

#include <time.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace stagesync::schedule::testing {

class CronOracle {
 public:
  // nullopt for @every (the caller checks those arithmetically) or what it cannot read.
  static std::optional<CronOracle> Read(std::string text) {
    std::istringstream in(text);
    std::vector<std::string> f;
    for (std::string w; in >> w;) f.push_back(w);
    if (f.size() == 1) {
      static const std::pair<const char*, const char*> kAliases[] = {
          {"@hourly", "0 * * * *"},  {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
          {"@weekly", "0 0 * * 0"},  {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"},
          {"@annually", "0 0 1 1 *"}};
      for (const auto& [alias, cron] : kAliases) {
        if (f[0] == alias) return Read(cron);
      }
    }
    if (f.size() != 5) return std::nullopt;
    static const std::vector<std::string> kMonths = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                     "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
    static const std::vector<std::string> kDays = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};
    CronOracle o;
    try {
      o.minutes_ = Expand(f[0], 0, 59, {}, 0);
      o.hours_ = Expand(f[1], 0, 23, {}, 0);
      o.doms_ = Expand(f[2], 1, 31, {}, 1);
      o.months_ = Expand(f[3], 1, 12, kMonths, 1);
      o.dows_ = Expand(f[4], 0, 6, kDays, 0);
    } catch (...) {
      return std::nullopt;
    }
    if (o.dows_.count(7)) o.dows_.insert(0);
    o.either_ = f[2][0] != '*' && f[4][0] != '*';
    return o;
  }

  // Whether the minute starting at `utc_minute` (minutes since the epoch) is a tick in a zone
  // `offset_minutes` east of UTC.
  bool Matches(int64_t utc_minute, int offset_minutes) const {
    time_t local = static_cast<time_t>((utc_minute + offset_minutes) * 60);
    struct tm tm;
    gmtime_r(&local, &tm);
    if (!minutes_.count(tm.tm_min) || !hours_.count(tm.tm_hour) || !months_.count(tm.tm_mon + 1))
      return false;
    bool dom = doms_.count(tm.tm_mday) > 0, dow = dows_.count(tm.tm_wday) > 0;
    return either_ ? (dom || dow) : (dom && dow);
  }

  // Every tick in [from_ms, to_ms), as Unix ms, with `jitter_ms` added.
  std::vector<int64_t> Ticks(int64_t from_ms, int64_t to_ms, int offset_minutes,
                             int64_t jitter_ms) const {
    std::vector<int64_t> out;
    for (int64_t m = (from_ms - jitter_ms) / 60000 - 1; m * 60000 + jitter_ms < to_ms; ++m) {
      const int64_t t = m * 60000 + jitter_ms;
      if (t >= from_ms && Matches(m, offset_minutes)) out.push_back(t);
    }
    return out;
  }

 private:
  // Decimal digits, saturating (a step of 10^30 is a step larger than any field).
  static long long Num(const std::string& digits) {
    if (digits.empty()) throw std::invalid_argument("no digits");
    long long v = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') throw std::invalid_argument(digits);
      v = std::min(v * 10 + (c - '0'), 1'000'000'000LL);
    }
    return v;
  }

  static std::set<int> Expand(std::string f, int lo, int hi, const std::vector<std::string>& names,
                              int first_name) {
    for (auto& c : f) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (size_t i = 0; i < names.size(); ++i) {
      for (size_t p; (p = f.find(names[i])) != std::string::npos;) {
        f.replace(p, 3, std::to_string(first_name + static_cast<int>(i)));
      }
    }
    std::set<int> out;
    std::stringstream items(f);
    for (std::string item; std::getline(items, item, ',');) {
      long long step = 1;
      size_t slash = item.find('/');
      if (slash != std::string::npos) step = Num(item.substr(slash + 1));
      std::string base = item.substr(0, slash);
      long long a = lo, b = hi;
      size_t dash = base.find('-');
      if (base == "*") {
      } else if (dash != std::string::npos) {
        a = Num(base.substr(0, dash));
        b = Num(base.substr(dash + 1));
      } else {
        a = Num(base);
        b = slash == std::string::npos ? a : hi;
      }
      for (long long v = a; v <= b; v += step) out.insert(static_cast<int>(v));
    }
    return out;
  }

  std::set<int> minutes_, hours_, doms_, months_, dows_;
  bool either_ = false;
};

}  // namespace stagesync::schedule::testing
