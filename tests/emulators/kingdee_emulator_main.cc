// stagesync-emu-kingdee: serves a KingdeeEmulator filled with generated materials (and, on
// request, CN_PAYAPPLY bills FKSQ000001...) until SIGTERM/SIGINT (flags and output: EmulatorMain).
#include <fmt/format.h>

#include <fstream>

#include "emulators/kingdee_emulator.h"

int main(int argc, char** argv) {
  using namespace stagesync::emulators;
  KingdeeEmulatorOptions opts;
  int materials = 200;
  uint64_t seed = 1;
  int pay_applies = 0;
  std::string pay_applies_from;  // CN_PAYAPPLY numbers, one per line (e.g. DingTalk's 单据编号)
  int session_calls = 0;
  return EmulatorMain(
      argc, argv,
      {NumberFlag("--materials", &materials), NumberFlag("--seed", &seed),
       NumberFlag("--pay-applies", &pay_applies),
       StringFlag("--pay-applies-from", &pay_applies_from), StringFlag("--acct-id", &opts.acct_id),
       StringFlag("--username", &opts.username), StringFlag("--password", &opts.password),
       StringFlag("--app-id", &opts.app_id), StringFlag("--app-secret", &opts.app_secret),
       NumberFlag("--session-calls", &session_calls)},
      [&] {
        auto emulator = std::make_unique<KingdeeEmulator>(opts);
        emulator->GenerateMaterials(materials, seed);
        if (!pay_applies_from.empty()) {
          std::ifstream in(pay_applies_from);
          for (std::string line; std::getline(in, line);) {
            if (!line.empty()) emulator->AddPayApply(line);
          }
        }
        for (int i = 1; i <= pay_applies; ++i) {
          emulator->AddPayApply(fmt::format("FKSQ{:06}", i));
        }
        emulator->SetSessionExpiresAfterCalls(session_calls);
        return emulator;
      });
}
