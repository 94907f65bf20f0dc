// FaultProxy: a TCP proxy on loopback that sits between the agent and an emulator (or MariaDB)
// and breaks the wire the way real networks and gateways do. In HTTP mode it frames HTTP/1.1
// requests and responses (Content-Length and chunked), keeps client connections alive however
// the upstream behaves, and applies per-request faults chosen by a path substring, counted or
// by seeded probability:
//   kDropAfterCommit  forward the request, read the whole answer (the upstream has committed),
//                     then close the client connection without sending a byte. On a kept-alive
//                     connection this is exactly where libcurl silently resends a request.
//   kResetMidResponse send half of the answer, then reset the connection (SO_LINGER 0).
//   kStall            forward, then hold the answer for stall_ms before sending it.
//   kTruncateBody     send the headers and half of the body, then close.
//   kBadGateway       answer 502 with an HTML page without forwarding anything.
// In TCP mode it forwards bytes both ways and can reset a connection after N bytes.
// Thread-safe: knobs may be changed while requests flow; one thread per client connection.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace stagesync::testing {

enum class Fault { kNone, kDropAfterCommit, kResetMidResponse, kStall, kTruncateBody, kBadGateway };

struct FaultRule {
  FaultRule(Fault f, std::string path, int n, double p, std::string m = "")
      : fault(f), path_contains(std::move(path)), count(n), probability(p), method(std::move(m)) {}

  Fault fault = Fault::kNone;
  std::string path_contains;  // matched against the request target; "" = every request
  int count = 0;              // > 0: the next `count` matching requests (then spent)
  double probability = 0;     // count == 0: each matching request with this probability
  std::string method;         // "" = any; else only requests with this method (e.g. "PUT")
};

class FaultProxy {
 public:
  enum class Mode { kHttp, kTcp };

  FaultProxy(int upstream_port, Mode mode = Mode::kHttp, uint32_t seed = 1);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  bool Start(int port = 0);  // binds 127.0.0.1 (0 = any free port); false on failure
  void Stop();               // closes every connection and joins every thread
  int port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // HTTP mode. Rules are tried in order; the first that fires decides the request's fault.
  void AddRule(FaultRule rule);
  void ClearRules();
  void SetStallMs(int ms);  // Default: 2000

  // TCP mode: the next `connections` connections are reset once `bytes` bytes have gone from
  // the upstream to the client (0 connections = none).
  void ResetAfterBytes(int64_t bytes, int connections);

  // Stats.
  int64_t requests() const { return requests_; }        // HTTP requests read from clients
  int64_t forwarded() const { return forwarded_; }      // HTTP requests sent upstream
  int64_t connections() const { return connections_; }  // client connections accepted
  int64_t fired(Fault f) const;                         // faults applied, per kind

 private:
  void AcceptLoop();
  void ServeHttp(int client);
  void ServeTcp(int client);
  Fault Decide(const std::string& method, const std::string& target);
  void Track(int fd, bool add);
  bool Sleep(int ms);  // false if stopped meanwhile

  const int upstream_port_;
  const Mode mode_;
  std::atomic<int> port_{0};
  int listen_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;

  mutable std::mutex mu_;
  std::vector<FaultRule> rules_;
  std::mt19937 rng_;
  int stall_ms_ = 2000;
  int64_t reset_after_bytes_ = 0;
  int reset_connections_ = 0;
  std::map<Fault, int64_t> fired_;
  std::vector<std::thread> workers_;
  std::vector<int> open_fds_;

  std::atomic<int64_t> requests_{0};
  std::atomic<int64_t> forwarded_{0};
  std::atomic<int64_t> connections_{0};
};

}  // namespace stagesync::testing
