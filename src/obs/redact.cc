#include "obs/redact.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <mutex>
#include <set>

#include "stagesync/json.h"

namespace stagesync::obs {

namespace {

unsigned char Lower(char c) {
  return static_cast<unsigned char>(std::tolower(static_cast<unsigned char>(c)));
}

bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// Case-insensitive: does `text` at `pos` start with `lower_key` (given in lower case)?
bool StartsWithNoCase(std::string_view text, size_t pos, std::string_view lower_key) {
  if (text.size() - pos < lower_key.size()) return false;
  for (size_t k = 0; k < lower_key.size(); ++k) {
    if (Lower(text[pos + k]) != static_cast<unsigned char>(lower_key[k])) return false;
  }
  return true;
}

// Names whose value is a credential, wherever they appear as `name=value` (query strings,
// form bodies, cookies) or as a JSON member. Lower case; matched case-insensitively.
constexpr std::string_view kTokenNames[] = {
    "access_token",
    "accesstoken",
    "token",
    "refresh_token",
    "sign",
    "signature",
    "session_id",
    "sessionid",
    "kdservice-sessionid",
    "kdsvcsessionid",
    "asp.net_sessionid",
    "appsecret",
    "app_secret",
    "client_secret",
    "password",
    "passwd",
    "secret",
    "x-acs-dingtalk-access-token",
};

// Headers whose whole value is a credential.
constexpr std::string_view kHeaderNames[] = {
    "authorization", "proxy-authorization", "cookie", "set-cookie", "x-acs-dingtalk-access-token",
};

// Where a `name=value` value ends: a parameter, cookie or text delimiter.
bool EndsParamValue(char c) {
  switch (c) {
    case '&':
    case ';':
    case ' ':
    case '\t':
    case '\r':
    case '\n':
    case '"':
    case '\'':
    case '<':
    case '>':
    case ',':
    case ')':
    case '\\':
    case '#':
      return true;
    default:
      return static_cast<unsigned char>(c) < 0x20;
  }
}

bool EndsHeaderValue(char c) { return c == '\r' || c == '\n' || c == '"' || c == '\\'; }

bool IsTokenChar(char c) {
  return IsWordChar(c) || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=' ||
         c == '-';
}

void PercentEncode(std::string_view s, const char* hex, bool plus_for_space, std::string* out) {
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out->push_back(ch);
    } else if (c == ' ' && plus_for_space) {
      out->push_back('+');
    } else {
      out->push_back('%');
      out->push_back(hex[c >> 4]);
      out->push_back(hex[c & 15]);
    }
  }
}

std::string JsonEscaped(std::string_view s) {
  std::string q = json::Quote(s);
  return q.substr(1, q.size() - 2);
}

// The forms a secret takes in text we emit: raw, inside a JSON string (once or twice quoted,
// with `/` escaped or not), HTML-escaped and URL-encoded (either hex case, `+` or %20 for a space).
std::vector<std::string> FormsOf(std::string_view v) {
  std::vector<std::string> forms{std::string(v)};
  std::string esc = JsonEscaped(v);
  forms.push_back(esc);
  forms.push_back(JsonEscaped(esc));
  std::string slash;
  for (char c : esc) {
    if (c == '/')
      slash += "\\/";
    else
      slash.push_back(c);
  }
  forms.push_back(slash);
  // As an HTML page shows it (the status page escapes & < > " ').
  forms.push_back(HtmlEscape(v));
  forms.push_back(HtmlEscape(esc));
  for (const char* hex : {"0123456789ABCDEF", "0123456789abcdef"}) {
    for (bool plus : {false, true}) {
      std::string enc;
      PercentEncode(v, hex, plus, &enc);
      forms.push_back(enc);
    }
  }
  return forms;
}

constexpr size_t kMinBearerToken = 8;

struct Span {
  size_t begin;
  size_t end;
};

}  // namespace

std::string HtmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') || c == '\x7f') {
          out += "\xEF\xBF\xBD";  // U+FFFD
        } else {
          out.push_back(c);
        }
    }
  }
  return out;
}

struct Redactor::Secrets {
  std::set<std::string> raw;                          // as registered
  std::set<std::string> forms;                        // every form of every raw value
  std::vector<std::string> values;                    // every form, longest first
  std::array<std::vector<uint32_t>, 256> by_first{};  // indexes into values
};

struct Redactor::Mutex {
  std::mutex mu;
};

Redactor::Redactor() : secrets_(std::make_shared<Secrets>()), mu_(std::make_unique<Mutex>()) {}
Redactor::~Redactor() = default;

Redactor& Redactor::Global() {
  static Redactor* r = new Redactor();  // never destroyed: logging may run during exit
  return *r;
}

std::shared_ptr<const Redactor::Secrets> Redactor::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_->mu);
  return secrets_;
}

