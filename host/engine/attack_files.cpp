#include "engine/attack_files.h"

#include <utility>
#include <vector>

#include "engine/example_grid.h"
#include "medadv/image_io.h"
#include "medadv/npz.h"

namespace medadv::host {

namespace {

bool exports(const Value& report, const std::string& format) {
  const Value* list = report.find("export");
  if (!list || list->type() != Value::Type::Array) return false;
  for (const auto& v : list->as_array())
    if (v.type() == Value::Type::String && v.as_string() == format) return true;
  return false;
}

}  // namespace

AttackFiles write_attack_files(const std::filesystem::path& run_dir, const Value& report, const Trial& trial,
                               Task task, const SplitData& split, const AttackOutcome& outcome) {
  AttackFiles out;
  const std::int64_t columns = report.find("examples") ? report.find("examples")->as_int() : 8;
  if (columns > 0 && split.size() > 0) {
    ExampleGrid grid = make_example_grid(split.images, outcome.adversarial, columns);
    const std::string relative = "images/" + trial.id + ".png";
    write_png(run_dir / relative, grid.image);
    out.examples = {relative, grid.columns, grid.amplification};
    out.files["grid"] = relative;
  }
  if (exports(report, "npz")) {
    const std::string relative = "adversarial/" + trial.id + ".npz";
    // Segmentation: the true masks instead of labels, label maps as predictions, and the
    // target masks of a targeted attack.
    const bool segmentation = task == Task::Segmentation;
    std::vector<std::pair<std::string, torch::Tensor>> arrays{
        {"clean", split.images.to(torch::kFloat)},
        {"adversarial", outcome.adversarial.to(torch::kFloat)},
        segmentation ? std::make_pair(std::string("masks"), split.masks.to(torch::kFloat))
                     : std::make_pair(std::string("labels"), split.labels.to(torch::kLong)),
        {"pred_clean", outcome.clean_prediction},
        {"pred_adversarial", outcome.adversarial_prediction}};
    if (segmentation && outcome.targets.defined()) arrays.emplace_back("targets", outcome.targets.to(torch::kFloat));
    write_npz(run_dir / relative, arrays);
    out.files["npz"] = relative;
  }
  return out;
}

}  // namespace medadv::host
