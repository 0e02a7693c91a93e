#pragma once
// A configuration value as read from an experiment file, independent of the TOML
// library, with the place it came from so errors can point at it.
#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "medadv/export.h"

namespace medadv {

struct MEDADV_API SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;
  // "file:line:column", or whatever part is known; empty when nothing is.
  std::string to_string() const;
};

class MEDADV_API Value {
 public:
  enum class Type { Null, Bool, Int, Float, String, Array, Table };
  using Array = std::vector<Value>;
  using Table = std::vector<std::pair<std::string, Value>>;  // keeps the file's order

  Value() = default;
  Value(bool v) : data_(v) {}
  Value(int v) : data_(static_cast<std::int64_t>(v)) {}
  Value(std::int64_t v) : data_(v) {}
  Value(double v) : data_(v) {}
  Value(const char* v) : data_(std::string(v)) {}
  Value(std::string v) : data_(std::move(v)) {}
  Value(Array v) : data_(std::move(v)) {}
  Value(Table v) : data_(std::move(v)) {}

  Type type() const { return static_cast<Type>(data_.index()); }
  bool is_null() const { return type() == Type::Null; }
  bool is_number() const { return type() == Type::Int || type() == Type::Float; }

  // Typed access; each throws medadv::InvalidInput naming the expected type.
  bool as_bool() const;
  std::int64_t as_int() const;
  double as_double() const;  // ints convert
  const std::string& as_string() const;
  const Array& as_array() const;
  const Table& as_table() const;
  Array& as_array();
  Table& as_table();

  // Table lookup: nullptr when absent (or when this is not a table).
  const Value* find(const std::string& key) const;
  // Inserts or replaces a table entry (this must be a table).
  void set(const std::string& key, Value v);

  // TOML-like rendering, e.g. 8, 0.5, "8/255", [1, 2], { a = 1 }.
  std::string to_string() const;

  const SourceLocation& where() const { return where_; }
  Value& located(SourceLocation where) {
    where_ = std::move(where);
    return *this;
  }

  static const char* type_name(Type t);

 private:
  std::variant<std::monostate, bool, std::int64_t, double, std::string, Array, Table> data_;
  SourceLocation where_;
};

}  // namespace medadv
