// FakeHttpClient: an HttpClient that answers from a script instead of the network, so the
// retry policy, credential refresh and outcome rules are unit-tested without a server.
// Each Send records the request and pops the next scripted answer (a response or a transport
// error); an exhausted script answers 500 "script exhausted". Thread-safe.
#pragma once

#include <deque>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "stagesync/http.h"

namespace stagesync::testing {

class FakeHttpClient final : public HttpClient {
 public:
  // Queues an answer with this status and body (and headers, names lowercase).
  void Answer(int status, std::string body,
              std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    r.headers = std::move(headers);
    Push(std::move(r));
  }
  // Queues a transport failure (e.g. Unavailable "connection reset", DeadlineExceeded).
  void Fail(Status s) { Push(std::move(s)); }

  Result<HttpResponse> Send(const HttpRequest& req) override {
    std::lock_guard<std::mutex> lock(mu_);
    sent_.push_back(req);
    if (script_.empty()) {
      HttpResponse r;
      r.status = 500;
      r.body = "script exhausted";
      return r;
    }
    Result<HttpResponse> next = std::move(script_.front());
    script_.pop_front();
    return next;
  }

  std::vector<HttpRequest> Sent() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sent_;
  }
  size_t Left() const {
    std::lock_guard<std::mutex> lock(mu_);
    return script_.size();
  }

 private:
  void Push(Result<HttpResponse> r) {
    std::lock_guard<std::mutex> lock(mu_);
    script_.push_back(std::move(r));
  }

  mutable std::mutex mu_;
  std::deque<Result<HttpResponse>> script_;
  std::vector<HttpRequest> sent_;
};

}  // namespace stagesync::testing
