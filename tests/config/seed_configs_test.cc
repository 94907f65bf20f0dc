// Every example config in conf/ (the production one's `agent` section too) loads, and each
// pipeline's source and sinks either check clean or are reported as not built yet (never a config
// error). Keeps the examples honest.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "connectors/connector.h"
#include "stagesync/config.h"
#include "stagesync/sink.h"
#include "stagesync/source.h"
#include "testing/seed_config.h"

namespace stagesync::config {
namespace {

TEST(SeedConfigsTest, EveryExampleLoadsAndChecks) {
  int files = 0;
  std::vector<std::string> paths = {STAGESYNC_SOURCE_DIR "/conf/demo.json",
                                    STAGESYNC_SOURCE_DIR "/conf/stagesync.example.json"};
  for (const auto& e : std::filesystem::directory_iterator(STAGESYNC_SOURCE_DIR "/conf/seeds")) {
    paths.push_back(e.path().string());
  }
  for (const auto& path : paths) {
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto cfg = LoadString(text, "/tmp", &testing::AnyEnv);
    ASSERT_TRUE(cfg.ok()) << path << ": " << cfg.status().ToString();
    ++files;
    for (const auto& p : cfg->pipelines) {
      Status s = connectors::CheckSource(*cfg, p);
      EXPECT_TRUE(s.ok() || s.code() == StatusCode::kFailedPrecondition)
          << path << ": " << s.ToString();
      for (const auto& sink : p.sinks) {
        Status ss = connectors::CheckSink(*cfg, p, sink);
        EXPECT_TRUE(ss.ok() || ss.code() == StatusCode::kFailedPrecondition)
            << path << ": " << ss.ToString();
      }
    }
  }
  EXPECT_EQ(files, 6);  // demo, the production example, the four seed files (000+001 share one)
}

}  // namespace
}  // namespace stagesync::config
