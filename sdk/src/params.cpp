#include "medadv/params.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace medadv {

const char* param_type_name(ParamType t) {
  switch (t) {
    case ParamType::Bool: return "bool";
    case ParamType::Int: return "int";
    case ParamType::Float: return "float";
    case ParamType::String: return "string";
    case ParamType::Enum: return "enum";
    case ParamType::List: return "list";
    case ParamType::Table: return "table";
    case ParamType::Epsilon: return "epsilon";
  }
  return "?";
}

// ---------------------------------------------------------------- ParamSpec

ParamSpec::ParamSpec(std::string name, ParamType type, std::string doc)
    : name_(std::move(name)), type_(type), doc_(std::move(doc)) {}

namespace {
// Sets one end of the allowed range: its value, and whether the value itself is excluded.
void set_bound(std::optional<double>& bound, bool& bound_exclusive, double v, bool exclusive) {
  bound = v;
  bound_exclusive = exclusive;
}
}  // namespace

ParamSpec& ParamSpec::min(double v) { set_bound(min_, min_exclusive_, v, false); return *this; }
ParamSpec& ParamSpec::min_exclusive(double v) { set_bound(min_, min_exclusive_, v, true); return *this; }
ParamSpec& ParamSpec::max(double v) { set_bound(max_, max_exclusive_, v, false); return *this; }
ParamSpec& ParamSpec::max_exclusive(double v) { set_bound(max_, max_exclusive_, v, true); return *this; }
ParamSpec& ParamSpec::choices(std::vector<std::string> allowed) {
  choices_ = std::move(allowed);
  return *this;
}
ParamSpec& ParamSpec::default_value(Value v) {
  default_ = std::move(v);
  required_ = false;
  return *this;
}
ParamSpec& ParamSpec::required() {
  required_ = true;
  default_ = Value();
  return *this;
}
ParamSpec& ParamSpec::min_length(std::size_t n) {
  min_length_ = n;
  return *this;
}

namespace {
std::string number_text(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}
}  // namespace

std::string ParamSpec::type_description() const {
  std::ostringstream out;
  if (type_ == ParamType::Enum) {
    out << "one of ";
    for (std::size_t i = 0; i < choices_.size(); ++i) out << (i ? " | " : "") << choices_[i];
    return out.str();
  }
  if (type_ == ParamType::List) {
    out << "list of " << (element_ ? element_->type_description() : "values");
    if (min_length_ > 0) out << " (at least " << min_length_ << ")";
    return out.str();
  }
  out << param_type_name(type_);
  if (type_ == ParamType::String && min_length_ > 0)
    out << (min_length_ == 1 ? std::string(" (not empty)") : " (at least " + std::to_string(min_length_) + " characters)");
  if (type_ == ParamType::Epsilon) out << " (number or fraction)";
  if (min_ && max_) {
    out << " in " << (min_exclusive_ ? "(" : "[") << number_text(*min_) << ", " << number_text(*max_)
        << (max_exclusive_ ? ")" : "]");
  } else if (min_) {
    out << (min_exclusive_ ? " > " : " >= ") << number_text(*min_);
  } else if (max_) {
    out << (max_exclusive_ ? " < " : " <= ") << number_text(*max_);
  }
  return out.str();
}

// -------------------------------------------------------------- ParamSchema

ParamSpec& ParamSchema::add(ParamSpec spec) {
  for (const auto& s : specs_)
    if (s.name() == spec.name()) throw Error("parameter '" + spec.name() + "' declared twice in one schema");
  specs_.push_back(std::move(spec));
  return specs_.back();
}

