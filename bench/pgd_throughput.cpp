// PGD-20 throughput (medadv issue 6): images per second of the pgd plugin on a built-in
// model and phantom-fundus images, and everything bench/pgd_reference.py needs to run
// the same attack in plain PyTorch on the same weights and data.
//
//   1. generates phantom-fundus images (the phantom dataset plugin's own generator);
//   2. builds the model with its plugin (seeded initialisation from --seed) and, with
//      --train-epochs > 0, trains it with the SDK's training loop on --train-count
//      further images that are never attacked;
//   3. times the pgd plugin (L-inf, random start, one restart, no early stop) over
//      --count images in batches of --batch-size, after --warmup untimed batches;
//   4. times the same attack written directly in LibTorch (no SDK) the same way, which
//      separates the SDK's per-step cost from LibTorch's own;
//   5. with --export FILE.npz writes the weights (state dict: every parameter and buffer
//      by name, prefixed "state."), the attacked images, labels, their clean logits, and
//      the settings and figures ("meta.*").
//
// Timing (see timed_pass): std::chrono::steady_clock around each batch; images per second
// = batch size / the median batch time. One host synchronisation per batch (reading its
// success count), none per step.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/program_options.hpp>
#include <torch/torch.h>
#include <torch/version.h>

#include <medadv/attack.h>
#include <medadv/capabilities.h>
#include <medadv/context.h>
#include <medadv/device.h>
#include <medadv/npz.h>
#include <medadv/objective.h>
#include <medadv/params.h>
#include <medadv/torch_compat.h>
#include <medadv/training.h>

#include "attacks/gradient/pgd.h"
#include "bench_context.h"
#include "datasets/phantom/phantom_fundus.h"
#include "models/resnet/resnet.h"
#include "models/small-cnn/small_cnn.h"

namespace {

namespace po = boost::program_options;
using medadv::bench::BenchContext;
using medadv::bench::Clock;
using medadv::bench::resolve;
using medadv::bench::seconds_since;

struct Settings {
  std::string model = "resnet18";
  std::int64_t image_size = 64;
  std::int64_t width = 0;  // 0: the plugin's default
  std::int64_t count = 32;
  std::int64_t batch_size = 16;
  std::int64_t warmup = 1;
  medadv::bench::RunSettings run;
  std::int64_t train_epochs = 0;
  std::int64_t train_count = 600;
  std::int64_t steps = 20;
  std::string epsilon = "8/255";
  std::string step = "2/255";
  bool bare = true;
  std::string export_file;
};

std::shared_ptr<medadv::DataSource> phantom_fundus(const Settings& s, std::int64_t count, BenchContext& ctx) {
  medadv::plugins::phantom::PhantomFundus fundus(
      resolve(&medadv::plugins::phantom::PhantomFundus::schema,
              {{"image_size", s.image_size}, {"count", count}, {"classes", 2}}, "phantom-fundus"),
      ctx);
  return fundus.open(ctx);
}

// The model as `medadv run` builds it: the plugin with its parameters, seeded by the run
// seed. Normalisation uses the per-channel moments of `images` (the host uses the train
// split's).
std::shared_ptr<medadv::TappedModule> build_model(const Settings& s, const torch::Tensor& images,
                                                  BenchContext& ctx) {
  medadv::ModelSpec spec;
  spec.channels = images.size(1);
  spec.num_classes = 2;
  spec.image_size = s.image_size;
  const auto pixels = images.to(torch::kDouble).transpose(0, 1).flatten(1);  // [C, N*H*W]
  const auto mean = pixels.mean(1);
  const auto std = (pixels - mean.unsqueeze(1)).square().mean(1).sqrt().clamp_min(1e-3);
  for (std::int64_t c = 0; c < spec.channels; ++c) {
    spec.mean.push_back(mean[c].item<double>());
    spec.std.push_back(std[c].item<double>());
  }
  medadv::Value::Table params;
  if (s.width > 0) params.emplace_back("width", s.width);
  if (s.model == "resnet18") {
    namespace r = medadv::plugins::resnet;
    r::ResNet18Plugin plugin(resolve(&r::ResNet18Plugin::schema, params, "resnet18"), ctx);
    return plugin.build(spec);
  }
  if (s.model == "small-cnn") {
    namespace c = medadv::plugins::small_cnn;
    c::SmallCnnPlugin plugin(resolve(&c::SmallCnnPlugin::schema, params, "small-cnn"), ctx);
    return plugin.build(spec);
  }
  throw medadv::InvalidInput("--model must be resnet18 or small-cnn, got '" + s.model + "'");
}

// One timed pass over the attacked images, timed as the Python reference times it:
// `warmup` untimed batches (the first batch again), then every batch, each timed on its
// own (its success count is read at its end, which also waits for an asynchronous
// device). The figure is batch_size / the median time of the full batches: robust to a
// batch slowed down by other work on a shared machine (or a process stopped for a
// while), which the total time is not.
struct PassTiming {
  double total_seconds = 0.0;
  std::vector<double> batch_seconds;  // full batches only
  std::int64_t batch_size = 0;
  double success_rate = 0.0;

