#pragma once
// The victim model of an experiment ("train or load" of ARCHITECTURE.md section 1): built by
// the model plugin, then loaded from `[model] checkpoint`, or used as built when the plugin
// builds trained weights (a TorchScript file) and [model] train is not given, or loaded
// from the weights cache, or trained on the train split and stored in the cache.
//
// Cache: ${MEDADV_CACHE:-~/.cache/medadv}/models/<key>.pt (the module's parameters and
// buffers) with <key>.json (its TrainingReport), where key = SHA-256 of model_cache_text().
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include <torch/torch.h>

#include "experiment/experiment_check.h"
#include "medadv/context.h"
#include "medadv/dataset.h"
#include "medadv/model.h"
#include "medadv/training.h"
#include "medadv/value.h"

namespace medadv::host {

// Everything besides the data that determines the weights, and where to keep them.
struct ModelRequest {
  const PluginUse* model_use = nullptr;  // the [model] use: each module is built by a fresh instance of it
  std::shared_ptr<RunContext> model_context;  // what those instances are created with (and own)
  Value model;                     // the resolved [model] table: plugin, train, checkpoint, parameters
  std::string model_version;       // the model plugin's version
  std::string dataset_identity;    // plugin_identity() of the [dataset] use
  std::uint64_t seed = 0;          // the experiment's seed
  std::filesystem::path base_dir;  // a relative checkpoint is relative to this (the experiment's folder)
  std::filesystem::path cache_root;  // ${MEDADV_CACHE:-~/.cache/medadv}; models go to <root>/models
  bool force_training = false;     // train (and overwrite the cache) even when weights are cached
  // [model] train given: a model whose plugin builds trained weights (ModelPlugin::
  // built_weights_identity) is trained further only then, else used as built.
  bool train_given = true;
};

// The request for an experiment's [model], as `medadv run` and `medadv train` both make it
// (one place, so that each finds the weights the other cached). `model_context` is what the
// model plugin's instances are created with.
ModelRequest model_request(const CheckedExperiment& e, const PluginUse& model, const PluginUse& dataset,
                           const std::filesystem::path& experiment_file, const std::filesystem::path& cache_root,
                           std::shared_ptr<RunContext> model_context);

struct PreparedModel {
  std::shared_ptr<TappedModule> module;  // on ctx.device(), in eval mode
  ModelSpec spec;
  std::string key;                       // cache key (empty for a checkpoint)
  std::filesystem::path weights_file;    // the cache file, or the checkpoint
  bool from_cache = false;
  bool from_checkpoint = false;
  bool as_built = false;                 // the weights the plugin built (a TorchScript file's), untrained
  std::string built_weights;             // ModelPlugin::built_weights_identity(), when it has one
  TrainingReport report;                 // for a checkpoint: its val metrics only
  std::int64_t evaluation_batch = 32;    // [model.train] batch_size: evaluations read at it
};

// "name version { resolved parameters }": a plugin use as the cache key records it.
std::string plugin_identity(const PluginUse& use);

// Where a prepared model's weights came from, for logs: "checkpoint FILE", "cached weights
// FILE" or "trained, stored in FILE".
std::string weights_origin(const PreparedModel& prepared);

// What the model plugin is asked to build for a data set: channels, image size and task
// of the data; classes from the class names (labels otherwise), 1 for a binary
// segmentation mask (docs/decisions.md, "Segmentation logits"); per-channel mean and
// standard deviation of the train split's images for the model's input normalisation.
// The moments are read a batch at a time.
ModelSpec model_spec_for(const std::shared_ptr<DataSource>& data, const torch::Tensor& train_indices);
// The same without the moments (mean and std empty): what the data set says without
// reading an image, enough to build a probe model.
ModelSpec model_shape_for(const DataSource& data);

// The canonical text whose SHA-256 is the cache key: model plugin, version and resolved
// parameters; dataset identity; SHA-256 of the train and val index tensors (what the
// model sees, whichever plan or predefined splits made them); the resolved train options;
// the seed; LibTorch major.minor; for a model built with trained weights, their identity
// (ModelPlugin::built_weights_identity).
std::string model_cache_text(const ModelRequest& request, const std::map<std::string, torch::Tensor>& splits,
                             const std::string& built_weights = "");

// Builds, then loads or trains as described above. `splits` as make_splits returns them.
// Throws InvalidInput for an unreadable or mismatching checkpoint (naming the file).
PreparedModel prepare_model(const ModelRequest& request, const std::shared_ptr<DataSource>& data,
                            const std::map<std::string, torch::Tensor>& splits, RunContext& ctx);

// The model's module for `spec`, on ctx.device(), from a fresh instance of its plugin (a
// plugin seeds its n-th build differently) with LibTorch's global generator seeded from
// the run's seed: its initial weights depend on what the cache key records, not on what
// was built or drawn before (`medadv run` builds a probe model first, `medadv train` does
// not). So both store the same weights under one key.
// `plugin_ctx` is the context the instance is created with; `ctx` seeds and places the module.
// `built_weights`, when given, receives the instance's built_weights_identity().
std::shared_ptr<TappedModule> build_fresh_module(const PluginUse& model, std::shared_ptr<RunContext> plugin_ctx,
                                                 const ModelSpec& spec, RunContext& ctx,
                                                 std::string* built_weights = nullptr);

// Weights files: every parameter and buffer of the module, by name (torch::serialize).
// save_weights writes a temporary file and renames it, so readers never see half a file.
void save_weights(torch::nn::Module& module, const std::filesystem::path& file);
void load_weights(torch::nn::Module& module, const std::filesystem::path& file, const c10::Device& device);

}  // namespace medadv::host
