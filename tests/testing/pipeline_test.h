// PipelineTest: the fixture base of the fetch and sink integration tests. It holds a loaded
// config, its staging log and the HTTP client (`Http`: HttpClient, or FaultyHttpClient for
// tests that inject faults), and runs the config's pipelines. Not thread-safe.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <type_traits>

#include "stagesync/apply.h"
#include "stagesync/clock.h"
#include "stagesync/config.h"
#include "stagesync/fetch.h"
#include "stagesync/stage.h"
#include "testing/temp_dir.h"

namespace stagesync::testing {

inline constexpr int64_t kHourMs = 3600000;
inline constexpr int64_t kDayMs = 24 * kHourMs;
inline int64_t NowMs() { return Clock::Real()->NowMillis(); }

template <class Http = HttpClient>
class PipelineTest : public ::testing::Test {
 protected:
  static constexpr int64_t kHourMs = testing::kHourMs, kDayMs = testing::kDayMs;
  static int64_t NowMs() { return testing::NowMs(); }

  // Loads `json` as the config; opens its staging log on the first call (later calls keep it).
  void Load(const std::string& json) {
    auto cfg = config::LoadString(json, "");
    ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
    cfg_ = std::move(cfg).value();
    if (log_) return;
    auto log = stage::StagingLog::Open(cfg_.state_dir);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
  }

  // Fetches pipeline `pipeline` through `http` (default: http_) on `clock`.
  Result<fetch::FetchSummary> Fetch(Clock* clock = Clock::Real(), HttpClient* http = nullptr,
                                    size_t pipeline = 0) {
    Runtime deps(http ? http : http_.get(), clock);
    return fetch::RunFetch(cfg_, cfg_.pipelines[pipeline], log_.get(), deps);
  }

  // Applies the first pipeline's sink `sink_name` (default: its first sink).
  Result<apply::ApplySummary> Apply(const std::string& sink_name = "") {
    for (const auto& s : cfg_.pipelines[0].sinks) {
      if (!sink_name.empty() && s.name != sink_name) continue;
      Runtime deps(http_.get(), Clock::Real());
      return apply::RunApply(cfg_, cfg_.pipelines[0], s, log_.get(), deps);
    }
    return NotFound(sink_name);
  }

  // Fetch, then Apply(sink_name).
  Result<apply::ApplySummary> Sync(const std::string& sink_name = "") {
    SS_RETURN_IF_ERROR(Fetch().status());
    return Apply(sink_name);
  }

  TempDir dir_;
  std::unique_ptr<Http> http_ = [] {
    if constexpr (std::is_same_v<Http, HttpClient>) {
      return NewCurlHttpClient();
    } else {
      return std::make_unique<Http>(NewCurlHttpClient());
    }
  }();
  config::Config cfg_;
  std::unique_ptr<stage::StagingLog> log_;
};

}  // namespace stagesync::testing
