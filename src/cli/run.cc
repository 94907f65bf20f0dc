#include "cli/run.h"

#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iterator>
#include <mutex>
#include <thread>

#include "agent/agent.h"
#include "agent/control_server.h"
#include "agent/sd_notify.h"
#include "connectors/connector.h"
#include "obs/alerts.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "obs/status_routes.h"
#include "stagesync/json.h"
#include "stagesync/runtime.h"
#include "stagesync/stage.h"

namespace stagesync::cli {

namespace {

constexpr const char* kAgentFile = "STAGESYNC_AGENT";

// One log line per event, in the --log-format chosen (journald and files both read it).
void LogLine(const std::string& line, obs::LogLevel level = obs::LogLevel::kInfo) {
  obs::Log(level, line);
}

// Written once the control API listens; removed on a clean exit. A stale one (after a kill)
// names a pid that is gone, which RunningAgentHint checks.
void WriteAgentFile(const std::string& state_dir, const std::string& address,
                    const std::string& config_file) {
  const std::string path = state_dir + "/" + kAgentFile;
  std::ofstream out(path + ".tmp", std::ios::trunc);
  out << fmt::format("{{\"pid\":{},\"listen\":{},\"config\":{}}}\n", ::getpid(),
                     json::Quote(address), json::Quote(config_file));
  out.close();
  if (out) std::rename((path + ".tmp").c_str(), path.c_str());
}

}  // namespace

std::string RunningAgentHint(const std::string& state_dir, const std::string& config_file,
                             const std::string& command) {
  std::ifstream in(state_dir + "/" + kAgentFile);
  if (!in) return "";
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto v = json::Parse(text);
  if (!v.ok()) return "";
  const json::Value* pid = v->Find("pid");
  const json::Value* listen = v->Find("listen");
  int64_t n = 0;
  if (pid == nullptr || !pid->AsInt64(&n) || n <= 0) return "";
  if (::kill(static_cast<pid_t>(n), 0) != 0 && errno == ESRCH) return "";  // a stale file
  const std::string addr = listen != nullptr ? listen->text() : "?";
  return fmt::format(
      "stagesync run (pid {}) is serving this state dir ({}); it runs the pipelines on their "
      "schedules. Ask it instead: stagesync --config {} ctl {} (control API at http://{})",
      n, state_dir, config_file, command, addr);
}

int RunAgent(std::shared_ptr<const config::Config> cfg, const std::string& listen_override) {
  // Signals are taken by one thread with sigwait; every other thread (the Runtime's, the
  // server's, the agent's) inherits the mask and never sees them.
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&set, sig);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  auto log = stage::StagingLog::Open(cfg->state_dir);
  if (!log.ok()) {
    std::string hint = log.status().code() == StatusCode::kAlreadyExists
                           ? RunningAgentHint(cfg->state_dir, cfg->file, "status")
                           : "";
    LogLine(hint.empty() ? log.status().message() : hint, obs::LogLevel::kError);
    return log.status().code() == StatusCode::kAlreadyExists ? 75 : 1;
  }
  const std::string state_dir = cfg->state_dir;
  RuntimeOptions ro;
  ro.notice = [](const std::string& m) { LogLine(m, obs::LogLevel::kNotice); };
  obs::Metrics metrics;  // before the Runtime: its clients report to it until they are gone
  Runtime rt(std::move(ro));
  rt.set_staging(log->get());
  rt.set_telemetry(&metrics);
  metrics.AttachState(&rt, log->get());
  agent::AgentOptions ao;
  ao.log_event = [](obs::LogLevel level, const std::string& m, const obs::LogFields& f) {
    obs::Log(level, m, f);
  };
  agent::Agent agent(cfg, std::move(log).value(), &rt, ao);

