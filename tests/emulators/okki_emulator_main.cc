// stagesync-emu-okki: serves an OkkiEmulator filled with generated products until SIGTERM/SIGINT
// (flags and output: EmulatorMain).
#include "emulators/okki_emulator.h"

int main(int argc, char** argv) {
  using namespace stagesync::emulators;
  OkkiEmulatorOptions opts;
  int records = 200;
  uint64_t seed = 1;
  int days = 30;
  return EmulatorMain(argc, argv,
                      {NumberFlag("--records", &records), NumberFlag("--seed", &seed),
                       NumberFlag("--days", &days, 1), StringFlag("--client-id", &opts.client_id),
                       StringFlag("--client-secret", &opts.client_secret),
                       NumberFlag("--token-ttl", &opts.token_ttl_s)},
                      [&] {
                        auto emulator = std::make_unique<OkkiEmulator>(opts);
                        const int64_t now_ms = SystemMs();
                        emulator->Generate(records, now_ms - days * kDayMs, now_ms, seed);
                        return emulator;
                      });
}
