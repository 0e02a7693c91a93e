#include "report/tables.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "common/text.h"
#include "medadv/error.h"
#include "report/run_data.h"

namespace medadv::host {

namespace {

// Fields whose differing values split a spec's trials into separate tables.
const std::vector<std::string> kGroupingFields = {"kind", "variant", "attack", "epsilon_text", "detector", "targeted"};

bool has_metric(const std::vector<Value>& trials, const std::string& kind, const std::string& metric) {
  return std::any_of(trials.begin(), trials.end(), [&](const Value& t) {
    return field_text(t, "kind") == kind && metric_value(t, metric).has_value();
  });
}

bool selected(const TableSpec& spec, const std::string& kind, const Value& trial) {
  if (field_text(trial, "split") != spec.split) return false;
  if (!kind.empty() && field_text(trial, "kind") != kind) return false;
  if (!field_text(trial, spec.rows) || !field_text(trial, spec.cols)) return false;
  return std::any_of(spec.metrics.begin(), spec.metrics.end(), [&](const std::string& m) { return trial.find(m); });
}

// Without an explicit kind, a table shows the kind of trial its first metric belongs to:
// detector trials repeat their attack's success rate, and must not crowd an attack table.
std::string table_kind(const TableSpec& spec, const std::vector<Value>& trials) {
  if (!spec.kind.empty()) return spec.kind;
  std::optional<std::string> fallback;
  for (const auto& t : trials) {
    if (!selected(spec, "", t)) continue;
    if (metric_value(t, spec.metrics.front())) return *field_text(t, "kind");
    if (!fallback) fallback = field_text(t, "kind");
  }
  return fallback.value_or("");
}

// Values of a field in order of first appearance; epsilons by their numeric value.
std::vector<std::string> ordered_values(const std::string& field, const std::vector<const Value*>& trials) {
  std::vector<std::string> values;
  std::map<std::string, double> epsilon_of;
  for (const Value* t : trials) {
    const std::string v = *field_text(*t, field);
    if (std::find(values.begin(), values.end(), v) == values.end()) values.push_back(v);
    if (auto e = metric_value(*t, "epsilon")) epsilon_of.emplace(v, *e);
  }
  if (field == "epsilon_text")
    std::stable_sort(values.begin(), values.end(), [&](const std::string& a, const std::string& b) {
      const double ea = epsilon_of.count(a) ? epsilon_of[a] : INFINITY;
      const double eb = epsilon_of.count(b) ? epsilon_of[b] : INFINITY;
      return ea < eb;
    });
  return values;
}

std::string group_value_text(const std::string& field, const std::string& value) {
  if (field == "targeted") return value == "true" ? "targeted" : "untargeted";
  return display_name(field) + " " + value;
}

LaidOutTable fill(const TableSpec& spec, const std::vector<const Value*>& trials, std::string heading) {
  LaidOutTable table;
  table.spec = spec;
  table.title = spec.title.empty() ? joined(spec.metrics, " / ") : spec.title;
  table.heading = std::move(heading);
  table.row_label = display_name(spec.rows);
  table.col_label = display_name(spec.cols);
  table.rows = ordered_values(spec.rows, trials);
  table.cols = ordered_values(spec.cols, trials);
  table.cells.assign(table.rows.size(), std::vector<std::vector<std::optional<double>>>(
                                            table.cols.size(), std::vector<std::optional<double>>(spec.metrics.size())));
  table.trial_names.assign(table.rows.size(), std::vector<std::string>(table.cols.size()));
  for (const Value* t : trials) {
    const auto r = std::find(table.rows.begin(), table.rows.end(), *field_text(*t, spec.rows)) - table.rows.begin();
    const auto c = std::find(table.cols.begin(), table.cols.end(), *field_text(*t, spec.cols)) - table.cols.begin();
    if (!table.trial_names[r][c].empty()) ++table.shared_cells;
    table.trial_names[r][c] = *field_text(*t, "trial");
    for (std::size_t m = 0; m < spec.metrics.size(); ++m) table.cells[r][c][m] = metric_value(*t, spec.metrics[m]);
  }
  return table;
}

std::string markdown_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += "\\|";
    else if (c == '\n' || c == '\r') out += ' ';
    else out += c;
  }
  return out;
}

}  // namespace

const std::vector<std::string>& identity_fields() {
  static const std::vector<std::string> fields = {
      "trial", "hash",   "kind",         "variant", "attack",   "attack_plugin",   "targeted",
      "epsilon", "epsilon_text", "split", "detector", "detector_plugin", "n"};
  return fields;
}


