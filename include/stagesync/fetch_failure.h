// FetchFailure: a record a source could not read, as the source reports it and the staging
// log quarantines it. Its own header so source.h need not include the staging log's.
#pragma once

#include <string>

namespace stagesync::stage {

// A record the source could not read (bad payload, missing field). It is kept out of the
// records, listed with its error, and re-fetched on every fetch until it reads cleanly.
struct FetchFailure {
  std::string source_id;
  std::string error;
  std::string payload;  // what was received, truncated
};

}  // namespace stagesync::stage
