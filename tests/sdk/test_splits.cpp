// Splits: the plan read from `[dataset] splits`, exact sizes, disjointness, per-class
// stratification, determinism, predefined splits, refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "medadv/splits.h"

namespace {

using medadv::SplitPlan;
using medadv::Value;

Value splits_table(Value::Table entries) { return Value(std::move(entries)); }

SplitPlan split_plan_of(Value::Table entries) { return medadv::split_plan_from(splits_table(std::move(entries)), "dataset.splits"); }

std::string refusal(Value::Table entries) {
  try {
    split_plan_of(std::move(entries));
  } catch (const medadv::ValidationError& e) {
    return e.what();
  }
  return "";
}

medadv::DatasetContents classification(const std::vector<std::int64_t>& class_sizes) {
  std::vector<std::int64_t> labels;
  for (std::size_t c = 0; c < class_sizes.size(); ++c)
    for (std::int64_t i = 0; i < class_sizes[c]; ++i) labels.push_back(static_cast<std::int64_t>(c));
  // Interleave the classes so that the index order says nothing about the class.
  const auto n = static_cast<std::int64_t>(labels.size());
  auto label_tensor = torch::tensor(labels, torch::kInt64);
  auto order = torch::arange(n).mul(7919).remainder(n);  // a permutation when gcd(7919, n) = 1
  medadv::DatasetContents d;
  d.images = torch::zeros({n, 1, 2, 2});
  d.labels = label_tensor.index_select(0, order);
  d.meta.task = medadv::Task::Classification;
  return d;
}

// The splits of a data set held in memory, as a source serves them.
std::map<std::string, torch::Tensor> splits_of(const medadv::DatasetContents& d, const SplitPlan& plan,
                                               std::uint64_t seed) {
  return medadv::make_splits(*medadv::tensor_source(d), plan, seed);
}

std::vector<std::int64_t> split_values(const torch::Tensor& t) {
  const auto c = t.contiguous();
  return std::vector<std::int64_t>(c.data_ptr<std::int64_t>(), c.data_ptr<std::int64_t>() + c.numel());
}

const std::vector<std::string> kDisjoint = {"train", "val", "adv_train", "adv_test"};

}  // namespace

TEST(SplitPlan, DefaultsAreTheHfcProtocol) {
  std::vector<medadv::Diagnostic> out;
  const auto plan = medadv::resolve_split_plan(nullptr, "dataset.splits", out);
  EXPECT_TRUE(out.empty());
  EXPECT_DOUBLE_EQ(plan.train, 0.72);
  EXPECT_DOUBLE_EQ(plan.val, 0.08);
  EXPECT_DOUBLE_EQ(plan.adv_train, 0.14);
  EXPECT_DOUBLE_EQ(plan.adv_test, 0.06);
  EXPECT_DOUBLE_EQ(plan.test(), 0.2);
  // ARCHITECTURE.md's example says the same thing explicitly.
  const auto example = split_plan_of({{"train", 0.8}, {"adv_train", 0.14}, {"adv_test", 0.06}});
  EXPECT_NEAR(example.train, 0.72, 1e-12);
  EXPECT_NEAR(example.val, 0.08, 1e-12);
  EXPECT_NEAR(example.adv_train, 0.14, 1e-12);
  EXPECT_NEAR(example.adv_test, 0.06, 1e-12);
}

TEST(SplitPlan, GivenFractionsAreDisjointSharesOfTheWhole) {
  const auto with_val = split_plan_of({{"train", 0.6}, {"val", 0.2}});  // test: the 0.2 left
  EXPECT_NEAR(with_val.train, 0.6, 1e-12);
  EXPECT_NEAR(with_val.val, 0.2, 1e-12);
  EXPECT_NEAR(with_val.adv_train, 0.14, 1e-12);
  EXPECT_NEAR(with_val.adv_test, 0.06, 1e-12);

  const auto test_only = split_plan_of({{"test", 0.3}});  // train: the 0.7 left, a tenth of it val
  EXPECT_NEAR(test_only.train, 0.63, 1e-12);
  EXPECT_NEAR(test_only.val, 0.07, 1e-12);
  EXPECT_NEAR(test_only.adv_train, 0.21, 1e-12);
  EXPECT_NEAR(test_only.adv_test, 0.09, 1e-12);

  const auto partial = split_plan_of({{"train", 0.5}, {"val", 0}, {"test", 0.2}});  // 0.3 unused
  EXPECT_NEAR(partial.train, 0.5, 1e-12);
  EXPECT_EQ(partial.val, 0.0);
  EXPECT_NEAR(partial.test(), 0.2, 1e-12);

  // The resolved form reads back as the same plan.
  const auto again = medadv::split_plan_from(test_only.to_value());
  EXPECT_DOUBLE_EQ(again.train, test_only.train);
  EXPECT_DOUBLE_EQ(again.val, test_only.val);
  EXPECT_DOUBLE_EQ(again.adv_train, test_only.adv_train);
  EXPECT_DOUBLE_EQ(again.adv_test, test_only.adv_test);
}

