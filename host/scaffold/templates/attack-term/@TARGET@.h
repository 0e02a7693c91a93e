#pragma once
// @NAME@: an add-on attack term that moves the mean activation of one tap.
//
// Implemented inline here so that test_@TARGET@.cpp can use the class without the
// library's entry symbol; @TARGET@.cpp registers it.
#include <algorithm>
#include <string>
#include <vector>

#include <medadv/medadv.h>

class @CLASS@ : public medadv::AttackTerm {
 public:
  // An enum parameter is declared with the value each name stands for and read back as
  // that value (Params::get_enum): the plugin never parses the text itself.
  enum class Direction { Down = -1, Up = 1 };

  static void schema(medadv::ParamSchema& s) {
    s.add_string("tap", "penultimate", "model tap whose mean activation the term moves").min_length(1);
    s.add_enum<Direction>("direction", {{"up", Direction::Up}, {"down", Direction::Down}}, Direction::Up,
                          "raise (up) or lower (down) the tap's mean activation");
  }

  @CLASS@(const medadv::Params& p, medadv::RunContext& /*ctx*/)
      : tap_(p.get_string("tap")), sign_(static_cast<double>(p.get_enum<Direction>("direction"))) {}

  std::vector<std::string> taps() const override { return {tap_}; }

  // `data` is the clean split the experiment names (the training split by default), read a
  // batch at a time; `data.labels()` holds the attack's labels.
  void fit(medadv::DifferentiableModel& model, const medadv::ImageBatches& data, std::int64_t batch_size,
           medadv::RunContext& ctx) override {
    // A wrong tap name fails here, before any attack work, naming what the model offers.
    const std::vector<std::string> offered = model.tap_names();
    if (std::find(offered.begin(), offered.end(), tap_) == offered.end()) {
      std::string list;
      for (const auto& name : offered) list += (list.empty() ? "" : ", ") + name;
      throw medadv::InvalidInput("@NAME@: the model has no tap '" + tap_ + "'" + medadv::did_you_mean(tap_, offered) +
                                 "; its taps: " + list);
    }
    if (data.size() == 0) return;
    torch::NoGradGuard no_grad;
    const auto first = data.images(0, std::min(batch_size, data.size()), ctx.device());
    const double clean_mean = model.forward(first, {tap_}).tap(tap_).mean().item<double>();
    ctx.log().info("@NAME@: clean mean activation of '" + tap_ + "' in the first batch is " +
                   std::to_string(clean_mean));
  }

  // `labels` and `targets` (undefined unless the objective is targeted) are the attack's,
  // for terms about a class; this one does not need them.
  torch::Tensor loss(const medadv::ModelOutput& out, const torch::Tensor& /*x_adv*/, const torch::Tensor& /*labels*/,
                     const torch::Tensor& /*targets*/) override {
    // A mean rather than a sum, so the term's scale does not grow with the tap's size and
    // one weight in the experiment means the same thing for every tap.
    return sign_ * out.tap(tap_).flatten(1).mean(1);
  }

 private:
  std::string tap_;
  double sign_;
};
