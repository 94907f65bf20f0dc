// Record history values: the field-level diff between two versions of a staged record and the
// stored form of one RecordVersion (doc/stage-format.md, "Record history"). Pure functions, no
// RocksDB; used by staging_log.cc on the commit path and tested on their own. Thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "stagesync/stage.h"
#include "stagesync/status.h"

namespace stagesync::stage {

// The fields that differ from `old_raw` to `new_raw` (each a record's canonical JSON): members
// present on one side only are added/removed; objects on both sides are compared member by
// member, arrays of equal length item by item; any other difference is one changed value.
// In the old record's member order, members only the new one has after those of their object.
// InvalidArgument when either side is not JSON.
Result<std::vector<FieldChange>> DiffRecords(std::string_view old_raw, std::string_view new_raw);

// The stored value of a version: JSON {"seq","at_ms","hash","kind","changes":[{"path","op",
// "old","new"}]} with old/new as JSON values.
std::string EncodeVersion(const RecordVersion& v);
// DataLoss naming `what` when `value` is not a stored version.
Result<RecordVersion> DecodeVersion(std::string_view value, const std::string& what);

}  // namespace stagesync::stage
