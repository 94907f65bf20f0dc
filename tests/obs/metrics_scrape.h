// Reading a Prometheus text exposition in tests: the value of one sample, found by its metric
// name and labels (in any order), so assertions name the series they mean.
#pragma once

#include <map>
#include <optional>
#include <sstream>
#include <string>

namespace stagesync::testing {

// The labels of a sample line `name{a="x",b="y"} value` (values without escapes: ours have none).
inline std::map<std::string, std::string> SampleLabels(const std::string& inside) {
  std::map<std::string, std::string> out;
  size_t i = 0;
  while (i < inside.size()) {
    const size_t eq = inside.find("=\"", i);
    if (eq == std::string::npos) break;
    const size_t end = inside.find('"', eq + 2);
    if (end == std::string::npos) break;
    out[inside.substr(i, eq - i)] = inside.substr(eq + 2, end - eq - 2);
    i = end + 1;
    if (i < inside.size() && inside[i] == ',') ++i;
  }
  return out;
}

// The value of the sample `name` with exactly `labels`; nullopt when the scrape has none.
inline std::optional<double> SampleValue(const std::string& scrape, const std::string& name,
                                         const std::map<std::string, std::string>& labels = {}) {
  std::istringstream in(scrape);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t brace = line.find('{');
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    const std::string metric = line.substr(0, std::min(brace, space));
    if (metric != name) continue;
    std::map<std::string, std::string> have;
    if (brace != std::string::npos && brace < space) {
      const size_t close = line.find('}', brace);
      have = SampleLabels(line.substr(brace + 1, close - brace - 1));
    }
    if (have == labels) return std::stod(line.substr(space + 1));
  }
  return std::nullopt;
}

}  // namespace stagesync::testing
