#pragma once
// A small JSON writer for manifests and machine-readable listings.
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "medadv/value.h"

namespace medadv::host {

std::string json_quote(const std::string& text);
// A medadv::Value as JSON (tables become objects, in order).
std::string to_json(const Value& v);

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
