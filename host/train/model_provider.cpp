#include "train/model_provider.h"

#include <cstdio>
#include <sstream>

#include "common/json.h"
#include "common/sha256.h"
#include "common/text_file.h"
#include "loader/guard.h"
#include "medadv/atomic_file.h"
#include "medadv/error.h"
#include "medadv/splits.h"
#include "medadv/torch_compat.h"
#include "train/chance_check.h"
#include "experiment/train_keys.h"

namespace medadv::host {

namespace {

const std::vector<std::string> kModelHostKeys = {"plugin", "train", "checkpoint"};

std::string model_name(const Value& model) {
  const Value* plugin = model.find("plugin");
  return plugin && plugin->type() == Value::Type::String ? plugin->as_string() : "?";
}

Value model_parameters(const Value& model) {
  Value::Table params;
  for (const auto& [k, v] : model.as_table())
    if (std::find(kModelHostKeys.begin(), kModelHostKeys.end(), k) == kModelHostKeys.end()) params.emplace_back(k, v);
  return Value(std::move(params));
}

Params resolved_train_params(const Value& model) {
  const Value* train = model.find("train");
  return model_train_schema().resolve_or_throw(train ? *train : Value(Value::Table{}), "", "model.train.");
}

std::string indices_digest(const torch::Tensor& indices) {
  const auto t = indices.to(torch::kCPU, torch::kLong).contiguous();
  Sha256 h;
  h.update(t.data_ptr(), static_cast<std::size_t>(t.numel()) * sizeof(std::int64_t));
  return "n=" + std::to_string(t.numel()) + " sha256=" + h.hex_digest();
}

TrainingReport read_report(const std::filesystem::path& file) {
  return TrainingReport::from_value(parse_json(read_text_file(file), file.string()));
}

std::string metrics_text(const EvalMetrics& m) {
  std::ostringstream out;
  out.precision(4);
  out << "n=" << m.samples;
  if (!std::isnan(m.accuracy)) out << " accuracy " << m.accuracy;
  if (!std::isnan(m.auc)) out << " auc " << m.auc;
  if (!std::isnan(m.dice)) out << " dice " << m.dice;
  return out.str();
}

std::string display(const std::filesystem::path& p) { return p.lexically_normal().string(); }

// The length of the valid UTF-8 prefix of `text` (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF); text.size() when all of it is valid.
std::size_t valid_utf8_prefix(const std::string& text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char c = byte(i);
    std::size_t length = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (length == 0 || i + length > text.size()) return i;
    std::uint32_t code = length == 1 ? c : c & (0x7F >> length);
    for (std::size_t k = 1; k < length; ++k) {
      if ((byte(i + k) & 0xC0) != 0x80) return i;
      code = (code << 6) | (byte(i + k) & 0x3F);
    }
    const std::uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < smallest[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return i;
    i += length;
  }
  return i;
}

// `text` with every byte outside printable ASCII as \xNN, for an error message.
std::string escaped(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02X", c);
      out += hex;
    }
  }
  return out;
}

}  // namespace

std::string plugin_identity(const PluginUse& use) {
  return use.plugin->name() + " " + use.plugin->version() + " " + use.params.to_value().to_string();
}