ParamSpec& ParamSchema::add_bool(const std::string& name, bool def, const std::string& doc) {
  return add(ParamSpec(name, ParamType::Bool, doc).default_value(def));
}
ParamSpec& ParamSchema::add_int(const std::string& name, std::int64_t def, const std::string& doc) {
  return add(ParamSpec(name, ParamType::Int, doc).default_value(def));
}
ParamSpec& ParamSchema::add_float(const std::string& name, double def, const std::string& doc) {
  return add(ParamSpec(name, ParamType::Float, doc).default_value(def));
}
ParamSpec& ParamSchema::add_string(const std::string& name, const std::string& def, const std::string& doc) {
  return add(ParamSpec(name, ParamType::String, doc).default_value(def));
}
ParamSpec& ParamSchema::add_enum(const std::string& name, std::vector<std::string> choices, const std::string& def,
                                 const std::string& doc) {
  return add(ParamSpec(name, ParamType::Enum, doc).choices(std::move(choices)).default_value(def));
}
ParamSpec& ParamSchema::add_typed_enum(const std::string& name, std::vector<std::string> choices,
                                       std::vector<std::int64_t> values, const char* type,
                                       const std::optional<std::string>& def, const std::string& doc) {
  if (!def) throw Error("enum parameter '" + name + "': its default is not one of its names");
  ParamSpec spec(name, ParamType::Enum, doc);
  spec.choices(std::move(choices)).default_value(*def);
  spec.enum_values_ = std::move(values);
  spec.enum_type_ = type;
  return add(std::move(spec));
}
ParamSpec& ParamSchema::add_epsilon(const std::string& name, const std::string& def, const std::string& doc) {
  return add(ParamSpec(name, ParamType::Epsilon, doc).min(0.0).default_value(def));
}
ParamSpec& ParamSchema::add_list(const std::string& name, ParamSpec element, Value::Array def,
                                 const std::string& doc) {
  ParamSpec spec(name, ParamType::List, doc);
  spec.element_ = std::make_shared<ParamSpec>(std::move(element));
  spec.default_value(Value(std::move(def)));
  return add(std::move(spec));
}
ParamSpec& ParamSchema::add_table(const std::string& name, ParamSchema nested, const std::string& doc) {
  ParamSpec spec(name, ParamType::Table, doc);
  spec.nested_ = std::make_shared<ParamSchema>(std::move(nested));
  spec.default_value(Value(Value::Table{}));
  return add(std::move(spec));
}

void ParamSchema::add_check(const std::string& description, std::vector<std::string> keys, ParamRule rule) {
  if (description.empty() || keys.empty() || !rule)
    throw Error("a parameter check needs a description, the keys it reads and its rule");
  for (const auto& key : keys)
    if (!find(key))
      throw Error("check '" + description + "' reads '" + key +
                  "', which the schema does not declare (declare parameters before their checks)");
  checks_.push_back(ParamCheck{description, std::move(keys), std::move(rule)});
}

const ParamSpec* ParamSchema::find(const std::string& name) const {
  for (const auto& s : specs_)
    if (s.name() == name) return &s;
  return nullptr;
}

ParamSpec& ParamSchema::set_default(const std::string& name, Value value) {
  for (auto& s : specs_)
    if (s.name() == name) return s.default_value(std::move(value));
  throw Error("ParamSchema::set_default: no parameter '" + name + "' is declared");
}

namespace {

struct Checker {
  const std::string& plugin;
  std::vector<Diagnostic>& out;

  void fail(const Value& v, const std::string& key, const std::string& message) {
    out.push_back(Diagnostic{v.where(), key, plugin, message});
  }

  bool check_range(const ParamSpec& spec, const Value& v, const std::string& key, double x) {
    if (!std::isfinite(x)) {
      fail(v, key, "must be a finite number, found " + v.to_string());
      return false;
    }
    if (spec.lower()) {
      const double lo = *spec.lower();
      if (spec.lower_exclusive() ? !(x > lo) : !(x >= lo)) {
        fail(v, key, v.to_string() + " is out of range: must be " + (spec.lower_exclusive() ? "> " : ">= ") +
                         number_text(lo));
        return false;
      }
    }
    if (spec.upper()) {
      const double hi = *spec.upper();
      if (spec.upper_exclusive() ? !(x < hi) : !(x <= hi)) {
        fail(v, key, v.to_string() + " is out of range: must be " + (spec.upper_exclusive() ? "< " : "<= ") +
                         number_text(hi));
        return false;
      }
    }
    return true;
  }

