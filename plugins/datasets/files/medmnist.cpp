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

std::string shape_of(const torch::Tensor& t) { return std::string(c10::str(t.sizes())) + " " + std::string(c10::toString(t.scalar_type())); }

// The arrays of one split, checked: images uint8 [N,H,W] or [N,H,W,C] (C = 1 or 3),
// labels integer [N] or [N,1]. Returns images [N,C,H,W] uint8 and labels [N] int64.
std::pair<torch::Tensor, torch::Tensor> split_arrays(const std::map<std::string, torch::Tensor>& arrays,
                                                     const std::string& split, const std::string& where) {
  const auto& images = arrays.at(split + "_images");
  const auto& labels = arrays.at(split + "_labels");
  const std::string image_name = "'" + split + "_images'", label_name = "'" + split + "_labels'";
  if (images.scalar_type() != torch::kUInt8) {
    throw InvalidInput(where + ": " + image_name + " should be uint8 (MedMNIST stores 8-bit images), found " + shape_of(images));
  }
  torch::Tensor nchw;
  if (images.dim() == 3) {
    nchw = images.unsqueeze(1);
  } else if (images.dim() == 4 && (images.size(3) == 1 || images.size(3) == 3)) {
    nchw = images.permute({0, 3, 1, 2});
  } else {
    throw InvalidInput(where + ": " + image_name + " should be [N,H,W] or [N,H,W,3], found " + shape_of(images) +
                       (images.dim() == 4 ? " (3-D MedMNIST volumes are not supported)" : ""));
  }
  if (labels.dim() == 2 && labels.size(1) > 1) {
    throw InvalidInput(where + ": " + label_name + " is " + shape_of(labels) +
                       ": multi-label MedMNIST sets (e.g. chestmnist) are not supported yet");
  }
  if (labels.is_floating_point() || labels.scalar_type() == torch::kBool || labels.dim() < 1 || labels.dim() > 2) {
    throw InvalidInput(where + ": " + label_name + " should be integer class indices [N] or [N,1], found " + shape_of(labels));
  }
  auto flat = labels.reshape({-1}).to(torch::kInt64);
  if (flat.size(0) != nchw.size(0)) {
    throw InvalidInput(where + ": " + image_name + " holds " + std::to_string(nchw.size(0)) + " images but " + label_name +
                       " " + std::to_string(flat.size(0)) + " labels");
  }
  if (flat.numel() > 0 && flat.min().item<std::int64_t>() < 0) throw InvalidInput(where + ": " + label_name + " holds negative labels");
  return {nchw, flat};
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
  const auto arrays = read_npz(path_);

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
    for (const auto& [name, t] : arrays) found += (found.empty() ? "" : ", ") + name + " " + shape_of(t);
    throw InvalidInput(where + " is not a MedMNIST archive: expected arrays train_images, train_labels, test_images, "
                       "test_labels (and optionally val_images, val_labels); found " +
                       (found.empty() ? std::string("no arrays") : found));
  }

  std::int64_t label_count = 0;
  for (const auto& split : present) label_count += arrays.at(split + "_labels").numel();
  const bool named = !class_names_.empty();
  const std::int64_t classes = named ? static_cast<std::int64_t>(class_names_.size()) : label_count;

  std::vector<torch::Tensor> images, labels;
  DatasetContents out;
  std::int64_t offset = 0;
  for (const auto& split : present) {
    auto [x, y] = split_arrays(arrays, split, where);
    check_label_range(y, split, classes, named, where);
    if (!images.empty() && x.sizes().slice(1) != images.front().sizes().slice(1)) {
      throw InvalidInput(where + ": '" + split + "_images' are " + c10::str(x.sizes().slice(1)) + " per image but '" +
                         present.front() + "_images' " + c10::str(images.front().sizes().slice(1)));
    }
    out.predefined_splits[split] = torch::arange(offset, offset + x.size(0), torch::kInt64);
    offset += x.size(0);
    images.push_back(x);
    labels.push_back(y);
  }
  out.labels = torch::cat(labels);
  if (named) {
    out.meta.class_names = class_names_;
  } else {
    const auto K = out.labels.numel() > 0 ? out.labels.max().item<std::int64_t>() + 1 : 0;
    for (std::int64_t k = 0; k < K; ++k) out.meta.class_names.push_back(std::to_string(k));
  }
  out.meta.task = Task::Classification;
  out.meta.modality = modality_;

  // Converting is cheap; resizing thousands of images is what is worth caching.
  const auto convert = [&] {
    auto all = torch::cat(images).to(torch::kFloat32).div_(255.0);
    all = convert_channels(all, channels_);
    return image_size_ > 0 ? resize_image(all, image_size_).contiguous() : all;
  };
  const bool resizing = image_size_ > 0 && (images.front().size(2) != image_size_ || images.front().size(3) != image_size_);
  if (!resizing) {
    auto stored = torch::cat(images);
    // 8-bit pixels as stored, a quarter of their float size, become float a batch at a time
    // (stored_to_float divides by 255 as convert() does).
    const bool as_stored = stored.scalar_type() == torch::kByte && (channels_ == 0 || stored.size(1) == channels_);
    out.images = as_stored ? stored : convert();
    return tensor_source(std::move(out));
  }
  DatasetCache cache(ctx, kMedmnistPlugin, params_, {stamp(path_)});
  auto entry = cache.load();
  if (!entry) entry = cache.store({{"images", convert()}});
  CachedSet set;
  set.images = entry->at("images");
  set.labels = out.labels;
  set.meta = out.meta;
  set.predefined_splits = out.predefined_splits;
  return cached_source(std::move(set));
}

}  // namespace medadv::plugins::files
