#pragma once
// medmnist: a MedMNIST v2 .npz (train/val/test images and labels, uint8) as a
// classification data set with its own splits.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "medadv/context.h"
#include "medadv/dataset.h"
#include "medadv/params.h"

namespace medadv::plugins::files {

class MedMnist : public medadv::Dataset {
 public:
  static void schema(medadv::ParamSchema& s);
  MedMnist(const medadv::Params& p, medadv::RunContext& ctx);
  std::shared_ptr<medadv::DataSource> open(medadv::RunContext& ctx) override;

 private:
  medadv::Params params_;
  std::filesystem::path path_;
  std::int64_t image_size_;
  int channels_;
  std::string modality_;
  std::vector<std::string> class_names_;
};

}  // namespace medadv::plugins::files