  // Returns the resolved value, or Null when invalid (a diagnostic was added).
  Value check(const ParamSpec& spec, const Value& v, const std::string& key, std::string* text,
              Params* nested_out) {
    auto expect = [&](const char* what) {
      fail(v, key, std::string("expected ") + what + " (" + spec.type_description() + "), found " +
                       Value::type_name(v.type()) + " " + v.to_string());
      return Value();
    };
    switch (spec.type()) {
      case ParamType::Bool:
        if (v.type() != Value::Type::Bool) return expect("a boolean");
        return v;
      case ParamType::Int:
        if (v.type() != Value::Type::Int) return expect("an integer");
        return check_range(spec, v, key, static_cast<double>(v.as_int())) ? v : Value();
      case ParamType::Float:
        if (!v.is_number()) return expect("a number");
        if (!check_range(spec, v, key, v.as_double())) return Value();
        return Value(v.as_double()).located(v.where());
      case ParamType::String:
        if (v.type() != Value::Type::String) return expect("a string");
        if (v.as_string().size() < spec.min_elements()) {
          fail(v, key, spec.min_elements() == 1 ? "must not be empty" : v.to_string() + " is shorter than " +
                       std::to_string(spec.min_elements()) + " characters");
          return Value();
        }
        return v;
      case ParamType::Enum: {
        if (v.type() != Value::Type::String) return expect("a string");
        const auto& choices = spec.allowed();
        if (std::find(choices.begin(), choices.end(), v.as_string()) == choices.end()) {
          fail(v, key, v.to_string() + " is not " + spec.type_description() + did_you_mean(v.as_string(), choices));
          return Value();
        }
        return v;
      }
      case ParamType::Epsilon: {
        if (!v.is_number() && v.type() != Value::Type::String)
          return expect("a number or a fraction string like \"8/255\"");
        double eps = 0.0;
        try {
          eps = parse_epsilon(v);
        } catch (const InvalidInput& e) {
          fail(v, key, e.what());
          return Value();
        }
        if (!check_range(spec, v, key, eps)) return Value();
        if (text) *text = v.type() == Value::Type::String ? v.as_string() : v.to_string();
        return Value(eps).located(v.where());
      }
      case ParamType::List: {
        if (v.type() != Value::Type::Array) return expect("an array");
        const auto& items = v.as_array();
        if (items.size() < spec.min_elements()) {
          fail(v, key, "needs at least " + std::to_string(spec.min_elements()) + " element(s), found " +
                           std::to_string(items.size()));
          return Value();
        }
        Value::Array resolved;
        bool ok = true;
        for (std::size_t i = 0; i < items.size(); ++i) {
          Value item = check(*spec.element(), items[i], key + "[" + std::to_string(i) + "]", nullptr, nullptr);
          ok = ok && !item.is_null();
          resolved.push_back(std::move(item));
        }
        return ok ? Value(std::move(resolved)).located(v.where()) : Value();
      }
      case ParamType::Table: {
        if (v.type() != Value::Type::Table) return expect("a table");
        const std::size_t before = out.size();
        Params p = spec.nested()->resolve(v, plugin, key + ".", out);
        if (out.size() != before) return Value();
        if (nested_out) *nested_out = p;
        return p.to_value().located(v.where());
      }
    }
    return Value();
  }
};

}  // namespace