TEST(SplitPlan, BadFractionsAreRefusedNamingTheKey) {
  auto expect_refused = [](Value::Table entries, const std::string& key, const std::string& words) {
    const auto message = refusal(std::move(entries));
    EXPECT_NE(message.find("key '" + key + "'"), std::string::npos) << message;
    EXPECT_NE(message.find(words), std::string::npos) << message;
  };
  expect_refused({{"train", 1.2}}, "dataset.splits.train", "out of range");
  expect_refused({{"train", 0}}, "dataset.splits.train", "out of range");
  expect_refused({{"val", -0.1}}, "dataset.splits.val", "out of range");
  expect_refused({{"trian", 0.8}}, "dataset.splits.trian", "did you mean 'train'");
  expect_refused({{"train", "most"}}, "dataset.splits.train", "expected a number");
  expect_refused({{"adv_train", 0.1}}, "dataset.splits.adv_train", "together");
  expect_refused({{"test", 0.3}, {"adv_train", 0.1}, {"adv_test", 0.1}}, "dataset.splits.test", "their sum");
  expect_refused({{"train", 0.8}, {"val", 0.1}, {"adv_train", 0.14}, {"adv_test", 0.06}}, "dataset.splits",
                 "more than all of it");
  expect_refused({{"train", 0.9}, {"val", 0.1}}, "dataset.splits.train", "nothing for test");
  const auto not_table = [] {
    try {
      medadv::split_plan_from(Value(0.8), "dataset.splits");
    } catch (const medadv::ValidationError& e) {
      return std::string(e.what());
    }
    return std::string();
  }();
  EXPECT_NE(not_table.find("expected a table"), std::string::npos) << not_table;
}

TEST(Splits, SizesAreExactForHandCases) {
  // 100 samples, default plan: 72 / 8 / 14 / 6, test 20.
  auto splits = splits_of(classification({50, 50}), SplitPlan{}, 1);
  EXPECT_EQ(splits.at("train").numel(), 72);
  EXPECT_EQ(splits.at("val").numel(), 8);
  EXPECT_EQ(splits.at("adv_train").numel(), 14);
  EXPECT_EQ(splits.at("adv_test").numel(), 6);
  EXPECT_EQ(splits.at("test").numel(), 20);
  // 10 samples: 7.2 0.8 1.4 0.6 -> floors 7 0 1 0, the two largest remainders (0.8, 0.6)
  // get the two samples left: 7 1 1 1.
  splits = splits_of(classification({5, 5}), SplitPlan{}, 1);
  EXPECT_EQ(splits.at("train").numel(), 7);
  EXPECT_EQ(splits.at("val").numel(), 1);
  EXPECT_EQ(splits.at("adv_train").numel(), 1);
  EXPECT_EQ(splits.at("adv_test").numel(), 1);
  // A plan that leaves a share unused: 0.5 / 0 / 0.1 / 0.1 of 30 -> 15 / 0 / 3 / 3.
  SplitPlan partial;
  partial.train = 0.5;
  partial.val = 0.0;
  partial.adv_train = 0.1;
  partial.adv_test = 0.1;
  splits = splits_of(classification({10, 20}), partial, 4);
  EXPECT_EQ(splits.at("train").numel(), 15);
  EXPECT_EQ(splits.at("val").numel(), 0);
  EXPECT_EQ(splits.at("adv_train").numel(), 3);
  EXPECT_EQ(splits.at("adv_test").numel(), 3);
}

TEST(Splits, DisjointSortedAndCoveringEverything) {
  const auto data = classification({37, 23, 41});
  const auto splits = splits_of(data, SplitPlan{}, 9);
  std::set<std::int64_t> seen;
  std::int64_t total = 0;
  for (const auto& name : kDisjoint) {
    const auto v = split_values(splits.at(name));
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end())) << name;
    seen.insert(v.begin(), v.end());
    total += static_cast<std::int64_t>(v.size());
  }
  EXPECT_EQ(total, 101);
  EXPECT_EQ(seen.size(), 101u);  // disjoint
  EXPECT_EQ(*seen.begin(), 0);
  EXPECT_EQ(*seen.rbegin(), 100);
  // test is adv_train and adv_test together.
  auto adv = split_values(torch::cat({splits.at("adv_train"), splits.at("adv_test")}));
  std::sort(adv.begin(), adv.end());
  EXPECT_EQ(adv, split_values(splits.at("test")));
}

