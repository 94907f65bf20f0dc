// The control API on cpp-httplib. Every route answers JSON ({"error":"..."} on failure) except
// /healthz. Status codes follow the AgentControl result: NotFound 404, FailedPrecondition 409,
// InvalidArgument 400, anything else 500; a bad token 401, an unknown route 404, a known path
// with the wrong method 405, a body over 64 KiB 413.
#include "agent/control_server.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <strings.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <regex>
#include <utility>
#include <vector>

#include "obs/redact.h"
#include "stagesync/json.h"

namespace stagesync::agent {

namespace {

using httplib::Request;
using httplib::Response;
using HandlerResponse = httplib::Server::HandlerResponse;

// Small on purpose: the API is for an operator and a monitor, not for load. Handlers are quick
// (they only ask the agent), so four threads keep /healthz answering while one action waits.
constexpr size_t kServerThreads = 4;
constexpr size_t kMaxBodyBytes = 64 << 10;
constexpr time_t kReadTimeoutS = 5;
constexpr time_t kWriteTimeoutS = 5;
constexpr time_t kKeepAliveTimeoutS = 5;
constexpr int kDefaultRunLimit = 20;
constexpr int kMaxRunLimit = 1000;

void SendJson(Response& res, int status, std::string body) {
  res.status = status;
  res.set_content(std::move(body), "application/json");
}

void SendError(Response& res, int status, std::string_view message) {
  SendJson(res, status, "{\"error\":" + json::Quote(message) + "}");
}

int HttpStatusOf(StatusCode code) {
  switch (code) {
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kFailedPrecondition:
      return 409;
    case StatusCode::kInvalidArgument:
      return 400;
    default:
      return 500;
  }
}

void SendResult(Response& res, const Result<std::string>& r) {
  if (r.ok()) {
    SendJson(res, 200, *r);
  } else {
    SendError(res, HttpStatusOf(r.status().code()), r.status().message());
  }
}

// The credentials of "Authorization: Bearer <token>" (RFC 6750 2.1); false for another scheme.
bool BearerToken(std::string_view header, std::string_view* token) {
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() < kScheme.size() ||
      ::strncasecmp(header.data(), kScheme.data(), kScheme.size()) != 0) {
    return false;
  }
  header.remove_prefix(kScheme.size());
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  while (!header.empty() && header.back() == ' ') header.remove_suffix(1);
  *token = header;
  return true;
}

// `sink` / `key` of a requeue: from the query string or a JSON body {"sink":..,"key":..}; the
// same field given both ways must agree.
Status RequeueArgs(const Request& req, std::string* sink, std::string* key) {
  *sink = req.get_param_value("sink");
  *key = req.get_param_value("key");
  const std::string type = req.get_header_value("Content-Type");
  // httplib has already merged a form body into the params.
  if (req.body.empty() || type.rfind("application/x-www-form-urlencoded", 0) == 0) {
    return Status::Ok();
  }
  auto body = json::Parse(req.body);
  if (!body.ok()) return body.status().WithContext("request body");
  if (!body->is_object()) return InvalidArgument("request body: must be a JSON object");
  for (const auto& [name, value] : body->members()) {
    std::string* field = name == "sink" ? sink : name == "key" ? key : nullptr;
    if (field == nullptr) return InvalidArgument("request body: unknown member " + name);
    if (!value.is_string()) return InvalidArgument("request body: " + name + " must be a string");
    if (!field->empty() && *field != value.text()) {
      return InvalidArgument(name + " given twice (query and body) with different values");
    }
    *field = value.text();
  }
  return Status::Ok();
}

}  // namespace

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // Digests have one length whatever the inputs, so neither the comparison nor its loop can
  // stop early on a length mismatch or the first differing byte.
  unsigned char da[SHA256_DIGEST_LENGTH];
  unsigned char db[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(a.data()), a.size(), da);
  SHA256(reinterpret_cast<const unsigned char*>(b.data()), b.size(), db);
  return CRYPTO_memcmp(da, db, sizeof(da)) == 0;
}