Params ParamSchema::resolve(const Value& table, const std::string& plugin, const std::string& key_prefix,
                            std::vector<Diagnostic>& out, const std::vector<std::string>& ignored) const {
  Params result;
  result.plugin_ = plugin;
  Checker checker{plugin, out};
  if (table.type() != Value::Type::Table) {
    out.push_back(Diagnostic{table.where(), key_prefix.empty() ? "" : key_prefix.substr(0, key_prefix.size() - 1),
                             plugin, std::string("expected a table, found ") + Value::type_name(table.type())});
    return result;
  }
  std::vector<std::string> known;
  for (const auto& s : specs_) known.push_back(s.name());
  for (const auto& [key, v] : table.as_table()) {
    if (std::find(ignored.begin(), ignored.end(), key) != ignored.end()) continue;
    if (!find(key)) {
      std::string message = "unknown key '" + key + "'" + did_you_mean(key, known);
      if (known.empty()) {
        message += "; this plugin takes no parameters";
      } else {
        message += "; known keys:";
        for (const auto& k : known) message += " " + k;
      }
      out.push_back(Diagnostic{v.where(), key_prefix + key, plugin, message});
    }
  }
  for (const auto& spec : specs_) {
    const std::string key = key_prefix + spec.name();
    const Value* given = table.find(spec.name());
    if (!given && spec.is_required()) {
      out.push_back(Diagnostic{table.where(), key, plugin,
                               "missing required key (" + spec.type_description() + ": " + spec.doc() + ")"});
      continue;
    }
    const Value& v = given ? *given : spec.default_of();
    std::string text;
    Params nested;
    Value resolved = checker.check(spec, v, key, &text, &nested);
    if (resolved.is_null()) {
      if (!given) out.back().message += " (in the plugin's own default)";
      continue;
    }
    if (!spec.enum_values().empty()) {
      const auto& names = spec.allowed();
      const auto at = std::find(names.begin(), names.end(), resolved.as_string()) - names.begin();
      result.enums_[spec.name()] = Params::EnumValue{spec.enum_type(), spec.enum_values()[static_cast<std::size_t>(at)]};
    }
    result.order_.push_back(spec.name());
    result.values_[spec.name()] = std::move(resolved);
    if (!text.empty()) result.texts_[spec.name()] = text;
    if (spec.type() == ParamType::Table) result.tables_[spec.name()] = std::move(nested);
  }
  run_checks(table, result, plugin, key_prefix, out);
  return result;
}

void ParamSchema::run_checks(const Value& table, const Params& resolved, const std::string& plugin,
                             const std::string& key_prefix, std::vector<Diagnostic>& out) const {
  for (const auto& check : checks_) {
    // A key that failed its own checks was reported already; its rules would only repeat it.
    const bool all_resolved = std::all_of(check.keys.begin(), check.keys.end(),
                                          [&](const std::string& key) { return resolved.has(key); });
    if (!all_resolved) continue;
    const std::optional<std::string> problem = check.rule(resolved);
    if (!problem) continue;
    const auto blamed = std::find_if(check.keys.begin(), check.keys.end(),
                                     [&](const std::string& key) { return table.find(key) != nullptr; });
    if (blamed != check.keys.end()) {
      out.push_back(Diagnostic{table.find(*blamed)->where(), key_prefix + *blamed, plugin, *problem});
    } else {
      out.push_back(Diagnostic{table.where(), key_prefix + check.keys.front(), plugin,
                               *problem + " (in the plugin's own defaults)"});
    }
  }
}

Params ParamSchema::resolve_or_throw(const Value& table, const std::string& plugin,
                                     const std::string& key_prefix) const {
  std::vector<Diagnostic> out;
  Params p = resolve(table, plugin, key_prefix, out);
  if (!out.empty()) throw ValidationError(std::move(out));
  return p;
}

Params ParamSchema::defaults(const std::string& plugin) const {
  return resolve_or_throw(Value(Value::Table{}), plugin);
}

// ------------------------------------------------------------------- Params

bool Params::has(const std::string& key) const { return values_.count(key) != 0; }

const Value& Params::raw(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end())
    throw Error("plugin " + (plugin_.empty() ? std::string("?") : plugin_) + " read parameter '" + key +
                "' that its schema does not declare");
  return it->second;
}

bool Params::get_bool(const std::string& key) const { return raw(key).as_bool(); }
std::int64_t Params::get_int(const std::string& key) const { return raw(key).as_int(); }
double Params::get_float(const std::string& key) const { return raw(key).as_double(); }
const std::string& Params::get_string(const std::string& key) const { return raw(key).as_string(); }

std::int64_t Params::enum_value(const std::string& key, const char* type) const {
  raw(key);
  const auto it = enums_.find(key);
  const std::string who = "plugin " + (plugin_.empty() ? std::string("?") : plugin_);
  if (it == enums_.end())
    throw Error(who + " reads parameter '" + key + "' as a typed enum, but its schema declares it " +
                "without values (add_enum<E> declares them)");
  if (it->second.type != type)
    throw Error(who + " reads enum parameter '" + key + "' as type " + type + ", but its schema declares type " +
                it->second.type);
  return it->second.value;
}
const Value::Array& Params::get_list(const std::string& key) const { return raw(key).as_array(); }

