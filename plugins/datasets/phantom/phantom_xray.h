#pragma once
// phantom-xray: synthetic chest radiographs with pneumonia (xray_phantom.h), generated in
// process from the run's seed (no files, no network). Image i depends only on the seed
// and i, never on `count`. Classification of the diagnosis by default; `task =
// "segmentation"` makes the lung fields the target.
#include <cstdint>
#include <memory>

#include "medadv/context.h"
#include "medadv/dataset.h"
#include "medadv/params.h"

namespace medadv::plugins::phantom {

class PhantomXray : public medadv::Dataset {
 public:
  static void schema(medadv::ParamSchema& s);
  PhantomXray(const medadv::Params& p, medadv::RunContext& ctx);
  std::shared_ptr<medadv::DataSource> open(medadv::RunContext& ctx) override;

 private:
  std::int64_t image_size_;
  std::int64_t count_;
  std::int64_t classes_;
  double noise_;
  double balance_;
  double lesion_scale_;
  double opacity_;
  double aeration_;
  double zoom_;
  bool segmentation_;
};

}  // namespace medadv::plugins::phantom
