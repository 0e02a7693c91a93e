#include "segmentation_folder.h"

#include <map>

#include "cached_source.h"
#include "dataset_cache.h"
#include "file_scan.h"
#include "medadv/error.h"
#include "medadv/image_io.h"

namespace medadv::plugins::files {

namespace fs = std::filesystem;

namespace {

constexpr const char* kSegmentationFolderPlugin = "segmentation-folder";
constexpr const char* kMaskSuffix = "_mask";

struct Pair {
  fs::path image;
  fs::path mask;  // empty: no mask found
};

// Pairs every image with the mask of the same stem, or of the stem + "_mask".
std::vector<Pair> pair_files(const fs::path& images, const fs::path& masks, const std::vector<std::string>& extensions) {
  std::map<std::string, std::vector<fs::path>> by_stem;
  for (const auto& m : list_files(masks, extensions)) by_stem[m.stem().string()].push_back(m);
  std::vector<Pair> pairs;
  for (const auto& image : list_files(images, extensions)) {
    std::vector<fs::path> candidates;
    for (const auto& stem : {image.stem().string(), image.stem().string() + kMaskSuffix}) {
      const auto it = by_stem.find(stem);
      if (it != by_stem.end()) candidates.insert(candidates.end(), it->second.begin(), it->second.end());
    }
    if (candidates.size() > 1) {
      std::string names;
      for (const auto& c : candidates) names += (names.empty() ? "'" : ", '") + c.string() + "'";
      throw InvalidInput(std::string(kSegmentationFolderPlugin) + ": image '" + image.string() + "' matches several masks (" + names +
                         "); keep one");
    }
    pairs.push_back(Pair{image, candidates.empty() ? fs::path() : candidates.front()});
  }
  if (pairs.empty()) {
    throw InvalidInput(std::string(kSegmentationFolderPlugin) + ": '" + images.string() + "' holds no images with the given extensions");
  }
  return pairs;
}

// A mask as foreground 0/1 at size x size: foreground where any channel exceeds the
// threshold, nearest-neighbour resized so no new values appear. A mask whose only
// nonzero level is the smallest one (label maps storing 1 for foreground) counts that
// level as foreground whatever the threshold.
torch::Tensor decode_mask(const fs::path& file, std::int64_t height, std::int64_t width, std::int64_t size,
                          double threshold, const fs::path& image) {
  auto mask = read_image(file).amax(0, /*keepdim=*/true);
  if (mask.size(1) != height || mask.size(2) != width) {
    throw InvalidInput("mask '" + file.string() + "' is " + std::to_string(mask.size(2)) + "x" +
                       std::to_string(mask.size(1)) + " pixels but its image '" + image.string() + "' is " +
                       std::to_string(width) + "x" + std::to_string(height));
  }
  const double max = mask.max().item<double>();
  const bool label_map = max > 0 && max <= 1.0 / 255 + 1e-6;
  auto binary = (label_map ? mask > 0 : mask > threshold).to(torch::kFloat32);
  // Nearest neighbour with half-pixel centres (PIL's NEAREST, torch's "nearest-exact").
  auto nearest = [size](std::int64_t in) {
    return ((torch::arange(size, torch::kFloat64) + 0.5) * (static_cast<double>(in) / static_cast<double>(size)))
        .floor()
        .clamp_max(static_cast<double>(in - 1))
        .to(torch::kInt64);
  };
  return binary.index_select(1, nearest(binary.size(1))).index_select(2, nearest(binary.size(2)));
}

}  // namespace

void SegmentationFolder::schema(ParamSchema& s) {
  s.add_string("images", "", "directory of the images").required();
  s.add_string("masks", "", "directory of the masks: image a.png pairs with mask a.png or a_mask.png").required();
  s.add_int("channels", 3, "1 (gray: BT.601 luma of colour images) or 3 (RGB: gray images replicated)").min(1).max(3);
  s.add_int("image_size", 64, "side of the square images and masks, in pixels").min(8).max(1024);
  s.add_string("modality", "", "imaging modality recorded in the metadata, e.g. \"dermoscopy\", \"endoscopy\"");
  s.add_bool("skip_bad", false,
             "leave out images whose file or mask is unreadable or missing, with a warning, instead of failing");
  s.add_float("mask_threshold", 0.5,
              "mask values above it (in [0,1], any channel) are foreground; masks storing 1 for foreground are "
              "recognised whatever it is")
      .min(0)
      .max_exclusive(1);
  s.add_list("extensions", ParamSpec("", ParamType::String, ""), {Value("png"), Value("jpg"), Value("jpeg")},
             "file extensions read for images and masks (case-insensitive)")
      .min_length(1);
  add_channels_check(s, false);
  add_extensions_check(s);
}

SegmentationFolder::SegmentationFolder(const Params& p, RunContext& /*ctx*/)
    : params_(p),
      images_(fs::absolute(p.get_string("images")).lexically_normal()),
      masks_(fs::absolute(p.get_string("masks")).lexically_normal()),
      channels_(static_cast<int>(p.get_int("channels"))),
      image_size_(p.get_int("image_size")),
      modality_(p.get_string("modality")),
      skip_bad_(p.get_bool("skip_bad")),
      mask_threshold_(p.get_float("mask_threshold")),
      extensions_(normalise_extensions(p.get_string_list("extensions"))) {}

std::shared_ptr<DataSource> SegmentationFolder::open(RunContext& ctx) {
  const auto pairs = pair_files(images_, masks_, extensions_);
  const auto total = static_cast<std::int64_t>(pairs.size());
  std::vector<FileStamp> stamps;
  for (const auto& p : pairs) {
    stamps.push_back(stamp(p.image));
    if (!p.mask.empty()) stamps.push_back(stamp(p.mask));
  }
  DatasetCache cache(ctx, kSegmentationFolderPlugin, params_, stamps);
  auto arrays = cache.load();
  if (arrays) {
    std::vector<std::string> names;
    for (const auto& p : pairs) names.push_back(p.image.string());
    report_skipped_from_cache(ctx, kSegmentationFolderPlugin, arrays->at("kept").all(), names);
  } else {
    const std::int64_t C = channels_, S = image_size_;
    arrays = cache.decode(
        {"images", "masks"}, {{C, S, S}, {1, S, S}}, total,
        [&](std::int64_t i, std::vector<torch::Tensor>& out) {
          const auto& pair = pairs[static_cast<std::size_t>(i)];
          if (pair.mask.empty()) {
            throw InvalidInput("image '" + pair.image.string() + "' has no mask in '" + masks_.string() + "' (looked for " +
                               pair.image.stem().string() + " or " + pair.image.stem().string() + kMaskSuffix +
                               " with the same extensions)");
          }
          const auto image = read_image(pair.image, channels_);
          out[1].copy_(decode_mask(pair.mask, image.size(1), image.size(2), S, mask_threshold_, pair.image));
          out[0].copy_(resize_image(image, S));
        },
        skip_bad_);
  }
  const torch::Tensor kept = arrays->at("kept").all();
  if (kept.numel() == 0) throw InvalidInput(std::string(kSegmentationFolderPlugin) + ": no image/mask pair could be read");

  CachedSet out;
  out.images = arrays->at("images");
  out.masks = arrays->at("masks");
  out.meta.task = Task::Segmentation;
  out.meta.class_names = {"background", "foreground"};
  out.meta.modality = modality_;
  return cached_source(std::move(out));
}

}  // namespace medadv::plugins::files
