// Tests of phantom-xray (plugins/datasets/phantom): synthetic chest radiographs with
// pneumonia and lung-field masks. The plugin's sources are compiled into the test (see
// test_phantom.cpp), so its classes and the renderer are used directly.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "medadv/torch_compat.h"
#include "phantom_testing.h"
#include "phantom_xray.h"
#include "xray_phantom.h"

namespace {

using medadv::Value;
using medadv::plugins::phantom::PhantomXray;
using medadv::plugins::phantom::XrayFinding;
using medadv::plugins::phantom::XrayLayout;
using medadv::plugins::phantom::XraySpec;
using phantom_testing::roc_auc;

medadv::DatasetContents load_xray(Value::Table table, std::uint64_t seed = 0) {
  return phantom_testing::load<PhantomXray>("phantom-xray", std::move(table), seed);
}

// The default data set (600 images, 64 px, binary), generated once for several tests.
const medadv::DatasetContents& xray_default_set() {
  static const medadv::DatasetContents contents = load_xray({});
  return contents;
}

struct Rendered {
  torch::Tensor image, lungs;
  XrayLayout layout;
};

Rendered render(XrayFinding finding, int i, double lesion_scale = 1.0, double opacity = 1.0, std::int64_t size = 64,
                double aeration = 1.0) {
  auto gen = medadv::compat::cpu_generator(medadv::derive_seed(31, "xray/" + std::to_string(i)));
  XraySpec spec;
  spec.image_size = size;
  spec.finding = finding;
  spec.lesion_scale = lesion_scale;
  spec.opacity = opacity;
  spec.aeration = aeration;
  Rendered r;
  r.image = medadv::plugins::phantom::render_xray(spec, gen, &r.lungs, &r.layout);
  return r;
}

double mean_where(const torch::Tensor& values, const torch::Tensor& region) {
  auto w = region.to(torch::kFloat64);
  return (values.to(torch::kFloat64) * w).sum().item<double>() / w.sum().item<double>();
}

// A hand-made pneumonia score, no training: opacities make the lung fields patchy. Per
// image, intensities are divided by the image's 98th percentile (the mediastinum and
// bone: whatever the exposure), smoothed over 3x3 pixels (noise), and read inside the
// lung fields shrunk by 2 pixels (their soft rims); the score is the spread between the
// 95th and the 10th percentile there. [N]
torch::Tensor patchiness(const torch::Tensor& images, const torch::Tensor& lungs) {
  const auto N = images.size(0);
  auto img = images.to(torch::kFloat64);
  auto flat = img.reshape({N, -1});
  auto bright = std::get<0>(flat.sort(1)).select(1, static_cast<std::int64_t>(0.98 * static_cast<double>(flat.size(1))));
  auto smooth = torch::avg_pool2d(img / bright.view({N, 1, 1, 1}), {3, 3}, {1, 1}, {1, 1}, false, false);
  auto inner = -torch::max_pool2d(-lungs.to(torch::kFloat64), {5, 5}, {1, 1}, {2, 2}) > 0.5;
  std::vector<double> score;
  for (std::int64_t i = 0; i < N; ++i) {
    auto sorted = std::get<0>(smooth[i].masked_select(inner[i]).sort());
    const auto n = sorted.numel();
    if (n == 0) {
      score.push_back(0);
      continue;
    }
    auto at = [&](double q) { return sorted[static_cast<std::int64_t>(q * static_cast<double>(n - 1))].item<double>(); };
    score.push_back(at(0.95) - at(0.10));
  }
  return torch::tensor(score, torch::kFloat64);
}

// ---- Parameters ----------------------------------------------------------------

TEST(PhantomXray, DeclaresEveryParameterTypedDefaultedDocumented) {
  const auto schema = phantom_testing::schema_of<PhantomXray>();
  const std::vector<std::string> keys = {"image_size",   "count",   "classes", "noise", "balance",
                                         "lesion_scale", "opacity", "aeration", "zoom", "task"};
  ASSERT_EQ(schema.specs().size(), keys.size());
  for (const auto& key : keys) {
    const auto* spec = schema.find(key);
    ASSERT_NE(spec, nullptr) << key;
    EXPECT_FALSE(spec->doc().empty()) << key;
    EXPECT_FALSE(spec->is_required()) << key;
    if (key == "task") continue;
    EXPECT_TRUE(spec->lower().has_value()) << key;
    if (key != "count") {
      EXPECT_TRUE(spec->upper().has_value()) << key;
    }
  }
  EXPECT_EQ(schema.find("task")->allowed(), (std::vector<std::string>{"classification", "segmentation"}));
  const auto p = phantom_testing::params_of<PhantomXray>("phantom-xray");
  EXPECT_EQ(p.get_int("image_size"), 64);
  EXPECT_EQ(p.get_int("count"), 600);
  EXPECT_EQ(p.get_int("classes"), 2);
  EXPECT_DOUBLE_EQ(p.get_float("noise"), 0.02);
  EXPECT_DOUBLE_EQ(p.get_float("balance"), 0.5);
  EXPECT_DOUBLE_EQ(p.get_float("lesion_scale"), 1.0);
  EXPECT_DOUBLE_EQ(p.get_float("opacity"), 1.0);
  EXPECT_DOUBLE_EQ(p.get_float("aeration"), 1.0);
  EXPECT_DOUBLE_EQ(p.get_float("zoom"), 1.0);
  EXPECT_EQ(p.get_string("task"), "classification");
}

TEST(PhantomXray, RefusesInvalidParametersNamingTheKey) {
  phantom_testing::expect_refused_naming_the_key<PhantomXray>(
      "phantom-xray", {{"image_size", Value(8)},
                       {"image_size", Value(2048)},
                       {"image_size", Value(64.5)},
                       {"count", Value(1)},
                       {"classes", Value(1)},
                       {"classes", Value(4)},
                       {"noise", Value(-0.1)},
                       {"noise", Value(0.6)},
                       {"balance", Value(1.5)},
                       {"lesion_scale", Value(0.0)},
                       {"lesion_scale", Value(4.5)},
                       {"opacity", Value(0.0)},
                       {"opacity", Value(3.5)},
                       {"aeration", Value(0.0)},
                       {"aeration", Value(1.6)},
                       {"zoom", Value(0.9)},
                       {"zoom", Value(4.5)},
                       {"task", Value("detection")},
                       {"task", Value(1)},
                       {"contrast", Value(1.0)}});
  EXPECT_NO_THROW(phantom_testing::params_of<PhantomXray>(
      "phantom-xray", {{"image_size", Value(16)}, {"classes", Value(3)}, {"task", Value("segmentation")}}));
}

// ---- Contents ------------------------------------------------------------------

TEST(PhantomXray, ShapesTypesRangeAndMetadata) {
  const auto& d = xray_default_set();
  ASSERT_EQ(d.images.sizes(), (std::vector<std::int64_t>{600, 1, 64, 64}));
  EXPECT_EQ(d.images.scalar_type(), torch::kFloat32);
  ASSERT_EQ(d.labels.sizes(), (std::vector<std::int64_t>{600}));
  EXPECT_EQ(d.labels.scalar_type(), torch::kInt64);
  ASSERT_EQ(d.masks.sizes(), (std::vector<std::int64_t>{600, 1, 64, 64}));
  EXPECT_EQ(d.masks.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(d.images.isfinite().all().item<bool>());
  EXPECT_GE(d.images.min().item<float>(), 0.0f);
  EXPECT_LE(d.images.max().item<float>(), 1.0f);
  EXPECT_TRUE(((d.labels == 0) | (d.labels == 1)).all().item<bool>());
  EXPECT_TRUE(((d.masks == 0) | (d.masks == 1)).all().item<bool>());
  EXPECT_EQ(d.meta.task, medadv::Task::Classification);
  EXPECT_EQ(d.meta.class_names, (std::vector<std::string>{"normal", "pneumonia"}));
  EXPECT_EQ(d.meta.modality, "x-ray");
  EXPECT_TRUE(d.predefined_splits.empty());
  // The images use the range: dark air, bright bone and mediastinum.
  auto lowest = d.images.view({600, -1}).amin(1), highest = d.images.view({600, -1}).amax(1);
  EXPECT_LT(lowest.max().item<double>(), 0.2);
  EXPECT_GT(highest.min().item<double>(), 0.6);
}

TEST(PhantomXray, SameSeedSameDataDifferentSeedDifferentData) {
  const Value::Table table = {{"count", Value(12)}, {"classes", Value(3)}};
  const auto a = load_xray(table, 11), b = load_xray(table, 11), c = load_xray(table, 12);
  EXPECT_TRUE(torch::equal(a.images, b.images));
  EXPECT_TRUE(torch::equal(a.labels, b.labels));
  EXPECT_TRUE(torch::equal(a.masks, b.masks));
  auto per_image = (a.images - c.images).abs().view({12, -1}).amax(1);
  EXPECT_TRUE((per_image > 0.05).all().item<bool>());
  EXPECT_FALSE(torch::equal(a.masks, c.masks));  // the anatomy varies too
  // Image i does not depend on count.
  const auto longer = load_xray({{"count", Value(20)}, {"classes", Value(3)}}, 11);
  EXPECT_TRUE(torch::equal(a.images, longer.images.slice(0, 0, 12)));
  EXPECT_TRUE(torch::equal(a.labels, longer.labels.slice(0, 0, 12)));
}

TEST(PhantomXray, SameDataWhateverTheThreadCount) {
  const int before = at::get_num_threads();
  medadv::DatasetContents one, two;
  try {
    at::set_num_threads(1);
    one = load_xray({{"count", Value(65)}, {"image_size", Value(32)}}, 8);
    at::set_num_threads(std::max(2, before));
    two = load_xray({{"count", Value(65)}, {"image_size", Value(32)}}, 8);
    at::set_num_threads(before);
  } catch (const c10::Error& e) {  // a LibTorch that fixes its thread count once
    GTEST_SKIP() << e.what();
  }
  EXPECT_TRUE(torch::equal(one.images, two.images));
  EXPECT_TRUE(torch::equal(one.masks, two.masks));
}

TEST(PhantomXray, LabelBalanceFollowsTheParameter) {
  EXPECT_NEAR(xray_default_set().labels.to(torch::kFloat64).mean().item<double>(), 0.5, 0.06);
  const auto skewed = load_xray({{"count", Value(300)}, {"balance", Value(0.2)}, {"image_size", Value(32)}}, 2);
  EXPECT_NEAR(skewed.labels.to(torch::kFloat64).mean().item<double>(), 0.2, 0.06);
  const auto healthy = load_xray({{"count", Value(10)}, {"balance", Value(0.0)}, {"image_size", Value(32)}}, 2);
  EXPECT_EQ(healthy.labels.sum().item<std::int64_t>(), 0);
  const auto sick = load_xray({{"count", Value(10)}, {"balance", Value(1.0)}, {"image_size", Value(32)}}, 2);
  EXPECT_EQ(sick.labels.sum().item<std::int64_t>(), 10);
}

TEST(PhantomXray, ThreeClassesSplitPneumoniaOnTheSameImages) {
  const Value::Table base = {{"count", Value(120)}, {"image_size", Value(32)}};
  Value::Table three = base;
  three.emplace_back("classes", Value(3));
  const auto d3 = load_xray(three, 5), d2 = load_xray(base, 5);
  EXPECT_EQ(d3.meta.class_names, (std::vector<std::string>{"normal", "bacterial pneumonia", "viral pneumonia"}));
  for (std::int64_t c = 0; c < 3; ++c) EXPECT_GE((d3.labels == c).sum().item<std::int64_t>(), 20) << c;
  EXPECT_TRUE(torch::equal(d3.images, d2.images));
  EXPECT_TRUE(torch::equal((d3.labels > 0).to(torch::kInt64), d2.labels));
}

TEST(PhantomXray, SegmentationTaskTargetsTheLungFields) {
  phantom_testing::expect_segmentation_task<PhantomXray>("phantom-xray", {"background", "lung"}, "x-ray");
}

// ---- Anatomy -------------------------------------------------------------------

TEST(PhantomXray, LungFieldsDarkBesideABrightSpineAndHeart) {
  const auto [x, y] = phantom_testing::pixel_coordinates(64);
  for (int i = 0; i < 24; ++i) {
    const Rendered r = render(XrayFinding::Normal, i);
    ASSERT_EQ(r.image.sizes(), (std::vector<std::int64_t>{1, 64, 64}));
    auto img = r.image[0].to(torch::kFloat64);
    auto lungs = r.lungs[0] > 0.5;
    // Two fields, one each side of the spine (the patient's midline), neither tiny nor
    // the whole image.
    const double c = std::cos(r.layout.pose.angle), s = std::sin(r.layout.pose.angle);
    auto across = (x - r.layout.pose.x) * c + (y - r.layout.pose.y) * s;  // the patient's x, scaled
    const double right = (lungs & (across < 0)).sum().item<double>() / (64.0 * 64.0);
    const double left = (lungs & (across > 0)).sum().item<double>() / (64.0 * 64.0);
    EXPECT_GT(right, 0.06) << "image " << i;
    EXPECT_GT(left, 0.05) << "image " << i;
    EXPECT_LT(right + left, 0.5) << "image " << i;
    EXPECT_EQ((lungs & (across.abs() < 0.06)).sum().item<std::int64_t>(), 0) << "image " << i;
    // The lung mask leaves out the heart; the heart lies on the patient's left (the
    // image's right), over the midline.
    EXPECT_EQ((lungs & r.layout.heart).sum().item<std::int64_t>(), 0);
    EXPECT_GT(mean_where(across, r.layout.heart), 0.02) << "image " << i;
    // Air is dark, tissue and bone bright: lungs darker than the heart shadow and the
    // spine above it; the air above the shoulders darkest of all.
    const double lung_mean = mean_where(img, lungs);
    EXPECT_LT(lung_mean + 0.15, mean_where(img, r.layout.heart & ~lungs)) << "image " << i;
    EXPECT_LT(lung_mean + 0.15, mean_where(img, r.layout.spine)) << "image " << i;
    auto corners = ((x.abs() > 0.8) & (y < -0.85)).to(torch::kBool);
    EXPECT_LT(mean_where(img, corners), lung_mean) << "image " << i;
  }
}

// Aeration scales the air in the fields and nothing else: the same anatomy and mask (the
// same draws), the fields' darkness against the heart shadow shrinking with it.
TEST(PhantomXray, AerationSetsTheLungFieldsContrastOnTheSameAnatomy) {
  for (int i = 0; i < 8; ++i) {
    const Rendered full = render(XrayFinding::Normal, i);
    const Rendered faint = render(XrayFinding::Normal, i, 1.0, 1.0, 64, 0.3);
    ASSERT_TRUE(torch::equal(full.lungs, faint.lungs)) << "image " << i;
    const auto lungs = full.lungs[0] > 0.5, heart = full.layout.heart & ~lungs;
    const auto contrast = [&](const Rendered& r) {
      return mean_where(r.image[0], heart) - mean_where(r.image[0], lungs);
    };
    EXPECT_GT(contrast(faint), 0.0) << "image " << i;
    EXPECT_LT(contrast(faint), 0.6 * contrast(full)) << "image " << i;
  }
}

// Where the lungs are, image after image: at zoom 1 most pixels are lung in almost every
// image or in almost none (the chest's fixed layout); a close view takes that away while
// every image still shows some lung.
TEST(PhantomXray, ZoomTakesAwayTheFixedLayout) {
  const auto stable_share = [](double zoom) {
    const auto d = load_xray({{"count", Value(96)}, {"image_size", Value(32)}, {"zoom", Value(zoom)}});
    const auto lungs = d.masks.to(torch::kFloat64);
    EXPECT_GT((lungs.sum({1, 2, 3}) > 0).to(torch::kFloat64).mean().item<double>(), 0.95) << "zoom " << zoom;
    const auto frequency = lungs.mean(0);
    const double share = ((frequency >= 0.9) | (frequency <= 0.1)).to(torch::kFloat64).mean().item<double>();
    std::cout << "[phantom-xray] zoom " << zoom << ": pixels lung in >= 90% or <= 10% of the images: " << share << "\n";
    return share;
  };
  EXPECT_GT(stable_share(1.0), 0.6);
  EXPECT_LT(stable_share(2.0), 0.2);
}

TEST(PhantomXray, OpacitiesOnlyWithPneumoniaAndInsideTheLungs) {
  for (int i = 0; i < 12; ++i) {
    EXPECT_EQ(render(XrayFinding::Normal, i).layout.opacity.abs().max().item<float>(), 0.0f);
    for (XrayFinding f : {XrayFinding::BacterialPneumonia, XrayFinding::ViralPneumonia}) {
      const Rendered r = render(f, i);
      auto opacity = r.layout.opacity.to(torch::kFloat64);
      const double total = opacity.sum().item<double>();
      ASSERT_GT(total, 0.0) << "image " << i;
      EXPECT_GT(r.layout.patches, 0);
      // Opacities stop at the border of the lung fields.
      const double outside = (opacity * (1 - r.lungs[0].to(torch::kFloat64))).abs().sum().item<double>();
      EXPECT_EQ(outside, 0.0) << "image " << i;
    }
  }
}

TEST(PhantomXray, LesionScaleAndOpacityScaleTheOpacities) {
  double area_small = 0, area_large = 0, density_low = 0, density_high = 0;
  for (int i = 0; i < 12; ++i) {
    const Rendered sick = render(XrayFinding::BacterialPneumonia, i, 1.0, 1.0);
    area_small += (render(XrayFinding::BacterialPneumonia, i, 0.6).layout.opacity > 0.05).sum().item<double>();
    area_large += (render(XrayFinding::BacterialPneumonia, i, 1.5).layout.opacity > 0.05).sum().item<double>();
    density_low += render(XrayFinding::ViralPneumonia, i, 1.0, 0.5).layout.opacity.sum().item<double>();
    density_high += render(XrayFinding::ViralPneumonia, i, 1.0, 1.5).layout.opacity.sum().item<double>();
    EXPECT_GT(sick.layout.opacity.max().item<double>(), 0.2) << "image " << i;
  }
  EXPECT_LT(area_small, area_large);
  EXPECT_LT(density_low, density_high);
}

TEST(PhantomXray, HandMadeFeatureSeparatesPneumonia) {
  const auto& d = xray_default_set();
  const double auc = roc_auc(patchiness(d.images, d.masks), d.labels == 1);
  std::cout << "lung patchiness AUC (pneumonia vs normal, 64 px): " << auc << "\n";
  EXPECT_GT(auc, 0.8);
}

TEST(PhantomXray, RendersAtEveryAllowedSize) {
  for (std::int64_t size : {16, 33, 128}) {
    const auto d = load_xray({{"count", Value(4)}, {"image_size", Value(size)}, {"balance", Value(1.0)}}, 1);
    ASSERT_EQ(d.images.sizes(), (std::vector<std::int64_t>{4, 1, size, size}));
    EXPECT_GE(d.images.min().item<float>(), 0.0f);
    EXPECT_LE(d.images.max().item<float>(), 1.0f);
    EXPECT_TRUE((d.masks.view({4, -1}).sum(1) > 0).all().item<bool>()) << size;
  }
}

}  // namespace

