#pragma once
// The host's hold on a dataset plugin's source: every call guarded (a plugin's exception
// or a batch of the wrong shape names the plugin), and, for a source whose reads are
// expensive (DataSource::expensive_reads: a phantom draws, a decoder decodes), the items
// read kept in memory, as stored, when the whole set fits a quarter of the memory
// available at open time; any other set is read from the plugin every time
// (docs/decisions.md, "Data sets are sources").
#include <cstdint>
#include <memory>
#include <string>

#include "medadv/dataset.h"

namespace medadv::host {

// The bytes the held source keeps in memory when it caches `source` (0 when it would not).
std::int64_t cached_bytes(const DataSource& source, std::int64_t available_memory);

// Bytes of memory available to this process now: the least of MemAvailable, the cgroup's
// room and what RLIMIT_DATA leaves; 0 when none is known.
std::int64_t available_memory_bytes();

std::shared_ptr<DataSource> hold_source(std::shared_ptr<DataSource> plugin_source, const std::string& who);

}  // namespace medadv::host
