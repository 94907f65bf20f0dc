// stagesync-emu-kingdee: serves a KingdeeEmulator filled with generated materials (and, on
// request, CN_PAYAPPLY bills FKSQ000001...) until SIGTERM/SIGINT. Prints
// "listening on 127.0.0.1:PORT" once the socket accepts connections.
#include <fmt/format.h>
#include <signal.h>

#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <system_error>

#include "emulators/kingdee_emulator.h"

namespace {

constexpr std::string_view kUsage =
    "usage: stagesync-emu-kingdee [--port N] [--port-file PATH] [--materials N] [--seed S]\n"
    "         [--pay-applies N] [--pay-applies-from PATH] [--acct-id ID] [--username U] "
    "[--password P] [--app-id ID]\n"
    "         [--app-secret S] [--latency-ms MS] [--max-qps N] [--session-calls N]\n";

struct Flags {
  int port = 0;
  std::string port_file;
  int materials = 200;
  uint64_t seed = 1;
  int pay_applies = 0;
  std::string pay_applies_from;  // CN_PAYAPPLY numbers, one per line (e.g. DingTalk's 单据编号)
  int latency_ms = 0;
  int max_qps = 0;
  int session_calls = 0;
  stagesync::emulators::KingdeeEmulatorOptions opts;
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
    } else if (name == "--port-file") {
      flags->port_file = value;
    } else if (name == "--materials") {
      ok = ParseNumber(value, &flags->materials) && flags->materials >= 0;
    } else if (name == "--seed") {
      ok = ParseNumber(value, &flags->seed);
    } else if (name == "--pay-applies-from") {
      flags->pay_applies_from = value;
    } else if (name == "--pay-applies") {
      ok = ParseNumber(value, &flags->pay_applies) && flags->pay_applies >= 0;
    } else if (name == "--acct-id") {
      flags->opts.acct_id = value;
    } else if (name == "--username") {
      flags->opts.username = value;
    } else if (name == "--password") {
      flags->opts.password = value;
    } else if (name == "--app-id") {
      flags->opts.app_id = value;
    } else if (name == "--app-secret") {
      flags->opts.app_secret = value;
    } else if (name == "--latency-ms") {
      ok = ParseNumber(value, &flags->latency_ms) && flags->latency_ms >= 0;
    } else if (name == "--max-qps") {
      ok = ParseNumber(value, &flags->max_qps) && flags->max_qps >= 0;
    } else if (name == "--session-calls") {
      ok = ParseNumber(value, &flags->session_calls) && flags->session_calls >= 0;
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

  stagesync::emulators::KingdeeEmulator emulator(flags.opts);
  emulator.GenerateMaterials(flags.materials, flags.seed);
  if (!flags.pay_applies_from.empty()) {
    std::ifstream in(flags.pay_applies_from);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) emulator.AddPayApply(line);
    }
  }
  for (int i = 1; i <= flags.pay_applies; ++i) {
    emulator.AddPayApply(fmt::format("FKSQ{:06}", i));
  }
  emulator.SetLatencyMs(flags.latency_ms);
  emulator.SetMaxQps(flags.max_qps);
  emulator.SetSessionExpiresAfterCalls(flags.session_calls);
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
