#pragma once
// phantom-fundus: the framework's embedded default data set. Synthetic colour fundus
// photographs with diabetic retinopathy, generated in process from the run's seed (no
// files, no network). Image i depends only on the seed and i, never on `count`.
#include <cstdint>
#include <memory>

#include "medadv/context.h"
#include "medadv/dataset.h"
#include "medadv/params.h"

namespace medadv::plugins::phantom {

class PhantomFundus : public medadv::Dataset {
 public:
  static void schema(medadv::ParamSchema& s);
  PhantomFundus(const medadv::Params& p, medadv::RunContext& ctx);
  std::shared_ptr<medadv::DataSource> open(medadv::RunContext& ctx) override;

 private:
  std::int64_t image_size_;
  std::int64_t count_;
  std::int64_t classes_;
  double noise_;
  double balance_;
  double lesion_scale_;
};

}  // namespace medadv::plugins::phantom
