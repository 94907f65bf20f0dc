#include "testing/fault_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <string_view>

namespace stagesync::testing {

namespace {

// A socket with what was read from it but not yet consumed.
struct Wire {
  explicit Wire(int f) : fd(f) {}
  int fd;
  std::string buf;
  bool eof = false;

  bool ReadMore() {
    if (eof) return false;
    char tmp[65536];
    for (;;) {
      ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
      if (n > 0) {
        buf.append(tmp, static_cast<size_t>(n));
        return true;
      }
      if (n < 0 && errno == EINTR) continue;
      eof = true;
      return false;
    }
  }
  // Takes exactly n bytes into *out.
  bool Take(size_t n, std::string* out) {
    while (buf.size() < n) {
      if (!ReadMore()) return false;
    }
    out->append(buf, 0, n);
    buf.erase(0, n);
    return true;
  }
  // Takes one line, CRLF included.
  bool Line(std::string* out) {
    size_t pos;
    while ((pos = buf.find("\r\n")) == std::string::npos) {
      if (!ReadMore()) return false;
    }
    out->append(buf, 0, pos + 2);
    buf.erase(0, pos + 2);
    return true;
  }
};

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The start line and header fields of one message.
struct Head {
  std::string start;
  std::vector<std::pair<std::string, std::string>> fields;  // name as sent, value trimmed

  std::string Get(std::string_view lower_name) const {
    for (const auto& [k, v] : fields) {
      if (Lower(k) == lower_name) return v;
    }
    return {};
  }
  void Remove(std::string_view lower_name) {
    fields.erase(std::remove_if(fields.begin(), fields.end(),
                                [&](const auto& f) { return Lower(f.first) == lower_name; }),
                 fields.end());
  }
  std::string Serialize() const {
    std::string out = start + "\r\n";
    for (const auto& [k, v] : fields) out += k + ": " + v + "\r\n";
    return out + "\r\n";
  }
};

bool ReadHead(Wire* w, Head* h) {
  std::string line;
  do {  // tolerate blank lines between messages (RFC 9112 2.2)
    line.clear();
    if (!w->Line(&line)) return false;
  } while (line == "\r\n");
  h->start = line.substr(0, line.size() - 2);
  h->fields.clear();
  for (;;) {
    line.clear();
    if (!w->Line(&line)) return false;
    if (line == "\r\n") return true;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string_view v(line);
    v = v.substr(colon + 1, v.size() - colon - 3);
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    h->fields.emplace_back(line.substr(0, colon), std::string(v));
  }
}

// Reads the body framed by `h` into *body, raw (chunk framing kept). `until_eof`: a response
// without Content-Length or chunking, delimited by the connection's end.
bool ReadBody(Wire* w, const Head& h, bool until_eof, std::string* body) {
  if (Lower(h.Get("transfer-encoding")).find("chunked") != std::string::npos) {
    for (;;) {
      std::string line;
      if (!w->Line(&line)) return false;
      body->append(line);
      size_t size = std::strtoul(line.c_str(), nullptr, 16);
      if (size == 0) {
        for (;;) {  // trailer fields, then the empty line
          line.clear();
          if (!w->Line(&line)) return false;
          body->append(line);
          if (line == "\r\n") return true;
        }
      }
      if (!w->Take(size + 2, body)) return false;
    }
  }
  std::string cl = h.Get("content-length");
  if (!cl.empty()) return w->Take(std::strtoull(cl.c_str(), nullptr, 10), body);
  if (until_eof) {
    while (w->ReadMore()) {
    }
    body->append(w->buf);
    w->buf.clear();
  }
  return true;
}

int ConnectLoopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

void SetResetOnClose(int fd) {
  linger l{1, 0};  // close() sends RST instead of FIN
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

}  // namespace

FaultProxy::FaultProxy(int upstream_port, Mode mode, uint32_t seed)
    : upstream_port_(upstream_port), mode_(mode), rng_(seed) {}

FaultProxy::~FaultProxy() { Stop(); }

bool FaultProxy::Start(int port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return false;
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listen_fd_, 128) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
    return false;
  }
  port_ = ntohs(a.sin_port);
  stopping_ = false;
  acceptor_ = std::thread([this] { AcceptLoop(); });
  return true;
}

