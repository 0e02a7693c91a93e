#pragma once
// A small JSON writer for manifests and machine-readable listings, and the parser the
// report reads run files with.
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "medadv/value.h"

namespace medadv::host {

std::string json_quote(const std::string& text);
// A medadv::Value as JSON (tables become objects, in order).
std::string to_json(const Value& v);

// Parses one JSON document (RFC 8259) into a Value: objects become tables in document
// order (a repeated key keeps its last value), numbers without fraction or exponent that
// fit in 64 bits become Int, other numbers Float; strings are UTF-8 (\u-escapes and
// surrogate pairs decoded). Throws InvalidInput "origin:line:column: invalid JSON: what",
// lines counted from first_line (so one line of a .jsonl file reports its own number).
Value parse_json(std::string_view text, const std::string& origin, int first_line = 1);

// Streaming writer: json.begin_object(); json.key("a"); json.value(1); json.end_object();
class JsonWriter {
 public:
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(const std::string& k);
  JsonWriter& value(const std::string& v);
  JsonWriter& value(const char* v) { return value(std::string(v)); }
  JsonWriter& value(double v);
  JsonWriter& value(std::int64_t v);
  JsonWriter& value(int v) { return value(static_cast<std::int64_t>(v)); }
  JsonWriter& value(bool v);
  JsonWriter& raw(const std::string& json);
  std::string str() const { return out_.str(); }

 private:
  void separate();
  std::ostringstream out_;
  std::vector<bool> first_{true};
  bool after_key_ = false;
};

}  // namespace medadv::host
