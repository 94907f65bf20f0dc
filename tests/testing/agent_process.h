// AgentProcess: the real `stagesync run` as a child process, for the agent's process tests
// (tests/agent/): started on a free loopback port, waited for until /readyz answers 200, asked
// over its control API (cpp-httplib client, answers parsed with json::Parse) and stopped with
// SIGTERM with the time it took measured. Also AgentConfig, the config edits those tests need
// (schedules, the `agent` section). Not thread-safe; one object per agent process.
#pragma once

#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "stagesync/json.h"
#include "testing/payment_pipeline.h"
#include "testing/subprocess.h"

namespace stagesync::testing {

// A loopback port nothing listens on right now (bound to port 0, read, closed): the agent's
// config check may refuse port 0, so each test picks its port this way.
inline int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

inline int64_t SteadyNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Polls `done` every `every_ms` until it holds (true) or `timeout_ms` passed (false).
template <typename F>
bool WaitFor(F done, int64_t timeout_ms, int every_ms = 20) {
  const int64_t deadline = SteadyNowMs() + timeout_ms;
  while (true) {
    if (done()) return true;
    if (SteadyNowMs() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(every_ms));
  }
}

struct AgentSection {
  int shutdown_grace_s = 10;
  int backoff_base_s = 1;
  int backoff_max_s = 2;
  int max_parallel_pipelines = 4;
};

// `config_json` with the `agent` section set and every pipeline on `schedule` (e.g. "@every 1s").
inline std::string AgentConfig(const std::string& config_json, const std::string& schedule,
                               const AgentSection& a = {}) {
  json::Value root = *json::Parse(config_json);
  SetMember(&root, "agent",
            *json::Parse(fmt::format(
                R"({{"shutdown_grace_s": {}, "backoff_base_s": {},
                                    "backoff_max_s": {}, "max_parallel_pipelines": {}}})",
                a.shutdown_grace_s, a.backoff_base_s, a.backoff_max_s, a.max_parallel_pipelines)));
  for (auto& [name, p] : Member(&root, "pipelines")->mutable_members()) {
    SetMember(&p, "schedule", json::Value::String(schedule));
  }
  return json::Serialize(root);
}

class AgentProcess {
 public:
  struct Stopped {
    int code = -1;           // exit code, 128+signal when killed
    int64_t elapsed_ms = 0;  // from the signal to the exit
  };

  // Starts `binary --config config run --listen 127.0.0.1:PORT` on a free port; stdout and
  // stderr appended to `log_file`.
  bool Start(const std::string& binary, const std::string& config, const std::string& log_file,
             const std::vector<std::string>& env = {}) {
    port_ = FreeLoopbackPort();
    if (port_ == 0) return false;
    return proc_.Start({binary, "--config", config, "run", "--listen", address()}, env, log_file);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  Subprocess& process() { return proc_; }

  // HTTP status of GET `path`, 0 when nothing answered.
  int GetStatus(const std::string& path, std::string* body = nullptr) {
    httplib::Client cli("127.0.0.1", port_);
    cli.set_connection_timeout(1, 0);
    cli.set_read_timeout(5, 0);
    auto res = cli.Get(path.c_str());
    if (!res) return 0;
    if (body != nullptr) *body = res->body;
    return res->status;
  }
  int PostStatus(const std::string& path, std::string* body = nullptr) {
    httplib::Client cli("127.0.0.1", port_);
    cli.set_connection_timeout(1, 0);
    cli.set_read_timeout(5, 0);
    auto res = cli.Post(path.c_str());
    if (!res) return 0;
    if (body != nullptr) *body = res->body;
    return res->status;
  }

  // Waits until GET /readyz answers 200; false when the process exited or time ran out.
  bool WaitReady(int64_t timeout_ms = 15000) {
    return WaitFor([&] { return Exited() || GetStatus("/readyz") == 200; }, timeout_ms) &&
           !Exited();
  }
  // True once the process has exited (then exit_code() says how).
  bool Exited() {
    int code = 0;
    if (!exited_ && proc_.Poll(&code)) {
      exited_ = true;
      exit_code_ = code;
    }
    return exited_;
  }
  int exit_code() const { return exit_code_; }

  // GET /api/pipelines, parsed; nullopt when it did not answer 200 with JSON.
  std::optional<json::Value> Pipelines() {
    std::string body;
    if (GetStatus("/api/pipelines", &body) != 200) return std::nullopt;
    auto v = json::Parse(body);
    if (!v.ok()) return std::nullopt;
    return std::move(v).value();
  }
  // One pipeline's object from GET /api/pipelines.
  std::optional<json::Value> Pipeline(const std::string& name) {
    auto all = Pipelines();
    if (!all) return std::nullopt;
    const json::Value* list = all->Find("pipelines");
    if (list == nullptr) return std::nullopt;
    for (const auto& p : list->items()) {
      const json::Value* n = p.Find("name");
      if (n != nullptr && n->text() == name) return p;
    }
    return std::nullopt;
  }

  // SIGTERM, then waits for the exit (SIGKILL after `timeout_ms`, reported as 128+9).
  Stopped Terminate(int64_t timeout_ms) {
    Stopped s;
    if (Exited()) {
      s.code = exit_code_;
      return s;
    }
    const int64_t start = SteadyNowMs();
    proc_.Signal(SIGTERM);
    if (!WaitFor([&] { return Exited(); }, timeout_ms, 5)) {
      proc_.Kill();
      exit_code_ = proc_.Wait();
      exited_ = true;
    }
    s.code = exit_code_;
    s.elapsed_ms = SteadyNowMs() - start;
    return s;
  }

 private:
  Subprocess proc_;
  int port_ = 0;
  bool exited_ = false;
  int exit_code_ = -1;
};

// Integer member `key` of `obj` (dotted paths not supported); `fallback` when absent or null.
inline int64_t IntOf(const json::Value* obj, const std::string& key, int64_t fallback = -1) {
  if (obj == nullptr) return fallback;
  const json::Value* v = obj->Find(key);
  int64_t n = 0;
  if (v == nullptr || !v->AsInt64(&n)) return fallback;
  return n;
}

inline std::string TextOf(const json::Value* obj, const std::string& key) {
  if (obj == nullptr) return "";
  const json::Value* v = obj->Find(key);
  return v == nullptr ? "" : v->text();
}

// The sink object named `sink` of a pipeline object (its "sinks" array).
inline const json::Value* SinkOf(const json::Value& pipeline, const std::string& sink) {
  const json::Value* list = pipeline.Find("sinks");
  if (list == nullptr) return nullptr;
  for (const auto& s : list->items()) {
    if (TextOf(&s, "name") == sink) return &s;
  }
  return nullptr;
}

}  // namespace stagesync::testing
