#include "check/smoke.h"

#include <sstream>

#include "engine/counting_oracle.h"
#include "engine/held_source.h"
#include "loader/guard.h"
#include "medadv/metrics.h"
#include "medadv/plugin.h"
#include "medadv/testing.h"

namespace medadv::host {

namespace {

constexpr std::int64_t kBatch = 4, kChannels = 3, kSize = 32, kClasses = 3;

[[noreturn]] void fail(const PluginHandle& p, const std::string& what) {
  throw PluginFailure(p.describe() + " failed its smoke run: " + what);
}

void expect(bool ok, const PluginHandle& p, const std::string& what) {
  if (!ok) fail(p, what);
}

std::string shape(const torch::Tensor& t) {
  if (!t.defined()) return "undefined";
  std::ostringstream out;
  out << t.sizes();
  return out.str();
}

bool finite(const torch::Tensor& t) { return t.defined() && torch::isfinite(t).all().item<bool>(); }

// Defaults, with sizes shrunk where the plugin declares those keys, so a dataset of
// 3000 images or a 100-epoch trainer still smoke-runs in seconds.
Params smoke_params(const PluginHandle& p) {
  const ParamSchema& schema = p.schema();
  Value::Table shrink;
  const std::pair<const char*, Value> overrides[] = {
      {"count", Value(std::int64_t{16})}, {"image_size", Value(std::int64_t{kSize})},
      {"epochs", Value(std::int64_t{1})}, {"batch_size", Value(std::int64_t{8})},
      {"steps", Value(std::int64_t{3})},
  };
  for (const auto& [key, v] : overrides)
    if (const ParamSpec* spec = schema.find(key); spec && spec->type() == ParamType::Int) shrink.emplace_back(key, v);
  std::vector<Diagnostic> problems;
  Params shrunk = schema.resolve(Value(shrink), p.name(), "", problems);
  if (problems.empty()) return shrunk;
  return schema.defaults(p.name());
}

std::shared_ptr<ModuleModel> tiny_model(std::uint64_t seed) {
  return std::make_shared<ModuleModel>(std::make_shared<testing::TinyClassifier>(kChannels, kClasses, seed), kClasses,
                                       Task::Classification);
}

Capability capability_for(ThreatModel t, std::shared_ptr<ModuleModel> victim,
                          std::shared_ptr<CountingOracle>& oracle) {
  switch (t) {
    case ThreatModel::WhiteBox: return Capability::white_box(victim);
    case ThreatModel::GrayBox: return Capability::gray_box(tiny_model(7));
    case ThreatModel::NoBox: return Capability::no_box(tiny_model(7));
    case ThreatModel::BlackBox:
    case ThreatModel::None: break;
  }
  oracle = std::make_shared<CountingOracle>(victim, 10000, false);
  oracle->reset(kBatch);
  return Capability::black_box(oracle);
}

std::string smoke_attack(const PluginHandle& p, const Params& params, const std::shared_ptr<RunContext>& context) {
  RunContext& ctx = *context;
  auto attack = p.create<Attack>(params, context);
  auto victim = tiny_model(1);
  std::shared_ptr<CountingOracle> oracle;
  Capability capability = capability_for(p.threat_model(), victim, oracle);
  AttackBatch batch{testing::random_images(kBatch, kChannels, kSize, 2), torch::tensor({0, 1, 2, 0}), {}};
  Objective objective(BaseLoss::CrossEntropy, false);
  // A universal attack is fitted before it runs, as the engine fits it on adv_train.
  if (auto* universal = dynamic_cast<UniversalAttack*>(attack.get()))
    guarded(p.describe(), "fit", [&] {
      universal->fit(*tensor_batches(batch.images, batch.labels), batch.targets, kBatch, capability, objective, ctx);
    });
  AttackResult r = guarded(p.describe(), "run", [&] { return attack->run(batch, capability, objective, ctx); });
  expect(r.adversarial.defined() && r.adversarial.sizes() == batch.images.sizes(), p,
         "adversarial batch has shape " + shape(r.adversarial) + ", expected " + shape(batch.images));
  expect(finite(r.adversarial), p, "adversarial batch holds NaN or infinite values");
  expect(r.adversarial.min().item<double>() >= 0.0 && r.adversarial.max().item<double>() <= 1.0, p,
         "adversarial batch leaves [0,1]");
  expect(r.success.defined() && r.success.numel() == kBatch, p, "success has shape " + shape(r.success));
  std::ostringstream out;
  out << threat_model_name(p.threat_model()) << " attack on a " << kBatch << "x" << kChannels << "x" << kSize << "x"
      << kSize << " batch: max L-inf " << metrics::linf_norm(batch.images, r.adversarial).max().item<double>()
      << ", success " << r.success.to(torch::kLong).sum().item<std::int64_t>() << "/" << kBatch;
  if (oracle) out << ", " << oracle->queries().max().item<std::int64_t>() << " queries";
  return out.str();
}

std::string smoke_attack_term(const PluginHandle& p, const Params& params, const std::shared_ptr<RunContext>& context) {
  RunContext& ctx = *context;
  auto term = p.create<AttackTerm>(params, context);
  auto model = tiny_model(1);
  auto x = testing::random_images(kBatch, kChannels, kSize, 2);
  auto y = torch::tensor({0, 1, 2, 0});
  guarded(p.describe(), "fit", [&] { term->fit(*model, *tensor_batches(x, y), kBatch, ctx); });
  auto taps = guarded(p.describe(), "taps", [&] { return term->taps(); });
  auto xr = x.clone().requires_grad_(true);
  // A targeted objective's view: every sample aimed at the next class.
  const auto targets = (y + 1).remainder(3);
  guarded(p.describe(), "begin_batch", [&] { term->begin_batch(*model, x, y, targets, ctx); });
  auto loss = guarded(p.describe(), "loss", [&] { return term->loss(model->forward(xr, taps), xr, y, targets); });
  expect(loss.defined() && loss.dim() == 1 && loss.size(0) == kBatch, p, "loss has shape " + shape(loss) + ", expected [4]");
  expect(finite(loss), p, "loss holds NaN or infinite values");
  return "term over " + std::to_string(taps.size()) + " tap(s), per-sample loss [4]";
}

std::string smoke_preprocessor(const PluginHandle& p, const Params& params, const std::shared_ptr<RunContext>& context) {
  auto pre = p.create<Preprocessor>(params, context);
  auto x = testing::random_images(kBatch, kChannels, kSize, 2).requires_grad_(true);
  auto y = guarded(p.describe(), "transform", [&] { return bpda(*pre, x); });
  expect(y.sizes() == x.sizes(), p, "transform changed the shape to " + shape(y));
  expect(finite(y), p, "transform produced NaN or infinite values");
  y.sum().backward();
  expect(x.grad().defined() && finite(x.grad()), p, "no finite gradient through the BPDA approximation");
  return "transform and BPDA backward on a 4x3x32x32 batch";
}

std::string smoke_trainer(const PluginHandle& p, const Params& params, const std::shared_ptr<RunContext>& context) {
  RunContext& ctx = *context;
  auto trainer = p.create<Trainer>(params, context);
  auto module = std::make_shared<testing::TinyClassifier>(kChannels, kClasses, 1);
  DatasetContents contents;
  contents.images = testing::random_images(16, kChannels, kSize, 3);
  contents.labels = torch::arange(16) % kClasses;
  TrainingSet data;
  data.train = SampleSet(tensor_source(std::move(contents)), torch::arange(16));
  data.spec = ModelSpec{kChannels, kClasses, kSize, Task::Classification, {}, {}};
  // A trainer asks for its inner attack by name; the smoke run answers every name with a
  // stand-in that moves each pixel by +-epsilon (the parameters' own, else 8/255) at
  // random: it checks the trainer's code, not an attack's.
  struct RandomSignAttack : Attack {
    double epsilon;
    explicit RandomSignAttack(double e) : epsilon(e) {}
    AttackResult run(const AttackBatch& batch, Capability&, const Objective&, RunContext&) override {
      AttackResult r;
      const auto sign = torch::randint(0, 2, batch.images.sizes(), batch.images.options()).mul(2).sub(1);
      r.adversarial = (batch.images.detach() + epsilon * sign).clamp(0.0, 1.0);
      return r;
    }
  };
  struct StandInAttacks : AttackFactory {
    std::shared_ptr<Attack> make(const std::string&, const Value& params) override {
      const Value* epsilon = params.type() == Value::Type::Table ? params.find("epsilon") : nullptr;
      return std::make_shared<RandomSignAttack>(epsilon ? parse_epsilon(*epsilon) : 8.0 / 255);
    }
  } attacks;
  guarded(p.describe(), "train", [&] { trainer->train(*module, data, attacks, ctx); });
  for (const auto& w : module->parameters()) expect(finite(w), p, "training left NaN or infinite weights");
  return "trained a tiny model on 16 images";
}

std::string smoke_wrapper(const PluginHandle& p, const Params& params, const std::shared_ptr<RunContext>& context) {
  RunContext& ctx = *context;
  auto wrapper = p.create<Wrapper>(params, context);
  auto wrapped = guarded(p.describe(), "wrap", [&] { return wrapper->wrap(tiny_model(1), ctx); });
  expect(wrapped != nullptr, p, "wrap() returned no model");
  auto x = testing::random_images(kBatch, kChannels, kSize, 2);
  auto logits = guarded(p.describe(), "forward", [&] { return wrapped->logits(x); });
  expect(logits.dim() == 2 && logits.size(0) == kBatch && logits.size(1) == kClasses, p,
         "wrapped logits have shape " + shape(logits) + ", expected [4, 3]");
  return std::string("wrapped model forward") + (wrapper->randomized() ? " (randomized)" : "");
}

std::string smoke_detector(const PluginHandle& p, const Params& params, const std::shared_ptr<RunContext>& context) {
  RunContext& ctx = *context;
  auto detector = p.create<Detector>(params, context);
  auto model = tiny_model(1);
  const torch::Tensor clean = testing::random_images(16, kChannels, kSize, 3);
  const DetectorFitData data = detector_fit_data(
      clean, torch::arange(16) % kClasses,
      detector->supervised() ? (clean + 0.1 * torch::randn_like(clean)).clamp(0, 1) : torch::Tensor());
  guarded(p.describe(), "fit", [&] { detector->fit(*model, data, ctx, nullptr); });
  auto scores = guarded(p.describe(), "score", [&] { return detector->score(*model, clean.slice(0, 0, kBatch)); });
  expect(scores.dim() == 1 && scores.size(0) == kBatch, p, "score has shape " + shape(scores) + ", expected [4]");
  expect(finite(scores), p, "scores hold NaN or infinite values");
  return std::string(detector->supervised() ? "supervised" : "unsupervised") + " detector fitted on 16 images";
}

std::string smoke_dataset(const PluginHandle& p, const Params& params, const std::shared_ptr<RunContext>& context) {
  RunContext& ctx = *context;
  auto dataset = p.create<Dataset>(params, context);
  auto opened = guarded(p.describe(), "open", [&] { return dataset->open(ctx); });
  expect(opened != nullptr, p, "open() returned no data source");
  const auto source = hold_source(opened, p.describe());
  const std::int64_t n = source->size();
  expect(n > 0 && source->item_shape().size() == 3, p, "opened " + std::to_string(n) + " items of rank " +
                                                            std::to_string(source->item_shape().size()) +
                                                            ", expected [C,H,W] images");
  const auto labels = source->labels();
  if (source->meta().task == Task::Classification)
    expect(labels.defined() && labels.numel() == n, p, "labels have shape " + shape(labels));
  else
    expect(source->has_masks(), p, "a segmentation data set without masks");
  // The first and the last items: a source that miscounts fails on the last.
  const auto shown = torch::tensor({std::int64_t{0}, n - 1});
  const Batch batch = SampleSet(source, shown).all(torch::kCPU);
  expect(batch.images.min().item<double>() >= 0.0 && batch.images.max().item<double>() <= 1.0, p, "images leave [0,1]");
  return std::to_string(n) + " images of " + shape(batch.images.slice(0, 0, 1)) + " stored as " +
         c10::toString(source->stored_dtype()) + ", " + task_name(source->meta().task);
}

std::string smoke_model(const PluginHandle& p, const Params& params, const std::shared_ptr<RunContext>& context) {
  auto factory = p.create<ModelPlugin>(params, context);
  // A model builds for one task: try a classifier first, then a segmenter.
  ModelSpec spec{kChannels, kClasses, kSize, Task::Classification, {}, {}};
  std::shared_ptr<TappedModule> module;
  try {
    module = factory->build(spec);
  } catch (const InvalidInput&) {
    spec.task = Task::Segmentation;
    module = guarded(p.describe(), "build", [&] { return factory->build(spec); });
  } catch (...) {
    module = guarded(p.describe(), "build", [&] { return factory->build(spec); });
  }
  expect(module != nullptr, p, "build() returned no module");
  module->eval();
  auto taps = module->tap_names();
  auto out = guarded(p.describe(), "forward", [&] {
    return module->forward_taps(testing::random_images(2, kChannels, kSize, 2), taps);
  });
  expect(out.logits.dim() >= 2 && out.logits.size(0) == 2 && out.logits.size(1) == kClasses, p,
         "logits have shape " + shape(out.logits) + ", expected [2, 3, ...]");
  if (spec.task == Task::Segmentation)
    expect(out.logits.dim() == 4 && out.logits.size(2) == kSize && out.logits.size(3) == kSize, p,
           "segmentation logits have shape " + shape(out.logits) + ", expected [2, 3, 32, 32]");
  for (const auto& t : taps) expect(out.taps.count(t) == 1, p, "tap '" + t + "' was requested but not returned");
  return std::string("built for 3x32x32, 3 classes (") + task_name(spec.task) + "); " + std::to_string(taps.size()) +
         " taps";
}

}  // namespace

SmokeResult smoke_run(const PluginHandle& plugin, const std::shared_ptr<RunContext>& ctx) {
  for (const auto& spec : plugin.schema().specs())
    if (spec.is_required()) return {false, "needs '" + spec.name() + "' (no default); schema checked only"};
  const Params params = smoke_params(plugin);
  torch::manual_seed(0);
  switch (plugin.kind()) {
    case Kind::Attack: return {true, smoke_attack(plugin, params, ctx)};
    case Kind::AttackTerm: return {true, smoke_attack_term(plugin, params, ctx)};
    case Kind::Preprocessor: return {true, smoke_preprocessor(plugin, params, ctx)};
    case Kind::Trainer: return {true, smoke_trainer(plugin, params, ctx)};
    case Kind::Wrapper: return {true, smoke_wrapper(plugin, params, ctx)};
    case Kind::Detector: return {true, smoke_detector(plugin, params, ctx)};
    case Kind::Dataset: return {true, smoke_dataset(plugin, params, ctx)};
    case Kind::Model: return {true, smoke_model(plugin, params, ctx)};
  }
  return {false, "unknown kind"};
}

}  // namespace medadv::host