TEST(Splits, EachClassIsWithinOneSampleOfItsShare) {
  const std::vector<std::int64_t> class_sizes = {50, 30, 17};
  const auto data = classification(class_sizes);
  const std::int64_t n = 97;
  for (std::uint64_t seed : {0u, 1u, 2u}) {
    const auto splits = splits_of(data, SplitPlan{}, seed);
    for (const auto& name : kDisjoint) {
      const auto& idx = splits.at(name);
      const auto labels = data.labels.index_select(0, idx);
      for (std::size_t c = 0; c < class_sizes.size(); ++c) {
        const double ideal = static_cast<double>(class_sizes[c]) * static_cast<double>(idx.numel()) / n;
        const auto count = labels.eq(static_cast<std::int64_t>(c)).sum().item<std::int64_t>();
        EXPECT_LT(std::abs(static_cast<double>(count) - ideal), 1.0)
            << name << " class " << c << " seed " << seed << ": " << count << " vs " << ideal;
      }
    }
  }
}

TEST(Splits, SameSeedSameSplitsOtherSeedOthers) {
  const auto data = classification({60, 40});
  const auto a = splits_of(data, SplitPlan{}, 5);
  const auto b = splits_of(data, SplitPlan{}, 5);
  const auto c = splits_of(data, SplitPlan{}, 6);
  for (const auto& name : kDisjoint) EXPECT_TRUE(torch::equal(a.at(name), b.at(name))) << name;
  EXPECT_FALSE(torch::equal(a.at("train"), c.at("train")));
  EXPECT_EQ(a.at("train").numel(), c.at("train").numel());
}

TEST(Splits, SegmentationDataFormOneStratum) {
  medadv::DatasetContents d;
  d.images = torch::zeros({50, 1, 4, 4});
  d.masks = torch::zeros({50, 1, 4, 4});
  d.meta.task = medadv::Task::Segmentation;
  const auto splits = splits_of(d, SplitPlan{}, 3);
  EXPECT_EQ(splits.at("train").numel(), 36);
  EXPECT_EQ(splits.at("val").numel(), 4);
  EXPECT_EQ(splits.at("adv_train").numel(), 7);
  EXPECT_EQ(splits.at("adv_test").numel(), 3);
}

TEST(Splits, PredefinedSplitsAreKept) {
  auto data = classification({50, 50});
  data.predefined_splits["train"] = torch::arange(0, 60, torch::kInt64);
  data.predefined_splits["val"] = torch::arange(60, 70, torch::kInt64);
  data.predefined_splits["test"] = torch::arange(70, 100, torch::kInt64);
  auto splits = splits_of(data, SplitPlan{}, 2);
  EXPECT_TRUE(torch::equal(splits.at("train"), torch::arange(0, 60, torch::kInt64)));
  EXPECT_TRUE(torch::equal(splits.at("val"), torch::arange(60, 70, torch::kInt64)));
  EXPECT_TRUE(torch::equal(splits.at("test"), torch::arange(70, 100, torch::kInt64)));
  EXPECT_EQ(splits.at("adv_train").numel(), 21);  // 70% of the 30 test samples
  EXPECT_EQ(splits.at("adv_test").numel(), 9);

  // Without a predefined val, the plan's share of train (0.08 / 0.8 = 10%) is carved out.
  data.predefined_splits.erase("val");
  splits = splits_of(data, SplitPlan{}, 2);
  EXPECT_EQ(splits.at("train").numel(), 54);
  EXPECT_EQ(splits.at("val").numel(), 6);
  EXPECT_EQ(splits.at("train").max().item<std::int64_t>() < 60, true);
  EXPECT_EQ(splits.at("val").max().item<std::int64_t>() < 60, true);

  data.predefined_splits["test"] = torch::arange(50, 100, torch::kInt64);  // overlaps train
  EXPECT_THROW(splits_of(data, SplitPlan{}, 2), medadv::InvalidInput);
  data.predefined_splits["test"] = torch::arange(70, 101, torch::kInt64);  // out of range
  EXPECT_THROW(splits_of(data, SplitPlan{}, 2), medadv::InvalidInput);
  data.predefined_splits.erase("test");
  EXPECT_THROW(splits_of(data, SplitPlan{}, 2), medadv::InvalidInput);
}

TEST(Splits, TooFewSamplesForThePlanAreRefused) {
  try {
    splits_of(classification({2, 1}), SplitPlan{}, 0);
    FAIL() << "three samples cannot make four non-empty splits";
  } catch (const medadv::InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("would be empty"), std::string::npos) << e.what();
  }
}

TEST(Splits, StratifiedPartitionOfASubset) {
  // 12 samples at indices 100..111, strata 0 (8 of them) and 1 (4): halves of 6 with
  // 4 + 2 each.
  const auto indices = torch::arange(100, 112, torch::kInt64);
  const auto strata = torch::tensor({0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1}, torch::kInt64);
  const auto parts = medadv::stratified_partition(indices, strata, {0.5, 0.5}, 8);
  ASSERT_EQ(parts.size(), 2u);
  for (const auto& p : parts) {
    EXPECT_EQ(p.numel(), 6);
    EXPECT_EQ(p.ge(108).sum().item<std::int64_t>(), 2);
  }
  EXPECT_EQ(split_values(std::get<0>(torch::cat(parts).sort())), split_values(indices));
}
