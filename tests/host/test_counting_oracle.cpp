// The black-box oracle: every row counted against its sample's budget, a query that
// would exceed a budget refused whole, no gradients.
#include <gtest/gtest.h>

#include "engine/counting_oracle.h"
#include "medadv/error.h"
#include "medadv/testing.h"

using medadv::host::CountingOracle;

namespace {
std::shared_ptr<medadv::ModuleModel> model() {
  return std::make_shared<medadv::ModuleModel>(std::make_shared<medadv::testing::TinyClassifier>(3, 4, 0), 4,
                                               medadv::Task::Classification);
}
}  // namespace

TEST(CountingOracle, CountsEveryRowOfItsSample) {
  CountingOracle oracle(model(), 5, false);
  oracle.reset(3);
  const auto x = medadv::testing::random_images(3, 3, 16, 1);
  const auto p = oracle.probabilities(x);
  EXPECT_TRUE(torch::allclose(p.sum(1), torch::ones({3}), 1e-5, 1e-5));
  EXPECT_FALSE(p.requires_grad());
  // Two candidates for sample 2, one for sample 0.
  oracle.labels(medadv::testing::random_images(3, 3, 16, 2), torch::tensor({2, 0, 2}));
  EXPECT_TRUE(torch::equal(oracle.queries(), torch::tensor({2, 1, 3})));
}

TEST(CountingOracle, RefusesAQueryPastTheBudgetWhole) {
  CountingOracle oracle(model(), 2, false);
  oracle.reset(2);
  const auto x = medadv::testing::random_images(2, 3, 16, 1);
  oracle.labels(x);
  oracle.labels(x.slice(0, 0, 1), torch::tensor({0}));
  EXPECT_THROW(oracle.labels(x), medadv::QueryBudgetExceeded);
  EXPECT_TRUE(torch::equal(oracle.queries(), torch::tensor({2, 1}))) << "a refused query is not charged";
  oracle.labels(x.slice(0, 1, 2), torch::tensor({1}));
  EXPECT_TRUE(torch::equal(oracle.queries(), torch::tensor({2, 2})));
}

TEST(CountingOracle, LabelsOnlyRefusesProbabilities) {
  CountingOracle oracle(model(), 10, true);
  oracle.reset(1);
  EXPECT_THROW(oracle.probabilities(medadv::testing::random_images(1, 3, 16, 1)), medadv::CapabilityError);
  EXPECT_THROW(oracle.labels(medadv::testing::random_images(2, 3, 16, 1)), medadv::CapabilityError)
      << "rows without owners must match the batch";
}