  double median_batch_seconds() const {
    auto sorted = batch_seconds;
    std::sort(sorted.begin(), sorted.end());
    const std::size_t n = sorted.size();
    return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }
  double images_per_second() const { return static_cast<double>(batch_size) / median_batch_seconds(); }
};

using AttackBatchFn = std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& y)>;

PassTiming timed_pass(const torch::Tensor& images, const torch::Tensor& labels, const Settings& s,
                      const AttackBatchFn& attack) {
  const std::int64_t n = images.size(0);
  for (std::int64_t w = 0; w < s.warmup; ++w)
    attack(images.slice(0, 0, s.batch_size), labels.slice(0, 0, s.batch_size)).sum().item<std::int64_t>();
  PassTiming timing;
  timing.batch_size = s.batch_size;
  std::int64_t successes = 0;
  const auto start = Clock::now();
  for (std::int64_t begin = 0; begin < n; begin += s.batch_size) {
    const std::int64_t end = std::min(n, begin + s.batch_size);
    const auto batch_start = Clock::now();
    successes += attack(images.slice(0, begin, end), labels.slice(0, begin, end)).sum().item<std::int64_t>();
    if (end - begin == s.batch_size) timing.batch_seconds.push_back(seconds_since(batch_start));
  }
  timing.total_seconds = seconds_since(start);
  timing.success_rate = static_cast<double>(successes) / static_cast<double>(n);
  return timing;
}

void print_timing(const char* what, const PassTiming& t) {
  const auto [fastest, slowest] = std::minmax_element(t.batch_seconds.begin(), t.batch_seconds.end());
  std::printf("%-20s: %8.3f images/s  (median batch %.2f s, min %.2f, max %.2f; total %.1f s; success rate %.3f)\n",
              what, t.images_per_second(), t.median_batch_seconds(), *fastest, *slowest, t.total_seconds,
              t.success_rate);
  std::cout << std::flush;
}

