#pragma once
// Decoded file datasets are cached under <cache dir>/datasets/<plugin>-<key>/, keyed by a
// hash of the plugin, its resolved parameters and every input file's path, size and
// modification time. The full key text is stored in the entry (key.txt) and compared on
// load, so a hash collision can never return another data set's arrays. Each array is one
// raw little-endian file (<name>.f32, <name>.u8 or <name>.i64; shapes in index.txt) that
// a later run maps into memory instead of reading: a second run reads no image file and
// holds no copy of the set, only the pages it touches (docs/decisions.md, issue 25).
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "file_scan.h"
#include "medadv/context.h"
#include "medadv/params.h"

namespace medadv::plugins::files {

class DatasetCache {
 public:
  DatasetCache(RunContext& ctx, const std::string& plugin, const Params& params, const std::vector<FileStamp>& files);

  // The cached arrays, each mapped read-only from its file, or nothing when there is no
  // intact entry for this key (a damaged one is reported and removed).
  std::optional<std::map<std::string, torch::Tensor>> load();

  // Decodes `count` items into a new entry: one float32 array per name, item shape
  // shapes[k], written through a writable mapping of its file so that the set is never
  // held in memory, decoded in parallel as decode_items does (unreadable items skipped or
  // fatal). Returns the entry's arrays as load() does, plus "kept" (the item indices that
  // decoded, int64). Where no entry can be written (no space, a read-only cache folder) the
  // items are decoded into memory instead, with a warning.
  std::map<std::string, torch::Tensor> decode(const std::vector<std::string>& names,
                                              const std::vector<std::vector<std::int64_t>>& shapes, std::int64_t count,
                                              const std::function<void(std::int64_t, std::vector<torch::Tensor>&)>& item,
                                              bool skip_bad);

  // Writes arrays held in memory as an entry (float32, uint8 or int64); a failure is only a
  // warning. Returns them mapped from the entry when it was written, else as given.
  std::map<std::string, torch::Tensor> store(const std::map<std::string, torch::Tensor>& arrays);

  const std::filesystem::path& path() const { return path_; }

 private:
  // The entry's arrays mapped, without a word when there is none (a damaged one is
  // reported and removed).
  std::optional<std::map<std::string, torch::Tensor>> mapped();

  RunContext& ctx_;
  std::string plugin_;
  std::string key_text_;
  std::filesystem::path path_;
};

}  // namespace medadv::plugins::files