ModelSpec model_shape_for(const DataSource& source) {
  const DatasetMeta& meta = source.meta();
  const auto shape = source.item_shape();
  if (shape.size() != 3) throw InvalidInput("the data set's items must be [C,H,W] images");
  ModelSpec spec;
  spec.task = meta.task;
  spec.channels = shape[0];
  if (shape[1] != shape[2])
    throw InvalidInput("the data set's images are " + std::to_string(shape[1]) + "x" + std::to_string(shape[2]) +
                       "; models take square images");
  spec.image_size = shape[1];
  const auto labels = source.labels();
  if (spec.task == Task::Segmentation) {
    spec.num_classes = 1;  // one foreground logit per pixel: masks are 0/1
  } else if (!meta.class_names.empty()) {
    spec.num_classes = static_cast<std::int64_t>(meta.class_names.size());
  } else {
    spec.num_classes = labels.defined() && labels.numel() > 0 ? labels.max().item<std::int64_t>() + 1 : 2;
  }
  // Class names go into results.jsonl and the report, which are UTF-8.
  for (const auto& name : meta.class_names)
    if (valid_utf8_prefix(name) != name.size())
      throw InvalidInput("the data set's class name '" + escaped(name) + "' is not valid UTF-8 (at byte " +
                         std::to_string(valid_utf8_prefix(name) + 1) +
                         "); rename it (for an image folder: the class folder)");
  // One class leaves nothing to tell apart: accuracy is 1 whatever the model, and no
  // untargeted attack can succeed.
  if (spec.task == Task::Classification && spec.num_classes < 2)
    throw InvalidInput("the data set has a single class" +
                       (meta.class_names.empty() ? std::string() : " ('" + meta.class_names.front() + "')") +
                       "; a classifier needs at least two (for an image folder: a subfolder per class)");
  return spec;
}

ModelSpec model_spec_for(const std::shared_ptr<DataSource>& source, const torch::Tensor& train_indices) {
  ModelSpec spec = model_shape_for(*source);
  // Per-channel moments accumulated in double, a batch of images at a time.
  const SampleSet train(source, train_indices);
  auto sum = torch::zeros({spec.channels}, torch::kDouble), sum_of_squares = torch::zeros({spec.channels}, torch::kDouble);
  constexpr std::int64_t kBatch = 256;
  for (std::int64_t begin = 0; begin < train.size(); begin += kBatch) {
    const auto x = train.slice(begin, std::min(train.size(), begin + kBatch), torch::kCPU).images;
    sum += x.sum({0, 2, 3}, false, torch::kDouble);
    sum_of_squares += x.square().sum({0, 2, 3}, false, torch::kDouble);
  }
  const double count = static_cast<double>(train.size() * spec.image_size * spec.image_size);
  const auto mean = sum / count;
  const auto second = sum_of_squares / count;
  const auto std = (second - mean.square()).clamp_min(0.0).sqrt().clamp_min(1e-3);
  for (std::int64_t c = 0; c < spec.channels; ++c) {
    spec.mean.push_back(mean[c].item<double>());
    spec.std.push_back(std[c].item<double>());
  }
  return spec;
}

std::string model_cache_text(const ModelRequest& request, const std::map<std::string, torch::Tensor>& splits,
                             const std::string& built_weights) {
  std::ostringstream text;
  text << "medadv model cache 2\n"
       << "model: " << model_name(request.model) << " " << request.model_version << " "
       << model_parameters(request.model).to_string() << "\n"
       << "dataset: " << request.dataset_identity << "\n"
       << "train split: " << indices_digest(splits.at(kTrainSplit)) << "\n"
       << "val split: " << indices_digest(splits.at(kValSplit)) << "\n"
       << "train options: " << resolved_train_params(request.model).to_value().to_string() << "\n"
       << "seed: " << request.seed << "\n"
       << "libtorch: " << compat::torch_major << "." << compat::torch_minor << "\n";
  // Only for models built with trained weights, so that every other key stays what it was.
  if (!built_weights.empty()) text << "built weights: " << built_weights << "\n";
  return text.str();
}

void save_weights(torch::nn::Module& module, const std::filesystem::path& file) {
  std::filesystem::create_directories(file.parent_path());
  torch::serialize::OutputArchive archive;
  module.save(archive);
  write_file_atomically(file, [&](const std::filesystem::path& temporary) { archive.save_to(temporary.string()); });
}

