#pragma once
// The built-in plugins, for the tests that feed bad and edge inputs to the host (issue 24);
// with the helpers every test shares (support/test_support.h).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "common/host_context.h"
#include "engine/task_check.h"
#include "experiment/plan.h"
#include "loader/registry.h"
#include "support/test_support.h"

namespace medadv::testing {

// The plugins built with the project (no MEDADV_PLUGIN_PATH, no user folders).
inline const medadv::host::PluginRegistry& built_in_plugins() {
  static medadv::host::PluginRegistry* registry = [] {
    auto* r = new medadv::host::PluginRegistry();
    r->discover(medadv::host::build_search_path({{}, {}, true}));
    return r;
  }();
  return *registry;
}

// What task_problems finds for `plan` on a 3-channel two-class data set of `image_size`
// pixels and a small-cnn whose only tap is `logits`: the checks made before training.
inline std::vector<std::string> problems_before_training(const medadv::host::Plan& plan, std::int64_t image_size) {
  medadv::host::TaskFacts facts;
  facts.spec.num_classes = 2;
  facts.spec.channels = 3;
  facts.spec.image_size = image_size;
  facts.model = "model 'small-cnn'";
  facts.model_taps = {"logits"};
  const medadv::host::ContextFactory contexts({}, medadv::host::host_log());
  return medadv::host::task_problems(plan, facts, contexts);
}

}  // namespace medadv::testing
