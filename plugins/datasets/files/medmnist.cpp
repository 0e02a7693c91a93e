#include "medmnist.h"

#include <algorithm>
#include <map>

#include "cached_source.h"
#include "dataset_cache.h"
#include "file_scan.h"
#include "medadv/error.h"
#include "medadv/image_io.h"
#include "medadv/npz.h"

namespace medadv::plugins::files {

namespace fs = std::filesystem;

namespace {

constexpr const char* kMedmnistPlugin = "medmnist";
const std::vector<std::string> kSplits = {"train", "val", "test"};  // in this order in the data

std::string shape_of(const NpzArrayInfo& a) {
  return std::string(c10::str(torch::IntArrayRef(a.shape))) + " " + std::string(c10::toString(a.dtype));
}

// Rows per block while an archive's images stream into the cache: 4,096 MedMNIST+ images
// at 224 px are 600 MB of 8-bit RGB, a float block four times that; 512 keep it small.
constexpr std::int64_t kBlockRows = 512;

// One split's arrays, checked from their headers: images uint8 [N,H,W] or [N,H,W,C]
// (C = 1 or 3), labels integer [N] or [N,1]. Returns the images' C, H, W and N.
std::vector<std::int64_t> check_split(const std::map<std::string, NpzArrayInfo>& arrays, const std::string& split,
                                      const std::string& where) {
  const auto& images = arrays.at(split + "_images");
  const auto& labels = arrays.at(split + "_labels");
  const std::string image_name = "'" + split + "_images'", label_name = "'" + split + "_labels'";
  if (images.dtype != torch::kUInt8) {
    throw InvalidInput(where + ": " + image_name + " should be uint8 (MedMNIST stores 8-bit images), found " + shape_of(images));
  }
  const auto& is = images.shape;
  std::vector<std::int64_t> nchw;
  if (is.size() == 3) {
    nchw = {is[0], 1, is[1], is[2]};
  } else if (is.size() == 4 && (is[3] == 1 || is[3] == 3)) {
    nchw = {is[0], is[3], is[1], is[2]};
  } else {
    throw InvalidInput(where + ": " + image_name + " should be [N,H,W] or [N,H,W,3], found " + shape_of(images) +
                       (is.size() == 4 ? " (3-D MedMNIST volumes are not supported)" : ""));
  }
  const auto& ls = labels.shape;
  if (ls.size() == 2 && ls[1] > 1) {
    throw InvalidInput(where + ": " + label_name + " is " + shape_of(labels) +
                       ": multi-label MedMNIST sets (e.g. chestmnist) are not supported yet");
  }
  if (c10::isFloatingType(labels.dtype) || labels.dtype == torch::kBool || ls.empty() || ls.size() > 2) {
    throw InvalidInput(where + ": " + label_name + " should be integer class indices [N] or [N,1], found " + shape_of(labels));
  }
  if (ls[0] != nchw[0]) {
    throw InvalidInput(where + ": " + image_name + " holds " + std::to_string(nchw[0]) + " images but " + label_name +
                       " " + std::to_string(ls[0]) + " labels");
  }
  return nchw;
}

// A split's labels [N] int64, read from the archive.
torch::Tensor read_labels(const fs::path& file, const std::string& split, const std::string& where) {
  std::vector<torch::Tensor> parts;
  read_npz_rows(file, split + "_labels", 1 << 20, [&](std::int64_t, const torch::Tensor& block) {
    parts.push_back(block.reshape({-1}).to(torch::kInt64));
  });
  auto flat = parts.empty() ? torch::empty({0}, torch::kInt64) : torch::cat(parts);
  if (flat.numel() > 0 && flat.min().item<std::int64_t>() < 0)
    throw InvalidInput(where + ": '" + split + "_labels' holds negative labels");
  return flat;
}

// Class indices run from 0 to `classes` - 1: the count of class_names when given, else the
// number of labels in the archive (a larger index would mean classes without one image,
// and a corrupt label such as 4e9 would mean billions of them).
void check_label_range(const torch::Tensor& labels, const std::string& split, std::int64_t classes, bool named,
                       const std::string& where) {
  if (labels.numel() == 0) return;
  const std::int64_t largest = labels.max().item<std::int64_t>();
  if (largest < classes) return;
  throw InvalidInput(where + ": '" + split + "_labels' holds label " + std::to_string(largest) + ", out of range: " +
                     (named ? "parameter 'class_names' names " + std::to_string(classes) + " classes"
                            : "the archive holds " + std::to_string(classes) +
                                  " labels in all, so at most that many classes (name them with 'class_names' "
                                  "if there are more)"));
}

}  // namespace

void MedMnist::schema(ParamSchema& s) {
  s.add_string("path", "", "the MedMNIST .npz file (e.g. pathmnist.npz or pathmnist_64.npz)").required();
  s.add_int("image_size", 0, "side of the square images in pixels; 0 keeps the stored size").min(0).max(1024);
  s.add_int("channels", 0, "0 as stored, 1 (gray: BT.601 luma) or 3 (RGB: gray replicated)").min(0).max(3);
  s.add_string("modality", "", "imaging modality recorded in the metadata, e.g. \"pathology\", \"dermoscopy\"");
  s.add_list("class_names", ParamSpec("", ParamType::String, ""), {},
             "names of the classes in label order; default \"0\" .. \"K-1\"");
  add_channels_check(s, true);
  s.add_check("image_size is 0 or at least 8", {"image_size"}, [](const Params& p) -> std::optional<std::string> {
    const std::int64_t size = p.get_int("image_size");
    if (size == 0 || size >= 8) return std::nullopt;
    return "image_size must be 0 (keep the stored size) or at least 8, got " + std::to_string(size);
  });
}

MedMnist::MedMnist(const Params& p, RunContext& /*ctx*/)
    : params_(p),
      path_(fs::absolute(p.get_string("path")).lexically_normal()),
      image_size_(p.get_int("image_size")),
      channels_(static_cast<int>(p.get_int("channels"))),
      modality_(p.get_string("modality")),
      class_names_(p.get_string_list("class_names")) {}

std::shared_ptr<DataSource> MedMnist::open(RunContext& ctx) {
  const std::string where = std::string(kMedmnistPlugin) + ": '" + path_.string() + "'";
  // Headers first: everything is checked before an image is read.
  std::map<std::string, NpzArrayInfo> arrays;
  for (auto& a : npz_arrays(path_)) arrays.emplace(a.name, std::move(a));

  std::vector<std::string> present;
  for (const auto& split : kSplits) {
    const bool has_images = arrays.count(split + "_images") > 0, has_labels = arrays.count(split + "_labels") > 0;
    if (has_images && has_labels) present.push_back(split);
    else if (has_images || has_labels) {
      throw InvalidInput(where + " holds '" + split + (has_images ? "_images' but no '" + split + "_labels'" : "_labels' but no '" + split + "_images'"));
    }
  }
  const bool complete = std::find(present.begin(), present.end(), "train") != present.end() &&
                        std::find(present.begin(), present.end(), "test") != present.end();
  if (!complete) {
    std::string found;
    for (const auto& [name, a] : arrays) found += (found.empty() ? "" : ", ") + name + " " + shape_of(a);
    throw InvalidInput(where + " is not a MedMNIST archive: expected arrays train_images, train_labels, test_images, "
                       "test_labels (and optionally val_images, val_labels); found " +
                       (found.empty() ? std::string("no arrays") : found));
  }

  std::vector<std::int64_t> stored;  // C, H, W
  std::int64_t total = 0;  // images, and so labels, in the archive
  for (const auto& split : present) {
    const auto nchw = check_split(arrays, split, where);
    const std::vector<std::int64_t> item(nchw.begin() + 1, nchw.end());
    if (!stored.empty() && item != stored) {
      throw InvalidInput(where + ": '" + split + "_images' are " + c10::str(torch::IntArrayRef(item)) + " per image but '" +
                         present.front() + "_images' " + c10::str(torch::IntArrayRef(stored)));
    }
    stored = item;
    total += nchw[0];
  }
  const bool named = !class_names_.empty();
  const std::int64_t classes = named ? static_cast<std::int64_t>(class_names_.size()) : total;

  CachedSet set;
  std::vector<torch::Tensor> labels;
  std::int64_t offset = 0;
  for (const auto& split : present) {
    auto y = read_labels(path_, split, where);
    check_label_range(y, split, classes, named, where);
    set.predefined_splits[split] = torch::arange(offset, offset + y.size(0), torch::kInt64);
    offset += y.size(0);
    labels.push_back(y);
  }
  set.labels = torch::cat(labels);
  if (named) {
    set.meta.class_names = class_names_;
  } else {
    const auto K = set.labels.numel() > 0 ? set.labels.max().item<std::int64_t>() + 1 : 0;
    for (std::int64_t k = 0; k < K; ++k) set.meta.class_names.push_back(std::to_string(k));
  }
  set.meta.task = Task::Classification;
  set.meta.modality = modality_;

  // The images stream, a block at a time, from the archive (stored or deflated) into the
  // cache: 8-bit as stored when neither the size nor the channels change (a quarter of the
  // float bytes, made float a batch at a time by the host), else converted and resized
  // per block into float. A later run reads the cache's rows and never the archive's images.
  const bool resizing = image_size_ > 0 && (stored[1] != image_size_ || stored[2] != image_size_);
  const bool as_stored = !resizing && (channels_ == 0 || stored[0] == channels_);
  const std::int64_t out_channels = channels_ == 0 ? stored[0] : channels_;
  const std::int64_t out_size_h = resizing ? image_size_ : stored[1], out_size_w = resizing ? image_size_ : stored[2];
  DatasetCache cache(ctx, kMedmnistPlugin, params_, {stamp(path_)});
  auto entry = cache.load();
  if (!entry) {
    entry = cache.stream("images", as_stored ? torch::kUInt8 : torch::kFloat32, {total, out_channels, out_size_h, out_size_w},
                         [&](const DatasetCache::RowSink& append) {
                           for (const auto& split : present)
                             read_npz_rows(path_, split + "_images", kBlockRows, [&](std::int64_t, const torch::Tensor& block) {
                               auto nchw = block.dim() == 3 ? block.unsqueeze(1) : block.permute({0, 3, 1, 2});
                               if (as_stored) return append(nchw);
                               auto x = convert_channels(nchw.to(torch::kFloat32).div_(255.0), channels_);
                               append(resizing ? resize_image(x, image_size_) : x);
                             });
                         });
  }
  set.images = entry->at("images");
  return cached_source(std::move(set));
}

}  // namespace medadv::plugins::files
