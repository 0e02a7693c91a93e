#include "medadv/training.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "medadv/error.h"
#include "medadv/metrics.h"
#include "medadv/torch_compat.h"

namespace medadv {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kCyclicFloorDivisor = 25.0;  // the one-cycle policy starts and ends at lr / 25

double nan() { return std::numeric_limits<double>::quiet_NaN(); }

// ------------------------------------------------------------ augmentation

// Pads by p zero pixels and crops the original size back at offset (dy, dx) per sample:
// one gather over the flattened padded image.
torch::Tensor shifted_crop(const torch::Tensor& x, std::int64_t p, const torch::Tensor& dy, const torch::Tensor& dx) {
  const auto B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const auto padded = torch::constant_pad_nd(x, {p, p, p, p}, 0);
  const auto long_options = torch::TensorOptions().dtype(torch::kLong).device(x.device());
  const auto rows = torch::arange(H, long_options).view({1, H, 1}) + dy.view({B, 1, 1});
  const auto cols = torch::arange(W, long_options).view({1, 1, W}) + dx.view({B, 1, 1});
  const auto flat = (rows * (W + 2 * p) + cols).view({B, 1, H * W}).expand({B, C, H * W});
  return padded.flatten(2).gather(2, flat).view({B, C, H, W});
}

torch::Tensor select_samples(const torch::Tensor& chosen, const torch::Tensor& if_true, const torch::Tensor& if_false) {
  return torch::where(chosen.view({-1, 1, 1, 1}), if_true, if_false);
}

// -------------------------------------------------------------------- loss

TrainLoss resolve_loss(TrainLoss requested, const ModelSpec& spec) {
  const bool segmentation = spec.task == Task::Segmentation;
  if (requested == TrainLoss::Auto)
    return segmentation && spec.num_classes == 1 ? TrainLoss::BceDice : TrainLoss::CrossEntropy;
  if (requested == TrainLoss::BceDice && (!segmentation || spec.num_classes != 1))
    throw InvalidInput("train option 'loss' = \"bce_dice\" needs a binary segmentation model (one logit per pixel); "
                       "this is a " + std::string(task_name(spec.task)) + " model with " +
                       std::to_string(spec.num_classes) + " output(s): use \"ce\" or \"auto\"");
  if (requested == TrainLoss::CrossEntropy && segmentation && spec.num_classes == 1)
    throw InvalidInput("train option 'loss' = \"ce\" needs >= 2 outputs; a binary segmentation model with one "
                       "logit per pixel trains with \"bce_dice\" (or \"auto\")");
  return requested;
}

// Pixel labels [B,H,W] from masks [B,1,H,W] for cross-entropy over K >= 2 classes.
torch::Tensor pixel_labels(const torch::Tensor& masks) { return masks.squeeze(1).round().to(torch::kLong); }

torch::Tensor natural_loss(TrainLoss loss, const torch::Tensor& logits, const torch::Tensor& y,
                           const torch::Tensor& weights, Task task) {
  namespace F = torch::nn::functional;
  if (loss == TrainLoss::BceDice) return bce_dice_loss(logits, y);
  auto options = F::CrossEntropyFuncOptions();
  if (weights.defined()) options.weight(weights);
  return F::cross_entropy(logits, task == Task::Segmentation ? pixel_labels(y) : y, options);
}

Value metric_value(double v) { return std::isnan(v) ? Value() : Value(v); }
double metric_of(const Value& table, const char* key) {
  const Value* v = table.find(key);
  return v && !v->is_null() ? v->as_double() : nan();
}

std::string format_epoch(const EpochRecord& r, std::int64_t epochs, const ModelSpec& spec) {
  char buffer[256];
  std::string line;
  std::snprintf(buffer, sizeof buffer, "epoch %lld/%lld loss %.3f", static_cast<long long>(r.epoch),
                static_cast<long long>(epochs), r.loss);
  line += buffer;
  auto add = [&](const char* name, double v) {
    if (std::isnan(v)) return;
    std::snprintf(buffer, sizeof buffer, " %s %.3f", name, v);
    line += buffer;
  };
  if (r.val.samples > 0) {
    add("val_loss", r.val.loss);
    if (spec.task == Task::Segmentation) {
      add("val_dice", r.val.dice);
    } else {
      add("val_acc", r.val.accuracy);
      add("val_auc", r.val.auc);
    }
  }
  std::snprintf(buffer, sizeof buffer, " lr %.3g (%.1f s)", r.lr, r.seconds);
  return line + buffer;
}

void check_training_set(const TrainingSet& data) {
  if (!data.train.source()) throw InvalidInput("train_model: the training set has no data");
  if (data.train.size() < 2) throw InvalidInput("train_model: the train split needs at least 2 samples");
  if (data.spec.task == Task::Segmentation && !data.train.source()->has_masks())
    throw InvalidInput("train_model: a segmentation model needs a data set with masks");
  if (data.spec.task == Task::Classification && !data.train.source()->labels().defined())
    throw InvalidInput("train_model: a classifier needs a data set with labels");
}

}  // namespace

