// HttpClient: the seam every connector talks through. The real implementation is libcurl with
// connection reuse; tests wrap it to inject faults. Send() is thread-safe: many threads may
// call it at once. URLs are redacted (tokens, secrets, signatures) in every error message.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stagesync/status.h"

namespace stagesync {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int connect_timeout_ms = 10000;  // Default: 10 s
  int timeout_ms = 60000;          // Default: 60 s (OKKI documents 60 s timeouts)
  // The decoded (after gzip) body may not exceed this. Default: 32 MiB.
  size_t max_response_bytes = 32u << 20;
  // False for a request the server must not carry out twice (a create, a push, an update):
  // the client then sends it at most once, and a connection that dies before the answer is an
  // error (Unavailable, outcome unknown) instead of a silent resend. Default: true.
  bool idempotent = true;
};

struct HttpResponse {
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased

  // First header with this (lowercase) name, or empty.
  std::string_view Header(std::string_view lower_name) const;
};

struct HttpClientOptions {
  std::string ca_file;     // Default: the system CA store.
  bool verify_tls = true;  // Default: true. Never turned off silently.
  std::string user_agent = "stagesync/0.1";
  // Keep connections open between requests. Default: true. Off only to measure what
  // keep-alive saves (bench/).
  bool reuse_connections = true;
  // Honour http_proxy / https_proxy / all_proxy from the environment. Default: true. Off for a
  // local peer (`stagesync ctl` to the agent on 127.0.0.1), which a proxy could not reach.
  bool use_env_proxy = true;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Performs one request. Transport failures are Unavailable, timeouts DeadlineExceeded (the
  // server may have acted), an oversized body InvalidArgument. A request with `idempotent`
  // false is written to the network at most once. Any HTTP status is returned as
  // a response: interpreting it is the connector's job.
  virtual Result<HttpResponse> Send(const HttpRequest& req) = 0;
};

std::unique_ptr<HttpClient> NewCurlHttpClient(const HttpClientOptions& opts = {});

// Replaces the values of secret-bearing query parameters (access_token, appsecret, session,
// sign, password, client_secret, ...) and any userinfo (http://user:pass@host/) with "***".
std::string RedactUrl(std::string_view url);

// Percent-encodes s for use in a query string (RFC 3986 unreserved characters kept).
std::string UrlEncode(std::string_view s);

}  // namespace stagesync
