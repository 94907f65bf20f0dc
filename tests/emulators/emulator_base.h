// The half every vendor API emulator in tests/emulators/ shares: an httplib server on 127.0.0.1,
// request statistics, a clock offset, the gateway fault switches (5xx, truncation, latency, QPS
// limit, a counted throttle) and the main() of the stagesync-emu-* binaries. A vendor emulator
// derives from Emulator and supplies its routes, what each request is (ClassifyLocked) and its
// answers, so it holds its vendor's behaviour only.
// Thread-safety: every public method except Start/Stop may be called from any thread while the
// server runs (mu_ guards all state, the vendor's included). Start/Stop must not race each other.
// REQUIRES: a derived destructor calls Stop() first (server threads call its virtual methods).
#pragma once

#include <atomic>
#include <charconv>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace stagesync::emulators {

inline constexpr int64_t kSecondMs = 1000;
inline constexpr int64_t kDayMs = 86'400'000;
inline constexpr int64_t kBeijingOffsetMs = 8 * 3'600'000;  // the vendors' clocks run in UTC+8

int64_t SteadyMs();
int64_t SystemMs();
int64_t FloorSecond(int64_t ms);              // down to a whole second, negatives included
std::string FormatBeijing(int64_t epoch_ms);  // "yyyy-MM-dd HH:mm:ss" in UTC+8
// FormatBeijing's form -> epoch ms; with `date_only` also "yyyy-MM-dd" (its first second), and
// *date_only tells which it was. False on anything else.
bool ParseBeijing(std::string_view s, int64_t* out, bool* date_only = nullptr);
std::string FormatCents(int64_t cents);  // "12.05"

using Params = std::map<std::string, std::string>;
void ParseForm(std::string_view text, Params* out);  // "a=1&b=%20": URL-decoded, later keys win
Params QueryParams(const httplib::Request& req);     // of req.target, undecoded by httplib
std::string_view Param(const Params& params, std::string_view key);  // "" when absent

// Whole-string decimal parse; false on anything else (empty, sign where T is unsigned, junk).
template <typename T>
bool ParseNumber(std::string_view s, T* out) {
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return !s.empty() && ec == std::errc() && ptr == s.data() + s.size();
}

struct Reply {
  int status = 200;
  std::string body;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers = {};
};

// A fault that hits the next `left` calls whose key contains `filter` (ASCII case-insensitive;
// "" = every call). Only calls that match use it up.
struct CountedFault {
  int left = 0;
  std::string filter;
  bool Take(std::string_view key);
};

// What one request is, as the vendor tells it (ClassifyLocked).
struct Call {
  int endpoint = 0;        // the vendor's: its route's id, or what ClassifyLocked made of it
  std::string key;         // what RequestCount matches: a path, a service or a method name
  bool data = false;       // timed for the per-second figures and held to SetMaxQps
  bool faultable = false;  // takes the gateway faults of the default FaultLocked
  bool over_qps = false;   // set by Serve for data calls beyond SetMaxQps
};

class Emulator {
 public:
  virtual ~Emulator();
  Emulator(const Emulator&) = delete;
  Emulator& operator=(const Emulator&) = delete;

  bool Start(int port = 0);  // binds 127.0.0.1 (0 = any free port); false on failure
  void Stop();
  int port() const;
  std::string base_url() const;  // "http://127.0.0.1:PORT"

  // Clock: "now" = system_clock + offset (NowMsLocked); what it drives is the vendor's.
  void AdvanceClockMs(int64_t ms);

  // Gateway faults. The vendor's FaultLocked decides which calls take them and in what order
  // (default: faultable calls, 5xx > QPS limit > throttle). `key_filter` as in CountedFault.
  void Fail5xxNext(int n, const std::string& key_filter = "");  // HTTP 502 with an HTML body
  // The next n answers (default: of data calls, not faulted) are cut in half.
  void TruncateNext(int n, const std::string& key_filter = "");
  void SetLatencyMs(int ms);  // every request sleeps this long first
  void SetMaxQps(int qps);    // > 0: data calls beyond qps in one steady-clock second are refused

