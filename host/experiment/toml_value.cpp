#include "experiment/toml_value.h"

#include <toml++/toml.h>

#include <fstream>
#include <sstream>

#include "medadv/error.h"

namespace medadv::host {

namespace {

SourceLocation where(const toml::node& node, const std::string& file) {
  const auto& src = node.source();
  return SourceLocation{file, static_cast<int>(src.begin.line), static_cast<int>(src.begin.column)};
}

Value convert(const toml::node& node, const std::string& file) {
  Value v;
  if (auto t = node.as_table()) {
    Value::Table table;
    for (const auto& [key, child] : *t) {
      Value c = convert(child, file);
      if (c.where().line == 0) c.located(SourceLocation{file, static_cast<int>(key.source().begin.line),
                                                        static_cast<int>(key.source().begin.column)});
      table.emplace_back(std::string(key.str()), std::move(c));
    }
    v = Value(std::move(table));
  } else if (auto a = node.as_array()) {
    Value::Array array;
    for (const auto& child : *a) array.push_back(convert(child, file));
    v = Value(std::move(array));
  } else if (auto s = node.as_string()) {
    v = Value(s->get());
  } else if (auto i = node.as_integer()) {
    v = Value(static_cast<std::int64_t>(i->get()));
  } else if (auto f = node.as_floating_point()) {
    v = Value(f->get());
  } else if (auto b = node.as_boolean()) {
    v = Value(b->get());
  } else {
    v = Value(node.is_date() || node.is_time() || node.is_date_time() ? "<date/time>" : "");
  }
  v.located(where(node, file));
  return v;
}

Value parse(const std::string& text, const std::string& source_name) {
  try {
    toml::table table = toml::parse(text, source_name);
    Value root = convert(table, source_name);
    root.located(SourceLocation{source_name, 1, 1});
    return root;
  } catch (const toml::parse_error& e) {
    const auto& src = e.source();
    throw ValidationError({Diagnostic{
        SourceLocation{source_name, static_cast<int>(src.begin.line), static_cast<int>(src.begin.column)}, "", "",
        "TOML syntax error: " + std::string(e.description())}});
  }
}

}  // namespace

Value parse_toml_text(const std::string& text, const std::string& source_name) { return parse(text, source_name); }

Value load_toml_file(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw InvalidInput(file.string() + ": cannot be read (no such file, or no permission)");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parse(buffer.str(), file.string());
}

void apply_override(Value& root, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InvalidInput("--set " + assignment + ": expected KEY=VALUE, e.g. --set model.train.epochs=2");
  const std::string path = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  Value value;
  try {
    value = *parse_toml_text("v = " + text, "--set").find("v");
  } catch (const InvalidInput&) {
    value = Value(text);  // a bare word: a string
  }
  value.located(SourceLocation{"--set " + path, 0, 0});

  // Split "a.b[1].c" into steps.
  Value* node = &root;
  std::stringstream steps(path);
  std::string step;
  std::vector<std::string> parts;
  while (std::getline(steps, step, '.')) parts.push_back(step);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    std::string key = parts[i];
    long index = -1;
    if (const auto bracket = key.find('['); bracket != std::string::npos) {
      if (key.back() != ']') throw InvalidInput("--set " + path + ": malformed index in '" + key + "'");
      // Digits only: std::stol would throw its own exceptions at "[x]" and "[99999999999999999999]"
      // (found by tests/fuzz) and take "[-1]" as no index at all.
      const std::string digits = key.substr(bracket + 1, key.size() - bracket - 2);
      if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos)
        throw InvalidInput("--set " + path + ": malformed index in '" + key + "' (expected [0], [1], ...)");
      index = std::stol(digits);
      key = key.substr(0, bracket);
    }
    if (key.empty()) throw InvalidInput("--set " + path + ": empty key");
    if (node->type() != Value::Type::Table)
      throw InvalidInput("--set " + path + ": '" + key + "' is inside something that is not a table");
    const bool last = i + 1 == parts.size();
    if (last && index < 0) {
      node->set(key, value);
      return;
    }
    const Value* existing = node->find(key);
    if (!existing) node->set(key, index >= 0 ? Value(Value::Array{}) : Value(Value::Table{}));
    Value* child = nullptr;
    for (auto& [k, v] : node->as_table())
      if (k == key) child = &v;
    if (index >= 0) {
      if (child->type() != Value::Type::Array || index >= static_cast<long>(child->as_array().size()))
        throw InvalidInput("--set " + path + ": '" + key + "' has no element " + std::to_string(index));
      child = &child->as_array()[static_cast<std::size_t>(index)];
      if (last) {
        *child = value;
        return;
      }
    }
    node = child;
  }
}

}  // namespace medadv::host