  agent::ControlOptions co;
  co.listen = listen_override.empty() ? cfg->agent.listen : listen_override;
  co.token = cfg->agent.token;
  agent::ControlServer server(&agent, co);
  obs::StatusPageOptions page;
  if (auto lang = obs::ParseLang(cfg->agent.lang); lang.ok()) page.lang = *lang;  // checked at load
  obs::InstallStatusPage(&server.http(), &agent, agent.staging(), page);
  metrics.AttachAgent(&agent);
  obs::ServeMetrics(server.http(), &metrics);
  if (Status s = server.Start(); !s.ok()) {
    LogLine(s.message(), obs::LogLevel::kError);
    return s.code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  WriteAgentFile(state_dir, server.address(), cfg->file);
  LogLine(fmt::format("agent started: {} pipeline(s), control API at http://{}",
                      cfg->pipelines.size(), server.address()));

  // Alerts (doc/alerts.md): delivered over the Runtime's HTTP client on their own thread.
  std::unique_ptr<obs::AlertDelivery> alert_delivery;
  std::unique_ptr<obs::Alerter> alerter;
  if (cfg->alerts.enabled()) {
    obs::AlertDeliveryOptions dopt;
    dopt.dingtalk_webhook = cfg->alerts.dingtalk_webhook;
    dopt.dingtalk_secret = cfg->alerts.dingtalk_secret;
    dopt.webhook_url = cfg->alerts.webhook_url;
    dopt.http = rt.http();
    dopt.log = [](const std::string& m) { LogLine(m, obs::LogLevel::kWarning); };
    dopt.on_delivery = [&metrics](const std::string& channel, bool ok) {
      metrics.AlertSent(channel, ok);
    };
    alert_delivery = std::make_unique<obs::AlertDelivery>(std::move(dopt));
    alert_delivery->Start();
    config::AlertsConfig rules = cfg->alerts;
    // The default link names the configured listener; --listen overrides where it really is.
    if (rules.status_page_url == "http://" + cfg->agent.listen + "/") {
      rules.status_page_url = "http://" + server.address() + "/";
    }
    alerter = std::make_unique<obs::Alerter>(
        std::move(rules), &agent, agent.staging(), alert_delivery.get(),
        obs::AlerterOptions{{}, [](const std::string& m) { LogLine(m); }});
    alerter->Start();
  }

  agent::SystemdNotifier notifier;
  notifier.Ready();
  notifier.Status(agent.StatusLine());

  std::atomic<bool> done{false};
  std::thread signals([&] {
    int caught = 0;
    while (true) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (done) return;
      if (sig == SIGHUP) {
        LogLine("SIGHUP: reloading " + cfg->file);
        auto fresh = config::LoadFile(cfg->file);
        if (!fresh.ok()) {
          agent.ReloadFailed(fresh.status());
        } else {
          (void)agent.Reload(std::make_shared<const config::Config>(std::move(fresh).value()));
        }
        continue;
      }
      if (sig == SIGUSR1) continue;
      if (++caught == 1) {
        LogLine(fmt::format("{}: stopping; in-flight batches get up to {} s to commit",
                            sig == SIGTERM ? "SIGTERM" : "SIGINT", cfg->agent.shutdown_grace_s));
        notifier.Stopping();
        agent.Stop();
      } else {
        // Safe by the crash design: staging and the sinks' ledgers recover on the next start.
        LogLine("second signal: exiting now");
        std::fflush(stderr);
        ::_exit(1);
      }
    }
  });

  // Feeds the systemd watchdog while the scheduler loop goes round, and refreshes STATUS=.
  std::mutex tick_mu;
  std::condition_variable tick_cv;
  std::thread ticker([&] {
    const int64_t every_us = notifier.WatchdogIntervalUs() > 0
                                 ? std::min<int64_t>(notifier.WatchdogIntervalUs() / 2, 5000000)
                                 : 5000000;
    std::unique_lock<std::mutex> lock(tick_mu);
    while (!done) {
      tick_cv.wait_for(lock, std::chrono::microseconds(every_us));
      if (done) break;
      const int64_t age = Clock::Real()->MonotonicMicros() - agent.LoopAliveMicros();
      if (age < 60 * 1000000LL) notifier.Watchdog();
      notifier.Status(agent.StatusLine());
    }
  });

  const bool clean = agent.Run();
  if (alerter) alerter->Stop();
  if (alert_delivery) alert_delivery->Stop();
  server.Stop();
  std::remove((state_dir + "/" + kAgentFile).c_str());
  {
    std::lock_guard<std::mutex> lock(tick_mu);
    done = true;
  }
  tick_cv.notify_all();
  ticker.join();
  pthread_kill(signals.native_handle(), SIGUSR1);
  signals.join();
  if (!clean) {
    // Tasks still running (a vendor call that outlasts the grace): leave without waiting. What
    // they had not committed is redone on the next start.
    LogLine(
        fmt::format("grace period of {} s over; exiting with work in flight (it resumes on "
                    "the next start)",
                    cfg->agent.shutdown_grace_s));
    std::fflush(stderr);
    ::_exit(0);
  }
  LogLine("agent stopped");
  return 0;
}

}  // namespace stagesync::cli
