// Status and Result<T>: the error type used across every stagesync module.
// The code alone decides what a caller does next (retry, redo, give up); the message is for
// people and must never contain a secret. Thread-safe as values (no shared state).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace stagesync {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // bad input or config: do not retry
  kNotFound,            // the thing asked for does not exist
  kAlreadyExists,       // e.g. the state dir is locked by another process
  kFailedPrecondition,  // the system is not in a state to do this: do not retry
  kPermissionDenied,    // credentials or permissions refused: do not retry
  kUnauthenticated,     // token/session expired: refresh, then retry once
  kResourceExhausted,   // throttled or quota: back off, then retry
  kUnavailable,         // transient (network, 5xx, server gone): back off, then retry
  kAborted,             // conflict (deadlock): redo the unit of work
  kDataLoss,            // stored data (staging, a saved token) is corrupt: stop, do not retry
  kBadReply,            // an answer that cannot be read (cut, garbled, not the documented
                        // shape): retried a few times, then the payload is reported bad
  kDeadlineExceeded,    // timed out; the outcome of a write is unknown
  kInternal,            // a bug
  kCancelled,           // the process is stopping: the work was left undone on purpose (a
                        // call not retried, a run cut short); done again by the next run
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns a copy whose message is "context: message"; the code is kept.
  Status WithContext(std::string_view context) const;
  std::string ToString() const;

  // A wait the remote side asked for (e.g. Retry-After), or 0.
  int64_t retry_after_ms() const { return retry_after_ms_; }
  Status& set_retry_after_ms(int64_t ms) {
    retry_after_ms_ = ms;
    return *this;
  }

  // True when backing off and trying again may succeed.
  bool IsRetryable() const {
    return code_ == StatusCode::kUnavailable || code_ == StatusCode::kResourceExhausted ||
           code_ == StatusCode::kAborted || code_ == StatusCode::kDeadlineExceeded;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  int64_t retry_after_ms_ = 0;
};

inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status FailedPrecondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status DataLoss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status BadReply(std::string m) { return {StatusCode::kBadReply, std::move(m)}; }
inline Status Cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }

// Result<T> holds a T or a non-ok Status. Shaped like std::expected so it can become one.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    if (std::get<Status>(v_).ok()) v_ = Status(StatusCode::kInternal, "Result from ok Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace stagesync

#define SS_CONCAT_INNER_(a, b) a##b
#define SS_CONCAT_(a, b) SS_CONCAT_INNER_(a, b)

#define SS_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::stagesync::Status ss_status_ = (expr); \
    if (!ss_status_.ok()) return ss_status_; \
  } while (0)

#define SS_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()

#define SS_ASSIGN_OR_RETURN(lhs, expr) \
  SS_ASSIGN_OR_RETURN_IMPL_(SS_CONCAT_(ss_result_, __LINE__), lhs, expr)

// Invariants whose failure would corrupt data: checked in every build type.
#define SS_CHECK(cond)                                                          \
  do {                                                                          \
    if (!(cond)) ::stagesync::internal::CheckFailed(#cond, __FILE__, __LINE__); \
  } while (0)

namespace stagesync::internal {
[[noreturn]] void CheckFailed(const char* cond, const char* file, int line);
}
