#pragma once
// Victims for the attack and detector strength tests, trained once per test process
// with the built-in plugins and the SDK's training loop, exactly as `medadv run` would:
//   fundus_small_cnn(): small-cnn (width 16) on phantom-fundus, 32 px, 600 images,
//                       lesion_scale 3 (see test_training.cpp), default TrainOptions;
//                       >= 90% test accuracy (TrainModel.SmallCnnLearnsPhantomFundus...).
//   xray_unet():        unet (base_width 8) on phantom-xray lung fields, 32 px, 200
//                       images; test Dice >= 0.85 (TrainModel.SmallUnetSegments...).
//   xray_unet_full_size(): the same at the size of experiments/survey_segmentation.toml,
//                       for the tests that only a GPU (or an explicit request) runs.
// The small ones take a few seconds on 2 CPU cores; ctest runs every test in its own process, so
// group strength checks that share a victim into few tests.
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include <medadv/atomic_file.h>
#include <medadv/capabilities.h>
#include <medadv/hash.h>
#include <medadv/metrics.h>
#include <medadv/splits.h>
#include <medadv/testing.h>
#include <medadv/torch_compat.h>
#include <medadv/training.h>

#include "datasets/phantom/phantom_fundus.h"
#include "datasets/phantom/phantom_xray.h"
#include "models/segmentation/unet.h"
#include "models/small-cnn/small_cnn.h"

namespace medadv::testing {

struct TrainedVictim {
  std::shared_ptr<TappedModule> module;
  std::shared_ptr<ModuleModel> model;  // frozen: eval mode, no parameter needs gradients
  ModelSpec spec;
  // The data set's splits (see medadv/splits.h); labels are class indices or masks.
  torch::Tensor train_images, train_labels;  // what the victim was trained on
  torch::Tensor adv_train_images, adv_train_labels;
  torch::Tensor adv_test_images, adv_test_labels;
  torch::Tensor test_images, test_labels;  // adv_train + adv_test
  EvalMetrics test;                        // the victim's clean test metrics

  Capability white_box() const { return Capability::white_box(model); }
  // The rows of `images` the classifier gets right, and their labels: what the HFC
  // protocol attacks.
  std::pair<torch::Tensor, torch::Tensor> correctly_classified(const torch::Tensor& images,
                                                               const torch::Tensor& labels) const {
    torch::NoGradGuard no_grad;
    const auto rows = torch::nonzero(model->logits(images).argmax(1) == labels).flatten();
    return {images.index_select(0, rows), labels.index_select(0, rows)};
  }
  // A segmentation victim's predicted label maps [N,1,H,W], without gradients.
  torch::Tensor predicted_masks(const torch::Tensor& images) const {
    torch::NoGradGuard no_grad;
    return metrics::label_map_from_logits(model->logits(images));
  }
};

namespace detail {

// Where a victim is trained. The CI-sized victims train on the CPU whatever the tests'
// device and are then moved to it: every device attacks the same weights, so the bounds
// the tests assert, calibrated on CI, hold on a GPU too (trained on CUDA, the fundus CNN
// gave three detector AUCs under 0.9 in the first GPU run). The full-size victims, which
// only a GPU trains in reasonable time, train on the tests' device.
enum class TrainOn { Cpu, TestDevice };

// Where a CPU-trained victim's weights are kept between the test processes of one build
// (ctest runs every test in its own process, and each would train the same victim again):
// $MEDADV_CACHE/test-victims/<name>-<identity>.pt, the identity naming this test binary's
// size and time (any rebuild, of the tests or of a library they link, relinks it), the
// LibTorch version and the thread count (float sums differ with it). Empty without
// MEDADV_CACHE: then every process trains.
inline std::filesystem::path victim_cache_file(const std::string& name) {
  const char* cache = std::getenv("MEDADV_CACHE");
  std::error_code error;
  const auto binary = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!cache || !*cache || error) return {};
  const auto size = std::filesystem::file_size(binary, error);
  const auto time = std::filesystem::last_write_time(binary, error).time_since_epoch().count();
  if (error) return {};
  const std::string identity = binary.string() + " " + std::to_string(size) + " " + std::to_string(time) + " torch " +
                               std::to_string(compat::torch_major) + "." + std::to_string(compat::torch_minor) +
                               " threads " + std::to_string(at::get_num_threads());
  return std::filesystem::path(cache) / "test-victims" / (name + "-" + stable_hash(identity) + ".pt");
}

inline TrainedVictim train_victim(Dataset& dataset, std::shared_ptr<TappedModule> module, const ModelSpec& spec,
                                  RunContext& ctx, const TrainOptions& training, TrainOn train_on,
                                  const std::string& cache_name = "") {
  const auto source = dataset.open(ctx);
  const auto splits = make_splits(*source, SplitPlan{}, ctx.seed());
  TrainingSet set;
  set.spec = spec;
  set.train = SampleSet(source, splits.at(kTrainSplit));
  set.val = SampleSet(source, splits.at(kValSplit));
  // Training on the CPU is deterministic for a seed: a kept copy is the same weights.
  const auto kept = train_on == TrainOn::Cpu && !cache_name.empty() ? victim_cache_file(cache_name)
                                                                     : std::filesystem::path();
  if (!kept.empty() && std::filesystem::is_regular_file(kept)) {
    torch::serialize::InputArchive archive;
    archive.load_from(kept.string());
    module->load(archive);
    module->eval();
  } else {
    TestContext cpu(torch::kCPU, ctx.seed());
    train_model(*module, set, training, train_on == TrainOn::Cpu ? static_cast<RunContext&>(cpu) : ctx);
    if (!kept.empty()) {
      std::filesystem::create_directories(kept.parent_path());
      torch::serialize::OutputArchive archive;
      module->save(archive);
      write_file_atomically(kept, [&](const std::filesystem::path& temporary) { archive.save_to(temporary.string()); });
    }
  }
  module->to(ctx.device());

  // The splits go with the module, to the tests' device.
  const auto on_device = [&](const char* split) { return SampleSet(source, splits.at(split)).all(ctx.device()); };
  TrainedVictim v;
  v.module = module;
  v.spec = spec;
  const Batch train = on_device(kTrainSplit), adv_train = on_device(kAdvTrainSplit),
              adv_test = on_device(kAdvTestSplit), test = on_device(kTestSplit);
  v.train_images = train.images;
  v.train_labels = train.targets(spec.task);
  v.adv_train_images = adv_train.images;
  v.adv_train_labels = adv_train.targets(spec.task);
  v.adv_test_images = adv_test.images;
  v.adv_test_labels = adv_test.targets(spec.task);
  v.test_images = test.images;
  v.test_labels = test.targets(spec.task);
  v.test = evaluate_model(*module, SampleSet(source, splits.at(kTestSplit)), spec, ctx);
  v.model = std::make_shared<ModuleModel>(module, spec.num_classes, spec.task);  // freezes the module
  return v;
}

}  // namespace detail

