#include "common/chain.h"

#include <fmt/format.h>
#include <openssl/sha.h>

#include <algorithm>
#include <ctime>
#include <tuple>

namespace stagesync::chain {

std::string Sha256Hex(std::string_view data) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * SHA256_DIGEST_LENGTH, '0');
  for (size_t i = 0; i < SHA256_DIGEST_LENGTH; ++i) {
    out[2 * i] = kHex[d[i] >> 4];
    out[2 * i + 1] = kHex[d[i] & 15];
  }
  return out;
}

namespace {

// Fields are joined with a byte no id, hash or name contains unescaped: lengths go first.
void AppendField(std::string_view f, std::string* out) {
  out->append(std::to_string(f.size()));
  out->push_back(':');
  out->append(f);
}

}  // namespace

std::array<uint64_t, 4> LedgerDigest::Of(const LedgerTuple& t) {
  std::string m;
  AppendField(t.source_id, &m);
  AppendField(t.content_hash, &m);
  AppendField(t.mapping_hash, &m);
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(m.data()), m.size(), d);
  std::array<uint64_t, 4> v{};
  for (size_t limb = 0; limb < 4; ++limb) {
    for (size_t b = 0; b < 8; ++b) v[limb] |= uint64_t{d[limb * 8 + b]} << (8 * b);
  }
  return v;
}

void LedgerDigest::Add(const LedgerTuple& t) {
  const auto a = Of(t);
  unsigned carry = 0;
  for (size_t i = 0; i < 4; ++i) {
    const uint64_t s = v_[i] + a[i];
    const unsigned c1 = s < v_[i];
    v_[i] = s + carry;
    carry = c1 | (v_[i] < s);
  }
}

void LedgerDigest::Remove(const LedgerTuple& t) {
  const auto a = Of(t);
  unsigned borrow = 0;
  for (size_t i = 0; i < 4; ++i) {
    const uint64_t d = v_[i] - a[i];
    const unsigned b1 = v_[i] < a[i];
    const unsigned b2 = d < borrow;
    v_[i] = d - borrow;
    borrow = b1 | b2;
  }
}

std::string LedgerDigest::Hex() const {
  // Most significant limb first, so the hex reads as one 256-bit number.
  return fmt::format("{:016x}{:016x}{:016x}{:016x}", v_[3], v_[2], v_[1], v_[0]);
}

bool LedgerDigest::FromHex(std::string_view hex) {
  if (hex.size() != 64) return false;
  std::array<uint64_t, 4> v{};
  for (size_t i = 0; i < 64; ++i) {
    const char c = hex[i];
    uint64_t x;
    if (c >= '0' && c <= '9') {
      x = static_cast<uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      x = static_cast<uint64_t>(c - 'a' + 10);
    } else {
      return false;
    }
    const size_t limb = 3 - i / 16;
    v[limb] = (v[limb] << 4) | x;
  }
  v_ = v;
  return true;
}

std::string RecordsDigest(std::vector<LedgerTuple> tuples) {
  std::sort(tuples.begin(), tuples.end(), [](const LedgerTuple& a, const LedgerTuple& b) {
    return std::tie(a.source_id, a.content_hash, a.mapping_hash) <
           std::tie(b.source_id, b.content_hash, b.mapping_hash);
  });
  std::string m;
  for (const auto& t : tuples) {
    AppendField(t.source_id, &m);
    AppendField(t.content_hash, &m);
    AppendField(t.mapping_hash, &m);
  }
  return Sha256Hex(m);
}

std::string BatchLink::Compute() const {
  std::string m;
  AppendField(pipeline, &m);
  AppendField(sink, &m);
  AppendField(std::to_string(batch_no), &m);
  AppendField(kind, &m);
  AppendField(std::to_string(first_seq), &m);
  AppendField(std::to_string(last_seq), &m);
  AppendField(std::to_string(records), &m);
  AppendField(records_digest, &m);
  AppendField(ledger_digest, &m);
  AppendField(prev_digest, &m);
  AppendField(committed_at, &m);
  return Sha256Hex(m);
}

std::string BatchLink::Serialize() const {
  return fmt::format("{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}", kind, batch_no, first_seq, last_seq,
                     records, records_digest, ledger_digest, prev_digest, committed_at, digest);
}

bool BatchLink::Parse(std::string_view text, BatchLink* out) {
  std::vector<std::string> f;
  size_t start = 0;
  for (;;) {
    const size_t nl = text.find('\n', start);
    f.emplace_back(text.substr(start, nl == std::string_view::npos ? nl : nl - start));
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  if (f.size() != 10) return false;
  auto num = [](const std::string& s, uint64_t* v) {
    if (s.empty() || s.size() > 20) return false;
    uint64_t x = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      x = x * 10 + static_cast<uint64_t>(c - '0');
    }
    *v = x;
    return true;
  };
  out->kind = f[0];
  out->records_digest = f[5];
  out->ledger_digest = f[6];
  out->prev_digest = f[7];
  out->committed_at = f[8];
  out->digest = f[9];
  return num(f[1], &out->batch_no) && num(f[2], &out->first_seq) && num(f[3], &out->last_seq) &&
         num(f[4], &out->records);
}

std::string UtcMillis(int64_t micros) {
  const time_t secs = static_cast<time_t>(micros / 1000000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (micros / 1000) % 1000);
}

LedgerTuple OutcomeTuple(const std::string& source_id, std::string_view outcome) {
  return {source_id, Sha256Hex(outcome), "outcome"};
}

}  // namespace stagesync::chain