// -------------------------------------------------------------- options

void train_options_schema(ParamSchema& s) {
  const TrainOptions d;
  s.add_int("epochs", d.epochs, "Passes over the train split").min(1).max(100000);
  s.add_int("batch_size", d.batch_size, "Samples per optimisation step").min(1).max(1 << 20);
  s.add_enum<OptimizerKind>("optimizer", {{"sgd", OptimizerKind::Sgd}, {"adam", OptimizerKind::Adam}}, d.optimizer,
                            "sgd (with momentum) or adam");
  s.add_float("lr", d.lr, "Learning rate (the peak of the schedule)").min_exclusive(0.0).max(10.0);
  s.add_float("momentum", d.momentum, "SGD momentum").min(0.0).max_exclusive(1.0);
  s.add_bool("nesterov", d.nesterov, "Nesterov momentum (sgd with momentum > 0)");
  s.add_float("weight_decay", d.weight_decay, "L2 penalty on every parameter").min(0.0).max(1.0);
  s.add_enum<ScheduleKind>("schedule",
                           {{"constant", ScheduleKind::Constant},
                            {"step", ScheduleKind::Step},
                            {"cosine", ScheduleKind::Cosine},
                            {"cyclic", ScheduleKind::Cyclic}},
                           d.schedule,
             "Learning rate per iteration: constant; step (times gamma every step_size epochs); cosine "
             "(annealed to 0); cyclic (one cycle: lr/25 up to lr at half-time and back, as fast AT uses)");
  s.add_int("step_size", d.step_size, "step schedule: epochs between two decays").min(1);
  s.add_float("gamma", d.gamma, "step schedule: factor applied at each decay").min_exclusive(0.0).max(1.0);
  s.add_bool("hflip", d.augment.hflip, "Augment: mirror left-right with probability 1/2");
  s.add_bool("vflip", d.augment.vflip, "Augment: mirror top-bottom with probability 1/2");
  s.add_bool("rot90", d.augment.rot90, "Augment: rotate by a random multiple of 90 degrees (square images)");
  s.add_float("rotation", d.augment.rotation, "Augment: rotate by a uniform angle in [-rotation, rotation] degrees")
      .min(0.0)
      .max(180.0);
  s.add_int("crop_padding", d.augment.crop_padding,
            "Augment: pad by this many zero pixels and crop back at a random offset (0 = off)")
      .min(0)
      .max(256);
  s.add_enum<ClassWeighting>("class_weighting", {{"none", ClassWeighting::None}, {"balanced", ClassWeighting::Balanced}},
                             d.class_weighting,
             "Cross-entropy class weights: none, or balanced (inverse class frequencies of the train split)");
  s.add_int("early_stopping", d.early_stopping,
            "Patience in epochs on the val loss; the weights of the best epoch are kept (0 = off)")
      .min(0);
  s.add_enum<TrainLoss>("loss",
                        {{"auto", TrainLoss::Auto}, {"ce", TrainLoss::CrossEntropy}, {"bce_dice", TrainLoss::BceDice}},
                        d.loss, "auto (ce for classification, bce_dice for a binary segmentation), ce (cross-entropy), bce_dice");
  s.add_check("nesterov needs sgd with momentum > 0", {"nesterov", "optimizer", "momentum"},
              [](const Params& p) -> std::optional<std::string> {
                if (!p.get_bool("nesterov")) return std::nullopt;
                if (p.get_enum<OptimizerKind>("optimizer") != OptimizerKind::Sgd)
                  return "nesterov = true needs optimizer = \"sgd\"";
                if (p.get_float("momentum") <= 0.0) return "nesterov = true needs momentum > 0";
                return std::nullopt;
              });
}