// Textbook PGD in LibTorch alone: uniform start in the ball, `steps` times (sign of the
// gradient of the summed cross-entropy w.r.t. the input only, step, clamp to the ball
// and to [0,1]), then one forward to judge success. Mirrors pgd_reference.py line by line.
torch::Tensor bare_pgd(medadv::TappedModule& model, const torch::Tensor& clean, const torch::Tensor& labels,
                       double epsilon, double step, std::int64_t steps, at::Generator& gen) {
  const auto noise = torch::rand(clean.sizes(), gen, torch::TensorOptions().dtype(torch::kFloat));
  auto x = (clean + (noise.to(clean.device()) * 2 - 1) * epsilon).clamp(0, 1);
  const auto low = clean - epsilon, high = clean + epsilon;
  for (std::int64_t t = 0; t < steps; ++t) {
    x = x.detach().requires_grad_(true);
    const auto loss = torch::nn::functional::cross_entropy(
        model.forward(x), labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
    const auto grad = torch::autograd::grad({loss}, {x})[0];
    x = torch::min(torch::max(x.detach() + step * grad.sign(), low), high).clamp(0, 1);
  }
  torch::NoGradGuard no_grad;
  return model.forward(x).argmax(1).ne(labels);
}

torch::Tensor scalar(double v) { return torch::full({1}, v, torch::kDouble); }
torch::Tensor scalar_int(std::int64_t v) { return torch::full({1}, v, torch::kLong); }

int run(const Settings& s) {
  BenchContext ctx(s.run);
  const auto device = ctx.device();
  const std::string title = s.model + " " + std::to_string(s.image_size) + " px, " + medadv::device_text(device) +
                            ", " + std::to_string(torch::get_num_threads()) + " threads, LibTorch " TORCH_VERSION;
  std::cout << "== pgd_throughput: " << title << " ==\n" << std::flush;

  // Attacked images first, training images after them: image i depends only on the
  // seed and i, so the attacked set does not change with --train-count.
  const std::int64_t trained_on = s.train_epochs > 0 ? s.train_count : 0;
  const auto source = phantom_fundus(s, s.count + trained_on, ctx);
  const medadv::Batch attacked = medadv::SampleSet(source, torch::arange(s.count)).all(torch::kCPU);
  const auto images = attacked.images.contiguous();
  const auto labels = attacked.labels.contiguous();
  const medadv::SampleSet trained_set(source, torch::arange(s.count, s.count + trained_on));
  auto module = build_model(s, trained_on > 0 ? trained_set.all(torch::kCPU).images : images, ctx);

  std::string weights = "seeded initialisation (seed " + std::to_string(s.run.seed) + ", untrained)";
  if (trained_on > 0) {
    medadv::TrainingSet set;
    set.spec.channels = images.size(1);
    set.spec.num_classes = 2;
    set.spec.image_size = s.image_size;
    set.train = trained_set;
    medadv::TrainOptions options;
    options.epochs = s.train_epochs;
    const auto start = Clock::now();
    medadv::train_model(*module, set, options, ctx);
    char text[160];
    std::snprintf(text, sizeof text, "trained %lld epochs on %lld other images (%.1f s)",
                  static_cast<long long>(s.train_epochs), static_cast<long long>(trained_on), seconds_since(start));
    weights = text;
  }
  module->to(device);
  auto victim = std::make_shared<medadv::ModuleModel>(module, 2, medadv::Task::Classification);  // eval, frozen
  const auto x = images.to(device), y = labels.to(device);

  torch::Tensor logits;
  {
    torch::NoGradGuard no_grad;
    logits = module->forward(x).cpu();
  }
  const double clean_accuracy = logits.argmax(1).eq(labels).to(torch::kDouble).mean().item<double>();
  std::printf("weights: %s; clean accuracy on the %lld attacked images %.3f\n", weights.c_str(),
              static_cast<long long>(s.count), clean_accuracy);

  namespace g = medadv::plugins::gradient;
  g::Pgd pgd(resolve(&g::Pgd::schema,
                     {{"epsilon", s.epsilon},
                      {"step", s.step},
                      {"steps", s.steps},
                      {"norm", "linf"},
                      {"random_start", true},
                      {"restarts", 1},
                      {"early_stop", false}},
                     "pgd"),
             ctx);
  const auto& iter = pgd.settings().iter;
  medadv::Capability capability = medadv::Capability::white_box(victim);
  const medadv::Objective objective(medadv::BaseLoss::CrossEntropy, /*targeted=*/false);
  std::printf("attack: pgd linf eps %s (%.6f) step %s steps %lld, random start, 1 restart, no early stop; "
              "%lld images, batch %lld, %lld warm-up batch(es)\n",
              s.epsilon.c_str(), iter.epsilon, s.step.c_str(), static_cast<long long>(iter.steps),
              static_cast<long long>(s.count), static_cast<long long>(s.batch_size),
              static_cast<long long>(s.warmup));
  std::cout << std::flush;

  const PassTiming medadv_timing = timed_pass(x, y, s, [&](const torch::Tensor& xb, const torch::Tensor& yb) {
    return pgd.run(medadv::AttackBatch{xb, yb, {}}, capability, objective, ctx).success;
  });
  print_timing("medadv pgd plugin", medadv_timing);

  PassTiming bare_timing;
  if (s.bare) {
    auto gen = medadv::compat::cpu_generator(ctx.seed_for("bench/bare-start"));
    bare_timing = timed_pass(x, y, s, [&](const torch::Tensor& xb, const torch::Tensor& yb) {
      return bare_pgd(*module, xb, yb, iter.epsilon, iter.step, iter.steps, gen);
    });
    print_timing("bare LibTorch loop", bare_timing);
  }

  if (!s.export_file.empty()) {
    std::vector<std::pair<std::string, torch::Tensor>> arrays{{"images", images}, {"labels", labels},
                                                                {"logits", logits}};
    for (const auto& p : module->named_parameters()) arrays.emplace_back("state." + p.key(), p.value().detach());
    for (const auto& b : module->named_buffers()) arrays.emplace_back("state." + b.key(), b.value().detach());
    arrays.emplace_back("meta.image_size", scalar_int(s.image_size));
    arrays.emplace_back("meta.batch_size", scalar_int(s.batch_size));
    arrays.emplace_back("meta.warmup", scalar_int(s.warmup));
    arrays.emplace_back("meta.threads", scalar_int(torch::get_num_threads()));
    arrays.emplace_back("meta.steps", scalar_int(iter.steps));
    arrays.emplace_back("meta.epsilon", scalar(iter.epsilon));
    arrays.emplace_back("meta.step", scalar(iter.step));
    arrays.emplace_back("meta.cuda", scalar_int(device.is_cuda() ? 1 : 0));
    arrays.emplace_back("meta.clean_accuracy", scalar(clean_accuracy));
    arrays.emplace_back("meta.medadv_images_per_second", scalar(medadv_timing.images_per_second()));
    arrays.emplace_back("meta.medadv_total_seconds", scalar(medadv_timing.total_seconds));
    arrays.emplace_back("meta.medadv_success_rate", scalar(medadv_timing.success_rate));
    arrays.emplace_back("meta.bare_images_per_second", scalar(s.bare ? bare_timing.images_per_second() : 0.0));
    arrays.emplace_back("meta.bare_total_seconds", scalar(bare_timing.total_seconds));
    arrays.emplace_back("meta.bare_success_rate", scalar(bare_timing.success_rate));
    medadv::write_npz(s.export_file, arrays);
    std::printf("exported weights, images, labels and logits to %s\n", s.export_file.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  po::options_description options(
      "pgd_throughput: images per second of medadv's pgd plugin (and of the same loop in bare LibTorch)");
  options.add_options()("help,h", "this help")(
      "model", po::value(&s.model)->default_value(s.model), "resnet18 or small-cnn")(
      "image-size", po::value(&s.image_size)->default_value(s.image_size), "phantom-fundus image side in pixels")(
      "width", po::value(&s.width)->default_value(s.width), "the model's width parameter (0: the plugin default)")(
      "count", po::value(&s.count)->default_value(s.count), "images attacked in the timed pass")(
      "batch-size", po::value(&s.batch_size)->default_value(s.batch_size), "images per attack call")(
      "warmup", po::value(&s.warmup)->default_value(s.warmup), "untimed batches before the timed pass");
  s.run.declare(options, "run seed: data, initial weights, random starts");
  options.add_options()(
      "train-epochs", po::value(&s.train_epochs)->default_value(s.train_epochs),
      "train the model this many epochs first (0: seeded initialisation only)")(
      "train-count", po::value(&s.train_count)->default_value(s.train_count),
      "images to train on (never attacked) when --train-epochs > 0")(
      "steps", po::value(&s.steps)->default_value(s.steps), "PGD steps")(
      "epsilon", po::value(&s.epsilon)->default_value(s.epsilon), "L-inf radius")(
      "step", po::value(&s.step)->default_value(s.step), "step size")(
      "bare", po::value(&s.bare)->default_value(s.bare), "also time the bare LibTorch loop (true/false)")(
      "export", po::value(&s.export_file), "write weights, data, logits and figures to this .npz");
  return medadv::bench::run_main("pgd_throughput", options, argc, argv, [&] {
    if (s.batch_size < 1 || s.count < s.batch_size || s.warmup < 0 || s.run.threads < 1 || s.train_count < 2)
      throw medadv::InvalidInput(
          "--batch-size and --threads must be >= 1, --count >= --batch-size, --warmup >= 0, --train-count >= 2");
    return run(s);
  });
}
