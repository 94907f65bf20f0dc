// stagesync-emu-kuaimai: serves a KuaimaiEmulator filled with generated after-sale work orders
// until SIGTERM/SIGINT (flags and output: EmulatorMain).
#include "emulators/kuaimai_emulator.h"

int main(int argc, char** argv) {
  using namespace stagesync::emulators;
  KuaimaiEmulatorOptions opts;
  int records = 200;
  uint64_t seed = 1;
  int days = 30;
  return EmulatorMain(argc, argv,
                      {NumberFlag("--records", &records), NumberFlag("--seed", &seed),
                       NumberFlag("--days", &days, 1), StringFlag("--app-key", &opts.app_key),
                       StringFlag("--app-secret", &opts.app_secret),
                       StringFlag("--access-token", &opts.access_token),
                       StringFlag("--refresh-token", &opts.refresh_token),
                       NumberFlag("--session-ttl", &opts.session_ttl_s)},
                      [&] {
                        auto emulator = std::make_unique<KuaimaiEmulator>(opts);
                        const int64_t now_ms = SystemMs();
                        emulator->Generate(records, now_ms - days * kDayMs, now_ms, seed);
                        return emulator;
                      });
}
