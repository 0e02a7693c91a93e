#pragma once
// Parameter schemas in the spirit of MOOSE's validParams(): every parameter a plugin
// takes is declared once, typed, defaulted, documented and range-checked, and the
// whole table is validated before any work starts. Enums are declared with the C++
// value each name stands for and read back as that value; rules between parameters
// ("min_k < max_k") are part of the schema too, so that every problem an experiment can
// have is reported with its file:line:column before a plugin is created.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "medadv/error.h"
#include "medadv/export.h"
#include "medadv/value.h"

namespace medadv {

enum class ParamType { Bool, Int, Float, String, Enum, List, Table, Epsilon };
MEDADV_API const char* param_type_name(ParamType t);

class ParamSchema;
class Params;

// The names an enum parameter accepts and the value each stands for, in the order the
// reference lists them: {{"linf", Norm::Linf}, {"l2", Norm::L2}}.
template <class E>
using EnumNames = std::vector<std::pair<std::string, E>>;

// A rule over parameters that each passed their own checks: returns what is wrong (one
// sentence, e.g. "an L-inf epsilon above 1 exceeds the [0,1] pixel range"), or nothing.
using ParamRule = std::function<std::optional<std::string>(const Params&)>;

// One rule of a schema (ParamSchema::add_check).
struct ParamCheck {
  std::string description;        // for the reference, e.g. "epsilon <= 1 when norm = linf"
  std::vector<std::string> keys;  // what the rule reads; the first one an experiment gives is blamed
  ParamRule rule;
};

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
  // For lists: a bound on the number of elements; for strings: on the number of
  // characters (min_length(1): not empty).
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
  // Typed enums (ParamSchema::add_enum<E>): the value of each allowed() name, and E's
  // type name; empty for enums of plain strings.
  const std::vector<std::int64_t>& enum_values() const { return enum_values_; }
  const std::string& enum_type() const { return enum_type_; }
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
  std::vector<std::int64_t> enum_values_;
  std::string enum_type_;
};

class MEDADV_API ParamSchema {
 public:
  ParamSpec& add_bool(const std::string& name, bool def, const std::string& doc);
  ParamSpec& add_int(const std::string& name, std::int64_t def, const std::string& doc);
  ParamSpec& add_float(const std::string& name, double def, const std::string& doc);
  ParamSpec& add_string(const std::string& name, const std::string& def, const std::string& doc);
  // An enum read back as text (Params::get_string).
  ParamSpec& add_enum(const std::string& name, std::vector<std::string> choices,
                      const std::string& def, const std::string& doc);
  // An enum read back as the value its name stands for (Params::get_enum<E>):
  //   s.add_enum<Norm>("norm", {{"linf", Norm::Linf}, {"l2", Norm::L2}}, Norm::Linf, "...");
  template <class E, class = std::enable_if_t<std::is_enum_v<E>>>
  ParamSpec& add_enum(const std::string& name, const EnumNames<E>& names, E def, const std::string& doc) {
    std::vector<std::string> choices;
    std::vector<std::int64_t> values;
    std::optional<std::string> def_name;
    for (const auto& [text, value] : names) {
      choices.push_back(text);
      values.push_back(static_cast<std::int64_t>(value));
      if (value == def && !def_name) def_name = text;
    }
    return add_typed_enum(name, std::move(choices), std::move(values), typeid(E).name(), def_name, doc);
  }
  // A perturbation size: a number or a fraction string such as "8/255" or "0.02/256".
  // Never negative.
  ParamSpec& add_epsilon(const std::string& name, const std::string& def, const std::string& doc);
  // A list whose elements follow `element` (its name and doc are ignored).
  ParamSpec& add_list(const std::string& name, ParamSpec element, Value::Array def,
                      const std::string& doc);
  // A nested table validated by its own schema.
  ParamSpec& add_table(const std::string& name, ParamSchema nested, const std::string& doc);

  // A rule between parameters (or on one, beyond its range): run by resolve() once every
  // key in `keys` passed its own checks, so `rule` may read them all. Its message is
  // reported at the first of `keys` the table gives, with that key and the plugin, like
  // any other problem. `keys` must be declared already.
  //   s.add_check("min_k < max_k", {"max_k", "min_k"}, [](const Params& p) -> std::optional<std::string> {
  //     if (p.get_int("min_k") >= p.get_int("max_k")) return "max_k must exceed min_k";
  //     return std::nullopt;
  //   });
  void add_check(const std::string& description, std::vector<std::string> keys, ParamRule rule);

  const std::vector<ParamSpec>& specs() const { return specs_; }
  const std::vector<ParamCheck>& checks() const { return checks_; }
  const ParamSpec* find(const std::string& name) const;
  // A new default for a parameter declared before, e.g. by a shared schema such as
  // train_options_schema() whose defaults a plugin's protocol overrides. Throws Error when
  // `name` is not declared; the value is checked like a given one when the schema resolves.
  ParamSpec& set_default(const std::string& name, Value value);

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
  ParamSpec& add_typed_enum(const std::string& name, std::vector<std::string> choices,
                            std::vector<std::int64_t> values, const char* type,
                            const std::optional<std::string>& def, const std::string& doc);
  void run_checks(const Value& table, const Params& resolved, const std::string& plugin,
                  const std::string& key_prefix, std::vector<Diagnostic>& out) const;
  std::vector<ParamSpec> specs_;
  std::vector<ParamCheck> checks_;
};

// Resolved parameters: every declared key present, typed, in range.
class MEDADV_API Params {
 public:
  Params() = default;

  bool has(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  std::int64_t get_int(const std::string& key) const;
  double get_float(const std::string& key) const;  // also epsilons
  const std::string& get_string(const std::string& key) const;  // also enums, as text
  // A typed enum's value; E must be the type its add_enum<E> declared.
  template <class E>
  E get_enum(const std::string& key) const {
    static_assert(std::is_enum_v<E>, "get_enum reads enum types");
    return static_cast<E>(enum_value(key, typeid(E).name()));
  }
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
  std::int64_t enum_value(const std::string& key, const char* type) const;

  struct EnumValue {
    std::string type;
    std::int64_t value;
  };
  std::string plugin_;
  std::map<std::string, Value> values_;
  std::map<std::string, EnumValue> enums_;
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
