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
  // Source state (names as for SourceDeps::get_state) committed atomically with the page;
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

struct SourceDeps {
  SourceDeps(HttpClient* h = nullptr, Clock* c = nullptr) : http(h), clock(c) {}
  HttpClient* http = nullptr;
  Clock* clock = nullptr;
  // Small durable state of the pipeline's source (e.g. a rotated refresh token), kept in
  // staging. Empty string when unset. Writes are synced before they return.
  std::function<Result<std::string>(const std::string& name)> get_state;
  std::function<Status(const std::string& name, const std::string& value)> put_state;
};

// Builds the source for a pipeline from its config, checking the source's options against the
// connector's option table. InvalidArgument naming the JSON path on a bad option.
Result<std::unique_ptr<Source>> MakeSource(const config::Config& cfg,
                                           const config::PipelineConfig& pipeline,
                                           const SourceDeps& deps);

// Checks a pipeline's source options without building anything.
Status CheckSource(const config::Config& cfg, const config::PipelineConfig& pipeline);

// `check --connect`: logs in to a vendor connection once (DingTalk and OKKI token, Kingdee
// login, Kuaimai one signed call of `kuaimai_method` over a one-minute window, without
// refreshing the session). Ok, or the refusal with its cause and never a secret;
// FailedPrecondition for a Kuaimai session that has expired (the next fetch refreshes it) and
// for connection types it does not know (checked elsewhere, e.g. mysql).
Status CheckVendorLogin(const config::ConnectionConfig& conn, HttpClient* http, Clock* clock,
                        const std::string& kuaimai_method = "erp.aftersale.list.query");

}  // namespace stagesync::source
