#pragma once
// The text that trial, model and variant keys hash (experiment/plan.cpp,
// engine/variants.cpp): a Value as compact JSON, byte for byte as medadv has always
// written it. Frozen on purpose, apart from the JSON library's choices: any changed byte
// renames every cached model and makes --resume run finished trials again.
#include <string>

#include "medadv/value.h"

namespace medadv::host {

// Numbers as %.17g (integral floats without ".0", NaN and infinities as null), strings
// quoted by to_json, tables as objects in order, no whitespace.
std::string canonical_json(const Value& v);

}  // namespace medadv::host
