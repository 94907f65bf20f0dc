// ControlServer: the agent's HTTP control API (health, readiness, pipeline status and the
// run/pause/resume/requeue actions) on cpp-httplib. It only translates requests into
// AgentControl calls and their results into JSON, so tests drive it with a fake agent.
// Thread-safety: Start/Stop/http() from one thread (the owner); the AgentControl is called from
// the server's small thread pool, concurrently. Routes, status codes and auth: control_server.cc.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "agent/control.h"
#include "stagesync/status.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace stagesync::agent {

struct ControlOptions {
  // "HOST:PORT" ("[::1]:PORT" for IPv6); port 0 binds an ephemeral port (tests). A host outside
  // loopback (127.0.0.0/8, ::1, localhost) needs a token. Default: 127.0.0.1:9464.
  std::string listen = "127.0.0.1:9464";
  // Bearer token every route but /healthz requires; empty = none. Never logged nor echoed.
  std::string token;
};

class ControlServer {
 public:
  // `agent` must outlive the server (or Stop() must have returned).
  ControlServer(AgentControl* agent, ControlOptions opts);
  ~ControlServer();  // Stop()s
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Binds the listen address and serves on a thread of its own until Stop(). InvalidArgument
  // naming agent.listen for an unparsable address or a non-loopback one without a token;
  // Unavailable naming the address when it cannot be bound (in use, no such interface).
  Status Start();
  // The bound port (the ephemeral one after port 0), 0 when not serving.
  int port() const { return port_; }
  // "HOST:PORT" as bound, e.g. "127.0.0.1:43817"; empty when not serving.
  std::string address() const;
  // Stops accepting, lets handlers in flight finish, joins the thread. Idempotent.
  void Stop();
  // The underlying server, for routes the agent adds (before Start()). Its pre-routing handler
  // (auth) and error handler (JSON 404/405) belong to this class: do not replace them.
  httplib::Server& http() { return *http_; }

 private:
  void InstallRoutes();

  AgentControl* agent_;
  ControlOptions opts_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  std::string host_;
  int port_ = 0;
};

// Whether a and b are equal, in time that depends on neither their contents nor their lengths
// (both are hashed with SHA-256, and the digests compared with CRYPTO_memcmp): a client timing
// answers learns nothing about a token.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// Whether `host` (of a listen address) is loopback: 127.0.0.0/8, ::1 (also as ::ffff:127.x) or
// "localhost".
bool IsLoopbackHost(std::string_view host);

// Splits "HOST:PORT" / "[V6]:PORT" / ":PORT" (host 127.0.0.1). InvalidArgument naming
// agent.listen on anything else (no port, port out of [0, 65535]).
Status ParseListen(std::string_view listen, std::string* host, int* port);

// A pipeline name as it may appear in a path: [A-Za-z0-9_.-]{1,64}.
bool ValidPipelineName(std::string_view name);

}  // namespace stagesync::agent
