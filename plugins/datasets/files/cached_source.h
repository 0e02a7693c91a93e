#pragma once
// The data source of a decoded file data set: its images (and masks) are rows of cache
// arrays, read a batch at a time; labels, meta and splits are known at open.
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <medadv/dataset.h>

#include "dataset_cache.h"

namespace medadv::plugins::files {

struct CachedSet {
  CachedArray images;                 // [N,C,H,W]
  std::optional<CachedArray> masks;   // [N,1,H,W]
  torch::Tensor labels;               // [N] int64 (classification), else undefined
  DatasetMeta meta;
  std::map<std::string, torch::Tensor> predefined_splits;
};

// Reads stored bytes (expensive_reads() is false): the host keeps no copy of the items.
std::shared_ptr<DataSource> cached_source(CachedSet set);

}  // namespace medadv::plugins::files
