#include "experiment/table_spec.h"

#include <algorithm>

#include "common/text.h"
#include "medadv/error.h"

namespace medadv::host {

namespace {

const std::vector<std::string> kSpecKeys = {"rows", "cols", "metrics", "split", "kind", "title"};

std::string required_string(const Value& table, const std::string& key, const std::string& where) {
  const Value* v = table.find(key);
  if (!v) throw InvalidInput(where + ": missing key '" + key + "' (a trial field, e.g. \"attack\")");
  if (v->type() != Value::Type::String || v->as_string().empty())
    throw InvalidInput(where + "." + key + ": expected a non-empty string, got " + v->to_string());
  return v->as_string();
}

TableSpec spec_from(const Value& table, const std::string& where) {
  if (table.type() != Value::Type::Table)
    throw InvalidInput(where + ": expected a table like { rows = \"attack\", cols = \"epsilon\", metrics = [...] }");
  for (const auto& [key, value] : table.as_table())
    if (std::find(kSpecKeys.begin(), kSpecKeys.end(), key) == kSpecKeys.end())
      throw InvalidInput(where + ": unknown key '" + key + "' (expected " + joined(kSpecKeys, ", ") + ")");
  TableSpec spec;
  spec.rows = canonical_field(required_string(table, "rows", where));
  spec.cols = canonical_field(required_string(table, "cols", where));
  if (spec.rows == spec.cols) throw InvalidInput(where + ": rows and cols are both '" + spec.rows + "'");
  const Value* metrics = table.find("metrics");
  if (!metrics) throw InvalidInput(where + ": missing key 'metrics' (e.g. [\"robust_accuracy\"])");
  if (metrics->type() == Value::Type::String) {
    spec.metrics.push_back(metrics->as_string());
  } else if (metrics->type() == Value::Type::Array && !metrics->as_array().empty()) {
    for (const auto& m : metrics->as_array()) {
      if (m.type() != Value::Type::String || m.as_string().empty())
        throw InvalidInput(where + ".metrics: expected metric names (strings), got " + m.to_string());
      spec.metrics.push_back(m.as_string());
    }
  } else {
    throw InvalidInput(where + ".metrics: expected a metric name or a non-empty list of them");
  }
  if (table.find("split")) spec.split = required_string(table, "split", where);
  if (table.find("kind")) spec.kind = required_string(table, "kind", where);
  if (table.find("title")) spec.title = required_string(table, "title", where);
  return spec;
}

}  // namespace

std::string canonical_field(const std::string& field) { return field == "epsilon" ? "epsilon_text" : field; }

std::string display_name(const std::string& field) { return field == "epsilon_text" ? "epsilon" : field; }

std::vector<TableSpec> table_specs(const Value& report) {
  std::vector<TableSpec> specs;
  if (report.type() != Value::Type::Table) return specs;
  if (const Value* table = report.find("table")) specs.push_back(spec_from(*table, "report.table"));
  if (const Value* tables = report.find("tables")) {
    if (tables->type() != Value::Type::Array) throw InvalidInput("report.tables: expected a list of tables");
    for (std::size_t i = 0; i < tables->as_array().size(); ++i)
      specs.push_back(spec_from(tables->as_array()[i], "report.tables[" + std::to_string(i) + "]"));
  }
  return specs;
}

}  // namespace medadv::host
