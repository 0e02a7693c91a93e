#pragma once
// Helpers shared by the tests of the phantom data sets (plugins/datasets/phantom).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "medadv/dataset.h"
#include "medadv/error.h"
#include "medadv/params.h"
#include "medadv/testing.h"

namespace phantom_testing {

template <class Plugin>
medadv::ParamSchema schema_of() {
  medadv::ParamSchema s;
  Plugin::schema(s);
  return s;
}

template <class Plugin>
medadv::Params params_of(const std::string& name, medadv::Value::Table table = {}) {
  return schema_of<Plugin>().resolve_or_throw(medadv::Value(std::move(table)), name);
}

template <class Plugin>
medadv::DatasetContents load(const std::string& name, medadv::Value::Table table, std::uint64_t seed = 0) {
  medadv::testing::TestContext ctx(seed);
  Plugin dataset(params_of<Plugin>(name, std::move(table)), ctx);
  return medadv::testing::read_all(dataset.open(ctx));
}

// Each (key, value) is refused when the parameters are resolved, with a message that
// names the key.
template <class Plugin>
void expect_refused_naming_the_key(const std::string& name,
                                   const std::vector<std::pair<std::string, medadv::Value>>& bad) {
  for (const auto& [key, value] : bad) {
    try {
      params_of<Plugin>(name, {{key, value}});
      ADD_FAILURE() << key << " = " << value.to_string() << " accepted";
    } catch (const medadv::InvalidInput& e) {
      EXPECT_NE(std::string(e.what()).find("'" + key + "'"), std::string::npos)
          << key << " = " << value.to_string() << ": " << e.what();
    }
  }
}

// `task = "segmentation"` gives the same images and masks as classification, with the
// masks as the target: the segmentation task, `class_names`, no labels.
template <class Plugin>
void expect_segmentation_task(const std::string& name, const std::vector<std::string>& class_names,
                              const std::string& modality) {
  const medadv::Value::Table base = {{"count", medadv::Value(8)}, {"image_size", medadv::Value(32)}};
  medadv::Value::Table segmentation = base;
  segmentation.emplace_back("task", medadv::Value("segmentation"));
  const auto s = load<Plugin>(name, segmentation, 3), c = load<Plugin>(name, base, 3);
  EXPECT_EQ(s.meta.task, medadv::Task::Segmentation);
  EXPECT_EQ(s.meta.class_names, class_names);
  EXPECT_EQ(s.meta.modality, modality);
  EXPECT_FALSE(s.labels.defined());
  EXPECT_TRUE(torch::equal(s.images, c.images));
  EXPECT_TRUE(torch::equal(s.masks, c.masks));
}

// Area under the ROC curve of `score` for `positive`, by counting every (positive,
// negative) pair (ties count half).
inline double roc_auc(const torch::Tensor& score, const torch::Tensor& positive) {
  auto s = score.to(torch::kFloat64);
  auto p = positive.to(torch::kBool);
  auto pos = s.masked_select(p).view({-1, 1});
  auto neg = s.masked_select(~p).view({1, -1});
  const double pairs = static_cast<double>(pos.numel() * neg.numel());
  const double wins = (pos > neg).sum().item<double>() + 0.5 * (pos == neg).sum().item<double>();
  return wins / pairs;
}

// Normalised coordinates of the pixel centres of an S x S image, as the generators use
// them (the image spans [-1, 1], y down). [S,S] each.
inline std::pair<torch::Tensor, torch::Tensor> pixel_coordinates(std::int64_t size) {
  auto c = (torch::arange(size, torch::kFloat64) + 0.5 - 0.5 * static_cast<double>(size)) *
           (2.0 / static_cast<double>(size));
  return {c.view({1, -1}).expand({size, size}), c.view({-1, 1}).expand({size, size})};
}

}  // namespace phantom_testing