void Redactor::AddSecret(std::string_view value) {
  if (value.size() < kMinSecretLength) return;
  std::lock_guard<std::mutex> lock(mu_->mu);
  if (secrets_->raw.count(std::string(value))) return;
  auto next = std::make_shared<Secrets>();
  next->raw = secrets_->raw;
  next->raw.insert(std::string(value));
  next->forms = secrets_->forms;
  for (auto& f : FormsOf(value)) next->forms.insert(std::move(f));
  next->values.assign(next->forms.begin(), next->forms.end());
  std::stable_sort(next->values.begin(), next->values.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (uint32_t i = 0; i < next->values.size(); ++i) {
    next->by_first[static_cast<unsigned char>(next->values[i][0])].push_back(i);
  }
  secrets_ = std::move(next);
}

void Redactor::ClearSecrets() {
  std::lock_guard<std::mutex> lock(mu_->mu);
  secrets_ = std::make_shared<Secrets>();
}

size_t Redactor::secret_count() const { return Snapshot()->raw.size(); }

std::string Redactor::Redact(std::string_view text) const {
  std::shared_ptr<const Secrets> secrets = Snapshot();
  // First byte filters: most positions of a log line start neither a secret nor a token name.
  static const std::array<bool, 256> kPatternFirst = [] {
    std::array<bool, 256> t{};
    for (auto n : kTokenNames) t[static_cast<unsigned char>(n[0])] = true;
    for (auto n : kHeaderNames) t[static_cast<unsigned char>(n[0])] = true;
    t['b'] = true;   // bearer
    t['"'] = true;   // a JSON member name
    t['\\'] = true;  // an escaped JSON member name
    return t;
  }();
  // Token names by first letter: a position is checked against these few only.
  static const std::array<std::vector<std::string_view>, 256> kTokensByFirst = [] {
    std::array<std::vector<std::string_view>, 256> t{};
    for (auto n : kTokenNames) t[static_cast<unsigned char>(n[0])].push_back(n);
    return t;
  }();
  std::vector<Span> spans;
  const size_t n = text.size();
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    for (uint32_t idx : secrets->by_first[c]) {
      const std::string& s = secrets->values[idx];
      if (text.compare(i, s.size(), s) == 0) {
        spans.push_back({i, i + s.size()});
        break;  // longest first: the rest are covered or shorter
      }
    }
    const unsigned char lc = Lower(text[i]);
    if (!kPatternFirst[lc]) continue;
    if (c == '"' || c == '\\') {
      // "name":"value" or, inside an escaped JSON string, \"name\":\"value\".
      const bool escaped = c == '\\';
      if (escaped && (i + 1 >= n || text[i + 1] != '"')) continue;
      const size_t name_at = i + (escaped ? 2 : 1);
      if (name_at >= n) continue;
      for (auto name : kTokensByFirst[Lower(text[name_at])]) {
        if (!StartsWithNoCase(text, name_at, name)) continue;
        size_t p = name_at + name.size();
        if (escaped) {
          if (p + 1 >= n || text[p] != '\\' || text[p + 1] != '"') continue;
          p += 2;
        } else {
          if (p >= n || text[p] != '"') continue;
          p += 1;
        }
        while (p < n && (text[p] == ' ' || text[p] == '\t')) ++p;
        if (p >= n || text[p] != ':') continue;
        ++p;
        while (p < n && (text[p] == ' ' || text[p] == '\t')) ++p;
        if (escaped) {
          if (p + 1 >= n || text[p] != '\\' || text[p + 1] != '"') continue;
          p += 2;
          size_t end = text.find("\\\"", p);
          if (end == std::string_view::npos) end = n;
          if (end > p) spans.push_back({p, end});
        } else {
          if (p >= n || text[p] != '"') continue;
          ++p;
          size_t end = p;
          while (end < n && text[end] != '"') end += text[end] == '\\' ? 2 : 1;
          end = std::min(end, n);
          if (end > p) spans.push_back({p, end});
        }
        break;
      }
      continue;
    }
    if (i > 0 && (IsWordChar(text[i - 1]) || text[i - 1] == '-')) continue;  // not a name start
    bool matched = false;
    for (auto name : kHeaderNames) {
      if (!StartsWithNoCase(text, i, name)) continue;
      size_t p = i + name.size();
      if (p >= n || text[p] != ':') continue;
      ++p;
      while (p < n && text[p] == ' ') ++p;
      size_t end = p;
      while (end < n && !EndsHeaderValue(text[end])) ++end;
      if (end > p) spans.push_back({p, end});
      matched = true;
      break;
    }
    if (matched) continue;
    for (auto name : kTokensByFirst[lc]) {
      if (!StartsWithNoCase(text, i, name)) continue;
      size_t p = i + name.size();
      if (p >= n || text[p] != '=') continue;
      ++p;
      size_t end = p;
      while (end < n && !EndsParamValue(text[end])) ++end;
      if (end > p) spans.push_back({p, end});
      matched = true;
      break;
    }
    if (matched) continue;
    if (StartsWithNoCase(text, i, "bearer ")) {
      size_t p = i + 7;
      while (p < n && text[p] == ' ') ++p;
      size_t end = p;
      while (end < n && IsTokenChar(text[end])) ++end;
      // Real tokens are long; prose such as "bearer token required" is left readable.
      if (end - p >= kMinBearerToken) spans.push_back({p, end});
    }
  }
  if (spans.empty()) return std::string(text);
  std::sort(spans.begin(), spans.end(),
            [](const Span& a, const Span& b) { return a.begin < b.begin; });
  std::string out;
  out.reserve(text.size());
  size_t at = 0;
  for (size_t k = 0; k < spans.size();) {
    // Overlapping or touching spans (two secrets sharing characters) become one `***`.
    size_t begin = spans[k].begin, end = spans[k].end;
    for (++k; k < spans.size() && spans[k].begin <= end; ++k) end = std::max(end, spans[k].end);
    out.append(text.substr(at, begin - at));
    out.append(kRedacted);
    at = end;
  }
  out.append(text.substr(at));
  return out;
}

std::string Redact(std::string_view text) { return Redactor::Global().Redact(text); }

bool IsSecretFieldName(std::string_view name) {
  std::string lower;
  for (char c : name) lower.push_back(static_cast<char>(Lower(c)));
  for (std::string_view k : {"secret", "password", "passwd", "token", "session", "credential",
                             "private_key", "sign_key"}) {
    if (lower.find(k) != std::string::npos) return true;
  }
  return false;
}

}  // namespace stagesync::obs
