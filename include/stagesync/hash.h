// Content hashes: XXH3-128 of a record's canonical JSON. Stored with every staged record and
// in the appliers' ledgers. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace stagesync {

struct Hash128 {
  uint64_t high = 0;
  uint64_t low = 0;
  bool operator==(const Hash128&) const = default;

  // 32 lowercase hex digits, high half first.
  std::string ToHex() const;
  // 16 bytes, big-endian high then low (the stored form).
  std::string ToBytes() const;
  static bool FromBytes(std::string_view b, Hash128* out);
};

Hash128 HashBytes(std::string_view data);

}  // namespace stagesync
