// HookedHttpClient: wraps a real HttpClient, counts requests per URL substring, and runs a test's
// hook after every response, so a test can change the emulator between two pages of one fetch
// (delete a row, revoke a token) exactly where it wants. Thread-safe (the hook runs on the
// calling thread, outside the client's lock).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "stagesync/http.h"

namespace stagesync::testing {

class HookedHttpClient final : public HttpClient {
 public:
  using Hook = std::function<void(const HttpRequest&, const Result<HttpResponse>&)>;

  explicit HookedHttpClient(std::unique_ptr<HttpClient> inner) : inner_(std::move(inner)) {}

  void SetHook(Hook hook) {
    std::lock_guard<std::mutex> lock(mu_);
    hook_ = std::move(hook);
  }

  Result<HttpResponse> Send(const HttpRequest& req) override {
    auto resp = inner_->Send(req);
    Hook hook;
    {
      std::lock_guard<std::mutex> lock(mu_);
      hook = hook_;
      log_.push_back(req.url + "\n" + req.body);
    }
    if (hook) hook(req, resp);
    return resp;
  }

  // Every request so far (URL, newline, body), in order.
  std::vector<std::string> Requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }

 private:
  std::unique_ptr<HttpClient> inner_;
  mutable std::mutex mu_;
  Hook hook_;
  std::vector<std::string> log_;
};

}  // namespace stagesync::testing
