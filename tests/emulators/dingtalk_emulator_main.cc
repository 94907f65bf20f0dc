// stagesync-emu-dingtalk: serves a DingTalkEmulator filled with generated payment requests until
// SIGTERM/SIGINT (flags and output: EmulatorMain). The same port serves the v1.0 Yida
// process-instance API (doc/vendors/yida.md), empty at start.
#include <fstream>

#include "emulators/dingtalk_emulator.h"

int main(int argc, char** argv) {
  using namespace stagesync::emulators;
  DingTalkEmulatorOptions opts;
  int instances = 200;
  uint64_t seed = 1;
  int days = 30;
  int yida_search_lag_ms = 0;
  int yida_max_qps = 0;
  std::string bill_numbers_out;  // the 单据编号 of every instance, one per line (for Kingdee)
  return EmulatorMain(argc, argv,
                      {NumberFlag("--instances", &instances), NumberFlag("--seed", &seed),
                       NumberFlag("--days", &days, 1), StringFlag("--app-key", &opts.app_key),
                       StringFlag("--app-secret", &opts.app_secret),
                       StringFlag("--process-code", &opts.process_code),
                       NumberFlag("--token-ttl", &opts.token_ttl_s),
                       StringFlag("--yida-app-type", &opts.yida_app_type),
                       StringFlag("--yida-system-token", &opts.yida_system_token),
                       StringFlag("--yida-form-uuid", &opts.yida_form_uuid),
                       NumberFlag("--yida-search-lag-ms", &yida_search_lag_ms),
                       NumberFlag("--yida-max-qps", &yida_max_qps),
                       StringFlag("--bill-numbers-out", &bill_numbers_out)},
                      [&] {
                        auto emulator = std::make_unique<DingTalkEmulator>(opts);
                        const int64_t now_ms = SystemMs();
                        emulator->Generate(instances, now_ms - int64_t{days} * 86'400'000, now_ms,
                                           seed);
                        if (!bill_numbers_out.empty()) {
                          std::ofstream out(bill_numbers_out);
                          for (const auto& inst : emulator->Instances())
                            out << inst.bill_number << "\n";
                        }
                        emulator->SetYidaSearchLagMs(yida_search_lag_ms);
                        emulator->SetYidaMaxQps(yida_max_qps);
                        return emulator;
                      });
}
