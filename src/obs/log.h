// Structured log lines: one line per event with the UTC time (ms), level, message and the
// pipeline, sink and run id it concerns. `text` is the classic line plus key=value fields;
// `json` is one JSON object per line: {"ts","level","msg","pipeline","sink","run_id",...}.
// Every line passes through the central Redactor. Used by `stagesync run` (agent events) and
// the one-shot commands. Thread-safe: a line is written with one call, under a lock.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stagesync/status.h"

namespace stagesync::obs {

enum class LogFormat { kText, kJson };
enum class LogLevel { kDebug, kInfo, kNotice, kWarning, kError };

// What an event concerns; empty / 0 fields are left out of the line.
struct LogFields {
  std::string pipeline;
  std::string sink;
  int64_t run_id = 0;
  std::vector<std::pair<std::string, std::string>> extra;  // more key=value pairs
};

inline LogFields For(std::string pipeline, std::string sink = "", int64_t run_id = 0) {
  LogFields f;
  f.pipeline = std::move(pipeline);
  f.sink = std::move(sink);
  f.run_id = run_id;
  return f;
}

// "text" or "json"; InvalidArgument otherwise.
Result<LogFormat> ParseLogFormat(std::string_view name);
std::string_view LevelName(LogLevel level);

// One line (no trailing newline) for an event at `now_ms` (Unix ms), redacted. Control bytes in
// text values become spaces (a line stays a line); JSON escapes them.
std::string FormatLogLine(int64_t now_ms, LogLevel level, std::string_view msg,
                          const LogFields& fields, LogFormat format);

// Process-wide output: the format (Default: text) and where lines go (Default: stderr).
void SetLogFormat(LogFormat format);
LogFormat CurrentLogFormat();
void SetLogOutput(std::function<void(const std::string& line)> out);  // nullptr: stderr

// Formats at the real time and writes one line (with its newline) to the output.
void Log(LogLevel level, std::string_view msg, const LogFields& fields = {});

}  // namespace stagesync::obs

namespace stagesync::obs {

// Makes every later write to stdout and stderr pass through the Redactor (line-buffered, so a
// token is never split between two writes), for the CLI and tools whose output may carry
// vendor errors. Call once, early in main(). Writes straight to fds 1 and 2 are not covered.
void RedactStandardStreams();

// "2026-12-02T01:40:38.123Z": a Unix time in ms as UTC with milliseconds (log lines, dumps).
std::string IsoMillis(int64_t ms);

}  // namespace stagesync::obs
