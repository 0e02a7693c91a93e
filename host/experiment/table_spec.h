#pragma once
// What an experiment's [report] section asks for: `table = {...}` and `tables = [...]`,
// parsed once, by validation and by the report alike.
#include <string>
#include <vector>

#include "medadv/value.h"

namespace medadv::host {

// One requested table: `table = { rows = "attack", cols = "epsilon", metrics = [...] }`.
// rows and cols name any trial field (variant, attack, epsilon or epsilon_text, split,
// detector, kind, targeted, ...). Optional: split (trials of that split only, default
// "adv_test"), kind (trials of that kind only; default: the kind of the first trial that
// has the first metric, so detector trials, which repeat their attack's success rate, stay
// out of attack tables), title.
struct TableSpec {
  std::string rows, cols;
  std::vector<std::string> metrics;
  std::string split = "adv_test";
  std::string kind;   // empty: any kind
  std::string title;  // empty: the metric names
};

// The tables a [report] section (resolved experiment) asks for, from `table = {...}` and
// `tables = [{...}, ...]`, in that order; empty when it asks for none. Throws InvalidInput
// naming the key (e.g. "report.tables[1]: unknown key 'colums' (expected ...)").
std::vector<TableSpec> table_specs(const Value& report);

// "epsilon" is what users write; trials carry the value as text in epsilon_text.
std::string canonical_field(const std::string& field);
std::string display_name(const std::string& field);

}  // namespace medadv::host
