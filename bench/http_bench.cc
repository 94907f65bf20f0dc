// HTTP layer benchmark (issue 5): requests per second the libcurl client sustains against a
// local emulator with keep-alive, the same with a new connection per request, and how close a
// real DingTalk fetch runs to its configured qps with zero throttle errors (the emulator
// answers 90018 above the limit, as DingTalk does). Prints JSON lines.
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <vector>

#include "emulators/dingtalk_emulator.h"
#include "stagesync/config.h"
#include "stagesync/fetch.h"
#include "stagesync/http.h"

namespace {

using namespace stagesync;

double Rps(bool reuse, int threads, double seconds, const std::string& url) {
  HttpClientOptions o;
  o.reuse_connections = reuse;
  auto http = NewCurlHttpClient(o);
  std::atomic<int64_t> done{0}, failed{0};
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      HttpRequest req;
      req.url = url;
      while (std::chrono::steady_clock::now() < deadline) {
        auto r = http->Send(req);
        (r.ok() && r->status == 200 ? done : failed)++;
      }
    });
  }
  for (auto& th : pool) th.join();
  return static_cast<double>(done) / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 5;
  emulators::DingTalkEmulator emu;
  if (!emu.Start(0)) return 1;
  const std::string url = emu.base_url() + "/gettoken?appkey=demo-key&appsecret=demo-secret";
  for (int threads : {1, 4}) {
    double keep = Rps(true, threads, seconds, url);
    double fresh = Rps(false, threads, seconds, url);
    std::printf(
        "{\"name\":\"http_keepalive_rps\",\"value\":%.0f,\"unit\":\"requests/s\","
        "\"threads\":%d}\n",
        keep, threads);
    std::printf(
        "{\"name\":\"http_new_connection_rps\",\"value\":%.0f,\"unit\":\"requests/s\","
        "\"threads\":%d}\n",
        fresh, threads);
    std::printf(
        "{\"name\":\"http_keepalive_gain\",\"value\":%.2f,\"unit\":\"ratio\","
        "\"threads\":%d}\n",
        keep / fresh, threads);
  }

  // A real fetch at a qps limit the emulator enforces.
  const int qps = 50;
  const int64_t now = Clock::Real()->NowMillis();
  emu.Generate(600, now - 10 * 86400000LL, now - 3600000, 5);
  emu.SetMaxQps(qps);
  emu.ResetStats();
  const std::string dir = "/tmp/stagesync-http-bench";
  std::filesystem::remove_all(dir);
  auto cfg = config::LoadString(
      fmt::format(R"({{"state_dir":"{}","connections":{{"dt":{{"type":"dingtalk","base_url":"{}",
        "app_key":"demo-key","app_secret":"demo-secret","qps":{}}},"db":{{"type":"mysql",
        "user":"u","database":"d"}}}},"pipelines":{{"p":{{"source":{{"connection":"dt",
        "process_code":"PROC-PAYMENT-0001","lag_s":0,"concurrency":8}},"sinks":{{"s":{{
        "connection":"db"}}}}}}}}}})",
                  dir, emu.base_url(), qps),
      "");
  if (!cfg.ok()) return 1;
  auto log = stage::StagingLog::Open(dir);
  if (!log.ok()) return 1;
  auto http = NewCurlHttpClient();
  Runtime deps(http.get(), Clock::Real());
  auto t0 = std::chrono::steady_clock::now();
  auto sum = fetch::RunFetch(*cfg, cfg->pipelines[0], log->get(), deps);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!sum.ok()) {
    std::fprintf(stderr, "%s\n", sum.status().ToString().c_str());
    return 1;
  }
  const int64_t calls = emu.RequestCount("/topapi/");
  const int64_t expected = sum->fetched + sum->pages;  // one get per record, one listids per page
  std::printf(
      "{\"name\":\"fetch_qps_utilisation\",\"value\":%.3f,\"unit\":\"ratio\","
      "\"qps_limit\":%d,\"achieved_qps\":%.1f,\"target\":0.95}\n",
      calls / s / qps, qps, calls / s);
  std::printf(
      "{\"name\":\"fetch_throttle_errors\",\"value\":%lld,\"unit\":\"count\","
      "\"max_requests_in_any_second\":%d,\"target\":0}\n",
      static_cast<long long>(calls - expected), emu.MaxRequestsInAnySecond());
  std::filesystem::remove_all(dir);
  return 0;
}
