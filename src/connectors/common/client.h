// Client: the client of one configured connection (token, session, rate limit). Each
// connector's client derives from it; the Runtime's Connections builds one per connection and
// shares it with every source and sink naming the connection. Implementations are
// thread-safe.
#pragma once

#include <vector>

#include "stagesync/config.h"
#include "stagesync/status.h"

namespace stagesync::connectors {

class ApiEndpoint;

class Client {
 public:
  virtual ~Client() = default;
  // `check --connect`: logs in once (a new token or session). Ok, or the refusal with its
  // cause and never a secret; FailedPrecondition for a warning. `users` are the pipelines
  // whose source reads this connection (a probe may take options from them).
  virtual Status CheckLogin(const std::vector<const config::PipelineConfig*>& users) = 0;
  // False for connections without a login of their own (a database: checked with its sinks).
  virtual bool HasLogin() const { return true; }
  // The connection's endpoint (rate limit, counters) for the agent and metrics; null if none.
  virtual ApiEndpoint* endpoint() { return nullptr; }
};

}  // namespace stagesync::connectors
