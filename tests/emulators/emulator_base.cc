#include "emulators/emulator_base.h"

#include <fmt/format.h>
#include <httplib.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>

namespace stagesync::emulators {
namespace {

constexpr int kServerThreads = 32;
constexpr int kListenBacklog = 512;
// httplib keeps an idle keep-alive connection's worker busy this long, which bounds Stop().
constexpr time_t kKeepAliveTimeoutS = 2;

char LowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool ContainsIgnoringCase(std::string_view s, std::string_view needle) {
  return needle.empty() ||
         std::search(s.begin(), s.end(), needle.begin(), needle.end(),
                     [](char a, char b) { return LowerAscii(a) == LowerAscii(b); }) != s.end();
}

}  // namespace

int64_t SteadyMs() {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  return duration_cast<milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int64_t SystemMs() {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  return duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

int64_t FloorSecond(int64_t ms) { return ms - ((ms % kSecondMs) + kSecondMs) % kSecondMs; }

std::string FormatBeijing(int64_t epoch_ms) {
  using namespace std::chrono;
  const sys_time<milliseconds> tp{milliseconds{epoch_ms + kBeijingOffsetMs}};
  const auto day = floor<days>(tp);
  const year_month_day ymd{day};
  const hh_mm_ss hms{floor<seconds>(tp - day)};
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                     hms.hours().count(), hms.minutes().count(), hms.seconds().count());
}

namespace {

bool Digits(std::string_view s, int* out) {
  int v = 0;
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

}  // namespace

bool ParseBeijing(std::string_view s, int64_t* out, bool* date_only) {
  const bool day_only = s.size() == 10 && date_only != nullptr;
  if ((!day_only && s.size() != 19) || s[4] != '-' || s[7] != '-') return false;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  if (!Digits(s.substr(0, 4), &y) || !Digits(s.substr(5, 2), &mo) || !Digits(s.substr(8, 2), &d)) {
    return false;
  }
  if (!day_only && (s[10] != ' ' || s[13] != ':' || s[16] != ':' || !Digits(s.substr(11, 2), &h) ||
                    !Digits(s.substr(14, 2), &mi) || !Digits(s.substr(17, 2), &se) || h > 23 ||
                    mi > 59 || se > 59)) {
    return false;
  }
  using namespace std::chrono;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)},
                           day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return false;
  const int64_t day_ms = duration_cast<milliseconds>(sys_days{ymd}.time_since_epoch()).count();
  *out = day_ms + ((int64_t{h} * 60 + mi) * 60 + se) * kSecondMs - kBeijingOffsetMs;
  if (date_only != nullptr) *date_only = day_only;
  return true;
}

std::string FormatCents(int64_t cents) { return fmt::format("{}.{:02}", cents / 100, cents % 100); }

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string UrlDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

void ParseForm(std::string_view text, Params* out) {
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t amp = text.find('&', pos);
    if (amp == std::string_view::npos) amp = text.size();
    const std::string_view pair = text.substr(pos, amp - pos);
    if (!pair.empty()) {
      const size_t eq = pair.find('=');
      std::string key = UrlDecode(pair.substr(0, eq));
      std::string value = eq == std::string_view::npos ? "" : UrlDecode(pair.substr(eq + 1));
      (*out)[std::move(key)] = std::move(value);
    }
    pos = amp + 1;
  }
}

Params QueryParams(const httplib::Request& req) {
  Params params;
  if (const size_t q = req.target.find('?'); q != std::string::npos) {
    ParseForm(std::string_view(req.target).substr(q + 1), &params);
  }
  return params;
}

std::string_view Param(const Params& params, std::string_view key) {
  auto it = params.find(std::string(key));
  return it == params.end() ? std::string_view() : std::string_view(it->second);
}

bool CountedFault::Take(std::string_view key) {
  if (left <= 0 || !ContainsIgnoringCase(key, filter)) return false;
  --left;
  return true;
}

Emulator::Emulator(std::string_view bad_gateway_html, std::string_view html_type)
    : bad_gateway_html_(bad_gateway_html), html_type_(html_type) {}

Emulator::~Emulator() { Stop(); }

