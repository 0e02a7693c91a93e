#pragma once
// Report tables: what the experiment's [report] section asks for, laid out over the
// trials of a run, and rendered as GitHub markdown (HTML rendering is in html.h).
#include <optional>
#include <string>
#include <vector>

#include "experiment/table_spec.h"
#include "medadv/value.h"

namespace medadv::host {

// The tables shown when the experiment asks for none, one per kind present: attacks
// (rows attack, cols epsilon, robust_accuracy; adversarial_dice for segmentation),
// detectors (rows detector, cols attack, auc and tpr@90), clean trials (rows variant,
// cols split, clean_accuracy or clean_dice). Variants and epsilons become separate tables.
std::vector<TableSpec> default_table_specs(const std::vector<Value>& trials);

// A spec laid out over one group of trials. Trials of the spec that differ in a field
// other than rows and cols (kind, variant, attack, epsilon, detector, targeted) are split
// into one LaidOutTable per combination, in order of first appearance.
struct LaidOutTable {
  TableSpec spec;
  std::string title;    // spec.title or "robust_accuracy" / "auc / tpr@90"
  std::string heading;  // the group, e.g. "variant baseline, epsilon 8/255"; empty if one group
  std::string row_label, col_label;  // display names of the fields ("epsilon" for epsilon_text)
  std::vector<std::string> rows, cols;
  // cells[r][c][m]: metric m of the trial at (rows[r], cols[c]); nullopt if absent or null.
  std::vector<std::vector<std::vector<std::optional<double>>>> cells;
  std::vector<std::vector<std::string>> trial_names;  // "" where no trial sits
  int shared_cells = 0;  // cells that more than one trial mapped to (the last one is shown)
};

// Empty when no trial matches (rendered as a note).
std::vector<LaidOutTable> lay_out(const TableSpec& spec, const std::vector<Value>& trials);

// "0.912" or, for several metrics, "0.912 / 0.850"; "-" for a missing value. (A cell
// without any trial is shown as a single "-" in markdown and left empty in HTML.)
std::string format_metric(const std::optional<double>& v);
std::string format_cell(const std::vector<std::optional<double>>& metrics);

// The heading line of a spec's tables, e.g. "robust_accuracy (adv_test)".
std::string spec_caption(const TableSpec& spec);

// tables.md: a title, then per spec its caption and its tables (GitHub markdown).
std::string render_markdown(const std::string& title, const std::vector<TableSpec>& specs,
                            const std::vector<Value>& trials);

// The trial fields that identify a trial, in the order tables and CSV columns use them.
const std::vector<std::string>& identity_fields();

}  // namespace medadv::host
