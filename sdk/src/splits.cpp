#include "medadv/splits.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "medadv/context.h"
#include "medadv/params.h"
#include "medadv/torch_compat.h"

namespace medadv {

namespace {

constexpr double kSumTolerance = 1e-9;
constexpr double kDefaultTest = 0.2;
constexpr double kValShareOfTrain = 0.1;
constexpr double kAdvTrainShareOfTest = 0.7;

std::string number(double v) { return Value(v).to_string(); }

// ---------------------------------------------------------------- the plan

struct PlanReader {
  const Value& table;
  const std::string& key;
  std::vector<Diagnostic>& out;
  std::map<std::string, double> given;
  std::map<std::string, const Value*> where;

  void fail(const Value& at, const std::string& k, const std::string& message) {
    out.push_back(Diagnostic{at.where(), k, "", message});
  }

  bool read() {
    const std::vector<std::string> known = {kTrainSplit, kValSplit, kTestSplit, kAdvTrainSplit, kAdvTestSplit};
    bool ok = true;
    for (const auto& [k, v] : table.as_table()) {
      const std::string full = key + "." + k;
      if (std::find(known.begin(), known.end(), k) == known.end()) {
        std::string message = "unknown split '" + k + "'" + did_you_mean(k, known) + "; splits:";
        for (const auto& n : known) message += " " + n;
        fail(v, full, message);
        ok = false;
        continue;
      }
      if (!v.is_number()) {
        fail(v, full, std::string("expected a number (a fraction of the whole data set), found ") +
                          Value::type_name(v.type()) + " " + v.to_string());
        ok = false;
        continue;
      }
      const double x = v.as_double();
      const bool is_val = k == kValSplit;
      const bool in_range = std::isfinite(x) && (is_val ? x >= 0.0 && x < 1.0 : x > 0.0 && x <= 1.0);
      if (!in_range) {
        fail(v, full, v.to_string() + " is out of range: must be in " + (is_val ? "[0, 1)" : "(0, 1]") +
                          " (a fraction of the whole data set)");
        ok = false;
        continue;
      }
      given[k] = x;
      where[k] = &v;
    }
    return ok;
  }

  bool has(const char* k) const { return given.count(k) != 0; }

