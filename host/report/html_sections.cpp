#include "report/html_sections.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>

#include "report/embed.h"
#include "report/svg.h"
#include "report/tables.h"

namespace medadv::host {

namespace fs = std::filesystem;

namespace {

std::string text_or(const Value& trial, const std::string& key, const std::string& fallback) {
  return field_text(trial, key).value_or(fallback);
}

// The split the figures show: adv_test when any trial has it, else the first one seen.
std::string figure_split(const std::vector<Value>& trials, const std::string& kind) {
  std::string first;
  for (const auto& t : trials) {
    if (field_text(t, "kind") != kind) continue;
    const auto split = field_text(t, "split");
    if (split == "adv_test") return "adv_test";
    if (first.empty() && split) first = *split;
  }
  return first;
}

std::vector<double> numbers(const Value* list) {
  std::vector<double> out;
  if (!list || list->type() != Value::Type::Array) return out;
  for (const auto& v : list->as_array()) {
    if (!v.is_number()) return {};
    out.push_back(v.as_double());
  }
  return out;
}

std::vector<std::uint8_t> read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool is_png(const std::vector<std::uint8_t>& bytes) {
  static const std::uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  return bytes.size() >= 24 && std::equal(signature, signature + 8, bytes.begin());
}

// Width from the IHDR chunk, which a valid PNG has first.
std::uint32_t png_width(const std::vector<std::uint8_t>& bytes) {
  return (std::uint32_t{bytes[16]} << 24) | (std::uint32_t{bytes[17]} << 16) | (std::uint32_t{bytes[18]} << 8) |
         std::uint32_t{bytes[19]};
}

// A path from results.jsonl may only name a file inside the run directory.
bool inside_run(const fs::path& relative) {
  if (relative.empty() || relative.is_absolute()) return false;
  for (const auto& part : relative.lexically_normal())
    if (part == "..") return false;
  return true;
}

std::vector<std::int64_t> integers(const Value* list) {
  std::vector<std::int64_t> out;
  if (!list || list->type() != Value::Type::Array) return out;
  for (const auto& v : list->as_array()) out.push_back(v.type() == Value::Type::Int ? v.as_int() : -1);
  return out;
}

std::string class_text(const std::vector<std::string>& names, std::int64_t index) {
  if (index >= 0 && static_cast<std::size_t>(index) < names.size()) return names[static_cast<std::size_t>(index)];
  return std::to_string(index);
}

std::string column_captions(const Value& examples, std::int64_t columns) {
  const auto labels = integers(examples.find("labels"));
  const auto clean = integers(examples.find("pred_clean"));
  const auto adversarial = integers(examples.find("pred_adversarial"));
  std::vector<std::string> names;
  if (const Value* n = examples.find("class_names"); n && n->type() == Value::Type::Array)
    for (const auto& v : n->as_array()) names.push_back(v.type() == Value::Type::String ? v.as_string() : v.to_string());
  if (labels.empty() && clean.empty() && adversarial.empty()) return "";
  // Captions only for the samples listed: columns beyond them would be empty.
  const auto listed = static_cast<std::int64_t>(std::max({labels.size(), clean.size(), adversarial.size()}));
  std::string out;
  for (std::int64_t i = 0; i < std::min(columns, listed); ++i) {
    const auto at = static_cast<std::size_t>(i);
    const bool has_label = at < labels.size();
    out += "<div>";
    if (has_label) out += "true: " + html_escape(class_text(names, labels[at]));
    auto prediction = [&](const char* what, const std::vector<std::int64_t>& predicted) {
      if (at >= predicted.size()) return;
      const bool wrong = has_label && predicted[at] != labels[at];
      out += std::string("<br>") + what + ": " + (wrong ? "<span class=\"wrong\">" : "<span>") +
             html_escape(class_text(names, predicted[at])) + (wrong ? " \xE2\x9C\x97" : "") + "</span>";
    };
    prediction("clean", clean);
    prediction("adv", adversarial);
    out += "</div>";
  }
  return out;
}

std::string example_figure(const RunData& run, const Value& trial, const std::string& grid) {
  const std::string name = text_or(trial, "trial", "");
  std::string out = "<figure>\n<figcaption>" + html_escape(name) + "</figcaption>\n";
  const Value* examples = trial.find("examples");
  std::string rows_text;
  if (examples)
    if (const Value* rows = examples->find("rows"); rows && rows->type() == Value::Type::Array)
      for (const auto& r : rows->as_array())
        rows_text += (rows_text.empty() ? "" : ", ") + (r.type() == Value::Type::String ? r.as_string() : r.to_string());
  const fs::path relative(grid);
  const std::vector<std::uint8_t> bytes = inside_run(relative) ? read_bytes(run.dir / relative) : std::vector<std::uint8_t>{};
  if (!is_png(bytes)) {
    return out + "<p class=\"note\">" + html_escape(grid) +
           (inside_run(relative) ? ": missing or not a PNG file" : ": not a path inside the run directory") +
           "</p>\n</figure>\n";
  }
  std::int64_t columns = 0;
  if (examples)
    if (const Value* c = examples->find("columns"); c && c->type() == Value::Type::Int) columns = c->as_int();
  const double width = png_width(bytes);
  // A column is at least a pixel of the grid wide: a larger count (a hand-edited or corrupt
  // results.jsonl) describes no grid, and would only make captions without end.
  if (columns < 0 || static_cast<double>(columns) > width) columns = 0;
  // Tiles shown 96..128 CSS pixels wide: small tiles enlarged (pixelated), large ones reduced.
  const double tile = columns > 0 ? std::clamp(width / static_cast<double>(columns), 96.0, 128.0) : 0.0;
  const std::string display_width =
      columns > 0 ? std::to_string(static_cast<long>(tile * static_cast<double>(columns))) : std::to_string(static_cast<long>(width));
  out += "<div class=\"scroll\"><div style=\"width:" + display_width + "px\">\n<img class=\"grid-image\" width=\"" +
         display_width + "\" alt=\"" + html_escape("example grid of " + name + (rows_text.empty() ? "" : ": rows " + rows_text)) +
         "\" src=\"data:image/png;base64," + base64_encode(bytes) + "\">\n";
  if (examples && columns > 0) {
    const std::string captions = column_captions(*examples, columns);
    if (!captions.empty())
      out += "<div class=\"captions\" style=\"grid-template-columns:repeat(" + std::to_string(columns) + ",1fr)\">" +
             captions + "</div>\n";
  }
  out += "</div></div>\n";
  if (!rows_text.empty()) out += "<p class=\"note\">Rows: " + html_escape(rows_text) + ".</p>\n";
  return out + "</figure>\n";
}

}  // namespace

std::string accuracy_vs_epsilon_section(const RunData& run) {
  const std::string split = figure_split(run.trials, "attack");
  TrialGroups<std::string> variants;
  for (const auto& t : run.trials)
    if (field_text(t, "kind") == "attack" && field_text(t, "split") == split && metric_value(t, "epsilon"))
      variants.add(text_or(t, "variant", ""), &t);
  std::string plots;
  for (std::size_t v = 0; v < variants.keys.size(); ++v) {
    const auto& members = variants.members[v];
    const bool classification =
        std::any_of(members.begin(), members.end(), [](const Value* t) { return metric_value(*t, "robust_accuracy"); });
    const std::string metric = classification ? "robust_accuracy" : "adversarial_dice";
    const std::string clean_metric = classification ? "clean_accuracy" : "clean_dice";
    LinePlot plot;
    plot.title = (classification ? "Robust accuracy" : "Adversarial Dice") + std::string(" vs epsilon") +
                 (variants.keys[v].empty() ? "" : " (" + variants.keys[v] + ")");
    plot.x_label = "epsilon";
    plot.y_label = classification ? "accuracy" : "Dice";
    TrialGroups<std::string> attacks;
    std::map<double, std::string> epsilon_labels;
    for (const Value* t : members)
      if (metric_value(*t, metric)) {
        attacks.add(text_or(*t, "attack", "?"), t);
        epsilon_labels.emplace(*metric_value(*t, "epsilon"), text_or(*t, "epsilon_text", ""));
      }
    if (attacks.keys.empty()) continue;
    for (std::size_t a = 0; a < attacks.keys.size(); ++a) {
      std::vector<std::pair<double, double>> points;
      for (const Value* t : attacks.members[a]) points.emplace_back(*metric_value(*t, "epsilon"), *metric_value(*t, metric));
      std::sort(points.begin(), points.end());
      PlotSeries s;
      s.name = attacks.keys[a];
      for (const auto& [x, y] : points) s.x.push_back(x), s.y.push_back(y);
      plot.series.push_back(std::move(s));
    }
    // The clean reference: the variant's clean trial, else what its attack trials carry.
    std::optional<double> clean;
    for (const auto& t : run.trials)
      if (!clean && field_text(t, "kind") == "clean" && field_text(t, "split") == split &&
          text_or(t, "variant", "") == variants.keys[v])
        clean = metric_value(t, clean_metric);
    for (const Value* t : members)
      if (!clean) clean = metric_value(*t, clean_metric);
    const double max_epsilon = epsilon_labels.rbegin()->first;
    if (clean) {
      PlotSeries reference;
      reference.name = "clean";
      reference.x = {0.0, max_epsilon};
      reference.y = {*clean, *clean};
      reference.dashed = true;
      reference.markers = false;
      reference.colour = "#555555";
      plot.series.push_back(std::move(reference));
    }
    plot.x_range = std::make_pair(0.0, max_epsilon > 0 ? max_epsilon * 1.05 : 1.0);
    if (!epsilon_labels.count(0.0)) plot.x_ticks.emplace_back(0.0, "0");
    for (const auto& [x, label] : epsilon_labels) plot.x_ticks.emplace_back(x, label);
    plots += svg_line_plot(plot);
  }
  if (plots.empty()) return "";
  return "<section id=\"accuracy-vs-epsilon\">\n<h2>Accuracy vs epsilon</h2>\n<p class=\"note\">Split " +
         html_escape(split) + "; dashed: the clean value.</p>\n<div class=\"charts\">\n" + plots + "</div>\n</section>\n";
}

std::string roc_section(const RunData& run) {
  TrialGroups<std::vector<std::string>> settings;
  for (const auto& t : run.trials) {
    if (field_text(t, "kind") != "detector") continue;
    const Value* roc = t.find("roc");
    if (!roc || numbers(roc->find("fpr")).size() < 2 || numbers(roc->find("fpr")).size() != numbers(roc->find("tpr")).size())
      continue;
    settings.add({text_or(t, "variant", ""), text_or(t, "attack", ""), text_or(t, "epsilon_text", ""),
                  text_or(t, "split", "")},
                 &t);
  }
  std::string plots;
  for (std::size_t g = 0; g < settings.keys.size(); ++g) {
    const auto& key = settings.keys[g];
    LinePlot plot;
    plot.title = "ROC: " + key[1] + (key[2].empty() ? "" : " at " + key[2]) + (key[0].empty() ? "" : " (" + key[0] + ")");
    plot.x_label = "false positive rate";
    plot.y_label = "true positive rate";
    plot.x_range = std::make_pair(0.0, 1.0);
    plot.y_range = std::make_pair(0.0, 1.0);
    plot.diagonal = true;
    for (const Value* t : settings.members[g]) {
      PlotSeries s;
      s.name = text_or(*t, "detector", "?");
      if (auto auc = metric_value(*t, "auc")) s.name += " (AUC " + format_metric(*auc) + ")";
      s.x = numbers(t->find("roc")->find("fpr"));
      s.y = numbers(t->find("roc")->find("tpr"));
      s.markers = false;
      plot.series.push_back(std::move(s));
    }
    plots += svg_line_plot(plot);
  }
  if (plots.empty()) return "";
  return "<section id=\"roc\">\n<h2>Detector ROC curves</h2>\n<div class=\"charts\">\n" + plots + "</div>\n</section>\n";
}

std::string examples_section(const RunData& run) {
  std::string figures;
  for (const auto& t : run.trials) {
    const Value* files = t.find("files");
    const Value* grid = files ? files->find("grid") : nullptr;
    if (grid && grid->type() == Value::Type::String) figures += example_figure(run, t, grid->as_string());
  }
  if (figures.empty()) return "";
  return "<section id=\"examples\">\n<h2>Examples</h2>\n<p class=\"note\">Under each column: the true label, the clean "
         "and the adversarial prediction; wrong predictions are marked \xE2\x9C\x97.</p>\n" +
         figures + "</section>\n";
}

}  // namespace medadv::host
