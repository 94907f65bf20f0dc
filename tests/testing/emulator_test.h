// EmulatorTest<Emu>: the fixture base of the four vendor emulators' tests (tests/emulators/):
// a started emulator, a kept-alive client to it and a JSON parser, plus the checks every
// emulator passes the same way. Not thread-safe except where a helper says so.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <simdjson.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "emulators/emulator_base.h"

namespace stagesync::emulators {

inline int64_t NowMs() { return SystemMs(); }

inline bool HasKey(simdjson::dom::element obj, std::string_view key) {
  return obj.at_key(key).error() == simdjson::SUCCESS;
}

template <class Emu>
class EmulatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(emu_.Start());
    client_ = NewClient(emu_.port());
  }

  static std::unique_ptr<httplib::Client> NewClient(int port) {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", port);
    c->set_keep_alive(true);
    c->set_tcp_nodelay(true);
    return c;
  }

  // Valid until the next Parse call.
  simdjson::dom::element Parse(const std::string& body) {
    simdjson::dom::element root;
    EXPECT_EQ(parser_.parse(body).get(root), simdjson::SUCCESS) << body;
    return root;
  }

  // `other` cannot take emu_'s port, starts on a free one, stops, and starts again.
  void StartBesideAndRestart(Emu& other) {
    EXPECT_FALSE(other.Start(emu_.port()));
    ASSERT_TRUE(other.Start());
    EXPECT_NE(other.port(), emu_.port());
    EXPECT_EQ(other.base_url(), fmt::format("http://127.0.0.1:{}", other.port()));
    other.Stop();
    EXPECT_EQ(other.port(), 0);
    ASSERT_TRUE(other.Start());
  }

  // Runs `call(client, parser, thread, i)` for i < calls on `threads` threads at once, each
  // with its own client and parser; returns how many calls returned true.
  int CountConcurrentOk(
      int threads, int calls,
      const std::function<bool(httplib::Client&, simdjson::dom::parser&, int, int)>& call) {
    std::atomic<int> ok{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        auto cli = NewClient(emu_.port());
        simdjson::dom::parser parser;
        for (int i = 0; i < calls; ++i) ok += call(*cli, parser, t, i);
      });
    }
    for (std::thread& th : pool) th.join();
    return ok.load();
  }

  Emu emu_;
  std::unique_ptr<httplib::Client> client_;
  simdjson::dom::parser parser_;
};

}  // namespace stagesync::emulators
