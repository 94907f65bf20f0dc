// Mapping benchmark (issue 4): records/s through the seed 000 mapping as conf/demo.json
// configures it (labels, the 费用明细 table flattened from its JSON string, dates, exact
// decimals), parse included. Prints JSON lines; bench/run sets it beside the staging ingest
// time per record.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "connectors/mysql/mysql_sink.h"
#include "stagesync/config.h"
#include "stagesync/json.h"
#include "stagesync/transform.h"
#include "synthetic.h"

int main(int argc, char** argv) {
  using namespace stagesync;
  int records = 200000;
  std::string repo = ".";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--records") records = std::stoi(argv[i + 1]);
    if (k == "--repo") repo = argv[i + 1];
  }
  std::ifstream in(repo + "/conf/demo.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto cfg = config::LoadString(text, "/tmp", [](const char* n) -> const char* {
    return std::string(n).find("URL") != std::string::npos ? "http://127.0.0.1:1" : "3306";
  });
  if (!cfg.ok()) {
    std::cerr << cfg.status().ToString() << "\n";
    return 1;
  }
  const auto& p = cfg->pipelines[0];
  auto opts = sink::mysql::ReadSinkOptions(p, p.sinks[0]);
  auto mapping = opts.ok() ? transform::Mapping::Compile(opts->mapping)
                           : Result<transform::Mapping>(opts.status());
  if (!mapping.ok()) {
    std::cerr << mapping.status().ToString() << "\n";
    return 1;
  }
  std::mt19937_64 rng(11);
  std::vector<std::string> raws;
  for (int i = 0; i < records; ++i) raws.push_back(bench::PaymentRequest(i, rng));
  size_t rows = 0;
  std::vector<transform::MappedRow> out;
  auto t0 = std::chrono::steady_clock::now();
  for (const auto& raw : raws) {
    auto v = json::Parse(raw);
    out.clear();
    if (!v.ok() || !mapping->Map(*v, &out).ok()) return 1;
    rows += out.size();
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "{\"name\":\"mapping_seed000\",\"value\":%.0f,\"unit\":\"records/s\",\"records\":%d,"
      "\"rows\":%zu,\"us_per_record\":%.2f}\n",
      records / s, records, rows, 1e6 * s / records);
  return 0;
}
