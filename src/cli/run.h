// `stagesync run`: the agent process (signals, control API, systemd notifications) around
// agent::Agent, and how one-shot commands find a running agent.
#pragma once

#include <memory>
#include <string>

#include "stagesync/config.h"

namespace stagesync::cli {

// Serves every pipeline of `cfg` until SIGTERM/SIGINT (graceful, within
// agent.shutdown_grace_s; a second signal exits at once). SIGHUP re-reads the config file.
// Returns the exit code.
int RunAgent(std::shared_ptr<const config::Config> cfg, const std::string& listen_override);

// When an agent holds `state_dir`: a message naming it (pid, control API address) and the
// `ctl` command to use instead; empty when no live agent is recorded there.
std::string RunningAgentHint(const std::string& state_dir, const std::string& config_file,
                             const std::string& command);

}  // namespace stagesync::cli
