#pragma once
// The keys the host owns in [model] (train, checkpoint) and [dataset] (splits), validated
// like a plugin's parameters: typed, defaulted, ranged, located, with a did-you-mean.
#include <filesystem>
#include <string>
#include <vector>

#include "medadv/error.h"
#include "medadv/params.h"
#include "medadv/value.h"

namespace medadv::host {

// [model.train]: medadv::train_options_schema.
const ParamSchema& model_train_schema();

// Validates [model] `train` (a table) and `checkpoint` (a path string) of `model_table`,
// appending problems under `key` ("model"). `host` (the section's host keys) gets `train`
// resolved with every default filled.
void check_model_keys(const Value& model_table, const std::string& key, Value::Table& host,
                      std::vector<Diagnostic>& out);

// Validates [dataset] `splits`; `host` gets the resolved plan (four disjoint fractions).
void check_dataset_splits(const Value& dataset_table, const std::string& key, Value::Table& host,
                          std::vector<Diagnostic>& out);

// `[model] checkpoint` resolved against the experiment file's folder; empty when not given.
std::filesystem::path checkpoint_path(const Value& model_table, const std::filesystem::path& experiment_dir);

}  // namespace medadv::host
