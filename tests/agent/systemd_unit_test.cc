// conf/systemd/stagesync.service passes `systemd-analyze verify` (which needs no running
// systemd, but does need ExecStart's binary to exist: the copy under test points at the built
// one). verify only warns about an unknown directive and still exits 0, so every line it
// prints about the unit counts as a failure; TypoIsCaught shows that check bites.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>

#include "stagesync/config.h"

namespace {

namespace fs = std::filesystem;

constexpr char kExecStart[] =
    "ExecStart=/usr/local/bin/stagesync --config /etc/stagesync/stagesync.json run";

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class SystemdUnitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("command -v systemd-analyze >/dev/null 2>&1") != 0) {
      GTEST_SKIP() << "systemd-analyze is not installed (apt-get install systemd)";
    }
    char tmpl[] = "/tmp/stagesync-unit-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    unit_ = ReadFile(fs::path(STAGESYNC_SOURCE_DIR) / "conf/systemd/stagesync.service");
    ASSERT_NE(unit_.find(std::string(kExecStart) + "\n"), std::string::npos);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // The unit as installed, except that ExecStart runs the binary this build made.
  std::string Testable(std::string unit) const {
    const std::string built = "ExecStart=" + std::string(STAGESYNC_BINARY_DIR) +
                              "/stagesync --config " + "/etc/stagesync/stagesync.json run";
    unit.replace(unit.find(kExecStart), std::string(kExecStart).size(), built);
    return unit;
  }

  // Runs verify on `unit`; returns its exit code and fills *out with what it printed.
  int Verify(const std::string& unit, std::string* out) const {
    const fs::path path = dir_ / "stagesync.service";
    std::ofstream(path, std::ios::binary | std::ios::trunc) << unit;
    const std::string cmd = "systemd-analyze verify --man=no '" + path.string() + "' 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) return -1;
    char buf[4096];
    size_t n;
    out->clear();
    while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out->append(buf, n);
    const int status = ::pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  fs::path dir_;
  std::string unit_;
};

TEST_F(SystemdUnitTest, VerifiesClean) {
  ASSERT_TRUE(fs::exists(std::string(STAGESYNC_BINARY_DIR) + "/stagesync"));
  std::string out;
  EXPECT_EQ(Verify(Testable(unit_), &out), 0) << out;
  EXPECT_EQ(out.find("stagesync.service"), std::string::npos) << out;
}

TEST_F(SystemdUnitTest, TypoIsCaught) {
  std::string typo = Testable(unit_);
  typo.replace(typo.find("ProtectHome=yes"), 15, "ProtectHomee=yes");
  std::string out;
  const int rc = Verify(typo, &out);
  EXPECT_TRUE(rc != 0 || out.find("stagesync.service") != std::string::npos)
      << "verify did not notice ProtectHomee=";
  EXPECT_NE(out.find("Unknown key 'ProtectHomee'"), std::string::npos) << out;
}

TEST_F(SystemdUnitTest, MissingBinaryIsCaught) {
  std::string out;
  EXPECT_NE(Verify(unit_, &out), 0) << "verify passed with ExecStart=/usr/local/bin/stagesync "
                                       "absent; the test could not check ExecStart";
}

TEST_F(SystemdUnitTest, StopTimeoutOutlastsTheShutdownGrace) {
  std::smatch m;
  ASSERT_TRUE(std::regex_search(unit_, m, std::regex("\nTimeoutStopSec=([0-9]+)\n")));
  EXPECT_GT(std::stoll(m[1]), stagesync::config::AgentConfig{}.shutdown_grace_s);
  for (const char* line : {"\nType=notify\n", "\nNotifyAccess=main\n", "\nWatchdogSec=60\n",
                           "\nUser=stagesync\n", "\nCapabilityBoundingSet=\n"}) {
    EXPECT_NE(unit_.find(line), std::string::npos) << line;
  }
}

}  // namespace
