// Detector fit and scoring time on fixed features (bench/detectors.sh), and the same
// features for bench/detector_reference.py, which times scikit-learn on them the way the
// HFC and Lee et al. reference code use it.
//
// The "model" is the identity on feature vectors: an input [N, D, 1, 1] is its own
// penultimate tap, and its logits come from a fixed random linear layer (so kd scores by
// the predicted class, as on a real model). The features are two Gaussian classes in
// D dimensions, with adversarial versions moved by a fixed shift plus noise, so that every
// detector has something to separate. Timed per detector after one untimed warm-up,
// median over --repeats: fit (clean fit features and labels, plus the adversarial ones for
// the supervised svm) and scoring of the clean and adversarial score features. Detectors: kd (bandwidth 1.0),
// mahalanobis (one tap, combine = "mean": unsupervised, tied covariance) and svm (RBF,
// C = 1, gamma "scale", libsvm's Platt probability).
//
// With --export FILE.npz writes the features, labels, the predicted classes of the scored
// features and medadv's timings and AUCs ("meta.*") for the Python side.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/program_options.hpp>
#include <torch/torch.h>

#include <medadv/capabilities.h>
#include <medadv/detector.h>
#include <medadv/device.h>
#include <medadv/error.h>
#include <medadv/metrics.h>
#include <medadv/model.h>
#include <medadv/model_parts.h>
#include <medadv/npz.h>
#include <medadv/torch_compat.h>

#include "bench_context.h"
#include "detectors/feature/kd.h"
#include "detectors/feature/mahalanobis.h"
#include "detectors/svm/svm_detector.h"

namespace {

namespace po = boost::program_options;
using medadv::bench::BenchContext;
using medadv::bench::Clock;
using medadv::bench::resolve;
using medadv::bench::seconds_since;

struct Settings {
  std::int64_t fit = 1678;
  std::int64_t score = 717;
  std::int64_t dim = 64;
  std::int64_t repeats = 3;
  medadv::bench::RunSettings run;
  std::string export_file;
};

// Feature vectors as images [N, D, 1, 1]: penultimate = the vector, logits = a fixed
// linear layer of it.
class IdentityFeatures : public medadv::TappedModule {
 public:
  IdentityFeatures(std::int64_t dim, std::int64_t classes, std::uint64_t seed) {
    head_ = register_module("head", torch::nn::Linear(dim, classes));
    medadv::SeededInit(seed).torchvision_style(*this, medadv::SeededInit::Linear::TorchDefault);
  }
  std::vector<std::string> tap_names() const override { return {"penultimate", "logits"}; }
  medadv::ModelOutput forward_taps(const torch::Tensor& x, const std::vector<std::string>& taps) override {
    medadv::TapCollector out("identity-features", taps, tap_names());
    const auto features = x.flatten(1);
    out.offer("penultimate", features);
    return out.finish(head_->forward(features));
  }

