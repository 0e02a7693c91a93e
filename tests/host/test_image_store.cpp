// Tests of the adversarial image store: the same rows come back whether it holds them in
// memory or in its unnamed file, and the file leaves nothing behind.
#include <gtest/gtest.h>

#include <filesystem>
#include <iterator>

#include <torch/torch.h>

#include "engine/image_store.h"
#include "medadv/error.h"
#include "support/test_support.h"

namespace {

using medadv::host::ImageStore;

class ImageStoreTest : public ScratchTest {};

TEST_F(ImageStoreTest, RowsComeBackAsWrittenInMemoryAndSpilled) {
  torch::manual_seed(0);
  const auto images = torch::rand({23, 3, 5, 7});
  for (const std::int64_t limit : {std::int64_t{1} << 30, std::int64_t{0}}) {
    ImageStore store(23, {3, 5, 7}, dir_, limit);
    EXPECT_EQ(store.spilled(), limit == 0);
    // Batches of 10, 10 and 3, written out of order.
    for (const std::int64_t begin : {10, 0, 20}) store.write(begin, images.slice(0, begin, std::min<std::int64_t>(begin + 10, 23)));
    EXPECT_TRUE(torch::equal(store.read(0, store.size()), images));
    EXPECT_TRUE(torch::equal(store.read(4, 17), images.slice(0, 4, 17)));
    const auto rows = torch::tensor({22, 0, 5, 5});
    EXPECT_TRUE(torch::equal(store.gather(rows), images.index_select(0, rows)));
    EXPECT_EQ(store.gather(torch::empty({0}, torch::kLong)).sizes(), (std::vector<std::int64_t>{0, 3, 5, 7}));
    EXPECT_THROW(store.read(20, 24), medadv::Error);
    EXPECT_THROW(store.write(20, images.slice(0, 0, 4)), medadv::Error);
  }
  // The spilled store's file has no name: the folder is empty while and after it is used.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_), std::filesystem::directory_iterator()), 0);
}

TEST(ImageStoreLimit, KeepsAtMostASixteenthOfTheAvailableMemory) {
  EXPECT_EQ(medadv::host::image_store_memory_bytes(0), std::int64_t{256} << 20);
  EXPECT_EQ(medadv::host::image_store_memory_bytes(std::int64_t{64} << 30), std::int64_t{256} << 20);
  EXPECT_EQ(medadv::host::image_store_memory_bytes(std::int64_t{1} << 30), std::int64_t{64} << 20);
}

}  // namespace
