#include "stagesync/hash.h"

#include <xxhash.h>

namespace stagesync {

namespace {
void PutBE64(uint64_t v, char* p) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}
uint64_t GetBE64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
}  // namespace

std::string Hash128::ToHex() const {
  static const char kHex[] = "0123456789abcdef";
  std::string s(32, '0');
  for (int i = 0; i < 16; ++i) s[15 - i] = kHex[(high >> (4 * i)) & 15];
  for (int i = 0; i < 16; ++i) s[31 - i] = kHex[(low >> (4 * i)) & 15];
  return s;
}

std::string Hash128::ToBytes() const {
  std::string s(16, '\0');
  PutBE64(high, s.data());
  PutBE64(low, s.data() + 8);
  return s;
}

bool Hash128::FromBytes(std::string_view b, Hash128* out) {
  if (b.size() < 16) return false;
  out->high = GetBE64(b.data());
  out->low = GetBE64(b.data() + 8);
  return true;
}

Hash128 HashBytes(std::string_view data) {
  XXH128_hash_t h = XXH3_128bits(data.data(), data.size());
  return Hash128{h.high64, h.low64};
}

}  // namespace stagesync