std::vector<TableSpec> default_table_specs(const std::vector<Value>& trials) {
  std::vector<TableSpec> specs;
  auto add = [&](const char* kind, const char* rows, const char* cols, std::vector<std::string> metrics) {
    TableSpec s;
    s.kind = kind;
    s.rows = rows;
    s.cols = cols;
    s.metrics = std::move(metrics);
    specs.push_back(std::move(s));
  };
  if (has_metric(trials, "clean", "clean_accuracy")) add("clean", "variant", "split", {"clean_accuracy"});
  if (has_metric(trials, "clean", "clean_dice")) add("clean", "variant", "split", {"clean_dice"});
  if (has_metric(trials, "attack", "robust_accuracy")) add("attack", "attack", "epsilon_text", {"robust_accuracy"});
  if (has_metric(trials, "attack", "adversarial_dice")) add("attack", "attack", "epsilon_text", {"adversarial_dice"});
  if (has_metric(trials, "detector", "auc") || has_metric(trials, "detector", "tpr@90"))
    add("detector", "detector", "attack", {"auc", "tpr@90"});
  // Adaptive attacks scored by detectors fitted on another attack (detectors_fit_on).
  if (has_metric(trials, "detector", "auc_without")) {
    add("detector", "detector", "attack", {"auc_without", "auc_with"});
    specs.back().title = "AUC without / with the adaptive attack (detectors fitted on the attack its detectors_fit_on names)";
    add("detector", "detector", "attack", {"tpr@90_without", "tpr@90_with"});
    specs.back().title = "TPR at 90% TNR without / with the adaptive attack";
  }
  return specs;
}

std::vector<LaidOutTable> lay_out(const TableSpec& spec, const std::vector<Value>& trials) {
  std::vector<const Value*> chosen;
  const std::string kind = table_kind(spec, trials);
  for (const auto& t : trials)
    if (selected(spec, kind, t)) chosen.push_back(&t);
  std::vector<std::string> grouping;
  for (const auto& field : kGroupingFields) {
    if (field == spec.rows || field == spec.cols) continue;
    std::set<std::optional<std::string>> seen;
    for (const Value* t : chosen) seen.insert(field_text(*t, field));
    if (seen.size() > 1) grouping.push_back(field);
  }
  TrialGroups<std::vector<std::optional<std::string>>> groups;
  for (const Value* t : chosen) {
    std::vector<std::optional<std::string>> key;
    for (const auto& field : grouping) key.push_back(field_text(*t, field));
    groups.add(key, t);
  }
  std::vector<LaidOutTable> tables;
  for (std::size_t g = 0; g < groups.keys.size(); ++g) {
    const auto& key = groups.keys[g];
    std::vector<std::string> parts;
    for (std::size_t f = 0; f < grouping.size(); ++f)
      if (key[f]) parts.push_back(group_value_text(grouping[f], *key[f]));
    tables.push_back(fill(spec, groups.members[g], joined(parts, ", ")));
  }
  return tables;
}

std::string format_metric(const std::optional<double>& v) {
  if (!v || std::isnan(*v)) return "-";
  if (std::isinf(*v)) return *v > 0 ? "inf" : "-inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", *v);
  return buf;
}

std::string format_cell(const std::vector<std::optional<double>>& metrics) {
  std::vector<std::string> parts;
  for (const auto& m : metrics) parts.push_back(format_metric(m));
  return joined(parts, " / ");
}

std::string spec_caption(const TableSpec& spec) {
  std::string caption = spec.title.empty() ? joined(spec.metrics, " / ") : spec.title;
  caption += " (" + (spec.kind.empty() ? std::string() : spec.kind + " trials, ") + spec.split + ")";
  return caption;
}

std::string render_markdown(const std::string& title, const std::vector<TableSpec>& specs,
                            const std::vector<Value>& trials) {
  std::string out = "# " + markdown_escape(title) + "\n";
  if (specs.empty()) out += "\nNo tables: the run has no trials with table metrics yet.\n";
  for (const auto& spec : specs) {
    out += "\n## " + markdown_escape(spec_caption(spec)) + "\n";
    const auto tables = lay_out(spec, trials);
    if (tables.empty())
      out += "\nNo trial of split " + markdown_escape(spec.split) + " has " + markdown_escape(joined(spec.metrics, " or ")) +
             " with fields " + markdown_escape(display_name(spec.rows)) + " and " +
             markdown_escape(display_name(spec.cols)) + ".\n";
    for (const auto& table : tables) {
      if (!table.heading.empty()) out += "\n### " + markdown_escape(table.heading) + "\n";
      out += "\n| " + markdown_escape(table.row_label + " \\ " + table.col_label);
      for (const auto& c : table.cols) out += " | " + markdown_escape(c);
      out += " |\n|---";
      for (std::size_t c = 0; c < table.cols.size(); ++c) out += "|---:";
      out += "|\n";
      for (std::size_t r = 0; r < table.rows.size(); ++r) {
        out += "| " + markdown_escape(table.rows[r]);
        for (std::size_t c = 0; c < table.cols.size(); ++c)
          out += " | " + (table.trial_names[r][c].empty() ? std::string("-") : format_cell(table.cells[r][c]));
        out += " |\n";
      }
      if (table.shared_cells)
        out += "\nNote: " + std::to_string(table.shared_cells) +
               " cell(s) matched several trials; the last one in results.jsonl is shown.\n";
    }
  }
  return out;
}

}  // namespace medadv::host
