#include "dataset_cache.h"

#include <cstring>
#include <system_error>

#include "medadv/error.h"
#include "medadv/hash.h"
#include "medadv/npz.h"

namespace medadv::plugins::files {

namespace {
// Bump when what is cached, or how, changes: old caches then simply miss.
constexpr const char* kCacheFormat = "medadv-dataset-cache 1";
constexpr const char* kKeyArray = "cache_key";
}  // namespace

DatasetCache::DatasetCache(RunContext& ctx, const std::string& plugin, const Params& params,
                           const std::vector<FileStamp>& files)
    : ctx_(ctx), plugin_(plugin) {
  key_text_ = std::string(kCacheFormat) + "\nplugin " + plugin + "\nparams " + params.to_value().to_string() + "\n";
  for (const auto& f : files) {
    key_text_ += f.path.string() + "\t" + std::to_string(f.size) + "\t" + std::to_string(f.mtime_ns) + "\n";
  }
  path_ = ctx.cache_dir() / "datasets" / (plugin + "-" + stable_hash(key_text_) + ".npz");
}

std::optional<std::map<std::string, torch::Tensor>> DatasetCache::load() {
  std::error_code ec;
  if (!std::filesystem::exists(path_, ec)) return std::nullopt;
  std::map<std::string, torch::Tensor> arrays;
  try {
    arrays = read_npz(path_);
  } catch (const Error& e) {
    ctx_.log().warn(plugin_ + ": ignoring an unreadable cache (" + e.what() + ")");
    return std::nullopt;
  }
  const auto key = arrays.find(kKeyArray);
  const bool same = key != arrays.end() && key->second.scalar_type() == torch::kUInt8 &&
                    static_cast<std::size_t>(key->second.numel()) == key_text_.size() &&
                    std::memcmp(key->second.data_ptr<std::uint8_t>(), key_text_.data(), key_text_.size()) == 0;
  if (!same) {
    ctx_.log().debug(plugin_ + ": cache " + path_.string() + " belongs to other data (hash collision); decoding");
    return std::nullopt;
  }
  arrays.erase(key);
  ctx_.log().info(plugin_ + ": decoded data read from cache " + path_.string());
  return arrays;
}

void DatasetCache::store(const std::vector<std::pair<std::string, torch::Tensor>>& arrays) {
  auto key = torch::empty({static_cast<std::int64_t>(key_text_.size())}, torch::kUInt8);
  std::memcpy(key.data_ptr<std::uint8_t>(), key_text_.data(), key_text_.size());
  auto all = arrays;
  all.emplace_back(kKeyArray, key);
  try {
    std::filesystem::create_directories(path_.parent_path());
    write_npz(path_, all);
    ctx_.log().debug(plugin_ + ": decoded data cached in " + path_.string());
  } catch (const std::exception& e) {
    ctx_.log().warn(plugin_ + ": could not cache the decoded data (" + std::string(e.what()) + ")");
  }
}

}  // namespace medadv::plugins::files
