// libcurl implementation of HttpClient: a pool of easy handles, each keeping its connections
// alive, so concurrent callers reuse sockets instead of reconnecting per request.
#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <vector>

#include "stagesync/http.h"

namespace stagesync {

std::string_view HttpResponse::Header(std::string_view lower_name) const {
  for (const auto& h : headers) {
    if (h.first == lower_name) return h.second;
  }
  return {};
}

namespace {

bool IsSecretParam(std::string_view name) {
  std::string n(name);
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
  static const char* kSecret[] = {"access_token",  "accesstoken", "appsecret",     "app_secret",
                                  "secret",        "session",     "sign",          "password",
                                  "client_secret", "token",       "refresh_token", "systemtoken"};
  for (const char* s : kSecret) {
    if (n == s) return true;
  }
  return false;
}

struct CurlInit {
  CurlInit() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

struct Transfer {
  std::string* body;
  size_t max_bytes;
  bool too_big = false;
  std::vector<std::pair<std::string, std::string>>* headers;
};

size_t OnBody(char* ptr, size_t size, size_t nmemb, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  size_t n = size * nmemb;
  // Counted after decoding: CURLOPT_MAXFILESIZE would see only compressed bytes.
  if (t->body->size() + n > t->max_bytes) {
    t->too_big = true;
    return 0;  // aborts the transfer
  }
  t->body->append(ptr, n);
  return n;
}

size_t OnHeader(char* buf, size_t size, size_t nitems, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  size_t n = size * nitems;
  std::string_view line(buf, n);
  if (line.rfind("HTTP/", 0) == 0) {
    t->headers->clear();  // a new response (after a redirect or 100-continue)
    return n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
    value.remove_suffix(1);
  t->headers->emplace_back(std::move(name), std::string(value));
  return n;
}

class CurlHttpClient final : public HttpClient {
 public:
  explicit CurlHttpClient(HttpClientOptions opts) : opts_(std::move(opts)) { static CurlInit init; }
  ~CurlHttpClient() override {
    for (CURL* h : idle_) curl_easy_cleanup(h);
  }

  Result<HttpResponse> Send(const HttpRequest& req) override {
    CURL* h = Take();
    if (h == nullptr) return Internal("curl_easy_init failed");
    HttpResponse resp;
    Transfer t{&resp.body, req.max_response_bytes, false, &resp.headers};
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");  // gzip/deflate/br as the build allows
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req.connect_timeout_ms));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout_ms));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &OnBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &OnHeader);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(h, CURLOPT_USERAGENT, opts_.user_agent.c_str());
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, opts_.verify_tls ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, opts_.verify_tls ? 2L : 0L);
    if (!opts_.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, opts_.ca_file.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (!opts_.use_env_proxy) curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    if (!opts_.reuse_connections) {
      curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
      curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
    } else if (!req.idempotent) {
      // At most once on the wire. When a reused keep-alive connection dies before the first
      // response byte, libcurl sends the same request again on a fresh connection, POST
      // included ("Connection died, retrying a fresh connect": Curl_retry_request and
      // multi_reconnect_request, both conditioned on conn->bits.reuse). The server may have
      // carried out the first copy and only then dropped the connection, so a push or create
      // would be done twice without the caller ever knowing. libcurl 7.88 (Debian 12) has no
      // option to turn that off (an upstream CURLOPT_FORBID_RETRY_ON_REUSE was proposed in
      // curl PR 18417), but a request on a connection it just opened is never resent: such a
      // failure comes back as an error, which the caller treats as an unknown outcome and
      // resolves by asking the target. The connection stays in the pool afterwards for
      // idempotent calls.
      curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
    }
    if (req.method == "POST") {
      curl_easy_setopt(h, CURLOPT_POST, 1L);
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.data());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    } else if (req.method != "GET") {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
      if (!req.body.empty()) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.data());
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
      }
    }
    curl_slist* hdrs = nullptr;
    for (const auto& [k, v] : req.headers) hdrs = curl_slist_append(hdrs, (k + ": " + v).c_str());
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    Give(h);

    std::string where = req.method + " " + RedactUrl(req.url);
    if (t.too_big) {
      return InvalidArgument(where + ": response body exceeds max_response_bytes (" +
                             std::to_string(req.max_response_bytes) + " bytes decoded)");
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) {
      return Status(StatusCode::kDeadlineExceeded,
                    where + ": timed out after " + std::to_string(req.timeout_ms) + " ms");
    }
    if (rc != CURLE_OK) {
      return Unavailable(where + ": " + curl_easy_strerror(rc));
    }
    resp.status = static_cast<int>(status);
    return resp;
  }

 private:
  CURL* Take() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        CURL* h = idle_.back();
        idle_.pop_back();
        return h;
      }
    }
    return curl_easy_init();
  }
  void Give(CURL* h) {
    std::lock_guard<std::mutex> lock(mu_);
    idle_.push_back(h);
  }

  HttpClientOptions opts_;
  std::mutex mu_;
  std::vector<CURL*> idle_;
};

}  // namespace

std::unique_ptr<HttpClient> NewCurlHttpClient(const HttpClientOptions& opts) {
  return std::make_unique<CurlHttpClient>(opts);
}

namespace {

// "scheme://user:pass@host/..." -> "scheme://***@host/...". The authority ends at the first
// '/', '?' or '#'; its userinfo is everything before the last '@' in it (RFC 3986 3.2).
std::string RedactUserinfo(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  size_t start = scheme + 3;
  size_t end = url.find_first_of("/?#", start);
  if (end == std::string_view::npos) end = url.size();
  size_t at = url.substr(start, end - start).rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  std::string out(url.substr(0, start));
  out += "***";
  out.append(url.substr(start + at));
  return out;
}

}  // namespace

std::string RedactUrl(std::string_view url_in) {
  const std::string without_userinfo = RedactUserinfo(url_in);
  std::string_view url = without_userinfo;
  size_t q = url.find('?');
  if (q == std::string_view::npos) return std::string(url);
  std::string out(url.substr(0, q + 1));
  std::string_view rest = url.substr(q + 1);
  bool first = true;
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view kv = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (!first) out.push_back('&');
    first = false;
    size_t eq = kv.find('=');
    if (eq != std::string_view::npos && IsSecretParam(kv.substr(0, eq))) {
      out.append(kv.substr(0, eq + 1));
      out.append("***");
    } else {
      out.append(kv);
    }
  }
  return out;
}

std::string UrlEncode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace stagesync