void load_weights(torch::nn::Module& module, const std::filesystem::path& file, const c10::Device& device) {
  if (!std::filesystem::is_regular_file(file)) throw InvalidInput(display(file) + ": no such weights file");
  const std::string hint = "; was it saved from the same model plugin with the same parameters?";
  // Module::load replaces each tensor with the stored one whatever its shape: compare after.
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> expected;
  for (const auto& p : module.named_parameters()) expected.emplace_back(p.key(), p.value().sizes().vec());
  for (const auto& b : module.named_buffers()) expected.emplace_back(b.key(), b.value().sizes().vec());
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(file.string(), device);
    module.load(archive);
  } catch (const c10::Error& e) {
    throw InvalidInput(display(file) + ": cannot be loaded into this model (" + e.what_without_backtrace() + ")" +
                       hint);
  }
  std::map<std::string, std::vector<std::int64_t>> loaded;
  for (const auto& p : module.named_parameters()) loaded[p.key()] = p.value().sizes().vec();
  for (const auto& b : module.named_buffers()) loaded[b.key()] = b.value().sizes().vec();
  for (const auto& [name, shape] : expected)
    if (loaded[name] != shape)
      throw InvalidInput(display(file) + ": cannot be loaded into this model: '" + name + "' has shape " +
                         c10::str(c10::IntArrayRef(loaded[name])) + " in the file, the model expects " +
                         c10::str(c10::IntArrayRef(shape)) + hint);
}

std::shared_ptr<TappedModule> build_fresh_module(const PluginUse& model, std::shared_ptr<RunContext> plugin_ctx,
                                                 const ModelSpec& spec, RunContext& ctx, std::string* built_weights) {
  const PluginHandle& handle = *model.plugin;
  const std::string who = handle.describe();
  auto plugin = guarded(who, "create", [&] { return handle.create<ModelPlugin>(model.params, plugin_ctx); });
  torch::manual_seed(ctx.seed_for("model/build"));
  auto module = guarded(who, "build", [&] { return plugin->build(spec); });
  if (!module) throw PluginFailure(who + " failed in build(): returned no module");
  if (built_weights) *built_weights = guarded(who, "built_weights_identity", [&] { return plugin->built_weights_identity(); });
  module->to(ctx.device());
  return module;
}

