// Subprocess: fork/exec a stagesync binary with extra environment, wait for it, signal it or
// SIGKILL it.
// For crash tests; POSIX only.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace stagesync::testing {

class Subprocess {
 public:
  // Starts argv[0] with argv; env entries "K=V" are added to the inherited environment.
  // stdout/stderr go to `log_file` (appended) when given.
  bool Start(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
             const std::string& log_file = "") {
    pid_ = ::fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
      if (!log_file.empty()) {
        FILE* f = std::fopen(log_file.c_str(), "a");
        if (f != nullptr) {
          ::dup2(fileno(f), 1);
          ::dup2(fileno(f), 2);
        }
      }
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    return true;
  }
  // Returns the exit code, or 128+signal when killed.
  int Wait() {
    int status = 0;
    if (pid_ <= 0) return -1;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
  }
  // Non-blocking: true when the process has exited (its code in *code).
  bool Poll(int* code) {
    int status = 0;
    if (pid_ <= 0) return true;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == 0) return false;
    pid_ = -1;
    *code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
  }
  void Kill() { Signal(SIGKILL); }
  // Sends `sig` (e.g. SIGTERM for a graceful stop) while the process has not been waited for.
  void Signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  pid_t pid() const { return pid_; }  // -1 once waited for
  ~Subprocess() {
    if (pid_ > 0) {
      Kill();
      Wait();
    }
  }

 private:
  pid_t pid_ = -1;
};

// Runs a command to completion; returns its exit code.
inline int Run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
               const std::string& log_file = "") {
  Subprocess p;
  if (!p.Start(argv, env, log_file)) return -1;
  return p.Wait();
}

}  // namespace stagesync::testing