TrainOptions train_options_from(const Params& p) {
  TrainOptions o;
  o.epochs = p.get_int("epochs");
  o.batch_size = p.get_int("batch_size");
  o.loss = p.get_enum<TrainLoss>("loss");
  o.class_weighting = p.get_enum<ClassWeighting>("class_weighting");
  o.early_stopping = p.get_int("early_stopping");
  o.optimizer = p.get_enum<OptimizerKind>("optimizer");
  o.lr = p.get_float("lr");
  o.momentum = p.get_float("momentum");
  o.nesterov = p.get_bool("nesterov");
  o.weight_decay = p.get_float("weight_decay");
  o.schedule = p.get_enum<ScheduleKind>("schedule");
  o.step_size = p.get_int("step_size");
  o.gamma = p.get_float("gamma");
  o.augment = AugmentOptions{p.get_bool("hflip"), p.get_bool("vflip"), p.get_bool("rot90"), p.get_float("rotation"),
                             p.get_int("crop_padding")};
  return o;
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<torch::Tensor>& parameters,
                                                        const TrainOptions& o) {
  if (o.optimizer == OptimizerKind::Sgd)
    return std::make_unique<torch::optim::SGD>(
        parameters,
        torch::optim::SGDOptions(o.lr).momentum(o.momentum).nesterov(o.nesterov).weight_decay(o.weight_decay));
  return std::make_unique<torch::optim::Adam>(parameters,
                                              torch::optim::AdamOptions(o.lr).weight_decay(o.weight_decay));
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

// ------------------------------------------------------------- schedule

LearningRateSchedule::LearningRateSchedule(const TrainOptions& o, std::int64_t iterations_per_epoch)
    : kind_(o.schedule),
      lr_(o.lr),
      gamma_(o.gamma),
      step_size_(std::max<std::int64_t>(1, o.step_size)),
      per_epoch_(std::max<std::int64_t>(1, iterations_per_epoch)),
      total_(std::max<std::int64_t>(1, o.epochs) * per_epoch_) {}

double LearningRateSchedule::at(std::int64_t iteration) const {
  const double t = static_cast<double>(iteration), T = static_cast<double>(total_);
  switch (kind_) {
    case ScheduleKind::Constant: return lr_;
    case ScheduleKind::Step: {
      const std::int64_t epoch = iteration / per_epoch_;
      return lr_ * std::pow(gamma_, static_cast<double>(epoch / step_size_));
    }
    case ScheduleKind::Cosine: return lr_ * 0.5 * (1.0 + std::cos(kPi * t / T));
    case ScheduleKind::Cyclic: {
      const double low = lr_ / kCyclicFloorDivisor, half = T / 2.0;
      return t <= half ? low + (lr_ - low) * t / half : lr_ - (lr_ - low) * (t - half) / (T - half);
    }
  }
  return lr_;
}

// ------------------------------------------------------ building blocks

torch::Tensor augment(const torch::Tensor& images, const AugmentOptions& a, at::Generator& gen, torch::Tensor* masks) {
  if (!a.any()) return images;
  if (images.dim() != 4) throw InvalidInput("augment: images must be [B,C,H,W]");
  const auto B = images.size(0), H = images.size(2), W = images.size(3);
  const auto device = images.device();
  const bool with_masks = masks && masks->defined();
  auto x = images;
  auto m = with_masks ? *masks : torch::Tensor();
  auto coin = [&] { return (torch::rand({B}, gen) < 0.5).to(device); };

  if (a.crop_padding > 0) {
    const auto p = a.crop_padding;
    const auto offsets = torch::randint(0, 2 * p + 1, {2, B}, gen, torch::TensorOptions().dtype(torch::kLong)).to(device);
    x = shifted_crop(x, p, offsets[0], offsets[1]);
    if (with_masks) m = shifted_crop(m, p, offsets[0], offsets[1]);
  }
  if (a.hflip) {
    const auto flip = coin();
    x = select_samples(flip, x.flip({3}), x);
    if (with_masks) m = select_samples(flip, m.flip({3}), m);
  }
  if (a.vflip) {
    const auto flip = coin();
    x = select_samples(flip, x.flip({2}), x);
    if (with_masks) m = select_samples(flip, m.flip({2}), m);
  }
  if (a.rot90) {
    if (H != W) throw InvalidInput("augment: rot90 needs square images, got " + std::to_string(H) + "x" + std::to_string(W));
    const auto quarter_turns = torch::randint(0, 4, {B}, gen, torch::TensorOptions().dtype(torch::kLong)).to(device);
    auto rotated = x, rotated_masks = m;
    for (std::int64_t k = 1; k < 4; ++k) {
      const auto chosen = quarter_turns.eq(k);
      rotated = select_samples(chosen, torch::rot90(x, k, {2, 3}), rotated);
      if (with_masks) rotated_masks = select_samples(chosen, torch::rot90(m, k, {2, 3}), rotated_masks);
    }
    x = rotated;
    m = rotated_masks;
  }
  if (a.rotation > 0.0) {
    const auto angles = ((torch::rand({B}, gen, torch::kDouble) * 2.0 - 1.0) * (a.rotation * kPi / 180.0));
    const auto c = angles.cos(), s = angles.sin(), zero = torch::zeros({B}, torch::kDouble);
    const auto theta = torch::stack({c, -s, zero, s, c, zero}, 1).view({B, 2, 3}).to(device, x.scalar_type());
    const auto grid = torch::nn::functional::affine_grid(theta, x.sizes(), /*align_corners=*/false);
    namespace F = torch::nn::functional;
    x = F::grid_sample(x, grid, F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kZeros).align_corners(false));
    if (with_masks)
      m = F::grid_sample(m, grid.to(m.scalar_type()),
                         F::GridSampleFuncOptions().mode(torch::kNearest).padding_mode(torch::kZeros).align_corners(false));
  }
  if (with_masks) *masks = m;
  return x;
}

