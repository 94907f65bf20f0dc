// CompleteScanSource: the optional side of a Source whose fetch can read the whole configured
// record set (Kingdee materials under a fixed filter). After such a fetch, a staged record it
// did not deliver has vanished at the source; with `deletes: "sweep"` the fetcher
// (src/fetch/fetcher.cc, which finds this interface by dynamic_cast) tombstones it.
// Same threading as Source: one fetch at a time per object.
#pragma once

#include <string>
#include <vector>

#include "stagesync/status.h"

namespace stagesync::source {

class CompleteScanSource {
 public:
  virtual ~CompleteScanSource() = default;

  // The pipeline asks for sweep deletes: the fetcher then tracks the ids every page delivers.
  virtual bool SweepEnabled() const = 0;
  // True when the last Fetch returned Ok after paging through every record of the set (no
  // incremental filter), so that absence from it means deletion.
  virtual bool LastFetchWasCompleteScan() const = 0;
  // Of `ids` (staged, not delivered by the scan), those the source still has, asked by key.
  // A sweep never tombstones these: offset paging over changing data can skip a row.
  virtual Result<std::vector<std::string>> StillPresent(const std::vector<std::string>& ids) = 0;
  // A sweep tombstoning more than this fraction of the staged live records (and more than
  // kSweepGuardMinimum of them) stops the fetch instead: a filter typo or a vendor glitch that
  // returns nothing must not empty the targets. 1 disables the guard.
  virtual double SweepMaxFraction() const = 0;

  static constexpr size_t kSweepGuardMinimum = 10;
};

}  // namespace stagesync::source
