// How the audit compares a value the sink would write with the value a target column holds:
// the server's spelling of numbers, datetimes and CHAR differs from the mapped text without
// the value differing. Pure functions, used by audit.cc and tested on their own.
#pragma once

#include <optional>
#include <string>

namespace stagesync::audit {

// An exact decimal in one spelling: no leading '+' or zeros, no trailing fraction zeros, "-0"
// is "0". Anything not a plain decimal is returned unchanged.
std::string NormalNumber(const std::string& s);

// A datetime as the server prints a column of `type` (date, datetime, timestamp, time).
std::string NormalTime(const std::string& s, const std::string& type);

// Whether `mapped` (what the sink writes; nullopt = NULL) is what a column of information_schema
// DATA_TYPE `type` holding `target` means.
bool SameValue(const std::optional<std::string>& mapped, const std::optional<std::string>& target,
               const std::string& type);

// Whether a column template depends on the time of the write ({{CURRENT_TIME}},
// {{LAST_SYNC_TIME}}): the audit cannot know the value the sink wrote then, so such columns
// are listed as not compared instead of showing as drifted.
bool UsesWriteTime(const std::string& tmpl);

}  // namespace stagesync::audit