void FaultProxy::Stop() {
  if (listen_fd_ < 0) return;
  stopping_ = true;
  if (acceptor_.joinable()) acceptor_.join();
  ::close(listen_fd_);
  listen_fd_ = -1;
  std::vector<std::thread> workers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);  // wakes blocked reads
    workers.swap(workers_);
  }
  for (auto& t : workers) t.join();
}

void FaultProxy::AddRule(FaultRule rule) {
  std::lock_guard<std::mutex> lock(mu_);
  rules_.push_back(std::move(rule));
}

void FaultProxy::ClearRules() {
  std::lock_guard<std::mutex> lock(mu_);
  rules_.clear();
}

void FaultProxy::SetStallMs(int ms) {
  std::lock_guard<std::mutex> lock(mu_);
  stall_ms_ = ms;
}

void FaultProxy::ResetAfterBytes(int64_t bytes, int connections) {
  std::lock_guard<std::mutex> lock(mu_);
  reset_after_bytes_ = bytes;
  reset_connections_ = connections;
}

int64_t FaultProxy::fired(Fault f) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = fired_.find(f);
  return it == fired_.end() ? 0 : it->second;
}

void FaultProxy::Track(int fd, bool add) {
  std::lock_guard<std::mutex> lock(mu_);
  if (add) {
    if (stopping_) {
      ::shutdown(fd, SHUT_RDWR);  // Stop already swept: don't let this one block
    }
    open_fds_.push_back(fd);
  } else {
    open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
  }
}

bool FaultProxy::Sleep(int ms) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < end) {
    if (stopping_) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return !stopping_;
}

void FaultProxy::AcceptLoop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ++connections_;
    Track(fd, true);
    std::lock_guard<std::mutex> lock(mu_);
    workers_.emplace_back([this, fd] {
      if (mode_ == Mode::kHttp) {
        ServeHttp(fd);
      } else {
        ServeTcp(fd);
      }
    });
  }
}

Fault FaultProxy::Decide(const std::string& method, const std::string& target) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& r : rules_) {
    if (target.find(r.path_contains) == std::string::npos) continue;
    if (!r.method.empty() && r.method != method) continue;
    bool fire = false;
    if (r.count > 0) {
      --r.count;
      fire = true;
    } else if (r.probability > 0) {
      fire = std::uniform_real_distribution<double>(0, 1)(rng_) < r.probability;
    }
    if (fire) {
      ++fired_[r.fault];
      return r.fault;
    }
  }
  return Fault::kNone;
}

