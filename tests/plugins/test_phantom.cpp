// Tests of the phantom data sets (plugins/datasets/phantom). Plugins are MODULE
// libraries with hidden symbols, so this test compiles the plugin's sources (all but
// phantom.cpp, which holds the entry symbol) and uses its classes directly.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "fundus_phantom.h"
#include "medadv/error.h"
#include "medadv/params.h"
#include "medadv/testing.h"
#include "medadv/torch_compat.h"
#include "phantom_fundus.h"
#include "phantom_testing.h"

namespace {

using medadv::Value;
using medadv::plugins::phantom::FundusLayout;
using medadv::plugins::phantom::FundusSpec;
using medadv::plugins::phantom::kFundusFovRadius;
using medadv::plugins::phantom::PhantomFundus;
using phantom_testing::roc_auc;

medadv::ParamSchema fundus_schema() {
  medadv::ParamSchema s;
  PhantomFundus::schema(s);
  return s;
}

medadv::Params fundus_params(Value::Table table = {}) {
  return fundus_schema().resolve_or_throw(Value(std::move(table)), "phantom-fundus");
}

medadv::DatasetContents load_fundus(Value::Table table, std::uint64_t seed = 0) {
  medadv::testing::TestContext ctx(seed);
  PhantomFundus dataset(fundus_params(std::move(table)), ctx);
  return medadv::testing::read_all(dataset.open(ctx));
}

// The default data set (600 images, 64 px, binary), generated once for several tests.
const medadv::DatasetContents& default_set() {
  static const medadv::DatasetContents contents = load_fundus({});
  return contents;
}

// Distance of each pixel centre from the image centre, normalised like the generator's
// coordinates (the image spans [-1, 1]). [S,S]
torch::Tensor radius_map(std::int64_t size) {
  auto c = (torch::arange(size, torch::kFloat64) + 0.5 - 0.5 * static_cast<double>(size)) * (2.0 / static_cast<double>(size));
  return torch::sqrt(c.view({-1, 1}).pow(2) + c.view({1, -1}).pow(2));
}

// A hand-made lesion detector: the number of green-channel pixels darker (or brighter)
// by more than 0.04 than all 8 pixels at distance 2 around them, inside the field of
// view. Lines (vessels) do not respond, round spots (microaneurysms, haemorrhages,
// exudates) do. [N]
torch::Tensor spot_count(const torch::Tensor& images) {
  const auto N = images.size(0), S = images.size(2);
  auto g = images.select(1, 1);
  auto padded = torch::constant_pad_nd(g, {2, 2, 2, 2}, 0);
  std::vector<torch::Tensor> ring;
  for (int dy = -2; dy <= 2; dy += 2)
    for (int dx = -2; dx <= 2; dx += 2)
      if (dx != 0 || dy != 0) ring.push_back(padded.slice(1, 2 + dy, 2 + dy + S).slice(2, 2 + dx, 2 + dx + S));
  auto around = torch::stack(ring);
  auto lowest = std::get<0>(around.min(0)), highest = std::get<0>(around.max(0));
  auto inner = (radius_map(S) < kFundusFovRadius - 6.0 / static_cast<double>(S)).to(torch::kFloat32);
  auto spots = ((lowest - g) > 0.04).to(torch::kFloat32) + ((g - highest) > 0.04).to(torch::kFloat32);
  return (spots * inner).view({N, -1}).sum(1);
}

// ---- Parameters ----------------------------------------------------------------

TEST(PhantomFundus, DeclaresEveryParameterTypedDefaultedDocumented) {
  const auto schema = fundus_schema();
  const std::vector<std::string> keys = {"image_size", "count", "classes", "noise", "balance", "lesion_scale"};
  ASSERT_EQ(schema.specs().size(), keys.size());
  for (const auto& key : keys) {
    const auto* spec = schema.find(key);
    ASSERT_NE(spec, nullptr) << key;
    EXPECT_FALSE(spec->doc().empty()) << key;
    EXPECT_FALSE(spec->is_required()) << key;
    EXPECT_TRUE(spec->lower().has_value()) << key;
  }
  const auto p = fundus_params();
  EXPECT_EQ(p.get_int("image_size"), 64);
  EXPECT_EQ(p.get_int("count"), 600);
  EXPECT_EQ(p.get_int("classes"), 2);
  EXPECT_DOUBLE_EQ(p.get_float("noise"), 0.02);
  EXPECT_DOUBLE_EQ(p.get_float("balance"), 0.5);
  EXPECT_DOUBLE_EQ(p.get_float("lesion_scale"), 1.0);
}

TEST(PhantomFundus, RangeChecksParameters) {
  const std::vector<std::pair<std::string, Value>> bad = {
      {"image_size", Value(8)},  {"image_size", Value(2048)}, {"count", Value(1)},
      {"classes", Value(1)},     {"classes", Value(6)},       {"noise", Value(-0.1)},
      {"noise", Value(0.6)},     {"balance", Value(1.5)},     {"balance", Value(-0.5)},
      {"lesion_scale", Value(0.0)}, {"lesion_scale", Value(4.5)}, {"image_size", Value("big")}};
  for (const auto& [key, value] : bad) {
    EXPECT_THROW(fundus_params({{key, value}}), medadv::ValidationError) << key << " = " << value.to_string();
  }
  EXPECT_NO_THROW(fundus_params({{"image_size", Value(16)}, {"lesion_scale", Value(4.0)}, {"noise", Value(0.0)}}));
}

TEST(PhantomFundus, RejectsThreeAndFourClassesNamingTheKey) {
  medadv::testing::TestContext ctx;
  for (int classes : {3, 4}) {
    try {
      PhantomFundus dataset(fundus_params({{"classes", Value(classes)}}), ctx);
      FAIL() << "classes = " << classes << " accepted";
    } catch (const medadv::InvalidInput& e) {
      EXPECT_NE(std::string(e.what()).find("classes"), std::string::npos) << e.what();
    }
  }
  EXPECT_NO_THROW(PhantomFundus(fundus_params({{"classes", Value(2)}}), ctx));
  EXPECT_NO_THROW(PhantomFundus(fundus_params({{"classes", Value(5)}}), ctx));
}

// ---- Contents ------------------------------------------------------------------

TEST(PhantomFundus, ShapesTypesRangeAndMetadata) {
  const auto& d = default_set();
  ASSERT_EQ(d.images.sizes(), (std::vector<std::int64_t>{600, 3, 64, 64}));
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
  EXPECT_EQ(d.meta.class_names, (std::vector<std::string>{"no DR", "DR"}));
  EXPECT_EQ(d.meta.modality, "fundus");
  EXPECT_TRUE(d.predefined_splits.empty());
}

TEST(PhantomFundus, SameSeedSameDataDifferentSeedDifferentData) {
  const Value::Table table = {{"count", Value(12)}, {"classes", Value(5)}};
  const auto a = load_fundus(table, 11), b = load_fundus(table, 11), c = load_fundus(table, 12);
  EXPECT_TRUE(torch::equal(a.images, b.images));
  EXPECT_TRUE(torch::equal(a.labels, b.labels));
  EXPECT_TRUE(torch::equal(a.masks, b.masks));
  EXPECT_FALSE(torch::equal(a.images, c.images));
  // Every image differs, not just some.
  auto per_image = (a.images - c.images).abs().view({12, -1}).amax(1);
  EXPECT_TRUE((per_image > 0.05).all().item<bool>());
}

TEST(PhantomFundus, ImageIDoesNotDependOnCount) {
  const auto small = load_fundus({{"count", Value(10)}}, 5);
  const auto large = load_fundus({{"count", Value(20)}}, 5);
  EXPECT_TRUE(torch::equal(small.images, large.images.slice(0, 0, 10)));
  EXPECT_TRUE(torch::equal(small.labels, large.labels.slice(0, 0, 10)));
  EXPECT_TRUE(torch::equal(small.masks, large.masks.slice(0, 0, 10)));
}

TEST(PhantomFundus, AnySubsetReadsWhatTheWholeSetHolds) {
  // The source draws image i when it is read: which images are read with it, and in what
  // order, change nothing; opening draws only the labels.
  medadv::testing::TestContext ctx(5);
  PhantomFundus dataset(fundus_params({{"count", Value(20)}}), ctx);
  const auto source = dataset.open(ctx);
  const auto whole = medadv::testing::read_all(source);
  const auto rows = torch::tensor({17, 3, 3, 0});
  const auto some = medadv::SampleSet(source, rows).all(torch::kCPU);
  EXPECT_TRUE(torch::equal(some.images, whole.images.index_select(0, rows)));
  EXPECT_TRUE(torch::equal(some.masks, whole.masks.index_select(0, rows)));
  EXPECT_TRUE(torch::equal(some.labels, whole.labels.index_select(0, rows)));
  EXPECT_EQ(source->stored_dtype(), torch::kFloat);
  EXPECT_THROW(source->read(torch::tensor({20})), medadv::InvalidInput);
}

TEST(PhantomFundus, AMillionImagesOpenWithoutTheirMemory) {
  // Opening draws 10^6 labels (8 MB) and no image: 12 TB of float pixels cost nothing.
  medadv::testing::TestContext ctx(1);
  PhantomFundus dataset(fundus_params({{"count", Value(1000000)}, {"image_size", Value(1024)}}), ctx);
  const auto source = dataset.open(ctx);
  EXPECT_EQ(source->size(), 1000000);
  const auto last = medadv::SampleSet(source, torch::tensor({999999})).all(torch::kCPU);
  EXPECT_EQ(last.images.sizes(), (std::vector<std::int64_t>{1, 3, 1024, 1024}));
}

TEST(PhantomFundus, SameDataWhateverTheThreadCount) {
  // 65 images: a chunk of 64 spread over threads, then one image rendered alone, whose
  // operations may run multi-threaded themselves.
  const int before = at::get_num_threads();
  medadv::DatasetContents one, two;
  try {
    at::set_num_threads(1);
    one = load_fundus({{"count", Value(65)}}, 8);
    at::set_num_threads(std::max(2, before));
    two = load_fundus({{"count", Value(65)}}, 8);
    at::set_num_threads(before);
  } catch (const c10::Error& e) {  // a LibTorch that fixes its thread count once
    GTEST_SKIP() << e.what();
  }
  EXPECT_TRUE(torch::equal(one.images, two.images));
  EXPECT_TRUE(torch::equal(one.masks, two.masks));
  EXPECT_TRUE(torch::equal(one.labels, two.labels));
}

TEST(PhantomFundus, BlackOutsideTheCircularFieldOfView) {
  const auto& d = default_set();
  const auto r = radius_map(64);
  const double pixel = 2.0 / 64;
  auto outside = (r > kFundusFovRadius + pixel).to(torch::kFloat32);
  auto inside = (r < kFundusFovRadius - pixel).to(torch::kFloat32);
  ASSERT_GT(outside.sum().item<double>(), 100);  // the four corners
  EXPECT_EQ((d.images * outside).abs().max().item<float>(), 0.0f);
  EXPECT_EQ((d.masks * outside).abs().max().item<float>(), 0.0f);
  // Inside, a lit fundus: no image is dark.
  auto inside_mean = (d.images * inside).sum({1, 2, 3}) / (3 * inside.sum());
  EXPECT_GT(inside_mean.min().item<double>(), 0.1);
  // Reddish-orange: red above green above blue, on average inside the field of view.
  auto channel_mean = (d.images * inside).sum({0, 2, 3}) / (600 * inside.sum());
  EXPECT_GT(channel_mean[0].item<double>(), channel_mean[1].item<double>());
  EXPECT_GT(channel_mean[1].item<double>(), channel_mean[2].item<double>());
}

TEST(PhantomFundus, LabelBalanceFollowsTheParameter) {
  const double fraction = default_set().labels.to(torch::kFloat64).mean().item<double>();
  EXPECT_NEAR(fraction, 0.5, 0.06);
  const auto skewed = load_fundus({{"count", Value(400)}, {"balance", Value(0.2)}}, 2);
  EXPECT_NEAR(skewed.labels.to(torch::kFloat64).mean().item<double>(), 0.2, 0.06);
  const auto healthy = load_fundus({{"count", Value(20)}, {"balance", Value(0.0)}}, 2);
  EXPECT_EQ(healthy.labels.sum().item<std::int64_t>(), 0);
  const auto diseased = load_fundus({{"count", Value(20)}, {"balance", Value(1.0)}}, 2);
  EXPECT_EQ(diseased.labels.sum().item<std::int64_t>(), 20);
}

TEST(PhantomFundus, MasksEmptyExactlyForHealthyImages) {
  const auto& d = default_set();
  auto area = d.masks.view({600, -1}).sum(1);
  auto healthy = d.labels == 0;
  EXPECT_TRUE((area.masked_select(healthy) == 0).all().item<bool>());
  EXPECT_TRUE((area.masked_select(~healthy) > 0).all().item<bool>());
}

TEST(PhantomFundus, FiveClassesCoverEveryGradeAndMatchTheBinaryLabels) {
  const auto five = load_fundus({{"count", Value(200)}, {"classes", Value(5)}}, 9);
  const auto two = load_fundus({{"count", Value(200)}, {"classes", Value(2)}}, 9);
  EXPECT_EQ(five.meta.class_names,
            (std::vector<std::string>{"none", "mild", "moderate", "severe", "proliferative"}));
  EXPECT_GE(five.labels.min().item<std::int64_t>(), 0);
  EXPECT_LE(five.labels.max().item<std::int64_t>(), 4);
  for (std::int64_t grade = 0; grade <= 4; ++grade) {
    EXPECT_GE((five.labels == grade).sum().item<std::int64_t>(), 10) << "grade " << grade;
  }
  // The same images; the binary label is grade >= 1.
  EXPECT_TRUE(torch::equal(five.images, two.images));
  EXPECT_TRUE(torch::equal((five.labels > 0).to(torch::kInt64), two.labels));
}

TEST(PhantomFundus, LesionBurdenGrowsWithGradeAndLesionScale) {
  const auto d = load_fundus({{"count", Value(300)}, {"classes", Value(5)}}, 4);
  auto area = d.masks.view({300, -1}).sum(1).to(torch::kFloat64);
  std::vector<double> mean(5);
  for (std::int64_t g = 0; g <= 4; ++g) mean[g] = area.masked_select(d.labels == g).mean().item<double>();
  EXPECT_EQ(mean[0], 0.0);
  EXPECT_LT(mean[1], mean[2]);
  EXPECT_LT(mean[2], mean[3]);
  EXPECT_LT(mean[2], mean[4]);

  auto lesion_area = [](double scale) {
    const auto s = load_fundus({{"count", Value(60)}, {"balance", Value(1.0)}, {"lesion_scale", Value(scale)}}, 4);
    return s.masks.sum().item<double>();
  };
  EXPECT_LT(lesion_area(0.5), lesion_area(1.0));
  EXPECT_LT(lesion_area(1.0), lesion_area(2.0));
}

TEST(PhantomFundus, OpticDiscBrightMaculaDarkWhereTheLayoutSays) {
  int left = 0, right = 0;
  for (int i = 0; i < 24; ++i) {
    auto gen = medadv::compat::cpu_generator(medadv::derive_seed(77, "disc/" + std::to_string(i)));
    FundusSpec spec;
    spec.image_size = 64;
    FundusLayout layout;
    torch::Tensor mask;
    const auto img = medadv::plugins::phantom::render_fundus(spec, gen, &mask, &layout);
    ASSERT_EQ(img.sizes(), (std::vector<std::int64_t>{3, 64, 64}));
    EXPECT_EQ(mask.sum().item<float>(), 0.0f);  // grade 0
    // Disc diameter about 1/8 of the image's; the fovea 2.5 disc diameters away on
    // the disc's horizontal line.
    EXPECT_NEAR(2 * layout.disc_radius, 2.0 / 8, 0.03);
    EXPECT_NEAR(std::abs(layout.macula_x - layout.disc_x), 2.5 * 2 * layout.disc_radius, 1e-9);
    EXPECT_NEAR(layout.macula_y, layout.disc_y, 1e-9);
    (layout.disc_x > 0 ? right : left)++;

    auto c = (torch::arange(64, torch::kFloat64) + 0.5 - 32) / 32;
    auto x = c.view({1, -1}).expand({64, 64}), y = c.view({-1, 1}).expand({64, 64});
    auto from = [&](double cx, double cy) { return torch::sqrt((x - cx).pow(2) + (y - cy).pow(2)); };
    auto intensity = img.mean(0).to(torch::kFloat64);
    auto mean_where = [&](const torch::Tensor& region) {
      return (intensity * region).sum().item<double>() / region.sum().item<double>();
    };
    auto disc = (from(layout.disc_x, layout.disc_y) < 0.6 * layout.disc_radius).to(torch::kFloat64);
    auto fovea = (from(layout.macula_x, layout.macula_y) < 0.5 * layout.disc_radius).to(torch::kFloat64);
    auto background = ((from(0, 0) < 0.75) & (from(layout.disc_x, layout.disc_y) > 2 * layout.disc_radius) &
                       (from(layout.macula_x, layout.macula_y) > 2 * layout.disc_radius))
                          .to(torch::kFloat64);
    const double disc_mean = mean_where(disc), fovea_mean = mean_where(fovea), bg_mean = mean_where(background);
    EXPECT_GT(disc_mean, bg_mean + 0.1) << "image " << i;
    EXPECT_LT(fovea_mean, bg_mean) << "image " << i;
  }
  EXPECT_GT(left, 0);
  EXPECT_GT(right, 0);
}

TEST(PhantomFundus, HandMadeFeatureSeparatesDiabeticRetinopathy) {
  // The task is learnable at 64 px: counting round spots already separates DR from
  // no DR.
  const auto d = load_fundus({{"count", Value(400)}}, 3);
  const double auc = roc_auc(spot_count(d.images), d.labels == 1);
  EXPECT_GT(auc, 0.8);
  std::cout << "spot-count AUC (DR vs no DR, 64 px): " << auc << "\n";
}

TEST(PhantomFundus, RendersAtEveryAllowedSize) {
  for (std::int64_t size : {16, 33, 128}) {
    const auto d = load_fundus({{"count", Value(4)}, {"image_size", Value(size)}, {"balance", Value(1.0)},
                                {"lesion_scale", Value(0.1)}},
                               1);
    ASSERT_EQ(d.images.sizes(), (std::vector<std::int64_t>{4, 3, size, size}));
    EXPECT_GE(d.images.min().item<float>(), 0.0f);
    EXPECT_LE(d.images.max().item<float>(), 1.0f);
    // Even sub-pixel lesions mark at least one pixel.
    EXPECT_TRUE((d.masks.view({4, -1}).sum(1) > 0).all().item<bool>()) << size;
  }
}

}  // namespace
