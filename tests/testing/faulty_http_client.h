// FaultyHttpClient: wraps any HttpClient (a FakeHttpClient, or the real one in front of an
// emulator) and breaks the next N calls the way networks and gateways do: a transport
// error, a timeout, an HTTP status with a body, or a reply dropped after the request was
// delivered (the inner client carried it out, the caller sees Unavailable). It also logs every
// request and runs a test's hook after each answer, so a test can change the emulator between
// two pages of one fetch exactly where it wants. Thread-safe (the hook runs on the calling
// thread, outside the lock).
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "stagesync/http.h"

namespace stagesync::testing {

struct HttpFault {
  enum class Kind { kUnavailable, kDeadlineExceeded, kStatus, kDropAfterDelivery };
  HttpFault(Kind k) : kind(k) {}  // NOLINT: implicit, so a Kind reads as a fault
  static HttpFault Answer(int status, std::string body) {
    HttpFault f(Kind::kStatus);
    f.status = status;
    f.body = std::move(body);
    return f;
  }

  Kind kind;
  int status = 0;    // kStatus
  std::string body;  // kStatus
};

class FaultyHttpClient final : public HttpClient {
 public:
  using Hook = std::function<void(const HttpRequest&, const Result<HttpResponse>&)>;

  explicit FaultyHttpClient(HttpClient* inner) : inner_(inner) {}
  explicit FaultyHttpClient(std::unique_ptr<HttpClient> inner)
      : owned_(std::move(inner)), inner_(owned_.get()) {}

  // The next `n` requests fail as `f` says (after any faults queued before).
  void FailNext(int n, HttpFault f) {
    std::lock_guard<std::mutex> lock(mu_);
    faults_.emplace_back(n, std::move(f));
  }
  void SetHook(Hook hook) {
    std::lock_guard<std::mutex> lock(mu_);
    hook_ = std::move(hook);
  }

  Result<HttpResponse> Send(const HttpRequest& req) override {
    std::optional<HttpFault> fault;
    Hook hook;
    {
      std::lock_guard<std::mutex> lock(mu_);
      log_.push_back(req.url + "\n" + req.body);
      while (!faults_.empty() && faults_.front().first <= 0) faults_.pop_front();
      if (!faults_.empty()) {
        --faults_.front().first;
        fault = faults_.front().second;
      }
      hook = hook_;
    }
    Result<HttpResponse> resp = Unavailable("injected: connection reset by peer");
    if (!fault || fault->kind == HttpFault::Kind::kDropAfterDelivery) {
      resp = inner_->Send(req);
      if (fault) resp = Unavailable("injected: connection dropped after the request was sent");
    } else if (fault->kind == HttpFault::Kind::kDeadlineExceeded) {
      resp = Status(StatusCode::kDeadlineExceeded, "injected: operation timed out");
    } else if (fault->kind == HttpFault::Kind::kStatus) {
      HttpResponse r;
      r.status = fault->status;
      r.body = fault->body;
      resp = std::move(r);
    }
    if (hook) hook(req, resp);
    return resp;
  }

  // Every request so far (URL, newline, body), in order, faulted ones included.
  std::vector<std::string> Requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }

 private:
  std::unique_ptr<HttpClient> owned_;
  HttpClient* const inner_;
  mutable std::mutex mu_;
  std::deque<std::pair<int, HttpFault>> faults_;  // (calls left, fault)
  Hook hook_;
  std::vector<std::string> log_;
};

}  // namespace stagesync::testing