std::vector<double> Params::get_float_list(const std::string& key) const {
  std::vector<double> r;
  for (const auto& v : get_list(key)) r.push_back(v.as_double());
  return r;
}
std::vector<std::int64_t> Params::get_int_list(const std::string& key) const {
  std::vector<std::int64_t> r;
  for (const auto& v : get_list(key)) r.push_back(v.as_int());
  return r;
}
std::vector<std::string> Params::get_string_list(const std::string& key) const {
  std::vector<std::string> r;
  for (const auto& v : get_list(key)) r.push_back(v.as_string());
  return r;
}

const Params& Params::get_table(const std::string& key) const {
  raw(key);
  auto it = tables_.find(key);
  if (it == tables_.end()) throw Error("parameter '" + key + "' of plugin " + plugin_ + " is not a table");
  return it->second;
}

std::string Params::text_of(const std::string& key) const {
  auto it = texts_.find(key);
  return it != texts_.end() ? it->second : raw(key).to_string();
}

Value Params::to_value() const {
  Value::Table t;
  for (const auto& key : order_) {
    auto text = texts_.find(key);
    // Epsilons keep the text they were written as, so the resolved file reads back.
    t.emplace_back(key, text != texts_.end() ? Value(text->second) : values_.at(key));
  }
  return Value(std::move(t));
}

// ------------------------------------------------------------------ epsilon

namespace {
bool parse_number(const std::string& s, double& out) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return errno == 0 && end == s.c_str() + s.size() && std::isfinite(out);
}
std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}
}  // namespace

double parse_epsilon(const std::string& raw_text) {
  const std::string text = trim(raw_text);
  double value = 0.0;
  const auto slash = text.find('/');
  if (slash == std::string::npos) {
    if (!parse_number(text, value))
      throw InvalidInput("\"" + raw_text + "\" is not a number or a fraction like \"8/255\"");
  } else {
    double num = 0.0, den = 0.0;
    if (!parse_number(trim(text.substr(0, slash)), num) || !parse_number(trim(text.substr(slash + 1)), den))
      throw InvalidInput("\"" + raw_text + "\" is not a number or a fraction like \"8/255\"");
    if (den == 0.0) throw InvalidInput("\"" + raw_text + "\" has a zero denominator");
    value = num / den;
  }
  if (value < 0.0) throw InvalidInput("\"" + raw_text + "\" is negative; a perturbation size must be >= 0");
  return value;
}

double parse_epsilon(const Value& v) {
  if (v.is_number()) {
    const double d = v.as_double();
    if (!std::isfinite(d)) throw InvalidInput(v.to_string() + " is not a finite number");
    if (d < 0.0) throw InvalidInput(v.to_string() + " is negative; a perturbation size must be >= 0");
    return d;
  }
  if (v.type() == Value::Type::String) return parse_epsilon(v.as_string());
  throw InvalidInput(std::string("expected a number or a fraction string like \"8/255\", found ") +
                     Value::type_name(v.type()));
}

// ---------------------------------------------------------------- did you mean

namespace {
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t sub = prev[j - 1] + (std::tolower(a[i - 1]) == std::tolower(b[j - 1]) ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}
}  // namespace

std::vector<std::string> closest_names(const std::string& name, const std::vector<std::string>& candidates,
                                       std::size_t max_results) {
  std::vector<std::pair<std::size_t, std::string>> scored;
  const std::size_t limit = std::max<std::size_t>(2, name.size() / 3);
  for (const auto& c : candidates) {
    std::size_t d = edit_distance(name, c);
    const bool prefix = !name.empty() && c.size() > name.size() && c.compare(0, name.size(), name) == 0;
    if (d <= limit || prefix) scored.emplace_back(prefix ? std::min(d, limit) : d, c);
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::string> result;
  for (const auto& [d, c] : scored) {
    if (result.size() == max_results) break;
    result.push_back(c);
  }
  return result;
}

std::string did_you_mean(const std::string& name, const std::vector<std::string>& candidates) {
  const auto close = closest_names(name, candidates, 1);
  return close.empty() ? "" : " (did you mean '" + close.front() + "'?)";
}

}  // namespace medadv
