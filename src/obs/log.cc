#include "obs/log.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "obs/redact.h"
#include "stagesync/json.h"

namespace stagesync::obs {

namespace {

struct Output {
  std::mutex mu;
  LogFormat format = LogFormat::kText;
  std::function<void(const std::string&)> out;
};

Output& TheOutput() {
  static Output* o = new Output();  // never destroyed: threads may log during exit
  return *o;
}

std::string OneLine(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return out;
}

// A text value with a space or quote is quoted, so key=value pairs split unambiguously.
std::string TextValue(std::string_view v) {
  if (!v.empty() && v.find_first_of(" \"=") == std::string_view::npos) return OneLine(v);
  return json::Quote(OneLine(v));
}

}  // namespace

std::string IsoMillis(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}

Result<LogFormat> ParseLogFormat(std::string_view name) {
  if (name == "text") return LogFormat::kText;
  if (name == "json") return LogFormat::kJson;
  return InvalidArgument("--log-format: expected text or json, got '" + std::string(name) + "'");
}

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kNotice:
      return "notice";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

std::string FormatLogLine(int64_t now_ms, LogLevel level, std::string_view msg,
                          const LogFields& fields, LogFormat format) {
  std::string line;
  if (format == LogFormat::kJson) {
    line = "{\"ts\":\"" + IsoMillis(now_ms) + "\",\"level\":\"" + std::string(LevelName(level)) +
           "\",\"msg\":";
    json::AppendQuoted(msg, &line);
    if (!fields.pipeline.empty()) {
      line += ",\"pipeline\":";
      json::AppendQuoted(fields.pipeline, &line);
    }
    if (!fields.sink.empty()) {
      line += ",\"sink\":";
      json::AppendQuoted(fields.sink, &line);
    }
    if (fields.run_id > 0) line += ",\"run_id\":" + std::to_string(fields.run_id);
    for (const auto& [k, v] : fields.extra) {
      line += ",";
      json::AppendQuoted(k, &line);
      line += ":";
      json::AppendQuoted(v, &line);
    }
    line += "}";
  } else {
    // The classic line ("<time> stagesync: <level>: <msg>"; info has no level word) + fields.
    line = IsoMillis(now_ms) + " stagesync: ";
    if (level != LogLevel::kInfo) line += std::string(LevelName(level)) + ": ";
    line += OneLine(msg);
    if (!fields.pipeline.empty()) line += " pipeline=" + TextValue(fields.pipeline);
    if (!fields.sink.empty()) line += " sink=" + TextValue(fields.sink);
    if (fields.run_id > 0) line += " run_id=" + std::to_string(fields.run_id);
    for (const auto& [k, v] : fields.extra) line += " " + OneLine(k) + "=" + TextValue(v);
  }
  // Redacting the finished line also catches a secret in a field or split across a value's
  // JSON escapes (the Redactor knows the escaped forms).
  return Redact(line);
}

void SetLogFormat(LogFormat format) {
  Output& o = TheOutput();
  std::lock_guard<std::mutex> lock(o.mu);
  o.format = format;
}

LogFormat CurrentLogFormat() {
  Output& o = TheOutput();
  std::lock_guard<std::mutex> lock(o.mu);
  return o.format;
}

void SetLogOutput(std::function<void(const std::string&)> out) {
  Output& o = TheOutput();
  std::lock_guard<std::mutex> lock(o.mu);
  o.out = std::move(out);
}

void Log(LogLevel level, std::string_view msg, const LogFields& fields) {
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  Output& o = TheOutput();
  std::lock_guard<std::mutex> lock(o.mu);
  std::string line = FormatLogLine(now_ms, level, msg, fields, o.format) + "\n";
  if (o.out) {
    o.out(line);
  } else {
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
  }
}

}  // namespace stagesync::obs

namespace stagesync::obs {

namespace {

ssize_t WriteRedacted(void* cookie, const char* buf, size_t size) {
  const int fd = static_cast<int>(reinterpret_cast<intptr_t>(cookie));
  const std::string clean = Redact(std::string_view(buf, size));
  size_t off = 0;
  while (off < clean.size()) {
    ssize_t n = ::write(fd, clean.data() + off, clean.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    off += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(size);  // stdio counts what it gave, not what was written
}

FILE* RedactingStream(int fd, int mode) {
  cookie_io_functions_t io{};
  io.write = WriteRedacted;
  FILE* f = fopencookie(reinterpret_cast<void*>(static_cast<intptr_t>(fd)), "w", io);
  // Line buffering hands the callback whole lines (up to 64 KiB); an unbuffered stream hands
  // it one whole printf at a time. Either way a secret is not cut in two between redactions.
  if (f != nullptr) setvbuf(f, nullptr, mode, mode == _IONBF ? 0 : 64 << 10);
  return f;
}

}  // namespace

void RedactStandardStreams() {
  static bool done = false;
  if (done) return;
  done = true;
  std::fflush(stdout);
  std::fflush(stderr);
  if (FILE* out = RedactingStream(STDOUT_FILENO, _IOLBF)) stdout = out;
  if (FILE* err = RedactingStream(STDERR_FILENO, _IONBF)) stderr = err;
}

}  // namespace stagesync::obs
