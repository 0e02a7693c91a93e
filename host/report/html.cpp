#include "report/html.h"

#include <algorithm>

#include "common/json.h"
#include "report/csv.h"
#include "report/embed.h"
#include "report/html_sections.h"
#include "report/svg.h"

namespace medadv::host {

namespace {

const char* const kStyle = R"(
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto; max-width: 1200px;
       padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; margin-top: 2.2rem; }
.subtitle { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 0.6rem 0 1rem; font-size: 0.9rem; }
th, td { border: 1px solid #d0d0d0; padding: 0.25rem 0.6rem; }
th { background: #f3f3f3; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
svg.chart { max-width: 100%; height: auto; font-size: 11px; border: 1px solid #eee; }
svg .chart-title { font-size: 13px; font-weight: 600; }
svg .grid { stroke: #e6e6e6; stroke-width: 1; } svg .frame { fill: none; stroke: #999; stroke-width: 1; }
svg .axis { stroke: #999; } svg .reference { stroke: #999; stroke-dasharray: 4 4; stroke-width: 1.5; }
figure { margin: 1rem 0 2rem; } figcaption { font-weight: 600; margin-bottom: 0.4rem; }
.grid-image { image-rendering: pixelated; display: block; }
.captions { display: grid; font-size: 0.75rem; text-align: center; }
.captions div { padding: 0.15rem; overflow-wrap: anywhere; }
.wrong { color: #c62828; font-weight: 600; }
.note { color: #666; font-style: italic; }
details summary { cursor: pointer; font-weight: 600; }
code { font-size: 0.85em; }
)";

std::string scalar_text(const Value& v) {
  switch (v.type()) {
    case Value::Type::Null: return "";
    case Value::Type::String: return v.as_string();
    case Value::Type::Array:
    case Value::Type::Table: return to_json(v);
    default: return v.to_string();
  }
}

bool table_array(const Value& v) {
  return v.type() == Value::Type::Array && !v.as_array().empty() &&
         std::all_of(v.as_array().begin(), v.as_array().end(),
                     [](const Value& e) { return e.type() == Value::Type::Table; });
}

// A list of objects (plugins, ...) as a table; sha256 values shortened to a prefix.
std::string object_list_table(const Value& list) {
  std::vector<std::string> columns;
  for (const std::string preferred : {"kind", "name", "version", "sha256", "path"})
    for (const auto& e : list.as_array())
      if (e.find(preferred) && std::find(columns.begin(), columns.end(), preferred) == columns.end())
        columns.push_back(preferred);
  for (const auto& e : list.as_array())
    for (const auto& [key, value] : e.as_table())
      if (std::find(columns.begin(), columns.end(), key) == columns.end()) columns.push_back(key);
  std::string out = "<div class=\"scroll\"><table><tr>";
  for (const auto& c : columns) out += "<th>" + html_escape(c) + "</th>";
  out += "</tr>\n";
  for (const auto& e : list.as_array()) {
    out += "<tr>";
    for (const auto& c : columns) {
      const Value* v = e.find(c);
      const std::string text = v ? scalar_text(*v) : "";
      if (c == "sha256" && text.size() > 12)
        out += "<td><code title=\"" + html_escape(text) + "\">" + html_escape(text.substr(0, 12)) + "</code></td>";
      else
        out += "<td>" + html_escape(text) + "</td>";
    }
    out += "</tr>\n";
  }
  return out + "</table></div>\n";
}

std::string manifest_section(const RunData& run) {
  std::string out = "<section id=\"run\">\n<h2>Run</h2>\n";
  if (run.manifest.type() != Value::Type::Table) {
    return out + "<p class=\"note\">This run directory has no manifest.json.</p>\n</section>\n";
  }
  std::string lists;
  out += "<table>\n";
  for (const auto& [key, value] : run.manifest.as_table()) {
    if (table_array(value)) {
      lists += "<h3>" + html_escape(key) + "</h3>\n" + object_list_table(value);
      continue;
    }
    out += "<tr><th>" + html_escape(key) + "</th><td>" + html_escape(scalar_text(value)) + "</td></tr>\n";
  }
  return out + "</table>\n" + lists + "</section>\n";
}

std::string html_table(const LaidOutTable& table) {
  std::string out = "<div class=\"scroll\"><table>\n<tr><th>" + html_escape(table.row_label + " \\ " + table.col_label) +
                    "</th>";
  for (const auto& c : table.cols) out += "<th>" + html_escape(c) + "</th>";
  out += "</tr>\n";
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    out += "<tr><th>" + html_escape(table.rows[r]) + "</th>";
    for (std::size_t c = 0; c < table.cols.size(); ++c) {
      const std::string& trial = table.trial_names[r][c];
      out += "<td class=\"num\"" + (trial.empty() ? std::string() : " title=\"" + html_escape(trial) + "\"") + ">" +
             html_escape(trial.empty() ? std::string() : format_cell(table.cells[r][c])) + "</td>";
    }
    out += "</tr>\n";
  }
  out += "</table></div>\n";
  if (table.shared_cells)
    out += "<p class=\"note\">" + std::to_string(table.shared_cells) +
           " cell(s) matched several trials; the last one in results.jsonl is shown.</p>\n";
  return out;
}

std::string bar_charts(const LaidOutTable& table) {
  std::string out = "<div class=\"charts\">\n";
  for (std::size_t m = 0; m < table.spec.metrics.size(); ++m) {
    BarChart chart;
    chart.title = table.spec.metrics[m] + (table.heading.empty() ? "" : " (" + table.heading + ")");
    chart.y_label = table.spec.metrics[m];
    chart.categories = table.rows;
    chart.series = table.cols;
    for (std::size_t r = 0; r < table.rows.size(); ++r) {
      chart.values.emplace_back();
      for (std::size_t c = 0; c < table.cols.size(); ++c) chart.values.back().push_back(table.cells[r][c][m]);
    }
    out += svg_bar_chart(chart);
  }
  return out + "</div>\n";
}

std::string tables_section(const RunData& run, const std::vector<TableSpec>& specs) {
  std::string out = "<section id=\"tables\">\n<h2>Tables</h2>\n";
  if (specs.empty()) out += "<p class=\"note\">No trial has table metrics yet.</p>\n";
  for (const auto& spec : specs) {
    out += "<section>\n<h3>" + html_escape(spec_caption(spec)) + "</h3>\n";
    const auto tables = lay_out(spec, run.trials);
    if (tables.empty()) out += "<p class=\"note\">No trial matches this table.</p>\n";
    for (const auto& table : tables) {
      if (!table.heading.empty()) out += "<h4>" + html_escape(table.heading) + "</h4>\n";
      out += html_table(table) + bar_charts(table);
    }
    out += "</section>\n";
  }
  return out + "</section>\n";
}

std::string all_results_section(const RunData& run) {
  const auto columns = csv_columns(run.trials);
  std::string out = "<section id=\"all-results\">\n<h2>All results</h2>\n<details>\n<summary>" +
                    std::to_string(run.trials.size()) + " trial(s), every scalar field (as in results.csv)</summary>\n" +
                    "<div class=\"scroll\"><table>\n<tr>";
  for (const auto& c : columns) out += "<th>" + html_escape(c) + "</th>";
  out += "</tr>\n";
  for (const auto& t : run.trials) {
    out += "<tr>";
    for (const auto& c : columns) {
      const Value* v = t.find(c);
      const bool numeric = v && v->is_number();
      const std::string text = v && v->type() != Value::Type::Array && v->type() != Value::Type::Table
                                   ? field_text(t, c).value_or("")
                                   : "";
      out += std::string(numeric ? "<td class=\"num\">" : "<td>") + html_escape(text) + "</td>";
    }
    out += "</tr>\n";
  }
  return out + "</table></div>\n</details>\n</section>\n";
}

}  // namespace

std::string render_html(const RunData& run, const std::vector<TableSpec>& specs) {
  const std::string title = run.experiment_name + " \xE2\x80\x94 run " + run.run_id;
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>medadv: " +
                    html_escape(title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n";
  out += "<header>\n<h1>" + html_escape(run.experiment_name) + "</h1>\n<p class=\"subtitle\">run " +
         html_escape(run.run_id) + " &middot; " + std::to_string(run.trials.size()) + " trial(s) &middot; <code>" +
         html_escape(run.dir.string()) + "</code></p>\n</header>\n";
  out += manifest_section(run);
  out += tables_section(run, specs);
  out += accuracy_vs_epsilon_section(run);
  out += roc_section(run);
  out += examples_section(run);
  out += all_results_section(run);
  return out + "</body>\n</html>\n";
}

}  // namespace medadv::host
