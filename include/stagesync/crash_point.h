// Crash points: named places where a test can make the process die (SIGKILL to itself), to
// prove that a crash exactly there loses and repeats nothing. Enabled only by the environment
// variable STAGESYNC_CRASH_AT="name" or "name:N" (die at the N-th pass, default 1).
// Thread-safe; costs one relaxed load when disabled.
#pragma once

namespace stagesync {

void CrashPoint(const char* name);

}  // namespace stagesync
