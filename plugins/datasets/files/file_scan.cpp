#include "file_scan.h"

#include <algorithm>
#include <cctype>
#include <system_error>

#include <ATen/Parallel.h>

#include "medadv/error.h"

namespace medadv::plugins::files {

namespace fs = std::filesystem;

namespace {

std::string lowercase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool hidden(const fs::path& p) {
  const auto name = p.filename().string();
  return !name.empty() && name[0] == '.';
}

// Directory entries, sorted; errors name the directory.
std::vector<fs::directory_entry> entries_of(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw InvalidInput("'" + dir.string() + "' " + (fs::exists(dir, ec) ? "is not a directory" : "does not exist"));
  }
  std::vector<fs::directory_entry> out;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) out.push_back(*it);
  if (ec) throw InvalidInput("cannot list '" + dir.string() + "': " + ec.message());
  std::sort(out.begin(), out.end(),
            [](const fs::directory_entry& a, const fs::directory_entry& b) { return a.path().filename() < b.path().filename(); });
  return out;
}

}  // namespace

FileStamp stamp(const fs::path& file) {
  std::error_code ec;
  FileStamp s;
  s.path = file;
  s.size = fs::file_size(file, ec);
  if (ec) throw InvalidInput("cannot read '" + file.string() + "': " + ec.message());
  const auto time = fs::last_write_time(file, ec);
  if (ec) throw InvalidInput("cannot read '" + file.string() + "': " + ec.message());
  s.mtime_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
  return s;
}

std::vector<std::string> normalise_extensions(const std::vector<std::string>& extensions) {
  std::vector<std::string> out;
  for (auto e : extensions) {
    e = lowercase(e);
    if (!e.empty() && e[0] == '.') e.erase(0, 1);
    if (!e.empty()) out.push_back(e);
  }
  return out;
}

void add_channels_check(ParamSchema& s, bool as_stored_allowed) {
  s.add_check(as_stored_allowed ? "channels is 0, 1 or 3" : "channels is 1 or 3", {"channels"},
              [as_stored_allowed](const Params& p) -> std::optional<std::string> {
                if (p.get_int("channels") != 2) return std::nullopt;
                return std::string("channels must be ") + (as_stored_allowed ? "0 (as stored), 1 or 3" : "1 or 3") +
                       ", got 2";
              });
}

void add_extensions_check(ParamSchema& s) {
  s.add_check("extensions names an extension", {"extensions"}, [](const Params& p) -> std::optional<std::string> {
    if (!normalise_extensions(p.get_string_list("extensions")).empty()) return std::nullopt;
    return "extensions lists no extension (only empty names or dots)";
  });
}

std::vector<fs::path> list_files(const fs::path& dir, const std::vector<std::string>& extensions) {
  std::vector<fs::path> out;
  for (const auto& entry : entries_of(dir)) {
    std::error_code ec;
    if (hidden(entry.path()) || !entry.is_regular_file(ec)) continue;
    auto ext = lowercase(entry.path().extension().string());
    if (!ext.empty()) ext.erase(0, 1);
    if (std::find(extensions.begin(), extensions.end(), ext) != extensions.end()) out.push_back(entry.path());
  }
  return out;
}

std::vector<fs::path> list_subdirectories(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& entry : entries_of(dir)) {
    std::error_code ec;
    if (!hidden(entry.path()) && entry.is_directory(ec)) out.push_back(entry.path());
  }
  return out;
}

std::vector<std::int64_t> decode_items(std::int64_t count, std::vector<torch::Tensor>& outputs,
                                       const std::function<void(std::int64_t, std::vector<torch::Tensor>&)>& decode,
                                       bool skip_bad, RunContext& ctx, const std::string& plugin) {
  std::vector<std::string> failures(static_cast<std::size_t>(count));
  ctx.progress().begin("dataset " + plugin, count);
  constexpr std::int64_t kChunk = 64;  // items between progress reports
  for (std::int64_t begin = 0; begin < count; begin += kChunk) {
    const auto end = std::min(count, begin + kChunk);
    at::parallel_for(begin, end, 1, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) {
        std::vector<torch::Tensor> rows;
        for (auto& o : outputs) rows.push_back(o[i]);
        try {
          decode(i, rows);
        } catch (const InvalidInput& error) {
          failures[static_cast<std::size_t>(i)] = error.what();
        }
      }
    });
    ctx.progress().advance(end - begin);
  }
  ctx.progress().end();

  std::vector<std::int64_t> kept;
  std::vector<std::string> reasons;
  for (std::int64_t i = 0; i < count; ++i) {
    const auto& failure = failures[static_cast<std::size_t>(i)];
    if (failure.empty()) {
      kept.push_back(i);
    } else if (!skip_bad) {
      throw InvalidInput(plugin + ": " + failure + " (set skip_bad = true to leave unreadable files out)");
    } else {
      reasons.push_back(failure);
    }
  }
  report_skipped(ctx, plugin, reasons, count);
  return kept;
}

void report_skipped(RunContext& ctx, const std::string& plugin, const std::vector<std::string>& reasons,
                    std::int64_t total) {
  if (reasons.empty()) return;
  for (const auto& r : reasons) ctx.log().warn(plugin + ": skipped: " + r);
  ctx.log().warn(plugin + ": skipped " + std::to_string(reasons.size()) + " unreadable files of " + std::to_string(total));
}

void report_skipped_from_cache(RunContext& ctx, const std::string& plugin, const torch::Tensor& kept,
                               const std::vector<std::string>& names) {
  std::vector<bool> present(names.size(), false);
  const auto* k = kept.data_ptr<std::int64_t>();
  for (std::int64_t r = 0; r < kept.numel(); ++r) present[static_cast<std::size_t>(k[r])] = true;
  std::vector<std::string> reasons;
  for (std::size_t i = 0; i < names.size(); ++i)
    if (!present[i]) reasons.push_back("'" + names[i] + "' (unreadable when the cache was made)");
  report_skipped(ctx, plugin, reasons, static_cast<std::int64_t>(names.size()));
}

}  // namespace medadv::plugins::files