 private:
  torch::nn::Linear head_{nullptr};
};

struct Features {
  torch::Tensor clean, adversarial, labels;  // [N, D], [N, D], [N]
};

// Two classes centred at +-1.5 along a random unit direction, unit variance; the
// adversarial version of a point is the point plus one fixed shift of length 2 plus noise
// of standard deviation 0.5 per dimension.
Features draw(std::int64_t n, std::int64_t dim, const torch::Tensor& direction, const torch::Tensor& shift,
              at::Generator& gen) {
  Features f;
  f.labels = torch::randint(0, 2, {n}, gen, torch::kLong);
  const auto sign = f.labels.to(torch::kFloat).mul(2).sub(1).unsqueeze(1);
  f.clean = torch::randn({n, dim}, gen, torch::kFloat) + 1.5 * sign * direction;
  f.adversarial = f.clean + shift + 0.5 * torch::randn({n, dim}, gen, torch::kFloat);
  return f;
}

torch::Tensor as_images(const torch::Tensor& features) { return features.unsqueeze(2).unsqueeze(3); }

struct Timing {
  double seconds = 0;  // median fit + scoring
  double auc = 0;
};

Timing time_detector(const std::function<std::unique_ptr<medadv::Detector>()>& make, medadv::DifferentiableModel& model,
                     const Features& fit, const Features& test, std::int64_t repeats, BenchContext& ctx) {
  std::vector<double> seconds;
  double auc = 0;
  for (std::int64_t r = -1; r < repeats; ++r) {  // r = -1: an untimed warm-up
    auto detector = make();
    const auto data = medadv::detector_fit_data(as_images(fit.clean), fit.labels,
                                                detector->supervised() ? as_images(fit.adversarial) : torch::Tensor());
    const auto start = Clock::now();
    detector->fit(model, data, ctx, nullptr);
    torch::NoGradGuard no_grad;
    const auto scores =
        torch::cat({detector->score(model, as_images(test.clean)), detector->score(model, as_images(test.adversarial))})
            .cpu();  // the timing includes the scores reaching the host
    if (r >= 0) seconds.push_back(seconds_since(start));
    const auto is_adversarial = torch::cat({torch::zeros({test.clean.size(0)}), torch::ones({test.adversarial.size(0)})});
    auc = medadv::metrics::roc_auc(scores.to(torch::kDouble), is_adversarial);
  }
  std::sort(seconds.begin(), seconds.end());
  return {seconds[seconds.size() / 2], auc};
}

int run(const Settings& s) {
  BenchContext ctx(s.run);
  const torch::Device device = ctx.device();
  medadv::set_cuda_math(medadv::CudaMath::Reproducible);
  auto gen = medadv::compat::cpu_generator(s.run.seed);
  auto direction = torch::randn({s.dim}, gen, torch::kFloat);
  direction /= direction.norm();
  auto shift = torch::randn({s.dim}, gen, torch::kFloat);
  shift *= 2.0 / shift.norm().item<double>();
  Features fit = draw(s.fit, s.dim, direction, shift, gen);
  Features test = draw(s.score, s.dim, direction, shift, gen);
  for (Features* f : {&fit, &test}) {
    f->clean = f->clean.to(device);
    f->adversarial = f->adversarial.to(device);
    f->labels = f->labels.to(device);
  }

  auto module = std::make_shared<IdentityFeatures>(s.dim, 2, s.run.seed);
  module->to(device);
  medadv::ModuleModel model(module, 2, medadv::Task::Classification);

  namespace feature = medadv::plugins::feature;
  namespace svm = medadv::plugins::svm;
  const std::vector<std::pair<std::string, std::function<std::unique_ptr<medadv::Detector>()>>> detectors = {
      {"kd", [&] { return std::make_unique<feature::Kd>(resolve(&feature::Kd::schema, {}, "kd"), ctx); }},
      {"mahalanobis",
       [&] {
         return std::make_unique<feature::Mahalanobis>(
             resolve(&feature::Mahalanobis::schema, {{"taps", medadv::Value::Array{medadv::Value("penultimate")}},
                                                     {"combine", "mean"}},
                     "mahalanobis"),
             ctx);
       }},
      {"svm", [&] { return std::make_unique<svm::SvmDetector>(resolve(&svm::SvmDetector::schema, {}, "svm"), ctx); }},
  };

  std::printf("medadv detectors on %s, %d threads: %lld fit and %lld + %lld scored feature vectors of %lld dims\n",
              device.str().c_str(), s.run.threads, static_cast<long long>(s.fit), static_cast<long long>(s.score),
              static_cast<long long>(s.score), static_cast<long long>(s.dim));
  std::vector<std::pair<std::string, torch::Tensor>> arrays;
  for (const auto& [name, make] : detectors) {
    const Timing t = time_detector(make, model, fit, test, s.repeats, ctx);
    std::printf("  medadv  %-12s fit + score %8.3f s (median of %lld)   AUC %.4f\n", name.c_str(), t.seconds,
                static_cast<long long>(s.repeats), t.auc);
    arrays.emplace_back("meta.seconds." + name, torch::tensor(t.seconds, torch::kDouble));
    arrays.emplace_back("meta.auc." + name, torch::tensor(t.auc, torch::kDouble));
  }
  if (!s.export_file.empty()) {
    torch::NoGradGuard no_grad;
    arrays.emplace_back("fit.clean", fit.clean);
    arrays.emplace_back("fit.adversarial", fit.adversarial);
    arrays.emplace_back("fit.labels", fit.labels);
    arrays.emplace_back("test.clean", test.clean);
    arrays.emplace_back("test.adversarial", test.adversarial);
    arrays.emplace_back("test.clean_predicted", model.logits(as_images(test.clean)).argmax(1));
    arrays.emplace_back("test.adversarial_predicted", model.logits(as_images(test.adversarial)).argmax(1));
    arrays.emplace_back("meta.repeats", torch::tensor(s.repeats, torch::kLong));
    medadv::write_npz(s.export_file, arrays);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  po::options_description options("detector_throughput: kd, mahalanobis and svm fit + scoring time on fixed features");
  options.add_options()("help,h", "this help")(
      "fit", po::value(&s.fit)->default_value(s.fit), "fit feature vectors (clean, and as many adversarial)")(
      "score", po::value(&s.score)->default_value(s.score), "scored feature vectors, clean and as many adversarial")(
      "dim", po::value(&s.dim)->default_value(s.dim), "feature dimension")(
      "repeats", po::value(&s.repeats)->default_value(s.repeats), "timed fits per detector (the median is reported)");
  s.run.declare(options, "seed of the features and the linear head");
  options.add_options()("export", po::value(&s.export_file), "write the features, predictions and figures to this .npz");
  return medadv::bench::run_main("detector_throughput", options, argc, argv, [&] {
    if (s.fit < 4 || s.score < 1 || s.dim < 1 || s.repeats < 1 || s.run.threads < 1)
      throw medadv::InvalidInput("--fit must be >= 4, --score, --dim, --repeats and --threads >= 1");
    return run(s);
  });
}
