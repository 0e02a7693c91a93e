#pragma once
// dnn: the detector network of Metzen et al. (2017), "On detecting adversarial
// perturbations", as specs/DETECTORS.md states it: for each chosen tap a small binary
// convolutional network (detector_net.h) reads the tap's feature map (not pooled) and is
// trained clean (0) vs adversarial (1) with binary cross-entropy, Adam (lr 1e-3, weight
// decay 1e-4) for `steps` iterations of `batch_size` rows drawn uniformly with
// replacement from the fit set; the score is the sum of the per-tap logits, differentiable
// in the input. The victim stays frozen: its taps are computed once for the fit set.
// Seeded (initial weights, batches) from the run's seed; deterministic on the CPU.
#include <cstdint>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include <medadv/context.h>
#include <medadv/detector.h>
#include <medadv/error.h>
#include <medadv/features.h>
#include <medadv/params.h>
#include <medadv/torch_compat.h>

#include "detector_net.h"

namespace medadv::plugins::dnn {

// The deepest residual / convolutional block a model offers: the last tap named
// block<i> (ARCHITECTURE.md names every model's blocks so). Empty when there is none.
inline std::string deepest_block(const std::vector<std::string>& available) {
  static const std::regex block("block[0-9]+");
  std::string found;
  for (const auto& name : available)
    if (std::regex_match(name, block)) found = name;
  return found;
}

class DnnDetector : public Detector {
 public:
  static constexpr std::int64_t kFeatureBatch = 64;

  static void schema(ParamSchema& s) {
    s.add_list("taps", ParamSpec("", ParamType::String, ""), {},
               "taps that get a detector network each (their feature maps, not pooled; [B, D] taps are read as "
               "D x 1 x 1 maps); [] = the deepest block the model offers (the last block<i> tap); [\"all\"] = "
               "every tap but logits");
    s.add_int("steps", 300, "training iterations (Adam steps), each on one batch").min(1).max(1000000);
    s.add_int("batch_size", 64, "rows per training batch, drawn uniformly with replacement").min(1).max(65536);
    s.add_float("lr", 1e-3, "Adam's learning rate").min_exclusive(0.0).max(1.0);
    s.add_float("weight_decay", 1e-4, "Adam's weight decay (L2 added to the gradient, as PyTorch's Adam)").min(0.0);
  }

  DnnDetector(const Params& p, RunContext& /*ctx*/)
      : taps_(p.get_string_list("taps")),
        steps_(p.get_int("steps")),
        batch_size_(p.get_int("batch_size")),
        lr_(p.get_float("lr")),
        weight_decay_(p.get_float("weight_decay")) {}

  std::vector<std::string> taps(const std::vector<std::string>& available) const override {
    if (!taps_.empty()) return features::select_taps("dnn", taps_, available);
    const std::string deepest = deepest_block(available);
    if (deepest.empty()) {
      std::string names;
      for (const auto& n : available) names += (names.empty() ? "" : ", ") + n;
      throw InvalidInput("dnn: the model offers no block<i> tap to default to; name the taps with `taps` "
                         "(available: " + names + ")");
    }
    return {deepest};
  }
  bool supervised() const override { return true; }
  bool differentiable() const override { return true; }

