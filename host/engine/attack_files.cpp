#include "engine/attack_files.h"

#include <algorithm>
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

// An array already in memory, written as the others are.
NpzRows in_memory(const std::string& name, const torch::Tensor& whole) {
  return {name, whole.scalar_type(), whole.sizes().vec(),
          [whole](std::int64_t b, std::int64_t e) { return whole.slice(0, b, e); }};
}

// Rows of images held at once while an export is written.
constexpr std::int64_t kExportRows = 64;

}  // namespace

AttackFiles write_attack_files(const std::filesystem::path& run_dir, const Value& report, const Trial& trial,
                               Task task, const SplitData& split, const AttackOutcome& outcome) {
  AttackFiles out;
  const std::int64_t columns = report.find("examples") ? report.find("examples")->as_int() : 8;
  if (columns > 0 && split.size() > 0) {
    const std::int64_t shown = std::min(columns, split.size());
    ExampleGrid grid = make_example_grid(split.images(0, shown, torch::kCPU), outcome.adversarial->read(0, shown), columns);
    const std::string relative = "images/" + trial.id + ".png";
    write_png(run_dir / relative, grid.image);
    out.examples = {relative, grid.columns, grid.amplification};
    out.files["grid"] = relative;
  }
  if (exports(report, "npz")) {
    const std::string relative = "adversarial/" + trial.id + ".npz";
    // Segmentation: the true masks instead of labels, label maps as predictions, and the
    // target masks of a targeted attack. The images are written a block of rows at a time.
    const bool segmentation = task == Task::Segmentation;
    std::vector<std::int64_t> image_shape{split.size()};
    for (const auto d : split.samples.source()->item_shape()) image_shape.push_back(d);
    std::vector<NpzRows> arrays{
        {"clean", torch::kFloat, image_shape,
         [&](std::int64_t b, std::int64_t e) { return split.images(b, e, torch::kCPU); }},
        {"adversarial", torch::kFloat, image_shape,
         [&](std::int64_t b, std::int64_t e) { return outcome.adversarial->read(b, e); }},
        in_memory(segmentation ? "masks" : "labels",
                  segmentation ? split.masks.to(torch::kFloat) : split.labels.to(torch::kLong)),
        in_memory("pred_clean", outcome.clean_prediction),
        in_memory("pred_adversarial", outcome.adversarial_prediction)};
    if (segmentation && outcome.targets.defined()) arrays.push_back(in_memory("targets", outcome.targets.to(torch::kFloat)));
    write_npz(run_dir / relative, arrays, kExportRows);
    out.files["npz"] = relative;
  }
  return out;
}

}  // namespace medadv::host
