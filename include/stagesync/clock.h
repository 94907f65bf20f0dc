// Clock: the only way stagesync code reads time or sleeps, so tests can substitute a fake
// clock and run hours of schedule in microseconds. Implementations are thread-safe.
#pragma once

#include <cstdint>

namespace stagesync {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, microseconds since the Unix epoch.
  virtual int64_t NowMicros() = 0;
  // Monotonic time for measuring intervals; only differences are meaningful.
  virtual int64_t MonotonicMicros() = 0;
  virtual void SleepForMicros(int64_t micros) = 0;

  int64_t NowMillis() { return NowMicros() / 1000; }

  // The process-wide real clock. Never null, never deleted.
  static Clock* Real();
};

}  // namespace stagesync