bool IsLoopbackHost(std::string_view host) {
  std::string h(host);
  if (::strcasecmp(h.c_str(), "localhost") == 0) return true;
  in_addr v4{};
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

Status ParseListen(std::string_view listen, std::string* host, int* port) {
  auto bad = [&](std::string_view why) {
    return InvalidArgument("agent.listen: " + std::string(listen) + ": " + std::string(why) +
                           " (expected HOST:PORT, e.g. 127.0.0.1:9464 or [::1]:9464)");
  };
  size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos) return bad("no port");
  std::string_view h = listen.substr(0, colon);
  std::string_view p = listen.substr(colon + 1);
  if (!h.empty() && h.front() == '[') {
    if (h.back() != ']' || h.size() < 3) return bad("unbalanced [ ]");
    h = h.substr(1, h.size() - 2);
  } else if (h.find(':') != std::string_view::npos) {
    return bad("an IPv6 address must be in brackets");
  }
  int n = -1;
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), n);
  if (p.empty() || ec != std::errc() || ptr != p.data() + p.size() || n < 0 || n > 65535) {
    return bad("port must be a number in [0, 65535]");
  }
  *host = h.empty() ? "127.0.0.1" : std::string(h);
  *port = n;
  return Status::Ok();
}

bool ValidPipelineName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

ControlServer::ControlServer(AgentControl* agent, ControlOptions opts)
    : agent_(agent), opts_(std::move(opts)), http_(std::make_unique<httplib::Server>()) {
  InstallRoutes();
}

ControlServer::~ControlServer() { Stop(); }

void ControlServer::InstallRoutes() {
  httplib::Server& s = *http_;
  s.new_task_queue = [] { return new httplib::ThreadPool(kServerThreads); };
  s.set_payload_max_length(kMaxBodyBytes);
  s.set_read_timeout(kReadTimeoutS, 0);
  s.set_write_timeout(kWriteTimeoutS, 0);
  s.set_keep_alive_timeout(kKeepAliveTimeoutS);
  s.set_keep_alive_max_count(100);

  // Auth before anything else (routing, reading a body): a client without the token learns
  // only that it needs one. /healthz stays open for probes that hold no secrets.
  s.set_pre_routing_handler([this](const Request& req, Response& res) {
    // Answers are redacted after routing (below), but httplib compresses a body before the
    // post-routing handler sees it: never compress (answers are small; the API is local).
    // `req` is httplib's own mutable request, handed over as const.
    const_cast<Request&>(req).headers.erase("Accept-Encoding");
    if (!opts_.token.empty() && req.path != "/healthz") {
      const std::string header = req.get_header_value("Authorization");
      std::string_view given;  // points into `header`
      const bool has = BearerToken(header, &given);
      if (!has || !ConstantTimeEquals(given, opts_.token)) {
        res.set_header("WWW-Authenticate",
                       has ? "Bearer realm=\"stagesync\", error=\"invalid_token\""
                           : "Bearer realm=\"stagesync\"");
        SendError(res, 401, has ? "invalid bearer token" : "bearer token required");
        return HandlerResponse::Handled;
      }
    }
    if (req.method != "GET" && req.method != "HEAD" && req.method != "POST") {
      res.set_header("Allow", "GET, POST");
      SendError(res, 405, "method " + req.method + " not allowed");
      return HandlerResponse::Handled;
    }
    return HandlerResponse::Unhandled;
  });

  // Routing failures (404 from httplib, 413 for a large body, 400 for a bad request) as JSON;
  // a known path asked with the wrong method is a 405.
  struct Known {
    std::regex path;
    const char* allow;
  };
  auto known = std::make_shared<std::vector<Known>>();
  known->push_back({std::regex("/healthz|/readyz|/api/pipelines|/api/pipelines/[^/]+"), "GET"});
  known->push_back({std::regex("/api/pipelines/[^/]+/(run|pause|resume|requeue)"), "POST"});
  s.set_error_handler(
      httplib::Server::HandlerWithResponse([known](const Request& req, Response& res) {
        if (!res.body.empty()) return HandlerResponse::Unhandled;  // a handler's own answer
        if (res.status == 404) {
          for (const Known& k : *known) {
            if (std::regex_match(req.path, k.path)) {
              res.set_header("Allow", k.allow);
              SendError(res, 405, "method " + req.method + " not allowed (use " + k.allow + ")");
              return HandlerResponse::Handled;
            }
          }
          SendError(res, 404, "no such route: " + req.method + " " + req.path);
        } else if (res.status == 413) {
          SendError(res, 413, "request body exceeds " + std::to_string(kMaxBodyBytes) + " bytes");
        } else {
          SendError(res, res.status, res.status == 400 ? "bad request" : "request failed");
        }
        return HandlerResponse::Handled;
      }));
  s.set_exception_handler([](const Request&, Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what += std::string(": ") + e.what();
    } catch (...) {
    }
    SendError(res, 500, what);
  });

  // Every answer, including routes other modules add through http(), leaves redacted: no
  // configured secret, token or session id reaches a client. (A streamed content-provider body
  // is not seen here; routes must set_content.)
  s.set_post_routing_handler([](const Request&, Response& res) {
    if (res.body.empty() || res.has_header("Content-Encoding")) return;
    std::string clean = obs::Redact(res.body);
    if (clean.size() == res.body.size() && clean == res.body) return;
    res.body = std::move(clean);
    res.headers.erase("Content-Length");
    res.set_header("Content-Length", std::to_string(res.body.size()));
  });

  s.Get("/healthz", [](const Request&, Response& res) { res.set_content("ok\n", "text/plain"); });
  s.Get("/readyz", [this](const Request&, Response& res) {
    std::string why;
    if (agent_->Ready(&why)) {
      SendJson(res, 200, "{\"ready\":true}");
    } else {
      SendJson(res, 503, "{\"ready\":false,\"why\":" + json::Quote(why) + "}");
    }
  });
  s.Get("/api/pipelines",
        [this](const Request&, Response& res) { SendJson(res, 200, agent_->PipelinesJson()); });
  s.Get("/api/pipelines/([^/]+)", [this](const Request& req, Response& res) {
    const std::string name = req.matches[1];
    if (!ValidPipelineName(name)) return SendError(res, 400, "bad pipeline name");
    int limit = kDefaultRunLimit;
    if (req.has_param("limit")) {
      const std::string v = req.get_param_value("limit");
      auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), limit);
      if (v.empty() || ec != std::errc() || ptr != v.data() + v.size() || limit < 1 ||
          limit > kMaxRunLimit) {
        return SendError(res, 400,
                         "limit must be a number in [1, " + std::to_string(kMaxRunLimit) + "]");
      }
    }
    SendResult(res, agent_->PipelineJson(name, limit));
  });
  s.Post("/api/pipelines/([^/]+)/(run|pause|resume|requeue)",
         [this](const Request& req, Response& res) {
           const std::string name = req.matches[1];
           const std::string action = req.matches[2];
           if (!ValidPipelineName(name)) return SendError(res, 400, "bad pipeline name");
           if (action == "run") return SendResult(res, agent_->RunNow(name));
           if (action == "pause") return SendResult(res, agent_->Pause(name));
           if (action == "resume") return SendResult(res, agent_->Resume(name));
           std::string sink, key;
           if (Status st = RequeueArgs(req, &sink, &key); !st.ok()) {
             return SendError(res, 400, st.message());
           }
           SendResult(res, agent_->Requeue(name, sink, key));
         });
}