namespace {

// Segmentation has no majority-class baseline to compare with; classifiers do.
void warn_if_at_chance(const PreparedModel& prepared, const std::string& name, const torch::Tensor& val_labels,
                       RunContext& ctx) {
  if (prepared.spec.task != Task::Classification) return;
  const std::string warning = chance_level_warning("model '" + name + "'", prepared.report.val.accuracy, val_labels);
  if (!warning.empty()) ctx.log().warn(warning);
}

PreparedModel load_or_train(const ModelRequest& request, const std::shared_ptr<DataSource>& data,
                            const std::map<std::string, torch::Tensor>& splits, RunContext& ctx) {
  const std::string name = model_name(request.model);
  const auto& train_idx = splits.at(kTrainSplit);
  const auto& val_idx = splits.at(kValSplit);

  PreparedModel prepared;
  prepared.spec = model_spec_for(data, train_idx);
  if (!request.model_use || !request.model_context)
    throw Error("prepare_model: the request names no [model] use or no context for its plugin");
  prepared.module =
      build_fresh_module(*request.model_use, request.model_context, prepared.spec, ctx, &prepared.built_weights);

  const SampleSet val(data, val_idx);
  const TrainOptions options = train_options_from(resolved_train_params(request.model));
  prepared.evaluation_batch = options.batch_size;
  auto val_metrics = [&] { return evaluate_model(*prepared.module, val, prepared.spec, ctx, options.batch_size); };

  const auto checkpoint = checkpoint_path(request.model, request.base_dir);
  if (!checkpoint.empty()) {
    load_weights(*prepared.module, checkpoint, ctx.device());
    prepared.module->eval();
    prepared.from_checkpoint = true;
    prepared.weights_file = checkpoint;
    prepared.report.val = val_metrics();
    ctx.log().info("weights loaded from checkpoint " + display(checkpoint) + "; val " +
                   metrics_text(prepared.report.val));
    return prepared;
  }

  // A user's trained model (a TorchScript file) is evaluated and attacked as it is, unless
  // the experiment asks to train it further.
  if (!prepared.built_weights.empty() && !request.train_given) {
    prepared.module->eval();
    prepared.as_built = true;
    prepared.report.val = val_metrics();
    ctx.log().info("using the weights the model was built with (" + prepared.built_weights +
                   "), untrained: give [model] train to train them further; val " + metrics_text(prepared.report.val));
    return prepared;
  }

  const std::string text = model_cache_text(request, splits, prepared.built_weights);
  prepared.key = sha256_hex(text);
  const auto dir = request.cache_root / "models";
  prepared.weights_file = dir / (prepared.key + ".pt");
  const auto report_file = dir / (prepared.key + ".json");

  if (!request.force_training && std::filesystem::is_regular_file(prepared.weights_file) &&
      std::filesystem::is_regular_file(report_file)) {
    try {
      prepared.report = read_report(report_file);
      load_weights(*prepared.module, prepared.weights_file, ctx.device());
      prepared.from_cache = true;
      prepared.module->eval();
      ctx.log().info("cached weights found: " + display(prepared.weights_file));
      return prepared;
    } catch (const InvalidInput& e) {
      ctx.log().warn(std::string("cached weights unusable, training again: ") + e.what());
      // A load that failed part way leaves some cached tensors in the module: train from
      // the initial weights, as without a cache.
      prepared.module = build_fresh_module(*request.model_use, request.model_context, prepared.spec, ctx);
    }
  }

  TrainingSet set;
  set.train = SampleSet(data, train_idx);
  set.val = val;
  set.spec = prepared.spec;
  ctx.log().info("training " + name + " on " + std::to_string(train_idx.numel()) + " images (" +
                 std::to_string(val_idx.numel()) + " for validation), " + std::to_string(options.epochs) +
                 " epoch(s), on " + ctx.device().str());
  try {
    prepared.report = train_model(*prepared.module, set, options, ctx);
  } catch (const InvalidInput& e) {
    // Its parameters name the model (a TorchScript model's file, say).
    throw InvalidInput("training model '" + name + "' " + model_parameters(request.model).to_string() + ": " + e.what());
  }

  std::filesystem::create_directories(dir);
  save_weights(*prepared.module, prepared.weights_file);
  write_file_atomically(report_file, to_json(prepared.report.to_value()) + "\n");
  write_file_atomically(dir / (prepared.key + ".txt"), text);
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.1f", prepared.report.seconds);
  ctx.log().info(std::string("trained in ") + seconds + " s; val " +
                 metrics_text(prepared.report.val) + "; weights stored in " + display(prepared.weights_file));
  return prepared;
}

}  // namespace

ModelRequest model_request(const CheckedExperiment& e, const PluginUse& model, const PluginUse& dataset,
                           const std::filesystem::path& experiment_file, const std::filesystem::path& cache_root,
                           std::shared_ptr<RunContext> model_context) {
  ModelRequest request;
  request.model_use = &model;
  request.model_context = std::move(model_context);
  request.model = *e.resolved.find("model");
  request.model_version = model.plugin->version();
  request.dataset_identity = plugin_identity(dataset);
  request.seed = e.seed;
  request.base_dir = std::filesystem::absolute(experiment_file).parent_path();
  request.cache_root = cache_root;
  request.train_given = e.model_train_given;
  return request;
}

std::string weights_origin(const PreparedModel& prepared) {
  if (prepared.from_checkpoint) return "checkpoint " + prepared.weights_file.string();
  if (prepared.from_cache) return "cached weights " + prepared.weights_file.string();
  if (prepared.as_built) return "the weights it was built with, " + prepared.built_weights;
  return "trained, stored in " + prepared.weights_file.string();
}

PreparedModel prepare_model(const ModelRequest& request, const std::shared_ptr<DataSource>& data,
                            const std::map<std::string, torch::Tensor>& splits, RunContext& ctx) {
  PreparedModel prepared = load_or_train(request, data, splits, ctx);
  const auto labels = data->labels();
  if (labels.defined())
    warn_if_at_chance(prepared, model_name(request.model), labels.index_select(0, splits.at(kValSplit)), ctx);
  return prepared;
}

}  // namespace medadv::host