torch::Tensor class_weights(const torch::Tensor& labels, std::int64_t num_classes) {
  const auto flat = labels.reshape({-1}).to(torch::kLong);
  const auto counts = torch::bincount(flat, {}, num_classes).to(torch::kFloat);
  const double n = static_cast<double>(flat.numel());
  const auto weights = n / (static_cast<double>(num_classes) * counts);
  return torch::where(counts > 0, weights, torch::zeros_like(weights));
}

torch::Tensor bce_dice_loss(const torch::Tensor& logits, const torch::Tensor& masks) {
  if (logits.sizes() != masks.sizes())
    throw InvalidInput("bce_dice_loss: logits " + std::string(c10::str(logits.sizes())) + " and masks " +
                       c10::str(masks.sizes()) + " differ in shape");
  const auto target = masks.to(logits.scalar_type());
  const auto bce = torch::nn::functional::binary_cross_entropy_with_logits(logits, target);
  const auto p = torch::sigmoid(logits).flatten(1);
  const auto t = target.flatten(1);
  const auto dice = (2.0 * (p * t).sum(1) + 1.0) / (p.sum(1) + t.sum(1) + 1.0);
  return bce + (1.0 - dice).mean();
}

// ------------------------------------------------------------- evaluation

Value EvalMetrics::to_value() const {
  return Value(Value::Table{{"samples", Value(samples)},
                            {"loss", metric_value(loss)},
                            {"accuracy", metric_value(accuracy)},
                            {"auc", metric_value(auc)},
                            {"dice", metric_value(dice)}});
}

EvalMetrics EvalMetrics::from_value(const Value& v) {
  EvalMetrics m;
  const Value* samples = v.find("samples");
  if (!samples) throw InvalidInput("evaluation metrics without 'samples'");
  m.samples = samples->as_int();
  m.loss = metric_of(v, "loss");
  m.accuracy = metric_of(v, "accuracy");
  m.auc = metric_of(v, "auc");
  m.dice = metric_of(v, "dice");
  return m;
}

