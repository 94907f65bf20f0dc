// The status page's routes on the agent's own listener: GET / (every pipeline) and
// GET /pipelines/{name} (its run history and quarantine list). They gather the data (the
// agent's JSON, the staging log's watermarks, open intents and quarantine) and hand it to the
// pure renderers of status_page.h. Added through ControlServer::http() before Start(), so the
// control server's bearer-token check covers them like the API.
// Thread-safety: the handlers run on the server's threads; AgentControl and StagingLog are
// thread-safe, and the routes keep no state of their own.
#pragma once

#include "agent/control.h"
#include "obs/status_page.h"
#include "stagesync/clock.h"
#include "stagesync/stage.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace stagesync::obs {

struct StatusPageOptions {
  Lang lang = Lang::kBoth;
  // Runs listed on a pipeline's page. Default: 50.
  int runs = 50;
  // Quarantined records listed on a pipeline's page (the newest). Default: 200.
  size_t quarantine = 200;
  // Ages are measured on this clock. Default: the real clock.
  Clock* clock = nullptr;
};

// REQUIRES: `control` and `staging` outlive the server (or its Stop()); called before Start().
void InstallStatusPage(httplib::Server* http, agent::AgentControl* control,
                       stage::StagingLog* staging, StatusPageOptions opts = {});

// What the page shows of a pipeline that only staging knows (exposed for tests): the
// watermark, open intents per sink, and the newest `keep` quarantined records.
Result<PipelineFacts> ReadFacts(stage::StagingLog* staging, const std::string& pipeline,
                                size_t keep);

}  // namespace stagesync::obs
