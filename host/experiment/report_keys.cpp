#include "experiment/report_keys.h"

#include <algorithm>

#include "medadv/params.h"
#include "experiment/table_spec.h"

namespace medadv::host {

namespace {

const std::vector<std::string> kExports = {"npz"};

void check_table(const Value& table, const std::string& key, std::vector<Diagnostic>& out) {
  const std::size_t problems_before = out.size();
  auto fail = [&](const Value& at, const std::string& k, const std::string& message) {
    out.push_back(Diagnostic{at.where(), k, "", message});
  };
  if (table.type() != Value::Type::Table) {
    fail(table, key, "expected a table such as { rows = \"attack\", cols = \"epsilon_text\", metrics = [\"robust_accuracy\"] }");
    return;
  }
  const std::vector<std::string> keys = {"rows", "cols", "metrics", "split", "title", "kind"};
  for (const auto& [k, v] : table.as_table()) {
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) {
      fail(v, key + "." + k, "unknown key '" + k + "'" + did_you_mean(k, keys) + "; a table takes rows, cols, metrics, split, title, kind");
      continue;
    }
    if (k == "rows" || k == "cols") {
      const auto& fields = report_table_fields();
      if (v.type() != Value::Type::String) fail(v, key + "." + k, "expected a field name (string)");
      else if (std::find(fields.begin(), fields.end(), v.as_string()) == fields.end()) {
        std::string list;
        for (const auto& f : fields) list += " " + f;
        fail(v, key + "." + k, "\"" + v.as_string() + "\" is not a trial field" + did_you_mean(v.as_string(), fields) +
                                    "; fields:" + list);
      }
    } else if (k == "metrics") {
      bool ok = v.type() == Value::Type::String || (v.type() == Value::Type::Array && !v.as_array().empty());
      if (ok && v.type() == Value::Type::Array)
        for (const auto& m : v.as_array()) ok = ok && m.type() == Value::Type::String;
      if (!ok) fail(v, key + ".metrics", "expected a non-empty list of metric names, e.g. [\"robust_accuracy\"]");
    } else if (v.type() != Value::Type::String) {
      fail(v, key + "." + k, "expected a string");
    }
  }
  if (!table.find("metrics")) {
    fail(table, key + ".metrics", "missing: the metrics to show, e.g. [\"robust_accuracy\"]");
    return;
  }
  // The report reads tables with table_specs(): whatever it refuses is refused here too.
  try {
    Value wrapper(Value::Table{});
    wrapper.set("table", table);
    table_specs(wrapper);
  } catch (const std::exception& e) {
    if (out.size() == problems_before) fail(table, key, e.what());
  }
}

}  // namespace

const std::vector<std::string>& report_table_fields() {
  static const std::vector<std::string> fields = {"variant", "attack", "epsilon_text", "epsilon", "split", "detector", "attack_plugin", "detector_plugin", "kind", "targeted"};
  return fields;
}

Value check_report(const Value* report, std::vector<Diagnostic>& out) {
  Value resolved(Value::Table{});
  if (!report) {
    resolved.set("export", Value(Value::Array{}));
    resolved.set("examples", Value(std::int64_t{8}));
    return resolved;
  }
  if (report->type() != Value::Type::Table) {
    out.push_back(Diagnostic{report->where(), "report", "", "expected a table"});
    return resolved;
  }
  const std::vector<std::string> keys = {"table", "tables", "export", "examples"};
  for (const auto& [k, v] : report->as_table()) {
    const std::string key = "report." + k;
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) {
      out.push_back(Diagnostic{v.where(), key, "", "unknown key '" + k + "'" + did_you_mean(k, keys) +
                                                       "; [report] takes table, tables, export, examples"});
      continue;
    }
    if (k == "table") check_table(v, key, out);
    if (k == "tables") {
      if (v.type() != Value::Type::Array) out.push_back(Diagnostic{v.where(), key, "", "expected a list of tables"});
      else
        for (std::size_t i = 0; i < v.as_array().size(); ++i)
          check_table(v.as_array()[i], key + "[" + std::to_string(i) + "]", out);
    }
    if (k == "export") {
      bool ok = v.type() == Value::Type::Array;
      if (ok)
        for (const auto& e : v.as_array()) {
          if (e.type() == Value::Type::String && std::find(kExports.begin(), kExports.end(), e.as_string()) != kExports.end())
            continue;
          out.push_back(Diagnostic{e.where(), key, "", e.to_string() + " is not an export format; formats: npz"});
        }
      else
        out.push_back(Diagnostic{v.where(), key, "", "expected a list of formats, e.g. [\"npz\"]"});
    }
    if (k == "examples" && (v.type() != Value::Type::Int || v.as_int() < 0 || v.as_int() > 64))
      out.push_back(Diagnostic{v.where(), key, "", "expected an integer in [0, 64]: example images per attack trial"});
    resolved.set(k, v);
  }
  if (!resolved.find("export")) resolved.set("export", Value(Value::Array{}));
  if (!resolved.find("examples")) resolved.set("examples", Value(std::int64_t{8}));
  return resolved;
}

}  // namespace medadv::host
