// SystemdNotifier against a datagram socket standing in for systemd's NOTIFY_SOCKET.
#include "agent/sd_notify.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

namespace stagesync::agent {
namespace {

class SdNotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/stagesync-sdnotify-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/notify";
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd_, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    ASSERT_LT(path_.size(), sizeof(addr.sun_path));
    std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
    ASSERT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    timeval tv{2, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setenv("NOTIFY_SOCKET", path_.c_str(), 1);
    ::setenv("WATCHDOG_USEC", "20000000", 1);
    ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  }
  void TearDown() override {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
    if (fd_ >= 0) ::close(fd_);
    std::filesystem::remove_all(dir_);
  }
  // The next datagram, or "" after the receive timeout.
  std::string Next() {
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }
  bool Pending() {
    char c;
    return ::recv(fd_, &c, 1, MSG_DONTWAIT | MSG_PEEK) >= 0;
  }

  std::string dir_, path_;
  int fd_ = -1;
};

TEST_F(SdNotifyTest, SendsReadyStatusWatchdogStopping) {
  SystemdNotifier n;
  EXPECT_TRUE(n.enabled());
  EXPECT_EQ(n.WatchdogIntervalUs(), 20000000);
  n.Ready();
  EXPECT_EQ(Next(), "READY=1");
  n.Status("2 pipelines\nrunning");
  EXPECT_EQ(Next(), "STATUS=2 pipelines running");  // one line
  n.Watchdog();
  EXPECT_EQ(Next(), "WATCHDOG=1");
  n.Stopping();
  EXPECT_EQ(Next(), "STOPPING=1");
  EXPECT_FALSE(Pending());
}

TEST_F(SdNotifyTest, WatchdogOfAnotherProcessIsNotOurs) {
  ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
  SystemdNotifier n;
  EXPECT_TRUE(n.enabled());
  EXPECT_EQ(n.WatchdogIntervalUs(), 0);
}

TEST_F(SdNotifyTest, NoOpsOutsideSystemd) {
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
  SystemdNotifier n;
  EXPECT_FALSE(n.enabled());
  EXPECT_EQ(n.WatchdogIntervalUs(), 0);
  n.Ready();
  n.Status("x");
  n.Watchdog();
  n.Stopping();
  EXPECT_FALSE(Pending());
}

}  // namespace
}  // namespace stagesync::agent
