// TempDir: a fresh directory under $TMPDIR (or /tmp) removed when the object dies.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace stagesync::testing {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/stagesync-test-XXXXXX";
    char* p = ::mkdtemp(tmpl.data());
    path_ = p ? p : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace stagesync::testing
