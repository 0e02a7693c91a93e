#include "engine/clean_stage.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "medadv/metrics.h"

namespace medadv::host {

CleanEvaluation evaluate_clean(DifferentiableModel& model, const SplitData& split, std::int64_t batch_size,
                               c10::Device device) {
  CleanEvaluation e;
  e.n = split.size();
  const auto start = std::chrono::steady_clock::now();
  torch::NoGradGuard no_grad;
  if (model.task() == Task::Classification) {
    e.accuracy = metrics::accuracy(predict(model, split, batch_size, device), split.labels);
  } else {
    std::vector<torch::Tensor> maps;
    for (std::int64_t i = 0; i < e.n; i += batch_size)
      maps.push_back(metrics::label_map_from_logits(
                         model.logits(split.images(i, std::min(i + batch_size, e.n), device)))
                         .cpu());
    auto predicted = torch::cat(maps);
    auto truth = split.masks.to(torch::kLong);
    e.dice = metrics::dice(predicted, truth);
    e.miou = metrics::mean_iou(predicted, truth, std::max<std::int64_t>(2, model.num_classes()));
  }
  e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return e;
}

}  // namespace medadv::host
