// Fetch: runs one incremental fetch of a pipeline's source into the staging log, page by
// page, each page (with the watermark it completes) one atomic staging write.
// One fetch per pipeline at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "stagesync/config.h"
#include "stagesync/runtime.h"
#include "stagesync/source.h"
#include "stagesync/stage.h"

namespace stagesync::fetch {

struct FetchSummary {
  std::string pipeline;
  int64_t windows = 0;
  int64_t pages = 0;
  int64_t fetched = 0;
  int64_t unchanged = 0;
  int64_t added = 0;
  int64_t changed = 0;
  int64_t failed = 0;  // records parked in the fetch quarantine
  int64_t elapsed_ms = 0;
  std::optional<int64_t> watermark_ms;
  bool stopped = false;  // ended early on FetchOptions::stop (committed pages stay)
};

struct FetchOptions {
  // Called after every committed page (e.g. for a progress line).
  std::function<void(const FetchSummary&)> on_page;
  // Called for every record the source could not read.
  std::function<void(const stage::FetchFailure&)> on_failure;
  // Checked after every committed page: once true, the fetch ends there (a graceful stop; the
  // next fetch resumes from what is committed).
  const std::atomic<bool>* stop = nullptr;
};

Result<FetchSummary> RunFetch(const config::Config& cfg, const config::PipelineConfig& pipeline,
                              stage::StagingLog* log, Runtime& rt, const FetchOptions& opts = {});

std::string SummaryLine(const FetchSummary& s);
std::string SummaryJson(const FetchSummary& s);

}  // namespace stagesync::fetch
