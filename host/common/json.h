#pragma once
// JSON in and out of medadv::Value for every file the host writes or reads (results.jsonl,
// resolved.json, manifest.json, training reports, machine-readable listings), on
// nlohmann::json. Only json.cpp includes the library, so its header stays out of every
// other translation unit.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "medadv/value.h"

namespace medadv::host {

// A medadv::Value as compact JSON (tables become objects, in order; NaN and infinities
// become null; invalid UTF-8 in strings becomes U+FFFD).
std::string to_json(const Value& v);

// Parses one JSON document (RFC 8259) into a Value: objects become tables in document
// order (a repeated key keeps its last value), numbers without fraction or exponent that
// fit in 64 bits become Int, other numbers Float. Throws InvalidInput "origin:line:column:
// invalid JSON: what", lines counted from first_line (so one line of a .jsonl file reports
// its own number).
Value parse_json(std::string_view text, const std::string& origin, int first_line = 1);

// Builds one JSON document in order: json.begin_object(); json.key("a"); json.value(1);
// json.end_object(); json.str().
class JsonWriter {
 public:
  JsonWriter();
  ~JsonWriter();
  JsonWriter(const JsonWriter&) = delete;
  JsonWriter& operator=(const JsonWriter&) = delete;

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
  // A value given as JSON text (e.g. from to_json).
  JsonWriter& raw(const std::string& json);
  std::string str() const;

 private:
  struct Document;
  std::unique_ptr<Document> document_;
};

}  // namespace medadv::host
