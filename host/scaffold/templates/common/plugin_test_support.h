#pragma once
// What the tests of @NAME@ (test_@TARGET@.cpp) build on: the plugin's parameters and a
// tiny model to run it with.
#include <memory>
#include <utility>

#include <medadv/testing.h>

#include "@TARGET@.h"

namespace plugin_test {

// The parameters of @NAME@: its defaults, with `overrides` applied and checked against
// its schema (throws medadv::InvalidInput for a value the schema refuses).
inline medadv::Params params_with(medadv::Value::Table overrides = {}) {
  medadv::ParamSchema s;
  @CLASS@::schema(s);
  return s.resolve_or_throw(medadv::Value(std::move(overrides)), "@NAME@");
}

// A tiny 3-class classifier of 3-channel images, seen as the frozen model that attacks,
// detectors and wrappers are given.
inline std::shared_ptr<medadv::ModuleModel> tiny_model() {
  return std::make_shared<medadv::ModuleModel>(std::make_shared<medadv::testing::TinyClassifier>(3, 3, 0), 3,
                                               medadv::Task::Classification);
}

}  // namespace plugin_test
