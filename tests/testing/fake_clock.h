// FakeClock: a Clock whose time only moves when a test (or a sleep) moves it, so schedules,
// token expiry and backoff run instantly and deterministically. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>

#include "stagesync/clock.h"

namespace stagesync::testing {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t now_micros = 1700000000000000) : now_(now_micros) {}
  int64_t NowMicros() override { return now_.load(); }
  int64_t MonotonicMicros() override { return now_.load(); }
  void SleepForMicros(int64_t micros) override {
    if (micros > 0) now_ += micros;
    slept_ += micros > 0 ? micros : 0;
  }
  void Advance(int64_t micros) { now_ += micros; }
  void SetNowMillis(int64_t ms) { now_ = ms * 1000; }
  int64_t slept_micros() const { return slept_.load(); }

 private:
  std::atomic<int64_t> now_;
  std::atomic<int64_t> slept_{0};
};

// A clock that reads real time but reports wall time shifted to a chosen instant, for
// integration tests that need "now" pinned to a window boundary while sleeping for real.
class ShiftedClock final : public Clock {
 public:
  explicit ShiftedClock(int64_t now_ms) : offset_us_(now_ms * 1000 - Clock::Real()->NowMicros()) {}
  int64_t NowMicros() override { return Clock::Real()->NowMicros() + offset_us_; }
  int64_t MonotonicMicros() override { return Clock::Real()->MonotonicMicros(); }
  void SleepForMicros(int64_t micros) override { Clock::Real()->SleepForMicros(micros); }

 private:
  const int64_t offset_us_;
};

}  // namespace stagesync::testing
