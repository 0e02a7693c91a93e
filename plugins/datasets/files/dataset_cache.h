#pragma once
// Decoded file datasets are cached under <cache dir>/datasets/<plugin>-<key>/, keyed by a
// hash of the plugin, its resolved parameters and every input file's path, size and
// modification time. The full key text is stored in the entry (key.txt) and compared on
// load, so a hash collision can never return another data set's arrays. Each array is one
// raw little-endian file (<name>.f32, <name>.u8 or <name>.i64; shapes in index.txt) whose
// rows a later run reads as it needs them: a second run reads no image file and holds no
// copy of the set (docs/decisions.md, issue 25).
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "file_scan.h"
#include "medadv/context.h"
#include "medadv/params.h"

namespace medadv::plugins::files {

// One array of a cache entry, [N, ...]: rows read from its file (pread, so that the rows
// read pass through the page cache and never count as the process's memory), or held in
// memory where no entry could be written.
class CachedArray {
 public:
  CachedArray() = default;
  CachedArray(const std::filesystem::path& file, torch::ScalarType dtype, std::vector<std::int64_t> shape);
  explicit CachedArray(torch::Tensor in_memory);

  const std::vector<std::int64_t>& shape() const { return shape_; }
  torch::ScalarType dtype() const { return dtype_; }
  // The rows at `indices` (int64, any order), or all of them.
  torch::Tensor rows(const torch::Tensor& indices) const;
  torch::Tensor all() const;

 private:
  std::int64_t row_bytes() const;
  std::shared_ptr<const int> fd_;  // the open file, closed with the last copy
  std::filesystem::path file_;
  torch::ScalarType dtype_ = torch::kFloat32;
  std::vector<std::int64_t> shape_;
  torch::Tensor memory_;
};

using CacheEntry = std::map<std::string, CachedArray>;

class DatasetCache {
 public:
  DatasetCache(RunContext& ctx, const std::string& plugin, const Params& params, const std::vector<FileStamp>& files);

  // The cached arrays, or nothing when there is no intact entry for this key (a damaged one
  // is reported and removed).
  std::optional<CacheEntry> load();

  // Decodes `count` items into a new entry: one float32 array per name, item shape
  // shapes[k], written through a writable mapping of its file so that the set is never
  // held in memory, decoded in parallel as decode_items does (unreadable items skipped or
  // fatal). Returns the entry as load() does, with "kept" (the item indices that decoded,
  // int64). Where no entry can be written (no space, a read-only cache folder) the items
  // are decoded into memory instead, with a warning.
  CacheEntry decode(const std::vector<std::string>& names, const std::vector<std::vector<std::int64_t>>& shapes,
                    std::int64_t count, const std::function<void(std::int64_t, std::vector<torch::Tensor>&)>& item,
                    bool skip_bad);

  // Appends consecutive rows [B, shape[1:]...] of one array being written.
  using RowSink = std::function<void(const torch::Tensor& rows)>;

  // Writes one array of `dtype` (float32, uint8 or int64) and `shape` into a new entry,
  // its rows handed over in order by `fill`, which calls the sink until shape[0] rows
  // are written: each block goes to the file with pwrite, so memory holds one block, never
  // the array. Returns the entry as load() does. Where no entry can be written (no space,
  // a read-only cache folder) the rows are gathered in memory instead, with a warning; a
  // wrong row count or shape throws Error.
  CacheEntry stream(const std::string& name, torch::ScalarType dtype, const std::vector<std::int64_t>& shape,
                    const std::function<void(const RowSink&)>& fill);

  // Writes arrays held in memory as an entry (float32, uint8 or int64); a failure is only a
  // warning. Returns the entry as load() does, or the arrays as given when it was not written.
  CacheEntry store(const std::map<std::string, torch::Tensor>& arrays);

  const std::filesystem::path& path() const { return path_; }

 private:
  // The entry, without a word when there is none.
  std::optional<CacheEntry> open_entry();

  RunContext& ctx_;
  std::string plugin_;
  std::string key_text_;
  std::filesystem::path path_;
};

}  // namespace medadv::plugins::files
