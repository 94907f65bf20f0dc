// FakeSqlConnection: a SqlConnection that runs nothing. It records every statement, answers
// the ones containing a pattern with a scripted result (others: an empty result), and fails
// the next N statements containing a pattern with a scripted Status (a lost connection, a
// deadlock), so code above the seam is unit-tested without a server. One thread at a time.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stagesync/sql.h"

namespace stagesync::testing {

class FakeSqlConnection final : public SqlConnection {
 public:
  // Statements containing `pattern` answer `result`; the first matching rule wins.
  void Answer(std::string pattern, SqlResult result) {
    answers_.emplace_back(std::move(pattern), std::move(result));
  }
  // Answers a one-cell result (e.g. a COUNT(*)).
  void AnswerValue(std::string pattern, std::string value) {
    SqlResult r;
    r.rows.push_back({std::move(value)});
    Answer(std::move(pattern), std::move(r));
  }
  // The next `n` statements containing `pattern` fail with `s` (and do nothing else).
  void FailNext(int n, std::string pattern, Status s) {
    failures_.push_back({n, std::move(pattern), std::move(s)});
  }

  Result<SqlResult> Query(std::string_view sql) override {
    statements_.emplace_back(sql);
    for (auto& f : failures_) {
      if (f.left > 0 && sql.find(f.pattern) != sql.npos) {
        --f.left;
        return f.status;
      }
    }
    for (const auto& [pattern, result] : answers_) {
      if (sql.find(pattern) != sql.npos) return result;
    }
    return SqlResult{};
  }
  std::string Quote(std::string_view s) override {
    std::string out = "'";
    for (char c : s) out += c == '\'' || c == '\\' ? std::string{'\\', c} : std::string{c};
    return out + "'";
  }
  Status Reconnect() override { return Status::Ok(); }
  Result<uint64_t> LoadDataLocal(std::string_view sql, std::string_view data,
                                 uint64_t* warnings) override {
    SS_RETURN_IF_ERROR(Query(sql).status());
    if (warnings) *warnings = 0;
    return static_cast<uint64_t>(std::count(data.begin(), data.end(), '\n'));  // a row a line
  }
  std::string ServerInfo() override { return "fake"; }

  // Every statement so far, in order (failed ones included).
  const std::vector<std::string>& statements() const { return statements_; }

 private:
  struct Failure {
    int left;
    std::string pattern;
    Status status;
  };
  std::vector<std::pair<std::string, SqlResult>> answers_;
  std::vector<Failure> failures_;
  std::vector<std::string> statements_;
};

}  // namespace stagesync::testing