void FaultProxy::ServeHttp(int client_fd) {
  Wire client{client_fd};
  bool reset = false;  // close with RST instead of FIN
  while (!stopping_) {
    Head req;
    std::string req_body;
    if (!ReadHead(&client, &req) || !ReadBody(&client, req, false, &req_body)) break;
    ++requests_;
    const bool client_close = Lower(req.Get("connection")) == "close";
    const std::string method = req.start.substr(0, req.start.find(' '));
    const size_t t0 = req.start.find(' ') + 1;
    const std::string target = req.start.substr(t0, req.start.rfind(' ') - t0);
    const Fault fault = Decide(method, target);

    if (fault == Fault::kBadGateway) {
      const std::string page = "<html><body><h1>502 Bad Gateway</h1></body></html>";
      std::string resp = "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: " +
                         std::to_string(page.size()) + "\r\n\r\n" + page;
      if (!SendAll(client.fd, resp) || client_close) break;
      continue;
    }

    // A fresh upstream connection per request: the proxy itself never has to guess whether an
    // upstream that closed an idle connection saw a request, so it never sends one twice.
    Wire up{ConnectLoopback(upstream_port_)};
    if (up.fd < 0) break;
    Track(up.fd, true);
    req.Remove("connection");
    req.fields.emplace_back("Connection", "close");
    ++forwarded_;
    bool ok = SendAll(up.fd, req.Serialize() + req_body);
    Head resp;
    std::string resp_body;
    if (ok) ok = ReadHead(&up, &resp);
    if (ok) {
      const int status = std::atoi(resp.start.c_str() + std::min<size_t>(resp.start.size(), 9));
      const bool bodiless = method == "HEAD" || status == 204 || status == 304 || status < 200;
      if (!bodiless) ok = ReadBody(&up, resp, true, &resp_body);
    }
    Track(up.fd, false);
    ::close(up.fd);
    if (!ok) break;  // the upstream failed: so does this connection (the client finds out)

    // The client's connection outlives the upstream's: frame the answer for keep-alive.
    resp.Remove("connection");
    resp.Remove("keep-alive");
    if (resp.Get("content-length").empty() && resp.Get("transfer-encoding").empty()) {
      resp.fields.emplace_back("Content-Length", std::to_string(resp_body.size()));
    }
    const std::string head = resp.Serialize();
    const std::string whole = head + resp_body;
    if (fault == Fault::kDropAfterCommit) break;  // committed upstream, nothing sent
    if (fault == Fault::kResetMidResponse) {
      SendAll(client.fd, std::string_view(whole).substr(0, std::max<size_t>(1, whole.size() / 2)));
      reset = true;
      break;
    }
    if (fault == Fault::kTruncateBody) {
      SendAll(client.fd, head + resp_body.substr(0, resp_body.size() / 2));
      break;
    }
    if (fault == Fault::kStall) {
      int ms;
      {
        std::lock_guard<std::mutex> lock(mu_);
        ms = stall_ms_;
      }
      if (!Sleep(ms)) break;
    }
    if (!SendAll(client.fd, whole) || client_close) break;
  }
  Track(client_fd, false);
  if (reset) SetResetOnClose(client_fd);
  ::close(client_fd);
}

void FaultProxy::ServeTcp(int client_fd) {
  int64_t limit = -1;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (reset_connections_ > 0) {
      --reset_connections_;
      limit = reset_after_bytes_;
    }
  }
  const int up_fd = ConnectLoopback(upstream_port_);
  bool reset = false;
  if (up_fd >= 0) {
    Track(up_fd, true);
    int64_t down_bytes = 0;
    char buf[65536];
    while (!stopping_) {
      pollfd p[2] = {{client_fd, POLLIN, 0}, {up_fd, POLLIN, 0}};
      if (::poll(p, 2, 100) < 0 && errno != EINTR) break;
      bool done = false;
      if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t n = ::recv(client_fd, buf, sizeof buf, 0);
        if (n <= 0 || !SendAll(up_fd, std::string_view(buf, static_cast<size_t>(n)))) done = true;
      }
      if (!done && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t n = ::recv(up_fd, buf, sizeof buf, 0);
        if (n <= 0) {
          done = true;
        } else {
          size_t send = static_cast<size_t>(n);
          if (limit >= 0 && down_bytes + n >= limit) {
            send = static_cast<size_t>(limit - down_bytes);
            reset = true;
          }
          SendAll(client_fd, std::string_view(buf, send));
          down_bytes += static_cast<int64_t>(send);
          if (reset) {
            std::lock_guard<std::mutex> lock(mu_);
            ++fired_[Fault::kResetMidResponse];
            done = true;
          }
        }
      }
      if (done) break;
    }
    Track(up_fd, false);
    if (reset) SetResetOnClose(up_fd);
    ::close(up_fd);
  }
  Track(client_fd, false);
  if (reset) SetResetOnClose(client_fd);
  ::close(client_fd);
}

}  // namespace stagesync::testing
