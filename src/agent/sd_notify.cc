#include "agent/sd_notify.h"

#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <string>

namespace stagesync::agent {

SystemdNotifier::SystemdNotifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  enabled_ = socket != nullptr && socket[0] != '\0';
  uint64_t usec = 0;
  // Keeps WATCHDOG_USEC / WATCHDOG_PID in the environment (unset_environment 0): the agent does
  // not exec children that could mistake them for their own.
  if (sd_watchdog_enabled(0, &usec) > 0) watchdog_us_ = static_cast<int64_t>(usec);
}

void SystemdNotifier::Send(const char* state) {
  if (!enabled_) return;
  // A failure (systemd gone, socket full) must not stop the agent; nothing to do about it.
  (void)sd_notify(0, state);
}

void SystemdNotifier::Ready() { Send("READY=1"); }

void SystemdNotifier::Status(std::string_view text) {
  if (!enabled_) return;
  std::string line = "STATUS=";
  for (char c : text) line.push_back(c == '\n' || c == '\r' ? ' ' : c);
  Send(line.c_str());
}

void SystemdNotifier::Stopping() { Send("STOPPING=1"); }

void SystemdNotifier::Watchdog() { Send("WATCHDOG=1"); }

}  // namespace stagesync::agent
