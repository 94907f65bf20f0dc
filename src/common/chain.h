// The tamper-evident chain of applied batches (issue 13). MySQL sinks keep it in the target
// (connectors/mysql/batch_chain.h), HTTP sinks over their outcomes in staging (one link per
// outcome written, in the outcome's own write). Every batch that changes a sink's
// ledger appends a link: the batch's (source id, content hash, mapping hash) tuples digested
// with SHA-256, the digest of the sink's whole ledger after the batch (a set hash, updated
// from the tuples the batch replaced and wrote, so it never needs a scan), and the previous
// link's digest. Anyone holding the ledger and the links can recompute both: a link edited or
// removed breaks the chain, and a ledger row edited, added or removed by hand no longer sums
// to the head's ledger digest.
//
// There is no secret key: someone able to write the ledger could also rewrite every link.
// What an auditor archives (the head digest in a report) is what proves later edits.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace stagesync::chain {

// SHA-256 of `data`, 64 lowercase hex digits.
std::string Sha256Hex(std::string_view data);

// One ledger entry as the chain sees it.
struct LedgerTuple {
  std::string source_id;
  std::string content_hash;  // hex
  std::string mapping_hash;
};

// A set hash of ledger tuples: the sum modulo 2^256 of each tuple's SHA-256, so adding and
// removing members is order-free and cheap, and the empty set is all zeros.
class LedgerDigest {
 public:
  // False when `hex` is not 64 hex digits.
  bool FromHex(std::string_view hex);
  void Add(const LedgerTuple& t);
  void Remove(const LedgerTuple& t);
  std::string Hex() const;
  bool operator==(const LedgerDigest& o) const { return v_ == o.v_; }

 private:
  static std::array<uint64_t, 4> Of(const LedgerTuple& t);
  std::array<uint64_t, 4> v_{};  // little-endian limbs
};

// The digest of one batch's written tuples (sorted, so the order they were written in does
// not matter).
std::string RecordsDigest(std::vector<LedgerTuple> tuples);

// The previous digest of a chain's first link.
inline const std::string kGenesisDigest(64, '0');

// One link, as stored.
struct BatchLink {
  std::string pipeline;
  std::string sink;
  uint64_t batch_no = 0;  // 1, 2, ... without gaps
  std::string kind;       // "apply" or "repair"
  uint64_t first_seq = 0, last_seq = 0;
  uint64_t records = 0;
  std::string records_digest;
  std::string ledger_digest;
  std::string prev_digest;
  std::string committed_at;  // UTC "YYYY-MM-DD hh:mm:ss.fff", as stored
  std::string digest;

  // SHA-256 over every field but `digest`.
  std::string Compute() const;

  // The stored form of a link whose pipeline and sink its key says (staging keeps HTTP sinks'
  // chains): one field per line. Parse is false on anything malformed.
  std::string Serialize() const;
  static bool Parse(std::string_view text, BatchLink* out);
};

// A link's committed_at: UTC "YYYY-MM-DD hh:mm:ss.fff" of a Unix time in microseconds.
std::string UtcMillis(int64_t micros);

// The tuple an HTTP sink's outcome (opaque stored text) counts as in its chain.
LedgerTuple OutcomeTuple(const std::string& source_id, std::string_view outcome);

}  // namespace stagesync::chain
