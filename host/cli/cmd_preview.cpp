// `medadv datasets preview NAME --output FILE.png`: renders samples of a dataset plugin
// as one picture, to see what a data set (or a parameter change) looks like.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "cli/command.h"
#include "common/logging.h"
#include "common/host_context.h"
#include "engine/held_source.h"
#include "experiment/toml_value.h"
#include "loader/guard.h"
#include "medadv/dataset.h"
#include "medadv/image_io.h"
#include "report/image_grid.h"

namespace medadv::host {

namespace {

// The plugin's parameters from --set assignments. Unless set, `count` is lowered to the
// tiles wanted, so a preview of a 3000-image data set renders a few images.
Params preview_params(const PluginHandle& plugin, const std::vector<std::string>& assignments, std::int64_t tiles) {
  Value table{Value::Table{}};
  for (const auto& a : assignments) apply_override(table, a);
  const ParamSpec* count = plugin.schema().find("count");
  if (count && count->type() == ParamType::Int && !table.find("count")) {
    const auto lowest = count->lower() ? static_cast<std::int64_t>(std::ceil(*count->lower())) : tiles;
    table.set("count", Value(std::max(tiles, lowest)));
  }
  return plugin.schema().resolve_or_throw(table, plugin.name());
}

// The first `n` samples, grouped by label (stable) when there are labels, so the rows
// read class by class.
torch::Tensor preview_order(const torch::Tensor& all_labels, std::int64_t n) {
  auto order = torch::arange(n, torch::kInt64);
  if (!all_labels.defined() || all_labels.dim() != 1 || all_labels.size(0) < n) return order;
  auto labels = all_labels.slice(0, 0, n).to(torch::kCPU, torch::kInt64);
  // label * n + index sorts by label, ties in their original order.
  return std::get<1>((labels * n + order).sort());
}

std::string label_summary(const torch::Tensor& all_labels, const DatasetMeta& meta, const torch::Tensor& shown) {
  if (!all_labels.defined() || all_labels.dim() != 1) return "";
  auto labels = all_labels.to(torch::kCPU, torch::kInt64).index_select(0, shown);
  std::ostringstream out;
  const auto classes = static_cast<std::int64_t>(meta.class_names.size());
  const auto highest = labels.numel() ? labels.max().item<std::int64_t>() : -1;
  for (std::int64_t c = 0; c <= std::max(highest, classes - 1); ++c) {
    const auto n = (labels == c).sum().item<std::int64_t>();
    if (n == 0) continue;
    out << (out.tellp() > 0 ? ", " : "") << n << " "
        << (c < classes ? meta.class_names[static_cast<std::size_t>(c)] : "label " + std::to_string(c));
  }
  return out.str();
}

int preview(const po::variables_map& vm, const GlobalOptions& g) {
  const std::string name = vm["name"].as<std::string>();
  const std::filesystem::path output = vm["output"].as<std::string>();
  const auto tiles = vm["count"].as<std::int64_t>();
  auto columns = vm["columns"].as<std::int64_t>();
  if (tiles < 1) throw InvalidInput("--count must be >= 1, got " + std::to_string(tiles));
  if (columns < 0) throw InvalidInput("--columns must be >= 0 (0: about square), got " + std::to_string(columns));
  if (output.extension() != ".png") throw InvalidInput("--output " + output.string() + ": expected a .png file name");

  PluginRegistry registry;
  if (discover_plugins(registry, g)) host_log()->warn("some plugin libraries on the search path were rejected (see above)");
  const PluginHandle& plugin = registry.require(Kind::Dataset, name);
  const std::vector<std::string> assignments =
      vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  const Params params = preview_params(plugin, assignments, tiles);

  ContextSettings settings{torch::Device(torch::kCPU), vm["seed"].as<std::uint64_t>(), 0, {}};
  auto ctx = std::make_shared<HostContext>(settings, host_log(), plugin.name());
  auto dataset = plugin.create<Dataset>(params, ctx);
  auto opened = guarded(plugin.describe(), "open", [&] { return dataset->open(*ctx); });
  if (!opened) throw PluginFailure(plugin.describe() + " returned no data source from open()");
  const auto source = hold_source(std::move(opened), plugin.describe());
  if (source->size() == 0 || source->item_shape().size() != 3)
    throw PluginFailure(plugin.describe() + " opened no images [C,H,W]");
  const auto channels = source->item_shape()[0];
  if (channels != 1 && channels != 3)
    throw InvalidInput("cannot preview " + name + ": its images have " + std::to_string(channels) +
                       " channels; a picture needs 1 (gray) or 3 (RGB)");

  const auto n = std::min(tiles, source->size());
  const auto all_labels = source->labels();
  const auto shown = preview_order(all_labels, n);
  if (vm.count("masks") && !source->has_masks()) throw InvalidInput("--masks: " + name + " provides no masks");
  const Batch batch = SampleSet(source, shown).all(torch::kCPU);
  auto images = batch.images;
  if (vm.count("masks")) images = overlay_masks(images, batch.masks);
  if (columns == 0) columns = static_cast<std::int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
  const auto grid = tile_grid(images, columns, grid_border(images.size(2), images.size(3)));
  if (output.has_parent_path()) std::filesystem::create_directories(output.parent_path());
  write_png(output, grid);

  const DatasetMeta& meta = source->meta();
  const std::string labels = label_summary(all_labels, meta, shown);
  std::cout << "wrote " << output.string() << ": " << n << " images of " << name << " (" << channels << "x"
            << images.size(2) << "x" << images.size(3) << ", " << meta.modality
            << (meta.modality.empty() ? "" : ", ") << task_name(meta.task) << ")"
            << (labels.empty() ? "" : "; by label: " + labels) << "; " << grid.size(2) << "x" << grid.size(1)
            << " pixels\n";
  return kExitOk;
}

void declare_datasets_preview_options(po::options_description& o, po::positional_options_description& p) {
  o.add_options()("name", po::value<std::string>()->required(), "the dataset plugin, e.g. phantom-xray")(
      "output,o", po::value<std::string>()->required(), "the picture to write (.png)")(
      "count,n", po::value<std::int64_t>()->default_value(16), "images shown")(
      "columns", po::value<std::int64_t>()->default_value(0), "tiles per row (0: about square)")(
      "seed", po::value<std::uint64_t>()->default_value(0), "the run seed the dataset draws from")(
      "set", po::value<std::vector<std::string>>()->composing(),
      "set a parameter of the dataset, e.g. --set image_size=128; repeatable")(
      "masks", "draw the masks over the images");
  p.add("name", 1);
}

}  // namespace

Command datasets_preview_command() { return {"datasets preview", declare_datasets_preview_options, preview}; }

}  // namespace medadv::host
