// Redactor: the one place that removes secrets from text leaving the process or landing in
// staging: log lines, error messages, control API answers, quarantine entries, run history,
// CLI and stagesync-dump output. It replaces with `***`:
//   - every registered secret value (the config's ${ENV} substitutions into secret fields),
//     also in its JSON-escaped and URL-encoded forms;
//   - `Authorization:` / `Cookie:` / `Set-Cookie:` header values and `Bearer <token>`;
//   - values of token-like query/cookie parameters (`access_token=`, `sign=`, `session_id=`,
//     `kdservice-sessionid=`, `ASP.NET_SessionId=`, ...) and of token-like JSON members
//     (`"KDSVCSessionId":"..."`, `"accessToken":"..."`, ...), also inside escaped JSON.
// Thread-safe: registration swaps in a new immutable secret set; Redact reads a snapshot.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace stagesync::obs {

inline constexpr std::string_view kRedacted = "***";

class Redactor {
 public:
  // Values shorter than this are not registered: redacting "1" or "ab" everywhere would
  // destroy every line and protect nothing (no real secret is that short).
  static constexpr size_t kMinSecretLength = 4;

  Redactor();
  ~Redactor();
  Redactor(const Redactor&) = delete;
  Redactor& operator=(const Redactor&) = delete;

  // The process-wide instance every module uses.
  static Redactor& Global();

  // Registers a secret value (and its escaped/encoded forms). Idempotent.
  void AddSecret(std::string_view value);
  // Forgets every registered value (tests; a reload re-registers what the new config has).
  void ClearSecrets();
  size_t secret_count() const;

  // `text` with every secret and token-like value replaced by `***`.
  std::string Redact(std::string_view text) const;

 private:
  struct Secrets;
  std::shared_ptr<const Secrets> Snapshot() const;

  mutable std::shared_ptr<const Secrets> secrets_;  // guarded by mu_ (the pointer, not the set)
  struct Mutex;
  std::unique_ptr<Mutex> mu_;
};

// Redactor::Global().Redact(text).
std::string Redact(std::string_view text);

// & < > " ' as character references: the result is inert both as element text and inside a
// quoted attribute value. Bytes >= 0x80 pass through (the page is UTF-8); NUL and the other C0
// controls but tab and newline become U+FFFD, which HTML would otherwise reject or misparse.
std::string HtmlEscape(std::string_view s);

// Whether a config field of this name holds a secret (its ${ENV} value is registered): names
// containing secret, password, passwd, token, session (Kuaimai's access token),
// credential, private_key, sign_key.
bool IsSecretFieldName(std::string_view name);

}  // namespace stagesync::obs
