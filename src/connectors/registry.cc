// The connector registry: every connector this build knows, one line each. Adding a connector
// adds its folder (src/connectors/<name>/ with a connector.cmake listing its files and a
// connector.cc exporting `const Connector <name>::kConnector`) and one line here.
#include "connectors/connector.h"

#define STAGESYNC_CONNECTORS(X) \
  X(dingtalk)                   \
  X(kingdee)                    \
  X(kuaimai)                    \
  X(mysql)                      \
  X(okki)                       \
  X(yida)

namespace stagesync::connectors {

#define STAGESYNC_DECLARE(name)      \
  namespace name {                   \
  extern const Connector kConnector; \
  }
STAGESYNC_CONNECTORS(STAGESYNC_DECLARE)

const std::vector<const Connector*>& Registry() {
#define STAGESYNC_ENTRY(name) &name::kConnector,
  static const std::vector<const Connector*> kAll = {STAGESYNC_CONNECTORS(STAGESYNC_ENTRY)};
  return kAll;
}

}  // namespace stagesync::connectors