  SplitPlan resolve() {
    SplitPlan plan;
    if (has(kAdvTrainSplit) != has(kAdvTestSplit)) {
      const char* present = has(kAdvTrainSplit) ? kAdvTrainSplit : kAdvTestSplit;
      fail(*where[present], key + "." + present,
           "give adv_train and adv_test together (test = adv_train + adv_test), or neither (then 70/30 of test)");
      return plan;
    }
    const double val_given = has(kValSplit) ? given[kValSplit] : 0.0;
    double test = 0.0;
    bool test_known = true;
    if (has(kAdvTrainSplit)) {
      test = given[kAdvTrainSplit] + given[kAdvTestSplit];
      if (has(kTestSplit) && std::abs(given[kTestSplit] - test) > kSumTolerance) {
        fail(*where[kTestSplit], key + ".test",
             "test = " + number(given[kTestSplit]) + " but adv_train + adv_test = " + number(test) +
                 "; test is their sum (give one or the other)");
        return plan;
      }
    } else if (has(kTestSplit)) {
      test = given[kTestSplit];
    } else {
      test_known = false;
    }

    double train_share = 0.0;  // train, plus val when val is carved out of it
    if (has(kTrainSplit)) {
      train_share = given[kTrainSplit];
      if (!test_known) {
        test = 1.0 - train_share - val_given;
        if (test <= kSumTolerance) {
          fail(*where[kTrainSplit], key + ".train",
               "train" + std::string(has(kValSplit) ? " + val" : "") + " leaves nothing for test; give smaller "
               "fractions, or test / adv_train + adv_test explicitly");
          return plan;
        }
      }
    } else {
      if (!test_known) test = kDefaultTest;
      train_share = 1.0 - test - val_given;
      if (train_share <= kSumTolerance) {
        fail(table, key, "test" + std::string(has(kValSplit) ? " + val" : "") +
                             " leaves nothing for train; give smaller fractions");
        return plan;
      }
    }

    const double sum = train_share + val_given + test;
    if (sum > 1.0 + kSumTolerance) {
      fail(table, key, "the splits take " + number(sum) + " of the data set, more than all of it (" +
                           "fractions are of the whole data set and disjoint; val, when given, is not part of train)");
      return plan;
    }
    if (has(kValSplit)) {
      plan.train = train_share;
      plan.val = val_given;
    } else {
      plan.train = train_share * (1.0 - kValShareOfTrain);
      plan.val = train_share * kValShareOfTrain;
    }
    if (has(kAdvTrainSplit)) {
      plan.adv_train = given[kAdvTrainSplit];
      plan.adv_test = given[kAdvTestSplit];
    } else {
      plan.adv_train = test * kAdvTrainShareOfTest;
      plan.adv_test = test * (1.0 - kAdvTrainShareOfTest);
    }
    return plan;
  }
};

// ------------------------------------------------------ counts and strata

// Sizes of parts with the given fractions of n: floors, then the largest remainders
// (earlier parts first on ties). The fractions sum to 1.
std::vector<std::int64_t> largest_remainder(std::int64_t n, const std::vector<double>& fractions) {
  std::vector<std::int64_t> sizes(fractions.size());
  std::vector<double> remainder(fractions.size());
  std::int64_t assigned = 0;
  for (std::size_t i = 0; i < fractions.size(); ++i) {
    const double exact = fractions[i] * static_cast<double>(n);
    // The tolerance keeps 0.72 * 100 at 72 whichever way its binary rounding went.
    sizes[i] = static_cast<std::int64_t>(std::floor(exact + 1e-9));
    remainder[i] = exact - static_cast<double>(sizes[i]);
    assigned += sizes[i];
  }
  std::vector<std::size_t> order(fractions.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return remainder[a] > remainder[b]; });
  for (std::size_t k = 0; assigned < n; k = (k + 1) % order.size(), ++assigned) ++sizes[order[k]];
  // Overshoot is only possible through the tolerance; take it back from the smallest remainders.
  for (std::size_t k = order.size(); assigned > n;) {
    k = k == 0 ? order.size() - 1 : k - 1;
    if (sizes[order[k]] > 0) --sizes[order[k]], --assigned;
  }
  return sizes;
}

// Integer table with row sums `rows`, column sums `cols` (equal totals), each cell its
// proportional share rows[r] * cols[c] / total rounded down or up. Floors first; the
// cells that still need one more are found by a max flow (rows -> fractional cells ->
// columns), which exists because the fractional table is itself a feasible flow.
std::vector<std::vector<std::int64_t>> controlled_rounding(const std::vector<std::int64_t>& rows,
                                                           const std::vector<std::int64_t>& cols) {
  const std::int64_t total = std::accumulate(rows.begin(), rows.end(), std::int64_t{0});
  const std::size_t R = rows.size(), C = cols.size();
  std::vector<std::vector<std::int64_t>> table(R, std::vector<std::int64_t>(C, 0));
  // Nodes: 0 source, 1..R rows, R+1..R+C columns, R+C+1 sink.
  const std::size_t V = R + C + 2, source = 0, sink = R + C + 1;
  std::vector<std::vector<std::int64_t>> capacity(V, std::vector<std::int64_t>(V, 0));
  std::vector<std::int64_t> col_need(cols.begin(), cols.end());
  for (std::size_t r = 0; r < R; ++r) {
    std::int64_t row_need = rows[r];
    for (std::size_t c = 0; c < C; ++c) {
      const std::int64_t product = rows[r] * cols[c];
      table[r][c] = total > 0 ? product / total : 0;
      row_need -= table[r][c];
      col_need[c] -= table[r][c];
      if (total > 0 && product % total != 0) capacity[1 + r][1 + R + c] = 1;
    }
    capacity[source][1 + r] = row_need;
  }
  for (std::size_t c = 0; c < C; ++c) capacity[1 + R + c][sink] = col_need[c];

  // Edmonds-Karp: the graph has a handful of nodes (classes + splits).
  for (;;) {
    std::vector<std::size_t> parent(V, V);
    std::vector<std::size_t> queue = {source};
    parent[source] = source;
    for (std::size_t q = 0; q < queue.size() && parent[sink] == V; ++q)
      for (std::size_t v = 0; v < V; ++v)
        if (parent[v] == V && capacity[queue[q]][v] > 0) {
          parent[v] = queue[q];
          queue.push_back(v);
        }
    if (parent[sink] == V) break;
    for (std::size_t v = sink; v != source; v = parent[v]) {
      --capacity[parent[v]][v];
      ++capacity[v][parent[v]];
    }
  }
  for (std::size_t r = 0; r < R; ++r)
    for (std::size_t c = 0; c < C; ++c)
      if (capacity[1 + R + c][1 + r] > 0) table[r][c] += 1;  // flow went through the cell
  return table;
}

torch::Tensor strata_of(const DataSource& data, std::int64_t n) {
  const auto labels = data.meta().task == Task::Classification ? data.labels() : torch::Tensor();
  if (labels.defined() && labels.numel() == n) return labels.to(torch::kCPU, torch::kInt64).reshape({n});
  return torch::zeros({n}, torch::kInt64);
}

torch::Tensor sorted(const torch::Tensor& t) { return std::get<0>(t.sort()); }
torch::Tensor distinct(const torch::Tensor& t) { return std::get<0>(torch::unique_consecutive(sorted(t))); }

void require_nonempty(const std::map<std::string, torch::Tensor>& splits, const SplitPlan& plan, std::int64_t n) {
  const std::vector<std::pair<const char*, double>> wanted = {
      {kTrainSplit, plan.train}, {kValSplit, plan.val}, {kAdvTrainSplit, plan.adv_train}, {kAdvTestSplit, plan.adv_test}};
  for (const auto& [name, fraction] : wanted)
    if (fraction > 0.0 && splits.at(name).numel() == 0)
      throw InvalidInput(std::string("split '") + name + "' (" + number(fraction) + " of the data) would be empty with " +
                         std::to_string(n) + " samples; use more data or larger fractions");
}

torch::Tensor checked_predefined(const std::string& name, const torch::Tensor& t, std::int64_t n) {
  if (!t.defined() || t.dim() != 1)
    throw InvalidInput("the data set's predefined split '" + name + "' must be a 1-D index tensor");
  auto idx = t.to(torch::kCPU, torch::kInt64);
  if (idx.numel() > 0 && (idx.min().item<std::int64_t>() < 0 || idx.max().item<std::int64_t>() >= n))
    throw InvalidInput("the data set's predefined split '" + name + "' has indices outside [0, " + std::to_string(n) +
                       ")");
  return idx;
}

}  // namespace

