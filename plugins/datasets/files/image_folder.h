#pragma once
// image-folder: a classification data set from a directory tree of PNG/JPEG files,
// root/<class>/* or root/<split>/<class>/* (split = train | val | test, the layout of
// Kaggle's chest X-ray set).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "medadv/context.h"
#include "medadv/dataset.h"
#include "medadv/params.h"

namespace medadv::plugins::files {

class ImageFolder : public medadv::Dataset {
 public:
  static void schema(medadv::ParamSchema& s);
  ImageFolder(const medadv::Params& p, medadv::RunContext& ctx);
  std::shared_ptr<medadv::DataSource> open(medadv::RunContext& ctx) override;

 private:
  medadv::Params params_;
  std::filesystem::path root_;
  int channels_;
  std::int64_t image_size_;
  std::string modality_;
  bool skip_bad_;
  std::vector<std::string> extensions_;
};

}  // namespace medadv::plugins::files
