#include "common/canonical_json.h"

#include <cmath>
#include <cstdio>

#include "common/json.h"

namespace medadv::host {

std::string canonical_json(const Value& v) {
  switch (v.type()) {
    case Value::Type::Null: return "null";
    case Value::Type::Bool: return v.as_bool() ? "true" : "false";
    case Value::Type::Int: return std::to_string(v.as_int());
    case Value::Type::Float: {
      if (!std::isfinite(v.as_double())) return "null";
      char digits[32];
      std::snprintf(digits, sizeof digits, "%.17g", v.as_double());
      return digits;
    }
    case Value::Type::String: return to_json(v);
    case Value::Type::Array: {
      std::string out = "[";
      for (std::size_t i = 0; i < v.as_array().size(); ++i) out += (i ? "," : "") + canonical_json(v.as_array()[i]);
      return out + "]";
    }
    case Value::Type::Table: {
      std::string out = "{";
      for (std::size_t i = 0; i < v.as_table().size(); ++i) {
        const auto& [key, child] = v.as_table()[i];
        out += (i ? "," : "") + to_json(Value(key)) + ":" + canonical_json(child);
      }
      return out + "}";
    }
  }
  return "null";
}

}  // namespace medadv::host
