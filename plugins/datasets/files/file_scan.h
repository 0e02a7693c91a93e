#pragma once
// Finding image files and decoding many of them: shared by the file-backed datasets.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "medadv/context.h"
#include "medadv/params.h"

namespace medadv::plugins::files {

// A file as it was when read: what the cache key is made of.
struct FileStamp {
  std::filesystem::path path;
  std::uintmax_t size = 0;
  std::int64_t mtime_ns = 0;
};
FileStamp stamp(const std::filesystem::path& file);

// Extensions as given by a user ("PNG", ".jpg") -> lowercase without the dot.
std::vector<std::string> normalise_extensions(const std::vector<std::string>& extensions);

// The rules of the file-backed datasets' shared parameters, declared after them:
// `channels` is 1 or 3 (or 0, "as stored", where `as_stored_allowed`), and `extensions`
// names at least one extension once normalised.
void add_channels_check(ParamSchema& s, bool as_stored_allowed);
void add_extensions_check(ParamSchema& s);

// Regular files directly in `dir` whose extension (case-insensitive) is listed, hidden
// files (".name") skipped, sorted by name so that every run sees the same order.
std::vector<std::filesystem::path> list_files(const std::filesystem::path& dir,
                                              const std::vector<std::string>& extensions);

// Immediate subdirectories of `dir` (hidden ones skipped), sorted by name.
std::vector<std::filesystem::path> list_subdirectories(const std::filesystem::path& dir);

// Decodes `count` items in parallel: decode(i, rows) writes item i into each of `rows`
// (row i of each of `outputs`, [count, ...]) and throws InvalidInput when a file is
// unreadable. Unless skip_bad, the first failure in item order is rethrown; with skip_bad
// every failure is logged as a warning, followed by a count ("image-folder: skipped 3
// unreadable files of 120"). Returns the indices of the items that decoded, ascending;
// the rows of the others are left as they were.
std::vector<std::int64_t> decode_items(std::int64_t count, std::vector<torch::Tensor>& outputs,
                                       const std::function<void(std::int64_t, std::vector<torch::Tensor>&)>& decode,
                                       bool skip_bad, RunContext& ctx, const std::string& plugin);

// Logs the skipped items of a decoding (or of a cached one): each name, then the count.
void report_skipped(RunContext& ctx, const std::string& plugin, const std::vector<std::string>& reasons,
                    std::int64_t total);

// The same for a data set read from its cache: the items missing from `kept` (int64
// indices into `names`) are reported as unreadable when the cache was made.
void report_skipped_from_cache(RunContext& ctx, const std::string& plugin, const torch::Tensor& kept,
                               const std::vector<std::string>& names);

}  // namespace medadv::plugins::files