Status ControlServer::Start() {
  if (thread_.joinable()) return FailedPrecondition("control server already started");
  std::string host;
  int port = 0;
  SS_RETURN_IF_ERROR(ParseListen(opts_.listen, &host, &port));
  if (opts_.token.empty() && !IsLoopbackHost(host)) {
    return InvalidArgument("agent.listen: " + opts_.listen +
                           " is not a loopback address and agent.token is empty: anyone who "
                           "can reach it could run, pause and requeue pipelines; set "
                           "agent.token or listen on 127.0.0.1");
  }
  // httplib's default socket options set SO_REUSEPORT, which would let a second agent share the
  // port (and half the requests) instead of failing to start.
  http_->set_socket_options([](int sock) {
    const int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  const std::string shown = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  errno = 0;
  int bound = port;
  bool ok = true;
  if (port == 0) {
    bound = http_->bind_to_any_port(host);
    ok = bound > 0;
  } else {
    ok = http_->bind_to_port(host, port);
  }
  if (!ok) {
    const int err = errno;
    return Unavailable("agent.listen: cannot listen on " + shown + ":" + std::to_string(port) +
                       (err != 0 ? std::string(": ") + std::strerror(err) : std::string()) +
                       " (is another stagesync agent running?)");
  }
  httplib::Server* raw = http_.get();
  thread_ = std::thread([raw] { raw->listen_after_bind(); });
  // stop() is a no-op until the accept loop runs: wait for it so Stop() right after works.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!raw->is_running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!raw->is_running()) {
    Stop();
    return Internal("agent.listen: the control server did not start on " + shown);
  }
  host_ = shown;
  port_ = bound;
  return Status::Ok();
}

std::string ControlServer::address() const {
  return port_ == 0 ? std::string() : host_ + ":" + std::to_string(port_);
}

void ControlServer::Stop() {
  if (!thread_.joinable()) return;
  http_->stop();
  thread_.join();
  port_ = 0;
}

}  // namespace stagesync::agent
