#pragma once
// segmentation-folder: images and binary masks in two directories, paired by file stem
// (image a.png with mask a.png or a_mask.png).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "medadv/context.h"
#include "medadv/dataset.h"
#include "medadv/params.h"

namespace medadv::plugins::files {

class SegmentationFolder : public medadv::Dataset {
 public:
  static void schema(medadv::ParamSchema& s);
  SegmentationFolder(const medadv::Params& p, medadv::RunContext& ctx);
  std::shared_ptr<medadv::DataSource> open(medadv::RunContext& ctx) override;

 private:
  medadv::Params params_;
  std::filesystem::path images_;
  std::filesystem::path masks_;
  int channels_;
  std::int64_t image_size_;
  std::string modality_;
  bool skip_bad_;
  double mask_threshold_;
  std::vector<std::string> extensions_;
};

}  // namespace medadv::plugins::files