// ------------------------------------------------------------------- public

Value SplitPlan::to_value() const {
  return Value(Value::Table{{kTrainSplit, Value(train)},
                            {kValSplit, Value(val)},
                            {kAdvTrainSplit, Value(adv_train)},
                            {kAdvTestSplit, Value(adv_test)}});
}

SplitPlan resolve_split_plan(const Value* splits, const std::string& key, std::vector<Diagnostic>& out) {
  if (!splits) return SplitPlan{};
  if (splits->type() != Value::Type::Table) {
    out.push_back(Diagnostic{splits->where(), key, "",
                             std::string("expected a table such as { train = 0.8, adv_train = 0.14, adv_test = 0.06 }, "
                                         "found ") +
                                 Value::type_name(splits->type())});
    return SplitPlan{};
  }
  PlanReader reader{*splits, key, out, {}, {}};
  if (!reader.read()) return SplitPlan{};
  return reader.resolve();
}

SplitPlan split_plan_from(const Value& splits, const std::string& key) {
  std::vector<Diagnostic> out;
  SplitPlan plan = resolve_split_plan(&splits, key, out);
  if (!out.empty()) throw ValidationError(std::move(out));
  return plan;
}

std::vector<torch::Tensor> stratified_partition(const torch::Tensor& indices, const torch::Tensor& strata,
                                                const std::vector<double>& fractions, std::uint64_t seed) {
  const auto idx = indices.to(torch::kCPU, torch::kInt64).contiguous();
  const auto labels = strata.to(torch::kCPU, torch::kInt64).contiguous();
  const std::int64_t n = idx.numel();
  if (labels.numel() != n)
    throw Error("stratified_partition: " + std::to_string(n) + " indices but " + std::to_string(labels.numel()) +
                " strata");
  std::vector<double> parts = fractions;
  double sum = 0.0;
  for (double f : parts) {
    if (!(f >= 0.0) || !std::isfinite(f)) throw Error("stratified_partition: fractions must be finite and >= 0");
    sum += f;
  }
  if (sum > 1.0)
    for (double& f : parts) f /= sum;
  parts.push_back(std::max(0.0, 1.0 - std::min(sum, 1.0)));  // the unused rest is a part of its own
  const auto part_sizes = largest_remainder(n, parts);

  const auto classes = distinct(labels);
  const std::int64_t K = classes.numel();
  std::vector<torch::Tensor> members(static_cast<std::size_t>(K));
  std::vector<std::int64_t> class_sizes(static_cast<std::size_t>(K));
  for (std::int64_t k = 0; k < K; ++k) {
    members[k] = idx.masked_select(labels.eq(classes[k]));
    class_sizes[k] = members[k].numel();
  }
  const auto counts = controlled_rounding(class_sizes, part_sizes);

  auto gen = compat::cpu_generator(seed);
  std::vector<std::vector<torch::Tensor>> pieces(parts.size());
  for (std::int64_t k = 0; k < K; ++k) {
    const auto shuffled = members[k].index_select(0, torch::randperm(class_sizes[k], gen));
    std::int64_t begin = 0;
    for (std::size_t p = 0; p < parts.size(); ++p) {
      pieces[p].push_back(shuffled.slice(0, begin, begin + counts[k][p]));
      begin += counts[k][p];
    }
  }
  std::vector<torch::Tensor> result;
  for (std::size_t p = 0; p + 1 < parts.size(); ++p)
    result.push_back(pieces[p].empty() ? torch::empty({0}, torch::kInt64) : sorted(torch::cat(pieces[p])));
  return result;
}

