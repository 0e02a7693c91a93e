#include "cli/schema_text.h"

#include <algorithm>
#include <sstream>

#include "common/json.h"

namespace medadv::host {

namespace {
struct Row {
  std::string name, type, def, doc;
};

void collect(const ParamSchema& schema, const std::string& prefix, std::vector<Row>& rows) {
  for (const auto& s : schema.specs()) {
    std::string def = s.is_required() ? "(required)" : s.default_of().to_string();
    if (s.type() == ParamType::Table) def = "";
    rows.push_back({prefix + s.name(), s.type_description(), def, s.doc()});
    if (s.nested()) collect(*s.nested(), prefix + s.name() + ".", rows);
  }
}

// The schema's rules between parameters (ParamSchema::add_check), nested tables' too,
// each named by its description ("in train: ..." for a nested table's).
void collect_checks(const ParamSchema& schema, const std::string& table, std::vector<std::string>& out) {
  for (const auto& c : schema.checks()) out.push_back(table.empty() ? c.description : "in " + table + ": " + c.description);
  for (const auto& s : schema.specs())
    if (s.nested()) collect_checks(*s.nested(), table.empty() ? s.name() : table + "." + s.name(), out);
}

std::vector<std::string> checks_of(const ParamSchema& schema) {
  std::vector<std::string> out;
  collect_checks(schema, "", out);
  return out;
}
}  // namespace

std::string schema_table(const ParamSchema& schema) {
  std::vector<Row> rows{{"name", "type", "default", "description"}};
  collect(schema, "", rows);
  if (rows.size() == 1) return "  (no parameters)\n";
  std::size_t w[3] = {0, 0, 0};
  for (const auto& r : rows) {
    w[0] = std::max(w[0], r.name.size());
    w[1] = std::max(w[1], r.type.size());
    w[2] = std::max(w[2], r.def.size());
  }
  std::ostringstream out;
  for (const auto& r : rows) {
    out << "  " << r.name << std::string(w[0] - r.name.size() + 2, ' ') << r.type
        << std::string(w[1] - r.type.size() + 2, ' ') << r.def << std::string(w[2] - r.def.size() + 2, ' ') << r.doc
        << "\n";
  }
  for (const auto& check : checks_of(schema)) out << "  checked: " << check << "\n";
  return out.str();
}

std::string schema_markdown(const ParamSchema& schema) {
  std::vector<Row> rows;
  collect(schema, "", rows);
  if (rows.empty()) return "No parameters.\n";
  auto cell = [](std::string s) {
    std::string out;
    for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
    return out;
  };
  std::ostringstream out;
  out << "| parameter | type | default | description |\n|---|---|---|---|\n";
  for (const auto& r : rows)
    out << "| `" << r.name << "` | " << cell(r.type) << " | " << (r.def.empty() ? "" : "`" + cell(r.def) + "`")
        << " | " << cell(r.doc) << " |\n";
  const auto checks = checks_of(schema);
  if (!checks.empty()) {
    out << "\nAlso checked:";
    for (std::size_t i = 0; i < checks.size(); ++i) out << (i ? "; " : " ") << checks[i];
    out << ".\n";
  }
  return out.str();
}

namespace {
void spec_json(JsonWriter& j, const ParamSpec& s) {
  j.begin_object();
  j.key("name").value(s.name());
  j.key("type").value(param_type_name(s.type()));
  j.key("description").value(s.type_description());
  j.key("doc").value(s.doc());
  j.key("required").value(s.is_required());
  if (!s.is_required() && s.type() != ParamType::Table) j.key("default").raw(to_json(s.default_of()));
  if (s.lower()) j.key(s.lower_exclusive() ? "exclusive_min" : "min").value(*s.lower());
  if (s.upper()) j.key("max").value(*s.upper());
  if (!s.allowed().empty()) {
    j.key("choices").begin_array();
    for (const auto& c : s.allowed()) j.value(c);
    j.end_array();
  }
  if (s.element()) {
    j.key("element");
    spec_json(j, *s.element());
  }
  if (s.nested()) {
    j.key("parameters").begin_array();
    for (const auto& n : s.nested()->specs()) spec_json(j, n);
    j.end_array();
  }
  j.end_object();
}
}  // namespace

std::string schema_json(const ParamSchema& schema) {
  JsonWriter j;
  j.begin_array();
  for (const auto& s : schema.specs()) spec_json(j, s);
  j.end_array();
  return j.str();
}

std::string plugin_json(const PluginHandle& p) {
  JsonWriter j;
  j.begin_object();
  j.key("kind").value(p.kind_text());
  j.key("name").value(p.name());
  j.key("version").value(p.version());
  j.key("summary").value(p.summary());
  if (p.kind() == Kind::Attack) j.key("threat_model").value(threat_model_name(p.threat_model()));
  j.key("library").value(p.library().path().string());
  j.key("sha256").value(p.library().sha256());
  j.key("sdk_version").value(p.library().descriptor().sdk_version);
  j.key("parameters").raw(schema_json(p.schema()));
  j.key("checks").begin_array();
  for (const auto& check : checks_of(p.schema())) j.value(check);
  j.end_array();
  j.end_object();
  return j.str();
}

}  // namespace medadv::host
