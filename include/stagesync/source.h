// Source: the interface every vendor connector implements to page records out of an API.
// A source does not touch staging: it hands each page to a PageSink, which (in the fetcher)
// hashes the records and commits them together with the page's bookkeeping. A Source object
// serves one fetch at a time; the connection state it shares (token, rate limit) is
// thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "stagesync/clock.h"
#include "stagesync/config.h"
#include "stagesync/fetch_failure.h"
#include "stagesync/http.h"
#include "stagesync/json.h"
#include "stagesync/status.h"

namespace stagesync::source {

struct SourceRecord {
  std::string id;
  json::Value value;
  bool deleted = false;
};

struct SourcePage {
  std::vector<SourceRecord> records;
  std::optional<int64_t> watermark;  // the window this page completes
  std::vector<std::string> open_ids_add;
  std::vector<std::string> open_ids_remove;
  std::vector<stage::FetchFailure> failures;
  std::vector<std::string> failures_cleared;
  // Source state (names as for SourceState::get) committed atomically with the page;
  // nullopt deletes. E.g. where to resume inside a window.
  std::vector<std::pair<std::string, std::optional<std::string>>> state;
  bool ends_window = false;
};

class PageSink {
 public:
  virtual ~PageSink() = default;
  // Commits a page. An error stops the fetch.
  virtual Status Write(SourcePage page) = 0;
};

// What the source needs to know about staging at the start of a fetch.
struct FetchState {
  std::optional<int64_t> watermark_ms;
  std::vector<std::string> open_ids;    // not final at the source last time
  std::vector<std::string> failed_ids;  // failed to read last time
};

class Source {
 public:
  virtual ~Source() = default;
  virtual Status Fetch(const FetchState& state, PageSink* sink) = 0;
};

// Small durable state of a pipeline's source (e.g. a rotated refresh token, where to resume
// inside a window), kept in staging by the fetcher. `get` answers "" when unset; `put` is
// synced before it returns. Either may be empty (no staging: nothing is kept).
struct SourceState {
  std::function<Result<std::string>(const std::string& name)> get;
  std::function<Status(const std::string& name, const std::string& value)> put;
};

}  // namespace stagesync::source