inline const TrainedVictim& fundus_small_cnn() {
  static const TrainedVictim victim = [] {
    TestContext ctx(0);
    ParamSchema dataset_schema;
    plugins::phantom::PhantomFundus::schema(dataset_schema);
    plugins::phantom::PhantomFundus fundus(
        dataset_schema.resolve_or_throw(
            Value(Value::Table{{"image_size", 32}, {"count", 600}, {"lesion_scale", 3.0}}), "phantom-fundus"),
        ctx);
    ModelSpec spec;
    spec.channels = 3;
    spec.num_classes = 2;
    spec.image_size = 32;
    ParamSchema model_schema;
    plugins::small_cnn::SmallCnnPlugin::schema(model_schema);
    plugins::small_cnn::SmallCnnPlugin model(model_schema.resolve_or_throw(Value(Value::Table{}), "small-cnn"), ctx);
    return detail::train_victim(fundus, model.build(spec), spec, ctx, TrainOptions{}, detail::TrainOn::Cpu,
                                "fundus_small_cnn");
  }();
  return victim;
}

namespace detail {

inline TrainedVictim xray_unet(std::int64_t image_size, std::int64_t count, std::int64_t base_width,
                               const TrainOptions& training, TrainOn train_on) {
  TestContext ctx(0);
  ParamSchema dataset_schema;
  plugins::phantom::PhantomXray::schema(dataset_schema);
  plugins::phantom::PhantomXray xray(
      dataset_schema.resolve_or_throw(
          Value(Value::Table{{"image_size", image_size}, {"count", count}, {"task", "segmentation"}}), "phantom-xray"),
      ctx);
  ModelSpec spec;
  spec.task = Task::Segmentation;
  spec.channels = 1;
  spec.num_classes = 1;
  spec.image_size = image_size;
  ParamSchema model_schema;
  plugins::segmentation::UNetPlugin::schema(model_schema);
  plugins::segmentation::UNetPlugin model(
      model_schema.resolve_or_throw(Value(Value::Table{{"base_width", base_width}}), "unet"), ctx);
  return train_victim(xray, model.build(spec), spec, ctx, training, train_on,
                      "xray_unet_" + std::to_string(image_size) + "_" + std::to_string(count) + "_" +
                          std::to_string(base_width) + "_" + std::to_string(training.epochs));
}

}  // namespace detail

inline const TrainedVictim& xray_unet() {
  static const TrainedVictim victim = detail::xray_unet(32, 200, 8, TrainOptions{}, detail::TrainOn::Cpu);
  return victim;
}

// The full size of experiments/survey_segmentation.toml (256 px, 400 images, base width 16,
// 10 epochs): about 23 minutes of training on 2 CPU cores, seconds on a GPU.
inline const TrainedVictim& xray_unet_full_size() {
  static const TrainedVictim victim = [] {
    TrainOptions training;
    training.epochs = 10;
    return detail::xray_unet(256, 400, 16, training, detail::TrainOn::TestDevice);
  }();
  return victim;
}

}  // namespace medadv::testing
