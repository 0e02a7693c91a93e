#pragma once
// Deterministic, stratified, seeded splits of a data set (ARCHITECTURE.md section 6).
//
//   train      what the model is trained on
//   val        early stopping and model selection
//   test       everything the model never saw = adv_train + adv_test
//   adv_train  attacks are run here and detectors fitted
//   adv_test   attacks are run here and detectors scored
//
// Default protocol: train 80% of the data and test 20%; a tenth of train is held out as
// val; test is split 70/30 into adv_train and adv_test. That is 0.72 / 0.08 / 0.14 / 0.06.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "medadv/dataset.h"
#include "medadv/error.h"
#include "medadv/export.h"
#include "medadv/value.h"

namespace medadv {

inline constexpr const char* kTrainSplit = "train";
inline constexpr const char* kValSplit = "val";
inline constexpr const char* kTestSplit = "test";
inline constexpr const char* kAdvTrainSplit = "adv_train";
inline constexpr const char* kAdvTestSplit = "adv_test";

// Disjoint fractions of the whole data set; what they leave (1 - sum) is not used.
struct MEDADV_API SplitPlan {
  double train = 0.72;
  double val = 0.08;
  double adv_train = 0.14;
  double adv_test = 0.06;

  double test() const { return adv_train + adv_test; }
  // { train = ..., val = ..., adv_train = ..., adv_test = ... }: reads back as this plan.
  Value to_value() const;
};

// Reads `[dataset] splits = { ... }`. Keys: train, val, test, adv_train, adv_test, each a
// fraction of the whole data set; the given ones are disjoint and sum to at most 1.
//   - val, when not given, is a tenth of train's share (train = 0.8 -> 0.72 + 0.08);
//     val = 0 trains on all of it (no early stopping possible).
//   - test = adv_train + adv_test; give both adv keys or neither (then 70/30 of test).
//   - test, when not given, is what train and val leave (0.2 when nothing is given);
//     train, when not given, is what test and val leave.
// `splits` may be null (every default). Problems are appended to `out` with `key`
// (e.g. "dataset.splits") and the value's location; the default plan is returned then.
MEDADV_API SplitPlan resolve_split_plan(const Value* splits, const std::string& key, std::vector<Diagnostic>& out);
// Same, throwing ValidationError.
MEDADV_API SplitPlan split_plan_from(const Value& splits, const std::string& key = "splits");

// Name -> sorted int64 index tensor for each of train, val, test, adv_train, adv_test
// (val may be empty). train, val and test are disjoint; adv_train and adv_test partition
// test. Classification data are stratified per class (each class's count in a split is
// within one sample of its share of that split); segmentation data form one stratum.
// Sizes: the fractions of N rounded by largest remainder. The same data, plan and seed
// give the same splits. `seed` is the run's seed: the draws come from streams derived
// from it ("splits", "splits/val", "splits/adv"), independent of its other uses.
//
// Data sets with predefined splits (DataSource::predefined_splits train / val / test) keep them; adv_train and adv_test are carved from test in the plan's ratio, and
// a missing val is carved from train in the plan's val : train ratio. Throws
// InvalidInput when a split would be empty (too few samples for the plan) or the
// predefined splits are malformed.
MEDADV_API std::map<std::string, torch::Tensor> make_splits(const DataSource& data, const SplitPlan& plan,
                                                            std::uint64_t seed);

// Stratified partition of `indices` (int64 [n]) by `strata` (int64 [n], e.g. the labels
// of those samples) into parts of the given fractions (summing to at most 1; the rest
// is dropped). Part sizes are the fractions of n by largest remainder; each stratum's
// count in a part is its proportional share rounded down or up. Each part sorted.
MEDADV_API std::vector<torch::Tensor> stratified_partition(const torch::Tensor& indices, const torch::Tensor& strata,
                                                           const std::vector<double>& fractions, std::uint64_t seed);

}  // namespace medadv
