// stagesync-emu-dingtalk: serves a DingTalkEmulator filled with generated payment requests until
// SIGTERM/SIGINT. Prints "listening on 127.0.0.1:PORT" once the socket accepts connections.
// The same port serves the v1.0 Yida process-instance API (doc/vendors/yida.md), empty at start.
#include <signal.h>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <system_error>

#include "emulators/dingtalk_emulator.h"

namespace {

constexpr std::string_view kUsage =
    "usage: stagesync-emu-dingtalk [--port N] [--instances N] [--seed S] [--days D]\n"
    "         [--port-file PATH] [--app-key K] [--app-secret S] [--process-code C]\n"
    "         [--token-ttl SECONDS] [--latency-ms MS] [--max-qps N]\n"
    "         [--yida-app-type T] [--yida-system-token T] [--yida-form-uuid F]\n"
    "         [--yida-search-lag-ms MS] [--yida-max-qps N] [--bill-numbers-out PATH]\n";

struct Flags {
  int port = 0;
  int instances = 200;
  uint64_t seed = 1;
  int days = 30;
  std::string port_file;
  int latency_ms = 0;
  int max_qps = 0;
  int yida_search_lag_ms = 0;
  int yida_max_qps = 0;
  std::string bill_numbers_out;  // the 单据编号 of every instance, one per line (for Kingdee)
  stagesync::emulators::DingTalkEmulatorOptions opts;
};

template <typename T>
bool ParseNumber(std::string_view s, T* out) {
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// Accepts "--name value" and "--name=value". Returns false (after printing why) on bad input.
bool ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      std::exit(0);
    }
    std::string_view name = arg;
    std::string_view value;
    if (const size_t eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      std::cerr << "missing value for " << arg << "\n" << kUsage;
      return false;
    }
    bool ok = true;
    if (name == "--port") {
      ok = ParseNumber(value, &flags->port) && flags->port >= 0 && flags->port < 65536;
    } else if (name == "--instances") {
      ok = ParseNumber(value, &flags->instances) && flags->instances >= 0;
    } else if (name == "--seed") {
      ok = ParseNumber(value, &flags->seed);
    } else if (name == "--days") {
      ok = ParseNumber(value, &flags->days) && flags->days > 0;
    } else if (name == "--port-file") {
      flags->port_file = value;
    } else if (name == "--bill-numbers-out") {
      flags->bill_numbers_out = value;
    } else if (name == "--app-key") {
      flags->opts.app_key = value;
    } else if (name == "--app-secret") {
      flags->opts.app_secret = value;
    } else if (name == "--process-code") {
      flags->opts.process_code = value;
    } else if (name == "--token-ttl") {
      ok = ParseNumber(value, &flags->opts.token_ttl_s) && flags->opts.token_ttl_s >= 0;
    } else if (name == "--latency-ms") {
      ok = ParseNumber(value, &flags->latency_ms) && flags->latency_ms >= 0;
    } else if (name == "--max-qps") {
      ok = ParseNumber(value, &flags->max_qps) && flags->max_qps >= 0;
    } else if (name == "--yida-app-type") {
      flags->opts.yida_app_type = value;
    } else if (name == "--yida-system-token") {
      flags->opts.yida_system_token = value;
    } else if (name == "--yida-form-uuid") {
      flags->opts.yida_form_uuid = value;
    } else if (name == "--yida-search-lag-ms") {
      ok = ParseNumber(value, &flags->yida_search_lag_ms) && flags->yida_search_lag_ms >= 0;
    } else if (name == "--yida-max-qps") {
      ok = ParseNumber(value, &flags->yida_max_qps) && flags->yida_max_qps >= 0;
    } else {
      std::cerr << "unknown flag " << name << "\n" << kUsage;
      return false;
    }
    if (!ok) {
      std::cerr << "bad value for " << name << ": " << value << "\n";
      return false;
    }
  }
  return true;
}

// Written to a temporary file and renamed so a watcher never reads a partial port.
bool WritePortFile(const std::string& path, int port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out.flush()) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) return 2;

  // Block the stop signals before any thread exists so every thread inherits the mask and
  // sigwait below is the only receiver.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  stagesync::emulators::DingTalkEmulator emulator(flags.opts);
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  emulator.Generate(flags.instances, now_ms - int64_t{flags.days} * 86'400'000, now_ms, flags.seed);
  emulator.SetLatencyMs(flags.latency_ms);
  emulator.SetMaxQps(flags.max_qps);
  if (!flags.bill_numbers_out.empty()) {
    std::ofstream out(flags.bill_numbers_out);
    for (const auto& inst : emulator.Instances()) out << inst.bill_number << "\n";
  }
  emulator.SetYidaSearchLagMs(flags.yida_search_lag_ms);
  emulator.SetYidaMaxQps(flags.yida_max_qps);
  if (!emulator.Start(flags.port)) {
    std::cerr << "cannot listen on 127.0.0.1:" << flags.port << "\n";
    return 1;
  }
  if (!flags.port_file.empty() && !WritePortFile(flags.port_file, emulator.port())) {
    std::cerr << "cannot write port file " << flags.port_file << "\n";
    return 1;
  }
  std::cout << "listening on 127.0.0.1:" << emulator.port() << std::endl;

  int sig = 0;
  sigwait(&stop_signals, &sig);
  emulator.Stop();
  return 0;
}
