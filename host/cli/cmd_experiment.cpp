#include <iostream>

#include "cli/command.h"
#include "cli/experiment_loading.h"
#include "common/host_context.h"
#include "common/json.h"
#include "common/logging.h"
#include "engine/run.h"
#include "experiment/experiment_check.h"
#include "experiment/plan.h"
#include "experiment/toml_value.h"
#include "loader/guard.h"
#include "medadv/device.h"
#include "medadv/plugin.h"
#include "medadv/splits.h"
#include "report/report.h"

namespace medadv::host {

namespace {

std::string summary(const CheckedExperiment& e) {
  std::map<std::string, int> counts;
  for (const auto& u : e.uses) counts[u.section.substr(0, u.section.find_first_of("[."))]++;
  std::string s = "experiment '" + e.name + "': ";
  bool first = true;
  for (const auto& [section, n] : counts) {
    s += (first ? "" : ", ") + std::to_string(n) + " " + section;
    first = false;
  }
  return s;
}

// adv_train / adv_test sizes from the dataset's `count` and the split plan, when the
// data set says how many images it has without loading; -1 otherwise.
std::pair<std::int64_t, std::int64_t> estimated_adv_split_sizes(const CheckedExperiment& e) {
  const Value* dataset = e.resolved.find("dataset");
  const Value* count = dataset ? dataset->find("count") : nullptr;
  if (!count || count->type() != Value::Type::Int) return {-1, -1};
  const Value* splits = dataset->find("splits");
  const SplitPlan plan = splits ? split_plan_from(*splits, "dataset.splits") : SplitPlan{};
  const double n = static_cast<double>(count->as_int());
  return {static_cast<std::int64_t>(n * plan.adv_train + 0.5), static_cast<std::int64_t>(n * plan.adv_test + 0.5)};
}

void declare_validate_options(po::options_description& o, po::positional_options_description& p) {
  declare_experiment_options(o, p);
  o.add_options()("print", "print the resolved experiment (every default filled) as JSON")(
      "data", "also load the data set and check the attacks and taps against it and the model (trains nothing)");
}

int execute_validate(const po::variables_map& vm, const GlobalOptions& g) {
  auto loaded = load_experiment(vm, g);
  const Plan plan = make_plan(loaded->checked);  // duplicate labels are found here
  if (vm.count("print")) std::cout << to_json(loaded->checked.resolved) << "\n";
  if (vm.count("data")) check_against_data(*loaded, plan);
  std::cout << vm["file"].as<std::string>() << ": valid" << (vm.count("data") ? " (checked against the data)" : "")
            << "; " << summary(loaded->checked) << "; " << plan.trials.size() << " trials\n";
  return kExitOk;
}

}  // namespace

Command validate_command() { return {"validate", declare_validate_options, execute_validate}; }

namespace {

void declare_run_options(po::options_description& o, po::positional_options_description& p) {
  declare_experiment_options(o, p);
  o.add_options()("output,o", po::value<std::string>(), "run directory (default runs/<name>/<timestamp>)")(
      "resume", "continue the run in --output DIR, skipping finished trials")(
      "dry-run", "print the resolved experiment and the trial grid with a cost estimate; run nothing");
}

int execute_run(const po::variables_map& vm, const GlobalOptions& g) {
  auto loaded = load_experiment(vm, g);
  const auto& e = loaded->checked;
  const Plan plan = make_plan(e);
  if (vm.count("dry-run")) {
    std::cout << to_json(e.resolved) << "\n";
    const auto [adv_train, adv_test] = estimated_adv_split_sizes(e);
    std::cout << describe_plan(plan, adv_train, adv_test);
    std::cout << estimate_run_memory(*loaded, plan).describe() << "\n";
    return kExitOk;
  }
  RunOptions options;
  if (vm.count("output")) options.output = vm["output"].as<std::string>();
  options.resume = vm.count("resume") > 0;
  if (vm.count("set")) options.overrides = vm["set"].as<std::vector<std::string>>();
  const auto dir = run_experiment(*loaded, plan, options);
  const ReportFiles report = write_report(dir);
  std::cout << report.tables_md << "\n";
  host_log()->info("report: {}", (dir / "report.html").string());
  std::cout << "report: " << (dir / "report.html").string() << "\n";
  return kExitOk;
}

}  // namespace

Command run_command() { return {"run", declare_run_options, execute_run}; }

}  // namespace medadv::host