bool Emulator::Start(int port) {
  if (server_) return false;
  auto server = std::make_unique<httplib::Server>();
  server->new_task_queue = [] { return new httplib::ThreadPool(kServerThreads); };
  server->set_keep_alive_max_count(100000);
  server->set_keep_alive_timeout(kKeepAliveTimeoutS);
  // httplib writes headers and body separately; with Nagle that costs a delayed-ACK per reply.
  server->set_tcp_nodelay(true);
  for (const Route& route : Routes()) {
    auto handler = [this, ep = route.endpoint](const httplib::Request& req,
                                               httplib::Response& res) { Serve(ep, req, &res); };
    if (route.method == "GET") server->Get(route.pattern, handler);
    if (route.method == "POST") server->Post(route.pattern, handler);
    if (route.method == "PUT") server->Put(route.pattern, handler);
    if (route.method == "DELETE") server->Delete(route.pattern, handler);
  }

  // httplib's default options add SO_REUSEPORT, which lets a second emulator share a busy port
  // instead of failing. Its backlog of 5 also drops SYNs under a burst of parallel connects (a
  // 1 s client retransmit each), so the socket is re-listened with a larger one below.
  auto listen_fd = std::make_shared<int>(-1);
  server->set_socket_options([listen_fd](int sock) {
    const int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    *listen_fd = sock;
  });

  int bound = port;
  if (port == 0) {
    bound = server->bind_to_any_port("127.0.0.1");
    if (bound <= 0) return false;
  } else if (!server->bind_to_port("127.0.0.1", port)) {
    return false;
  }
  if (*listen_fd >= 0) ::listen(*listen_fd, kListenBacklog);
  httplib::Server* raw = server.get();
  thread_ = std::thread([raw] { raw->listen_after_bind(); });
  // stop() is a no-op until the accept loop runs, so wait for it before handing out the port.
  const int64_t deadline = SteadyMs() + 5000;
  while (!raw->is_running() && SteadyMs() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  server_ = std::move(server);
  if (!raw->is_running()) {
    Stop();
    return false;
  }
  port_ = bound;
  return true;
}

void Emulator::Stop() {
  if (!server_) return;
  server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
  port_ = 0;
}

int Emulator::port() const { return port_; }

std::string Emulator::base_url() const { return fmt::format("http://127.0.0.1:{}", port_.load()); }

int64_t Emulator::NowMsLocked() const { return SystemMs() + clock_offset_ms_; }

void Emulator::AdvanceClockMs(int64_t ms) {
  std::lock_guard<std::mutex> lock(mu_);
  clock_offset_ms_ += ms;
}

void Emulator::Fail5xxNext(int n, const std::string& key_filter) {
  Set(&fail5xx_, {n, key_filter});
}

void Emulator::TruncateNext(int n, const std::string& key_filter) {
  Set(&truncate_, {n, key_filter});
}

void Emulator::SetLatencyMs(int ms) { Set(&latency_ms_, ms); }

void Emulator::SetMaxQps(int qps) { Set(&max_qps_, qps); }

Reply Emulator::BadGateway() const { return {502, bad_gateway_html_, html_type_, {}}; }

void Emulator::Truncate(std::string* body) { body->resize(std::max<size_t>(1, body->size() / 2)); }

// ---------------------------------------------------------------------------------------------
// Stats

bool Emulator::KeyMatches(std::string_view key, std::string_view query) const {
  return key.starts_with(query);
}

int64_t Emulator::RequestCount(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t total = 0;
  for (const auto& [k, count] : counts_) {
    if (KeyMatches(k, key)) total += count;
  }
  return total;
}

int Emulator::MaxRequestsInAnySecond() const {
  std::lock_guard<std::mutex> lock(mu_);
  int best = 0;
  int run = 0;
  int64_t bucket = std::numeric_limits<int64_t>::min();
  for (int64_t t : data_call_ms_) {
    if (t / 1000 != bucket) {
      bucket = t / 1000;
      run = 0;
    }
    best = std::max(best, ++run);
  }
  return best;
}

int Emulator::MaxRequestsInAnyWindowMs(int window_ms) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (window_ms <= 0) return 0;
  size_t best = 0;
  size_t lo = 0;
  for (size_t hi = 0; hi < data_call_ms_.size(); ++hi) {
    while (data_call_ms_[hi] - data_call_ms_[lo] >= window_ms) ++lo;
    best = std::max(best, hi - lo + 1);
  }
  return static_cast<int>(best);
}

void Emulator::ResetStats() {
  std::lock_guard<std::mutex> lock(mu_);
  counts_.clear();
  data_call_ms_.clear();
  ResetVendorStatsLocked();
}

