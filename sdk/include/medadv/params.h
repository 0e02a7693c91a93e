#pragma once
// Parameter schemas in the spirit of MOOSE's validParams(): every parameter a plugin
// takes is declared once, typed, defaulted, documented and range-checked, and the
// whole table is validated before any work starts.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "medadv/error.h"
#include "medadv/export.h"
#include "medadv/value.h"

namespace medadv {

enum class ParamType { Bool, Int, Float, String, Enum, List, Table, Epsilon };
MEDADV_API const char* param_type_name(ParamType t);

class ParamSchema;

// One declared parameter. Built fluently:
//   s.add_int("steps", 10, "number of iterations").min(1).max(10000);
class MEDADV_API ParamSpec {
 public:
  ParamSpec(std::string name, ParamType type, std::string doc);

  ParamSpec& min(double v);
  ParamSpec& max(double v);
  // Excludes the upper bound itself (e.g. a momentum in [0, 1)).
  ParamSpec& max_exclusive(double v);
  // Excludes the lower bound itself (e.g. a step size that must be > 0).
  ParamSpec& min_exclusive(double v);
  ParamSpec& choices(std::vector<std::string> allowed);
  ParamSpec& default_value(Value v);
  // No default: the experiment must give it (e.g. a dataset's path).
  ParamSpec& required();
  // For lists: bounds on the number of elements.
  ParamSpec& min_length(std::size_t n);

  const std::string& name() const { return name_; }
  ParamType type() const { return type_; }
  const std::string& doc() const { return doc_; }
  bool is_required() const { return required_; }
  const Value& default_of() const { return default_; }
  const std::optional<double>& lower() const { return min_; }
  bool lower_exclusive() const { return min_exclusive_; }
  const std::optional<double>& upper() const { return max_; }
  bool upper_exclusive() const { return max_exclusive_; }
  const std::vector<std::string>& allowed() const { return choices_; }
  std::size_t min_elements() const { return min_length_; }
  // Lists: the element type; tables: the nested schema.
  const ParamSpec* element() const { return element_.get(); }
  const ParamSchema* nested() const { return nested_.get(); }

  // "float in [0, 1]", "enum: linf | l2", "list of int (>= 1 items)", ...
  std::string type_description() const;

 private:
  friend class ParamSchema;
  std::string name_;
  ParamType type_;
  std::string doc_;
  Value default_;
  bool required_ = false;
  std::optional<double> min_, max_;
  bool min_exclusive_ = false;
  bool max_exclusive_ = false;
  std::vector<std::string> choices_;
  std::size_t min_length_ = 0;
  std::shared_ptr<ParamSpec> element_;
  std::shared_ptr<ParamSchema> nested_;
};

class Params;

class MEDADV_API ParamSchema {
 public:
  ParamSpec& add_bool(const std::string& name, bool def, const std::string& doc);
  ParamSpec& add_int(const std::string& name, std::int64_t def, const std::string& doc);
  ParamSpec& add_float(const std::string& name, double def, const std::string& doc);
  ParamSpec& add_string(const std::string& name, const std::string& def, const std::string& doc);
  ParamSpec& add_enum(const std::string& name, std::vector<std::string> choices,
                      const std::string& def, const std::string& doc);
  // A perturbation size: a number or a fraction string such as "8/255" or "0.02/256".
  // Never negative.
  ParamSpec& add_epsilon(const std::string& name, const std::string& def, const std::string& doc);
  // A list whose elements follow `element` (its name and doc are ignored).
  ParamSpec& add_list(const std::string& name, ParamSpec element, Value::Array def,
                      const std::string& doc);
  // A nested table validated by its own schema.
  ParamSpec& add_table(const std::string& name, ParamSchema nested, const std::string& doc);

  const std::vector<ParamSpec>& specs() const { return specs_; }
  const ParamSpec* find(const std::string& name) const;

  // Validates `table` (a Value table) and fills defaults. Every problem is appended
  // to `out` with its location, `key_prefix` + key, and `plugin`; the returned Params
  // hold what could be resolved. Keys listed in `ignored` belong to the caller.
  Params resolve(const Value& table, const std::string& plugin, const std::string& key_prefix,
                 std::vector<Diagnostic>& out,
                 const std::vector<std::string>& ignored = {}) const;
  // Same, throwing ValidationError when anything is wrong.
  Params resolve_or_throw(const Value& table, const std::string& plugin,
                          const std::string& key_prefix = "") const;
  // All defaults (throws when a parameter is required).
  Params defaults(const std::string& plugin) const;

 private:
  ParamSpec& add(ParamSpec spec);
  std::vector<ParamSpec> specs_;
};

// Resolved parameters: every declared key present, typed, in range.
class MEDADV_API Params {
 public:
  Params() = default;

  bool has(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  std::int64_t get_int(const std::string& key) const;
  double get_float(const std::string& key) const;  // also epsilons
  const std::string& get_string(const std::string& key) const;  // also enums
  const Value::Array& get_list(const std::string& key) const;
  std::vector<double> get_float_list(const std::string& key) const;
  std::vector<std::int64_t> get_int_list(const std::string& key) const;
  std::vector<std::string> get_string_list(const std::string& key) const;
  const Params& get_table(const std::string& key) const;
  const Value& raw(const std::string& key) const;
  // The text an epsilon was written as ("8/255"), for reports.
  std::string text_of(const std::string& key) const;

  // The resolved parameters as a Value table (defaults filled), for manifests.
  Value to_value() const;
  const std::string& plugin() const { return plugin_; }

 private:
  friend class ParamSchema;
  std::string plugin_;
  std::map<std::string, Value> values_;
  std::map<std::string, std::string> texts_;
  std::map<std::string, Params> tables_;
  std::vector<std::string> order_;
};

// "8/255" -> 0.0313..., "0.5" -> 0.5, 0.25 -> 0.25. Throws InvalidInput with the
// reason ("zero denominator", "not a number or fraction", "negative").
MEDADV_API double parse_epsilon(const Value& v);
MEDADV_API double parse_epsilon(const std::string& text);
inline double parse_epsilon(const char* text) { return parse_epsilon(std::string(text)); }

// Names from `candidates` within a small edit distance of `name`, closest first.
MEDADV_API std::vector<std::string> closest_names(const std::string& name,
                                                  const std::vector<std::string>& candidates,
                                                  std::size_t max_results = 3);
// " (did you mean 'x'?)" or "" when nothing is close.
MEDADV_API std::string did_you_mean(const std::string& name,
                                    const std::vector<std::string>& candidates);

}  // namespace medadv
