// The dataset contract's SDK side: the one stored-to-float conversion, the in-memory
// source's checks, and sample sets reading the items they name.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "medadv/dataset.h"
#include "medadv/error.h"
#include "medadv/testing.h"
#include "support/test_support.h"

namespace {

medadv::DatasetContents numbered(std::int64_t n) {
  medadv::DatasetContents d;
  // Item i holds the value i everywhere: a read shows which items it returned.
  d.images = torch::arange(n, torch::kFloat).div(255.0).view({n, 1, 1, 1}).expand({n, 1, 2, 2}).contiguous();
  d.labels = torch::arange(n) % 3;
  return d;
}

}  // namespace

TEST(Dataset, StoredPixelsBecomeFloatByTheirRange) {
  const auto u8 = torch::tensor({0, 1, 128, 255}, torch::kUInt8);
  EXPECT_TRUE(torch::equal(medadv::stored_to_float(u8, torch::kCPU),
                           torch::tensor({0.0F, 1.0F / 255.0F, 128.0F / 255.0F, 1.0F})));
  // uint16 pixels travel as their bits in int16: 65535 is -1.
  const auto u16 = torch::tensor({0, 32768 - 65536, -1}, torch::kInt16);
  const auto f16 = medadv::stored_to_float(u16, torch::kCPU);
  EXPECT_FLOAT_EQ(f16[0].item<float>(), 0.0F);
  EXPECT_FLOAT_EQ(f16[1].item<float>(), 32768.0F / 65535.0F);
  EXPECT_FLOAT_EQ(f16[2].item<float>(), 1.0F);
  const auto f = torch::rand({3});
  EXPECT_TRUE(torch::equal(medadv::stored_to_float(f, torch::kCPU), f));
  EXPECT_TRUE(contains(invalid_input_of([] { medadv::stored_to_float(torch::zeros({2}, torch::kDouble), torch::kCPU); }),
                       "uint8, int16 (uint16 pixels) or float32"));
}

TEST(Dataset, TensorSourceRefusesWhatDoesNotFit) {
  auto short_labels = numbered(4);
  short_labels.labels = torch::zeros({3}, torch::kLong);
  EXPECT_TRUE(contains(invalid_input_of([&] { medadv::tensor_source(short_labels); }), "needs labels [4]"));
  auto flat = numbered(4);
  flat.images = torch::zeros({4, 4});
  EXPECT_TRUE(contains(invalid_input_of([&] { medadv::tensor_source(flat); }), "must be [N,C,H,W]"));
  auto segmentation = numbered(4);
  segmentation.meta.task = medadv::Task::Segmentation;
  EXPECT_TRUE(contains(invalid_input_of([&] { medadv::tensor_source(segmentation); }), "needs masks"));
  segmentation.masks = torch::zeros({4, 1, 3, 3});
  EXPECT_TRUE(contains(invalid_input_of([&] { medadv::tensor_source(segmentation); }), "masks must be [N,1,H,W]"));
}

TEST(Dataset, SampleSetsReadTheItemsTheyName) {
  const auto source = medadv::tensor_source(numbered(10));
  EXPECT_EQ(medadv::stored_bytes_per_item(*source), 4 * 4);
  const medadv::SampleSet split(source, torch::tensor({7, 2, 5, 9}));
  EXPECT_EQ(split.size(), 4);
  EXPECT_TRUE(torch::equal(split.labels(), torch::tensor({1, 2, 2, 0})));
  const auto values = [](const medadv::Batch& b) { return b.images.flatten(1).select(1, 0).mul(255.0).round(); };
  EXPECT_TRUE(torch::equal(values(split.slice(1, 3, torch::kCPU)), torch::tensor({2.0F, 5.0F})));
  // Gathering repeats and reorders, labels along.
  const auto gathered = split.gather(torch::tensor({3, 0, 0}), torch::kCPU);
  EXPECT_TRUE(torch::equal(values(gathered), torch::tensor({9.0F, 7.0F, 7.0F})));
  EXPECT_TRUE(torch::equal(gathered.labels, torch::tensor({0, 1, 1})));
  const auto sub = split.subset(torch::tensor({1, 3}));
  EXPECT_TRUE(torch::equal(sub.indices(), torch::tensor({2, 9})));
  EXPECT_EQ(split.all(torch::kCPU).size(), 4);
}
