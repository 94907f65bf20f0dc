// Helpers for tests that run a seed pipeline (conf/seeds/00X-*.json) against the vendor
// emulators: the seed file as shipped, with its state dir, vendor connection and MySQL
// connection pointed at the test's emulator, state dir and MariaDB database, every ${ENV}
// replaced, and any source option overridden. Header-only; used by tests/source/*.
#pragma once

#include <fmt/format.h>

#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "stagesync/json.h"

namespace stagesync::testing {

// Plausible values for whatever the example configs read from the environment.
inline const char* AnyEnv(const char* name) {
  std::string n(name);
  if (n.find("URL") != std::string::npos) return "https://vendor.example";
  if (n.find("PORT") != std::string::npos) return "3306";
  return "x";
}

inline json::Value* Find(json::Value* obj, const std::string& key) {
  for (auto& m : obj->mutable_members()) {
    if (m.first == key) return &m.second;
  }
  return nullptr;
}

inline void Set(json::Value* obj, const std::string& key, json::Value v) {
  if (json::Value* old = Find(obj, key)) {
    *old = std::move(v);
    return;
  }
  obj->Add(key, std::move(v));
}

inline void Erase(json::Value* obj, const std::string& key) {
  auto& m = obj->mutable_members();
  std::erase_if(m, [&](const json::Value::Member& e) { return e.first == key; });
}

inline json::Value Str(const std::string& s) { return json::Value::String(s); }
inline json::Value Num(double n) { return json::Value::Number(fmt::format("{}", n)); }
inline json::Value Raw(const std::string& text) { return *json::Parse(text); }

// Everything a test changes in a seed file. Values are JSON.
struct SeedEdits {
  std::string state_dir;
  std::string vendor_connection;                  // e.g. "kingdee"
  std::map<std::string, json::Value> connection;  // options of that connection
  std::map<std::string, json::Value> source;      // options of the pipeline's source
  std::vector<std::string> remove_source;         // source options to drop
  std::string mysql_connection;                   // e.g. "crm" ("" = none)
  int mysql_port = 0;
  std::string mysql_database;
  std::map<std::string, json::Value> sink;  // options of the pipeline's first sink
};

// Edits pointing the seed's `vendor` connection ("kingdee", "kuaimai" or "okki") at that
// emulator (`url`: its base_url()) with its demo credentials, plus the options in `extra`.
inline SeedEdits EmulatorSeedEdits(const std::string& vendor, const std::string& url,
                                   const std::string& state_dir,
                                   const std::map<std::string, json::Value>& extra = {}) {
  static const std::map<std::string, std::map<std::string, std::string>> kLogins = {
      {"kingdee",
       {{"acct_id", "demo-acct"},
        {"username", "api"},
        {"app_id", "demo-app"},
        {"app_secret", "demo-app-secret"}}},
      {"kuaimai",
       {{"app_key", "demo-kuaimai"},
        {"app_secret", "demo-kuaimai-secret"},
        {"session", "at-0"},
        {"refresh_token", "rt-0"}}},
      {"okki", {{"client_id", "demo-okki"}, {"client_secret", "demo-okki-secret"}}}};
  SeedEdits e;
  e.state_dir = state_dir;
  e.vendor_connection = vendor;
  e.connection["base_url"] = Str(vendor == "kuaimai" ? url + "/router" : url);
  for (const auto& [k, v] : kLogins.at(vendor)) e.connection[k] = Str(v);
  for (const auto& [k, v] : extra) e.connection[k] = v;
  return e;
}

// The seed file `name` (under conf/seeds/) with the edits applied, as JSON text.
inline std::string SeedConfigJson(const std::string& name, const SeedEdits& e) {
  std::ifstream in(std::string(STAGESYNC_SOURCE_DIR "/conf/seeds/") + name);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto parsed = json::Parse(text);
  if (!parsed.ok()) return "";
  json::Value root = std::move(parsed).value();
  Set(&root, "state_dir", Str(e.state_dir));
  json::Value* conns = Find(&root, "connections");
  json::Value* vendor = Find(conns, e.vendor_connection);
  for (const auto& [k, v] : e.connection) Set(vendor, k, v);
  // Any ${ENV} left in a connection gets a harmless literal.
  for (auto& [cname, c] : conns->mutable_members()) {
    for (auto& [k, v] : c.mutable_members()) {
      if (v.is_string() && v.text().find("${") != std::string::npos) v = Str("unused-" + k);
    }
  }
  if (!e.mysql_connection.empty()) {
    json::Value* db = Find(conns, e.mysql_connection);
    Set(db, "host", Str("127.0.0.1"));
    Set(db, "port", Num(e.mysql_port));
    Set(db, "user", Str("root"));
    Set(db, "password", Str(""));
    Set(db, "database", Str(e.mysql_database));
    Set(db, "tls_mode", Str("disabled"));
  }
  json::Value* pipes = Find(&root, "pipelines");
  json::Value& pipeline = pipes->mutable_members().front().second;
  json::Value* src = Find(&pipeline, "source");
  for (const auto& k : e.remove_source) Erase(src, k);
  for (const auto& [k, v] : e.source) Set(src, k, v);
  json::Value* sinks = Find(&pipeline, "sinks");
  if (sinks != nullptr && !sinks->members().empty()) {
    json::Value& sink = sinks->mutable_members().front().second;
    for (auto& [k, v] : sink.mutable_members()) {
      if (v.is_string() && v.text().find("${") != std::string::npos) v = Str("unused-" + k);
    }
    for (const auto& [k, v] : e.sink) Set(&sink, k, v);
  }
  return json::Serialize(root);
}

}  // namespace stagesync::testing