// ---------------------------------------------------------------------------------------------
// HTTP

std::optional<Reply> Emulator::FaultLocked(const Call& call) {
  if (!call.faultable) return std::nullopt;
  if (fail5xx_.Take(call.key)) return BadGateway();
  if (call.over_qps) return QpsReplyLocked(call);
  if (throttle_.Take(call.key)) return ThrottleReplyLocked(call);
  return std::nullopt;
}

void Emulator::FinishLocked(const Call& call, bool faulted, Reply* reply) {
  if (call.data && !faulted && truncate_.Take(call.key)) Truncate(&reply->body);
}

void Emulator::Serve(int endpoint, const httplib::Request& req, httplib::Response* res) {
  Call call;
  int latency_ms = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    call = ClassifyLocked(endpoint, req);
    ++counts_[call.key];
    latency_ms = latency_ms_;
    if (call.data) {
      const int64_t now = SteadyMs();
      data_call_ms_.push_back(now);
      if (now / 1000 != qps_second_) {
        qps_second_ = now / 1000;
        qps_count_ = 0;
      }
      call.over_qps = max_qps_ > 0 && ++qps_count_ > max_qps_;
    }
  }
  if (latency_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(latency_ms));

  Reply reply;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::optional<Reply> fault = FaultLocked(call);
    reply = fault ? std::move(*fault) : AnswerLocked(call, req);
    FinishLocked(call, fault.has_value(), &reply);
  }
  res->status = reply.status;
  for (const auto& [name, value] : reply.headers) res->set_header(name, value);
  res->set_content(reply.body, reply.content_type);
}

// ---------------------------------------------------------------------------------------------
// main()

namespace {

// Written to a temporary file and renamed so a watcher never reads a partial port.
bool WritePortFile(const std::string& path, int port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out.flush()) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

std::string Usage(std::string_view program, const std::vector<EmulatorFlag>& flags) {
  std::string out = fmt::format("usage: {}", program);
  size_t line_start = 0;
  for (const EmulatorFlag& f : flags) {
    const std::string item = fmt::format(" [{} {}]", f.name, f.placeholder);
    if (out.size() - line_start + item.size() > 96) {
      out += "\n        ";
      line_start = out.size() - 8;
    }
    out += item;
  }
  return out + "\n";
}

}  // namespace

int EmulatorMain(int argc, char** argv, std::vector<EmulatorFlag> flags,
                 const std::function<std::unique_ptr<Emulator>()>& make) {
  int port = 0;
  int latency_ms = 0;
  int max_qps = 0;
  std::string port_file;
  flags.insert(flags.begin(),
               {NumberFlag("--port", &port), StringFlag("--port-file", &port_file),
                NumberFlag("--latency-ms", &latency_ms), NumberFlag("--max-qps", &max_qps)});
  const std::string usage =
      Usage(std::filesystem::path(argc > 0 ? argv[0] : "emulator").filename().string(), flags);
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << usage;
      return 0;
    }
    std::string_view name = arg;
    std::string_view value;
    if (const size_t eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      std::cerr << "missing value for " << arg << "\n" << usage;
      return 2;
    }
    auto flag = std::find_if(flags.begin(), flags.end(), [&](auto& f) { return f.name == name; });
    if (flag == flags.end()) {
      std::cerr << "unknown flag " << name << "\n" << usage;
      return 2;
    }
    if (!flag->set(value) || (name == "--port" && port >= 65536)) {
      std::cerr << "bad value for " << name << ": " << value << "\n";
      return 2;
    }
  }

  // Block the stop signals before any thread exists so every thread inherits the mask and
  // sigwait below is the only receiver.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::unique_ptr<Emulator> emulator = make();
  emulator->SetLatencyMs(latency_ms);
  emulator->SetMaxQps(max_qps);
  if (!emulator->Start(port)) {
    std::cerr << "cannot listen on 127.0.0.1:" << port << "\n";
    return 1;
  }
  if (!port_file.empty() && !WritePortFile(port_file, emulator->port())) {
    std::cerr << "cannot write port file " << port_file << "\n";
    return 1;
  }
  std::cout << "listening on 127.0.0.1:" << emulator->port() << std::endl;

  int sig = 0;
  sigwait(&stop_signals, &sig);
  emulator->Stop();
  return 0;
}

}  // namespace stagesync::emulators
