// SystemdNotifier: the agent's side of systemd's notify protocol (Type=notify, WatchdogSec=),
// a thin wrapper over libsystemd's sd_notify. Without NOTIFY_SOCKET (not started by systemd,
// or in a test) every call is a no-op. Thread-safe: each call sends one datagram.
#pragma once

#include <cstdint>
#include <string_view>

namespace stagesync::agent {

class SystemdNotifier {
 public:
  // Reads NOTIFY_SOCKET and the watchdog settings once.
  SystemdNotifier();

  // NOTIFY_SOCKET is set: systemd (or a test) listens.
  bool enabled() const { return enabled_; }
  // READY=1: startup finished (config loaded, staging open, control API listening).
  void Ready();
  // STATUS=<text>: one line shown by `systemctl status`; newlines are replaced by spaces.
  void Status(std::string_view text);
  // STOPPING=1: shutdown began (systemd then waits TimeoutStopSec).
  void Stopping();
  // WATCHDOG=1: the main loop is alive. Call every WatchdogIntervalUs() / 2.
  void Watchdog();
  // WatchdogSec= in microseconds when the watchdog is on for this process, else 0.
  int64_t WatchdogIntervalUs() const { return watchdog_us_; }

 private:
  void Send(const char* state);

  bool enabled_ = false;
  int64_t watchdog_us_ = 0;
};

}  // namespace stagesync::agent
