#include "medadv/value.h"

#include <cmath>
#include <cstdlib>
#include <sstream>

#include "medadv/error.h"

namespace medadv {

std::string SourceLocation::to_string() const {
  if (file.empty() && line == 0) return "";
  std::ostringstream out;
  out << (file.empty() ? "<input>" : file);
  if (line > 0) {
    out << ':' << line;
    if (column > 0) out << ':' << column;
  }
  return out.str();
}

const char* Value::type_name(Type t) {
  switch (t) {
    case Type::Null: return "nothing";
    case Type::Bool: return "boolean";
    case Type::Int: return "integer";
    case Type::Float: return "float";
    case Type::String: return "string";
    case Type::Array: return "array";
    case Type::Table: return "table";
  }
  return "?";
}

namespace {
[[noreturn]] void wrong_type(const Value& v, const char* expected) {
  throw InvalidInput(std::string("expected ") + expected + ", found " + Value::type_name(v.type()) +
                     (v.is_null() ? "" : " " + v.to_string()));
}
}  // namespace

bool Value::as_bool() const {
  if (type() != Type::Bool) wrong_type(*this, "a boolean");
  return std::get<bool>(data_);
}
std::int64_t Value::as_int() const {
  if (type() != Type::Int) wrong_type(*this, "an integer");
  return std::get<std::int64_t>(data_);
}
double Value::as_double() const {
  if (type() == Type::Int) return static_cast<double>(std::get<std::int64_t>(data_));
  if (type() != Type::Float) wrong_type(*this, "a number");
  return std::get<double>(data_);
}
const std::string& Value::as_string() const {
  if (type() != Type::String) wrong_type(*this, "a string");
  return std::get<std::string>(data_);
}
const Value::Array& Value::as_array() const {
  if (type() != Type::Array) wrong_type(*this, "an array");
  return std::get<Array>(data_);
}
const Value::Table& Value::as_table() const {
  if (type() != Type::Table) wrong_type(*this, "a table");
  return std::get<Table>(data_);
}
Value::Array& Value::as_array() {
  if (type() != Type::Array) wrong_type(*this, "an array");
  return std::get<Array>(data_);
}
Value::Table& Value::as_table() {
  if (type() != Type::Table) wrong_type(*this, "a table");
  return std::get<Table>(data_);
}

const Value* Value::find(const std::string& key) const {
  if (type() != Type::Table) return nullptr;
  for (const auto& [k, v] : std::get<Table>(data_))
    if (k == key) return &v;
  return nullptr;
}

void Value::set(const std::string& key, Value v) {
  auto& table = as_table();
  for (auto& [k, existing] : table)
    if (k == key) {
      existing = std::move(v);
      return;
    }
  table.emplace_back(key, std::move(v));
}

std::string Value::to_string() const {
  std::ostringstream out;
  switch (type()) {
    case Type::Null: return "";
    case Type::Bool: return as_bool() ? "true" : "false";
    case Type::Int: return std::to_string(as_int());
    case Type::Float: {
      const double d = std::get<double>(data_);
      // The shortest of 15..17 significant digits that reads back exactly: 0.05, not
      // 0.050000000000000003.
      std::string s;
      for (int digits = 15; digits <= 17; ++digits) {
        std::ostringstream attempt;
        attempt.precision(digits);
        attempt << d;
        s = attempt.str();
        if (std::strtod(s.c_str(), nullptr) == d) break;
      }
      if (std::isfinite(d) && s.find_first_of(".eE") == std::string::npos) s += ".0";
      return s;
    }
    case Type::String: {
      out << '"';
      for (char c : as_string()) {
        if (c == '"' || c == '\\') out << '\\';
        out << c;
      }
      out << '"';
      return out.str();
    }
    case Type::Array: {
      out << '[';
      bool first = true;
      for (const auto& v : as_array()) {
        out << (first ? "" : ", ") << v.to_string();
        first = false;
      }
      out << ']';
      return out.str();
    }
    case Type::Table: {
      out << "{ ";
      bool first = true;
      for (const auto& [k, v] : as_table()) {
        out << (first ? "" : ", ") << k << " = " << v.to_string();
        first = false;
      }
      out << (first ? "}" : " }");
      return out.str();
    }
  }
  return "";
}

}  // namespace medadv