EvalMetrics evaluate_model(TappedModule& model, const SampleSet& data, const ModelSpec& spec, RunContext& ctx,
                           std::int64_t batch_size) {
  EvalMetrics m;
  if (data.empty()) return m;
  const std::int64_t N = data.size();
  m.samples = N;
  const auto device = ctx.device();
  const bool segmentation = spec.task == Task::Segmentation;
  const TrainLoss loss = resolve_loss(TrainLoss::Auto, spec);
  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  auto loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kDouble).device(device));
  std::vector<torch::Tensor> outputs;  // logits (classification) or label maps (segmentation)
  std::vector<torch::Tensor> truths;   // labels, or label maps of the masks
  const std::int64_t step = std::max<std::int64_t>(1, batch_size);
  for (std::int64_t begin = 0; begin < N; begin += step) {
    const auto end = std::min(N, begin + step);
    const Batch batch = data.slice(begin, end, device);
    const auto& y = batch.targets(spec.task);
    const auto logits = model.forward(batch.images);
    loss_sum += natural_loss(loss, logits, y, {}, spec.task).to(torch::kDouble) * static_cast<double>(end - begin);
    outputs.push_back(segmentation ? metrics::label_map_from_logits(logits) : logits.to(torch::kFloat));
    truths.push_back(segmentation ? y.round().to(torch::kLong) : y);
  }
  model.train(was_training);
  m.loss = loss_sum.item<double>() / static_cast<double>(N);
  const auto all = torch::cat(outputs);
  const auto truth = torch::cat(truths);
  if (segmentation) {
    if (spec.num_classes <= 2) m.dice = metrics::dice(all, truth);
  } else {
    m.accuracy = metrics::accuracy(all.argmax(1), truth);
    if (all.size(1) == 2) m.auc = metrics::roc_auc(torch::softmax(all, 1).select(1, 1), truth.eq(1));
  }
  return m;
}

// --------------------------------------------------------------- reports

Value TrainingReport::to_value() const {
  Value::Array history;
  for (const auto& e : epochs)
    history.push_back(Value(Value::Table{{"epoch", Value(e.epoch)},
                                         {"loss", metric_value(e.loss)},
                                         {"lr", Value(e.lr)},
                                         {"seconds", Value(e.seconds)},
                                         {"val", e.val.to_value()}}));
  return Value(Value::Table{{"best_epoch", Value(best_epoch)},
                            {"stopped_early", Value(stopped_early)},
                            {"seconds", Value(seconds)},
                            {"val", val.to_value()},
                            {"epochs", Value(std::move(history))}});
}

TrainingReport TrainingReport::from_value(const Value& v) {
  auto required = [&](const Value& table, const char* key) -> const Value& {
    const Value* found = table.find(key);
    if (!found) throw InvalidInput(std::string("training report without '") + key + "'");
    return *found;
  };
  TrainingReport r;
  r.best_epoch = required(v, "best_epoch").as_int();
  r.stopped_early = required(v, "stopped_early").as_bool();
  r.seconds = required(v, "seconds").as_double();
  r.val = EvalMetrics::from_value(required(v, "val"));
  for (const auto& e : required(v, "epochs").as_array()) {
    EpochRecord record;
    record.epoch = required(e, "epoch").as_int();
    record.loss = metric_of(e, "loss");
    record.lr = required(e, "lr").as_double();
    record.seconds = required(e, "seconds").as_double();
    record.val = EvalMetrics::from_value(required(e, "val"));
    r.epochs.push_back(record);
  }
  return r;
}

std::vector<torch::Tensor> snapshot_weights(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> saved;
  for (const auto& p : model.parameters()) saved.push_back(p.detach().clone());
  for (const auto& b : model.buffers()) saved.push_back(b.detach().clone());
  return saved;
}

void restore_weights(torch::nn::Module& model, const std::vector<torch::Tensor>& saved) {
  torch::NoGradGuard no_grad;
  auto params = model.parameters();
  auto buffers = model.buffers();
  if (saved.size() != params.size() + buffers.size())
    throw Error("restore_weights: the snapshot holds " + std::to_string(saved.size()) + " tensors, the model " +
                std::to_string(params.size() + buffers.size()));
  std::size_t i = 0;
  for (auto& p : params) p.copy_(saved[i++]);
  for (auto& b : buffers) b.copy_(saved[i++]);
}

// ---------------------------------------------------------------- the loop

