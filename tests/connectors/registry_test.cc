// The connector layer's promises: one client per connection per Runtime, shared by every
// pipeline and sink naming it (one rate limit, token, session); every option of every
// connector printed by --help-config from its table; and no vendor named outside its folder.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "connectors/connector.h"
#include "stagesync/config.h"
#include "testing/fake_http_client.h"
#include "testing/seed_config.h"

namespace stagesync::connectors {
namespace {

config::Config Demo() {
  std::ifstream in(STAGESYNC_SOURCE_DIR "/conf/demo.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto cfg = config::LoadString(text, "/tmp", &testing::AnyEnv);
  EXPECT_TRUE(cfg.ok()) << cfg.status().ToString();
  return std::move(cfg).value();
}

TEST(ConnectionsTest, OneClientPerConnectionSharedBySourcesAndSinksOfARuntime) {
  config::Config cfg = Demo();
  testing::FakeHttpClient http;
  Runtime rt(&http, Clock::Real());
  // The DingTalk pipeline's source and the Kingdee pipeline's source, each built twice.
  std::map<std::string, std::shared_ptr<Client>> first;
  for (int round = 0; round < 2; ++round) {
    for (const auto& p : cfg.pipelines) {
      const config::ConnectionConfig* conn = cfg.FindConnection(p.source.connection);
      ASSERT_TRUE(MakeSource(cfg, p, rt).ok()) << p.name;
      auto c = rt.connections().Get(*conn);
      ASSERT_TRUE(c.ok());
      if (round == 0) first[conn->name] = *c;
      EXPECT_EQ(first[conn->name], *c) << conn->name << ": a second client for one connection";
      EXPECT_NE((*c)->endpoint(), nullptr) << conn->name << ": no endpoint for the metrics";
    }
  }
  EXPECT_EQ(rt.connections().All().size(), first.size());
  // Another Runtime (another HTTP client, another clock) never gets these clients.
  testing::FakeHttpClient other_http;
  Runtime other(&other_http, Clock::Real());
  for (const auto& [name, client] : first) {
    auto c = other.connections().Get(*cfg.FindConnection(name));
    ASSERT_TRUE(c.ok());
    EXPECT_NE(*c, client) << name;
  }
  // Changed options (a reloaded config) give a new client.
  config::ConnectionConfig changed = *cfg.FindConnection(cfg.pipelines[0].source.connection);
  changed.options.Add("qps", json::Value::Number("3"));
  auto c = rt.connections().Get(changed);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_NE(*c, first[changed.name]);
}

TEST(ConnectionsTest, ASinkOnAConnectionOfTheWrongTypeIsRefusedWithItsPath) {
  config::Config cfg = Demo();
  config::PipelineConfig& p = cfg.pipelines[0];
  ASSERT_FALSE(p.sinks.empty());
  p.sinks[0].connection = p.source.connection;  // e.g. a mysql sink on the DingTalk connection
  Status s = CheckSink(cfg, p, p.sinks[0]);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find(p.sinks[0].path + ".connection"), std::string::npos) << s.message();
}

TEST(HelpConfigTest, PrintsEveryOptionOfEveryConnectorFromItsTable) {
  const std::string help = HelpConfig();
  int options = 0;
  auto expect_all = [&](OptionTableFn table, std::string_view what) {
    if (table == nullptr) return;
    for (const config::OptionSpec& o : table()) {
      ++options;
      EXPECT_NE(help.find("    " + std::string(o.name) + " "), std::string::npos)
          << what << "." << o.name;
      if (!o.required && !o.default_text.empty()) {
        EXPECT_NE(help.find("default: " + o.default_text), std::string::npos)
            << what << "." << o.name;
      }
    }
  };
  for (const Connector* c : Registry()) {
    EXPECT_NE(help.find(std::string(c->type) + ": "), std::string::npos) << c->type;
    expect_all(c->connection_options, c->type);
    expect_all(c->source_options, c->type);
    for (const SinkType& t : c->sinks) expect_all(t.options, t.type);
  }
  EXPECT_GT(options, 80);
}

// A connector's type name appears as a string literal only in its own folder: the engine and
// the other connectors reach it through the registry, never by name.
TEST(RegistryTest, NoVendorIsNamedOutsideItsFolder) {
  namespace fs = std::filesystem;
  const fs::path src = STAGESYNC_SOURCE_DIR "/src";
  for (const Connector* c : Registry()) {
    std::vector<std::string> names = {std::string(c->type)};
    for (const SinkType& t : c->sinks) names.emplace_back(t.type);
    for (const auto& e : fs::recursive_directory_iterator(src)) {
      if (!e.is_regular_file()) continue;
      const std::string rel = fs::relative(e.path(), src).string();
      if (rel.rfind("connectors/" + std::string(c->type) + "/", 0) == 0) continue;
      std::ifstream in(e.path());
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      for (const auto& n : names) {
        EXPECT_EQ(text.find("\"" + n + "\""), std::string::npos)
            << "src/" << rel << " names \"" << n << "\"";
      }
    }
  }
}

}  // namespace
}  // namespace stagesync::connectors
