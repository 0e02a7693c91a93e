#pragma once
// Decoded file datasets are cached as npz under <cache dir>/datasets/<plugin>-<key>.npz,
// keyed by a hash of the plugin, its resolved parameters and every input file's path,
// size and modification time. The full key text is stored inside the archive and
// compared on load, so a hash collision can never return another data set's arrays.
#include <filesystem>
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

  // The cached arrays, or nothing when there is no intact cache for this key.
  std::optional<std::map<std::string, torch::Tensor>> load();
  // Written via write_npz (write-then-rename); a failure is only a warning.
  void store(const std::vector<std::pair<std::string, torch::Tensor>>& arrays);

  const std::filesystem::path& path() const { return path_; }

 private:
  RunContext& ctx_;
  std::string plugin_;
  std::string key_text_;
  std::filesystem::path path_;
};

}  // namespace medadv::plugins::files