  void fit(DifferentiableModel& model, const DetectorFitData& data, RunContext& ctx,
           AttackFactory* /*attacks*/) override {
    if (!data.clean || !data.adversarial)
      throw InvalidInput("dnn is supervised: fit needs clean and adversarial images");
    chosen_ = taps(model.tap_names());
    const c10::Device device = ctx.device();
    const std::int64_t clean_rows = data.clean->size(), rows = clean_rows + data.adversarial->size();

    std::vector<torch::Tensor> maps = feature_maps(model, *data.clean, device);
    {
      const std::vector<torch::Tensor> adversarial = feature_maps(model, *data.adversarial, device);
      for (std::size_t t = 0; t < maps.size(); ++t) maps[t] = torch::cat({maps[t], adversarial[t]});
    }
    const torch::Tensor labels =
        torch::cat({torch::zeros({clean_rows}), torch::ones({rows - clean_rows})}).to(device);

    nets_.clear();
    std::vector<torch::Tensor> parameters;
    const std::uint64_t init_seed = ctx.seed_for("dnn/init");
    for (std::size_t t = 0; t < maps.size(); ++t) {
      auto net = std::make_shared<DetectorNet>(maps[t].size(1), maps[t].size(2), maps[t].size(3),
                                               init_seed + static_cast<std::uint64_t>(t));
      net->set_standardisation(maps[t]);
      net->to(device);
      net->train();
      for (auto& p : net->parameters()) parameters.push_back(p);
      nets_.push_back(net);
    }

    // Every batch drawn up front on the CPU from the run's seed, moved to the device once.
    auto gen = compat::cpu_generator(ctx.seed_for("dnn/batches"));
    const torch::Tensor batches = torch::randint(0, rows, {steps_, batch_size_}, gen).to(device);
    torch::optim::Adam optimizer(parameters, torch::optim::AdamOptions(lr_).weight_decay(weight_decay_));
    torch::Tensor loss;
    for (std::int64_t step = 0; step < steps_; ++step) {
      const torch::Tensor index = batches[step];
      const torch::Tensor target = labels.index_select(0, index);
      loss = torch::zeros({}, labels.options());
      for (std::size_t t = 0; t < nets_.size(); ++t)
        loss = loss + torch::binary_cross_entropy_with_logits(nets_[t]->forward(maps[t].index_select(0, index)), target);
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
    }
    for (auto& net : nets_) {
      net->eval();
      for (auto& p : net->parameters()) p.set_requires_grad(false);
    }
    std::string which;
    for (std::size_t t = 0; t < chosen_.size(); ++t)
      which += (which.empty() ? "" : ", ") + chosen_[t] + " " + c10::str(maps[t].sizes().slice(1));
    ctx.log().info("dnn: trained " + std::to_string(nets_.size()) + " detector net(s) on " + which + " for " +
                   std::to_string(steps_) + " steps of " + std::to_string(batch_size_) + " rows (" +
                   std::to_string(rows) + " fit rows); last batch loss " + std::to_string(loss.item<double>()));
  }

  torch::Tensor score(DifferentiableModel& model, const torch::Tensor& x) override {
    if (nets_.empty()) throw InvalidInput("dnn: score called before fit");
    const ModelOutput out = model.forward(x, chosen_);
    torch::Tensor total;
    for (std::size_t t = 0; t < nets_.size(); ++t) {
      const torch::Tensor logit = nets_[t]->forward(as_feature_map(out.tap(chosen_[t])));
      total = total.defined() ? total + logit : logit;
    }
    return total.to(x.scalar_type());
  }

  const std::vector<std::string>& chosen_taps() const { return chosen_; }
  const std::vector<std::shared_ptr<DetectorNet>>& nets() const { return nets_; }

 private:
  // The chosen taps' maps of a whole image set, without gradients, on `device`.
  std::vector<torch::Tensor> feature_maps(DifferentiableModel& model, const ImageBatches& images,
                                          c10::Device device) const {
    torch::NoGradGuard no_grad;
    std::vector<std::vector<torch::Tensor>> parts(chosen_.size());
    for (std::int64_t start = 0; start < images.size(); start += kFeatureBatch) {
      const torch::Tensor batch = images.images(start, std::min(start + kFeatureBatch, images.size()), device);
      const ModelOutput out = model.forward(batch, chosen_);
      for (std::size_t t = 0; t < chosen_.size(); ++t)
        parts[t].push_back(as_feature_map(out.tap(chosen_[t])).detach());
    }
    std::vector<torch::Tensor> maps;
    for (auto& p : parts) maps.push_back(torch::cat(p));
    return maps;
  }

  std::vector<std::string> taps_;
  std::int64_t steps_, batch_size_;
  double lr_, weight_decay_;
  std::vector<std::string> chosen_;
  std::vector<std::shared_ptr<DetectorNet>> nets_;
};

}  // namespace medadv::plugins::dnn
