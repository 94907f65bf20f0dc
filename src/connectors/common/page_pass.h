// PagePass: decides whether one pass of page-number paging (Kuaimai pageNo, OKKI start_index)
// over a time window saw a stable result set. Page-number paging over data that changes while
// it runs skips rows: a record that leaves the window (modified again, now past the window's
// end) shifts every later record one place forward, so the next page starts one record late;
// a record modified and re-sorted behind the later pages does the same and shows up twice.
// A pass is clean when the vendor's total never changed and the pass delivered exactly that
// many distinct records; a source reads an unclean window again (dedup makes the re-read free
// in staging) before its watermark may pass it. Used by the Kuaimai and OKKI sources.
// Not thread-safe: one per pass.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>

namespace stagesync::source {

class PagePass {
 public:
  // `check_total` off: only the delivered records count (for a vendor whose total is not an
  // exact count); the pass is then always clean.
  explicit PagePass(bool check_total) : check_total_(check_total) {}

  // One page: the total the vendor reported with it (if any) and its record ids.
  void AddPage(std::optional<int64_t> total) {
    if (!total) return;
    if (!first_total_) first_total_ = *total;
    if (*total != *first_total_) changed_total_ = true;
    last_total_ = *total;
  }
  void AddId(const std::string& id) {
    ++delivered_;
    ids_.insert(id);
  }

  // The totals seen so far, to carry a pass across processes (a fetch resumed inside its
  // window) together with the ids of the pages already committed.
  std::optional<int64_t> first_total() const { return first_total_; }
  std::optional<int64_t> last_total() const { return last_total_; }
  bool total_changed() const { return changed_total_; }
  void RestoreTotals(std::optional<int64_t> first, std::optional<int64_t> last, bool changed) {
    first_total_ = first;
    last_total_ = last;
    changed_total_ = changed;
  }

  bool Clean() const {
    if (!check_total_ || !last_total_) return true;
    return !changed_total_ && static_cast<int64_t>(ids_.size()) == *last_total_;
  }

  // Why the pass is not clean, for the error after the last allowed pass.
  std::string Why() const {
    if (changed_total_) {
      return fmt::format("the total went from {} to {} while paging", *first_total_, *last_total_);
    }
    return fmt::format("{} distinct records ({} delivered) for a total of {}", ids_.size(),
                       delivered_, last_total_.value_or(-1));
  }

 private:
  const bool check_total_;
  std::optional<int64_t> first_total_;
  std::optional<int64_t> last_total_;
  bool changed_total_ = false;
  int64_t delivered_ = 0;
  std::set<std::string> ids_;
};

}  // namespace stagesync::source
