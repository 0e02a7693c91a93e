// The host's hold on a dataset plugin's source: items cached after the first read when the
// set fits, a misbehaving source named, and the memory estimate's refusal.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>

#include "engine/held_source.h"
#include "engine/memory_estimate.h"
#include "loader/guard.h"
#include "medadv/error.h"
#include "medadv/splits.h"
#include "support/test_support.h"

namespace {

// Item i is filled with i / 255; counts how many items it was asked for.
class CountingSource : public medadv::DataSource {
 public:
  explicit CountingSource(std::int64_t n, bool wrong_shape = false, bool expensive = true)
      : n_(n), wrong_shape_(wrong_shape), expensive_(expensive) {}
  bool expensive_reads() const override { return expensive_; }
  std::int64_t size() const override { return n_; }
  const medadv::DatasetMeta& meta() const override { return meta_; }
  std::vector<std::int64_t> item_shape() const override { return {1, 2, 2}; }
  torch::ScalarType stored_dtype() const override { return torch::kUInt8; }
  bool has_masks() const override { return false; }
  torch::Tensor labels() const override { return torch::arange(n_) % 2; }
  medadv::StoredItems read(const torch::Tensor& indices) override {
    items_read += indices.numel();
    medadv::StoredItems out;
    const auto side = wrong_shape_ ? 3 : 2;
    out.images = indices.to(torch::kUInt8).view({-1, 1, 1, 1}).expand({indices.numel(), 1, side, side}).contiguous();
    return out;
  }
  std::int64_t items_read = 0;

 private:
  std::int64_t n_;
  bool wrong_shape_;
  bool expensive_;
  medadv::DatasetMeta meta_;
};

}  // namespace

TEST(HeldSource, ItemsAreReadOnceWhenTheSetFits) {
  auto plugin = std::make_shared<CountingSource>(10);
  const auto held = medadv::host::hold_source(plugin, "dataset 'counting'");
  ASSERT_GT(medadv::host::cached_bytes(*held, medadv::host::available_memory_bytes()), 0);
  const auto first = held->read(torch::tensor({3, 1, 3}));
  EXPECT_EQ(plugin->items_read, 2);  // 3 and 1, each once
  const auto again = held->read(torch::tensor({1, 3, 4}));
  EXPECT_EQ(plugin->items_read, 3);  // only 4 is new
  EXPECT_TRUE(torch::equal(again.images.flatten(1).select(1, 0), torch::tensor({1, 3, 4}, torch::kUInt8)));
  EXPECT_TRUE(torch::equal(first.images.flatten(1).select(1, 0), torch::tensor({3, 1, 3}, torch::kUInt8)));
}

TEST(HeldSource, ASourceOfCheapReadsIsNeverCopied) {
  auto plugin = std::make_shared<CountingSource>(10, false, false);
  const auto held = medadv::host::hold_source(plugin, "dataset 'counting'");
  EXPECT_FALSE(held->expensive_reads());
  EXPECT_EQ(medadv::host::cached_bytes(*held, std::int64_t{1} << 40), 0);
  held->read(torch::tensor({3, 1}));
  held->read(torch::tensor({1, 3}));
  EXPECT_EQ(plugin->items_read, 4);  // read from the plugin each time
}

TEST(HeldSource, ABatchOfTheWrongShapeNamesThePlugin) {
  const auto held = medadv::host::hold_source(std::make_shared<CountingSource>(4, true), "dataset 'counting'");
  try {
    held->read(torch::tensor({0, 1}));
    FAIL() << "a 3x3 batch of 2x2 items was accepted";
  } catch (const medadv::host::PluginFailure& e) {
    EXPECT_TRUE(contains(e.what(), "dataset 'counting' read [2, 1, 3, 3] Byte for 2 items of shape [1, 2, 2]")) << e.what();
  }
  EXPECT_TRUE(contains(error_of([&] { held->read(torch::tensor({4})); }), "outside 0..3"));
}

TEST(MemoryEstimate, ARunThatDoesNotFitIsRefusedWithTheKeys) {
  const auto source = medadv::tensor_source([] {
    medadv::DatasetContents d;
    d.images = torch::zeros({100, 3, 8, 8});
    d.labels = torch::arange(100) % 2;
    return d;
  }());
  const auto splits = medadv::make_splits(*source, medadv::SplitPlan{}, 0);
  auto estimate = medadv::host::estimate_memory(*source, splits, 64, false, std::int64_t{1} << 40);
  // adv_train 14 + adv_test 6 labels; their adversarial images in memory as float.
  EXPECT_EQ(estimate.attacked_splits, 20 * 8);
  EXPECT_EQ(estimate.trial_outputs, 20 * 3 * 8 * 8 * 4);
  // A detector takes adv_train's clean and adversarial images at once.
  EXPECT_EQ(medadv::host::estimate_memory(*source, splits, 64, true, std::int64_t{1} << 40).trial_outputs,
            (20 + 2 * 14) * 3 * 8 * 8 * 4);
  EXPECT_EQ(estimate.data_cache, 0);  // tensor_source's items are in memory already
  EXPECT_NO_THROW(medadv::host::require_memory(estimate));
  estimate.available = estimate.total() - 1;
  const std::string message = invalid_input_of([&] { medadv::host::require_memory(estimate); });
  EXPECT_TRUE(contains(message, "the run would not fit in memory: estimated peak memory")) << message;
  EXPECT_TRUE(contains(message, "lower dataset.count or dataset.image_size")) << message;
  estimate.available = 0;  // unknown: no refusal
  EXPECT_NO_THROW(medadv::host::require_memory(estimate));
}
