#include "image_folder.h"

#include <algorithm>
#include <map>
#include <set>

#include "cached_source.h"
#include "dataset_cache.h"
#include "file_scan.h"
#include "medadv/error.h"
#include "medadv/image_io.h"

namespace medadv::plugins::files {

namespace fs = std::filesystem;

namespace {

constexpr const char* kImageFolderPlugin = "image-folder";
const std::vector<std::string> kSplitNames = {"train", "val", "test"};  // in this order in the data

struct Item {
  fs::path file;
  std::int64_t label;
  std::size_t split;  // index into kSplitNames; 0 without splits
};

struct Listing {
  bool split_layout = false;
  std::vector<std::string> classes;
  std::vector<Item> items;
};

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

std::vector<std::string> names_of(const std::vector<fs::path>& dirs) {
  std::vector<std::string> out;
  for (const auto& d : dirs) out.push_back(d.filename().string());
  return out;
}

Listing list_dataset(const fs::path& root, const std::vector<std::string>& extensions) {
  const std::string where = std::string(kImageFolderPlugin) + ": root '" + root.string() + "'";
  const auto top = list_subdirectories(root);
  std::vector<std::string> splits, others;
  for (const auto& name : names_of(top)) {
    (std::find(kSplitNames.begin(), kSplitNames.end(), name) != kSplitNames.end() ? splits : others).push_back(name);
  }
  Listing listing;
  listing.split_layout = !splits.empty();
  if (listing.split_layout && !others.empty()) {
    throw InvalidInput(where + " mixes split folders (" + joined(splits) + ") with other folders (" + joined(others) +
                       "): use root/<class>/* or root/<split>/<class>/* with splits named train, val, test");
  }
  if (top.empty()) {
    const bool loose = !list_files(root, extensions).empty();
    throw InvalidInput(where + " has no class folders" +
                       (loose ? std::string(" (its images lie directly in it: put each class in a folder of its own)")
                              : std::string(" and no images")) +
                       "; expected root/<class>/* or root/<split>/<class>/*");
  }

  // (split, class directory) pairs; the class set is the union over splits.
  std::vector<std::pair<std::size_t, fs::path>> class_dirs;
  if (listing.split_layout) {
    for (const auto& split : splits) {
      const auto s = static_cast<std::size_t>(std::find(kSplitNames.begin(), kSplitNames.end(), split) - kSplitNames.begin());
      for (const auto& dir : list_subdirectories(root / split)) class_dirs.emplace_back(s, dir);
    }
  } else {
    for (const auto& dir : top) class_dirs.emplace_back(0, dir);
  }
  std::set<std::string> class_set;
  for (const auto& [s, dir] : class_dirs) class_set.insert(dir.filename().string());
  listing.classes.assign(class_set.begin(), class_set.end());
  if (listing.classes.empty()) throw InvalidInput(where + " has split folders but no class folders inside them");

  std::map<std::string, std::int64_t> images_per_class;
  std::sort(class_dirs.begin(), class_dirs.end());
  for (const auto& [s, dir] : class_dirs) {
    const auto name = dir.filename().string();
    const auto label = static_cast<std::int64_t>(
        std::lower_bound(listing.classes.begin(), listing.classes.end(), name) - listing.classes.begin());
    const auto files = list_files(dir, extensions);
    for (const auto& file : files) listing.items.push_back(Item{file, label, s});
    images_per_class[name] += static_cast<std::int64_t>(files.size());
  }
  if (listing.items.empty()) {
    throw InvalidInput(where + " holds no images with the extensions " + joined(extensions));
  }
  for (const auto& [name, n] : images_per_class) {
    if (n == 0) {
      throw InvalidInput(where + ": class folder '" + name + "' holds no images with the extensions " + joined(extensions) +
                         " (remove it or add images)");
    }
  }
  if (listing.split_layout) {
    for (const char* needed : {"train", "test"}) {
      if (std::find(splits.begin(), splits.end(), needed) == splits.end()) {
        throw InvalidInput(where + " has split folders (" + joined(splits) + ") but no '" + needed +
                           "' folder; the split layout needs train and test (val is optional)");
      }
    }
  }
  return listing;
}

}  // namespace

void ImageFolder::schema(ParamSchema& s) {
  s.add_string("root", "", "directory holding root/<class>/<image> or root/<split>/<class>/<image> (split: train, val, test)")
      .required();
  s.add_int("channels", 3, "1 (gray: BT.601 luma of colour images) or 3 (RGB: gray images replicated)").min(1).max(3);
  s.add_int("image_size", 64, "side of the square images, in pixels (every image is resized to it)").min(8).max(1024);
  s.add_string("modality", "", "imaging modality recorded in the metadata, e.g. \"x-ray\", \"fundus\", \"dermoscopy\"");
  s.add_bool("skip_bad", false, "leave unreadable image files out with a warning instead of failing");
  s.add_list("extensions", ParamSpec("", ParamType::String, ""), {Value("png"), Value("jpg"), Value("jpeg")},
             "file extensions read (case-insensitive); other files are ignored")
      .min_length(1);
  add_channels_check(s, false);
  add_extensions_check(s);
}

ImageFolder::ImageFolder(const Params& p, RunContext& /*ctx*/)
    : params_(p),
      root_(fs::absolute(p.get_string("root")).lexically_normal()),
      channels_(static_cast<int>(p.get_int("channels"))),
      image_size_(p.get_int("image_size")),
      modality_(p.get_string("modality")),
      skip_bad_(p.get_bool("skip_bad")),
      extensions_(normalise_extensions(p.get_string_list("extensions"))) {}

std::shared_ptr<DataSource> ImageFolder::open(RunContext& ctx) {
  const Listing listing = list_dataset(root_, extensions_);
  const auto total = static_cast<std::int64_t>(listing.items.size());
  std::vector<FileStamp> stamps;
  for (const auto& item : listing.items) stamps.push_back(stamp(item.file));

  DatasetCache cache(ctx, kImageFolderPlugin, params_, stamps);
  auto arrays = cache.load();
  if (arrays) {
    std::vector<std::string> names;
    for (const auto& item : listing.items) names.push_back(item.file.string());
    report_skipped_from_cache(ctx, kImageFolderPlugin, arrays->at("kept").all(), names);
  } else {
    const std::int64_t C = channels_, S = image_size_;
    arrays = cache.decode(
        {"images"}, {{C, S, S}}, total,
        [&](std::int64_t i, std::vector<torch::Tensor>& out) {
          out[0].copy_(resize_image(read_image(listing.items[static_cast<std::size_t>(i)].file, channels_), S));
        },
        skip_bad_);
  }
  const torch::Tensor kept = arrays->at("kept").all();
  if (kept.numel() == 0) throw InvalidInput(std::string(kImageFolderPlugin) + ": no image under '" + root_.string() + "' could be read");

  std::vector<std::int64_t> labels;
  std::vector<std::vector<std::int64_t>> split_members(kSplitNames.size());
  const auto* k = kept.data_ptr<std::int64_t>();
  for (std::int64_t row = 0; row < kept.numel(); ++row) {
    const auto& item = listing.items[static_cast<std::size_t>(k[row])];
    labels.push_back(item.label);
    split_members[item.split].push_back(row);
  }
  CachedSet out;
  out.images = arrays->at("images");
  out.labels = torch::tensor(labels, torch::kInt64);
  out.meta.task = Task::Classification;
  out.meta.class_names = listing.classes;
  out.meta.modality = modality_;
  if (listing.split_layout) {
    for (std::size_t s : {std::size_t{0}, std::size_t{2}}) {  // train, test
      if (split_members[s].empty()) {
        throw InvalidInput(std::string(kImageFolderPlugin) + ": no readable image left in the '" + kSplitNames[s] + "' split of '" +
                           root_.string() + "'");
      }
    }
    for (std::size_t s = 0; s < kSplitNames.size(); ++s) {
      if (!split_members[s].empty()) out.predefined_splits[kSplitNames[s]] = torch::tensor(split_members[s], torch::kInt64);
    }
  }
  return cached_source(std::move(out));
}

}  // namespace medadv::plugins::files