  // Stats. RequestCount counts requests whose key matches (KeyMatches; "" = all), faulted ones
  // included; the per-second figures cover data calls only, faulted ones included, at arrival.
  int64_t RequestCount(const std::string& key = "") const;
  int MaxRequestsInAnySecond() const;
  int MaxRequestsInAnyWindowMs(int window_ms) const;
  void ResetStats();

 protected:
  struct Route {
    std::string_view method;  // GET POST PUT DELETE
    std::string pattern;      // httplib regex
    int endpoint;
  };
  Emulator(std::string_view bad_gateway_html,
           std::string_view html_type = "text/html;charset=utf-8");

  virtual std::vector<Route> Routes() const = 0;
  // Everything below runs under mu_. Per request: ClassifyLocked; the latency sleep (unlocked);
  // FaultLocked; AnswerLocked when it found no fault; FinishLocked on whatever is sent.
  virtual Call ClassifyLocked(int endpoint, const httplib::Request& req) = 0;
  virtual std::optional<Reply> FaultLocked(const Call& call);
  virtual Reply QpsReplyLocked(const Call& call) = 0;
  virtual Reply ThrottleReplyLocked(const Call& call) { return QpsReplyLocked(call); }
  virtual Reply AnswerLocked(const Call& call, const httplib::Request& req) = 0;
  virtual void FinishLocked(const Call& call, bool faulted, Reply* reply);
  // Whether a request counted under `key` answers RequestCount(query). Default: a prefix.
  virtual bool KeyMatches(std::string_view key, std::string_view query) const;
  virtual void ResetVendorStatsLocked() {}

  int64_t NowMsLocked() const;
  // One knob set, or one figure read, under mu_.
  template <typename T>
  void Set(T* field, std::type_identity_t<T> value) {
    std::lock_guard<std::mutex> lock(mu_);
    *field = std::move(value);
  }
  template <typename T>
  T Get(const T& field) const {
    std::lock_guard<std::mutex> lock(mu_);
    return field;
  }
  Reply BadGateway() const;  // HTTP 502 with the vendor's HTML page
  static void Truncate(std::string* body);

  mutable std::mutex mu_;
  CountedFault fail5xx_;
  CountedFault truncate_;
  CountedFault throttle_;  // armed by the vendor's ThrottleNext

 private:
  void Serve(int endpoint, const httplib::Request& req, httplib::Response* res);

  const std::string bad_gateway_html_;
  const std::string html_type_;
  int64_t clock_offset_ms_ = 0;
  int latency_ms_ = 0;
  int max_qps_ = 0;
  int64_t qps_second_ = -1;
  int qps_count_ = 0;
  std::map<std::string, int64_t> counts_;  // by Call::key
  std::vector<int64_t> data_call_ms_;      // steady-clock arrival times, ascending

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<int> port_{0};
};

// One vendor flag of a stagesync-emu-* binary, given as "--name V" or "--name=V".
struct EmulatorFlag {
  std::string_view name;
  std::string_view placeholder;               // shown in the usage text
  std::function<bool(std::string_view)> set;  // false: a bad value
};
inline EmulatorFlag StringFlag(std::string_view name, std::string* out) {
  return {name, "S", [out](std::string_view v) {
            out->assign(v);
            return true;
          }};
}
template <typename T>
EmulatorFlag NumberFlag(std::string_view name, T* out, T min = 0) {
  return {name, "N", [out, min](std::string_view v) { return ParseNumber(v, out) && *out >= min; }};
}

// The main() of an emulator binary. Parses --port N, --port-file PATH (the port is written there
// through a rename, so a watcher never reads half of it), --latency-ms MS, --max-qps N and
// `flags`; then serves the emulator `make` builds until SIGINT/SIGTERM, printing
// "listening on 127.0.0.1:PORT" once the socket accepts connections. Returns the exit code:
// 2 for bad flags, 1 when it cannot listen or write the port file.
int EmulatorMain(int argc, char** argv, std::vector<EmulatorFlag> flags,
                 const std::function<std::unique_ptr<Emulator>()>& make);

}  // namespace stagesync::emulators