std::map<std::string, torch::Tensor> make_splits(const DataSource& data, const SplitPlan& plan,
                                                 std::uint64_t seed) {
  const std::int64_t n = data.size();
  if (n < 1) throw InvalidInput("make_splits: the data set has no images");
  const auto strata = strata_of(data, n);
  const auto predefined = data.predefined_splits();
  std::map<std::string, torch::Tensor> splits;

  if (predefined.empty()) {
    const auto parts = stratified_partition(torch::arange(n, torch::kInt64), strata,
                                            {plan.train, plan.val, plan.adv_train, plan.adv_test},
                                            derive_seed(seed, "splits"));
    splits[kTrainSplit] = parts[0];
    splits[kValSplit] = parts[1];
    splits[kAdvTrainSplit] = parts[2];
    splits[kAdvTestSplit] = parts[3];
  } else {
    for (const auto& [name, t] : predefined)
      if (name != kTrainSplit && name != kValSplit && name != kTestSplit)
        throw InvalidInput("the data set's predefined split '" + name + "' is not one of train, val, test");
    for (const char* name : {kTrainSplit, kTestSplit})
      if (!predefined.count(name))
        throw InvalidInput(std::string("the data set predefines splits but not '") + name + "'");
    const auto train = checked_predefined(kTrainSplit, predefined.at(kTrainSplit), n);
    const auto test = checked_predefined(kTestSplit, predefined.at(kTestSplit), n);
    if (predefined.count(kValSplit)) {
      splits[kTrainSplit] = sorted(train);
      splits[kValSplit] = sorted(checked_predefined(kValSplit, predefined.at(kValSplit), n));
    } else {
      const double val_share = plan.train + plan.val > 0.0 ? plan.val / (plan.train + plan.val) : 0.0;
      const auto parts = stratified_partition(train, strata.index_select(0, train), {1.0 - val_share, val_share},
                                              derive_seed(seed, "splits/val"));
      splits[kTrainSplit] = parts[0];
      splits[kValSplit] = parts[1];
    }
    const double adv_share = plan.adv_train / plan.test();
    const auto adv = stratified_partition(test, strata.index_select(0, test), {adv_share, 1.0 - adv_share},
                                          derive_seed(seed, "splits/adv"));
    splits[kAdvTrainSplit] = adv[0];
    splits[kAdvTestSplit] = adv[1];
    const auto all = torch::cat({splits[kTrainSplit], splits[kValSplit], test});
    if (distinct(all).numel() != all.numel())
      throw InvalidInput("the data set's predefined splits train, val and test overlap");
  }
  splits[kTestSplit] = sorted(torch::cat({splits[kAdvTrainSplit], splits[kAdvTestSplit]}));
  require_nonempty(splits, plan, n);
  return splits;
}

}  // namespace medadv