TrainingReport train_model(TappedModule& model, const TrainingSet& data, const TrainOptions& o, RunContext& ctx,
                           const BatchLoss* batch_loss) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  check_training_set(data);
  const auto trainable = model.parameters();
  if (std::none_of(trainable.begin(), trainable.end(), [](const torch::Tensor& p) { return p.requires_grad(); }))
    throw InvalidInput("train_model: the model has no trainable parameter (" +
                       std::string(trainable.empty() ? "it has none" : "every one has requires_grad = false") +
                       "): there is nothing to train; load trained weights instead ([model] checkpoint)");
  const ModelSpec& spec = data.spec;
  const bool segmentation = spec.task == Task::Segmentation;
  const TrainLoss loss_kind = resolve_loss(o.loss, spec);
  const auto device = ctx.device();

  model.to(device);
  const bool has_val = !data.val.empty();
  if (o.early_stopping > 0 && !has_val)
    ctx.log().warn("early stopping needs a val split; training all " + std::to_string(o.epochs) + " epochs");
  const bool early_stopping = o.early_stopping > 0 && has_val;

  const std::int64_t N = data.train.size();
  const std::int64_t B = std::min(o.batch_size, N);
  // A trailing batch of one sample is skipped: batch norm cannot train on it.
  const std::int64_t batches = N / B + (N % B >= 2 ? 1 : 0);
  const LearningRateSchedule schedule(o, batches);
  auto optimizer = make_optimizer(model.parameters(), o);
  torch::Tensor weights;
  if (o.class_weighting == ClassWeighting::Balanced && !segmentation)
    weights = class_weights(data.train.labels(), spec.num_classes).to(device);

  // Layers that draw from LibTorch's global generator (dropout) see a seeded stream too.
  torch::manual_seed(ctx.seed_for("train/global"));
  auto shuffle_gen = compat::cpu_generator(ctx.seed_for("train/shuffle"));
  auto augment_gen = compat::cpu_generator(ctx.seed_for("train/augment"));

  TrainingReport report;
  std::vector<torch::Tensor> best_weights;
  double best_loss = std::numeric_limits<double>::infinity();
  std::int64_t since_best = 0, iteration = 0;
  ctx.progress().begin("train", o.epochs * batches);
  for (std::int64_t epoch = 1; epoch <= o.epochs; ++epoch) {
    const auto epoch_start = clock::now();
    model.train();
    const auto order = torch::randperm(N, shuffle_gen);
    auto loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat).device(device));
    std::int64_t seen = 0;
    double lr = o.lr;
    for (std::int64_t b = 0; b < batches; ++b, ++iteration) {
      const auto idx = order.slice(0, b * B, std::min(N, (b + 1) * B));
      Batch batch = data.train.gather(idx, device);
      auto x = batch.images;
      auto y = segmentation ? batch.masks : batch.labels;
      if (o.augment.any()) x = augment(x, o.augment, augment_gen, segmentation ? &y : nullptr);
      lr = schedule.at(iteration);
      set_learning_rate(*optimizer, lr);
      const auto loss = batch_loss ? (*batch_loss)(model, x, y)
                                   : natural_loss(loss_kind, model.forward(x), y, weights, spec.task);
      optimizer->zero_grad();
      loss.backward();
      optimizer->step();
      loss_sum += loss.detach().to(torch::kFloat) * static_cast<double>(x.size(0));
      seen += x.size(0);
      ctx.progress().advance(1);
    }
    EpochRecord record;
    record.epoch = epoch;
    record.loss = loss_sum.item<double>() / static_cast<double>(seen);
    record.lr = lr;
    if (has_val) record.val = evaluate_model(model, data.val, spec, ctx, o.batch_size);
    record.seconds = std::chrono::duration<double>(clock::now() - epoch_start).count();
    ctx.log().info(format_epoch(record, o.epochs, spec));
    report.epochs.push_back(record);

    if (early_stopping) {
      if (record.val.loss < best_loss) {
        best_loss = record.val.loss;
        best_weights = snapshot_weights(model);
        report.best_epoch = epoch;
        since_best = 0;
      } else if (++since_best >= o.early_stopping) {
        report.stopped_early = epoch < o.epochs;
        break;
      }
    }
  }
  ctx.progress().end();

  if (early_stopping && !best_weights.empty()) {
    restore_weights(model, best_weights);
    if (report.best_epoch != report.epochs.back().epoch)
      ctx.log().info("early stopping: kept the weights of epoch " + std::to_string(report.best_epoch) +
                     " (lowest val loss)");
  } else {
    report.best_epoch = report.epochs.back().epoch;
  }
  report.val = report.epochs[static_cast<std::size_t>(report.best_epoch - 1)].val;
  report.seconds = std::chrono::duration<double>(clock::now() - start).count();
  model.eval();
  return report;
}

}  // namespace medadv
