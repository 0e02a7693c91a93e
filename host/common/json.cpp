#include "common/json.h"

#include <cmath>
#include <cstdio>

namespace medadv::host {

std::string json_quote(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

namespace {
std::string number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}
}  // namespace

std::string to_json(const Value& v) {
  switch (v.type()) {
    case Value::Type::Null: return "null";
    case Value::Type::Bool: return v.as_bool() ? "true" : "false";
    case Value::Type::Int: return std::to_string(v.as_int());
    case Value::Type::Float: return number(v.as_double());
    case Value::Type::String: return json_quote(v.as_string());
    case Value::Type::Array: {
      std::string out = "[";
      for (std::size_t i = 0; i < v.as_array().size(); ++i) out += (i ? "," : "") + to_json(v.as_array()[i]);
      return out + "]";
    }
    case Value::Type::Table: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, child] : v.as_table()) {
        out += (first ? "" : ",") + json_quote(k) + ":" + to_json(child);
        first = false;
      }
      return out + "}";
    }
  }
  return "null";
}

void JsonWriter::separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.back()) out_ << ',';
  first_.back() = false;
}

JsonWriter& JsonWriter::begin_object() {
  separate();
  out_ << '{';
  first_.push_back(true);
  return *this;
}
JsonWriter& JsonWriter::end_object() {
  first_.pop_back();
  out_ << '}';
  return *this;
}
JsonWriter& JsonWriter::begin_array() {
  separate();
  out_ << '[';
  first_.push_back(true);
  return *this;
}
JsonWriter& JsonWriter::end_array() {
  first_.pop_back();
  out_ << ']';
  return *this;
}
JsonWriter& JsonWriter::key(const std::string& k) {
  separate();
  out_ << json_quote(k) << ':';
  after_key_ = true;
  return *this;
}
JsonWriter& JsonWriter::value(const std::string& v) {
  separate();
  out_ << json_quote(v);
  return *this;
}
JsonWriter& JsonWriter::value(double v) {
  separate();
  out_ << number(v);
  return *this;
}
JsonWriter& JsonWriter::value(std::int64_t v) {
  separate();
  out_ << v;
  return *this;
}
JsonWriter& JsonWriter::value(bool v) {
  separate();
  out_ << (v ? "true" : "false");
  return *this;
}
JsonWriter& JsonWriter::raw(const std::string& json) {
  separate();
  out_ << json;
  return *this;
}

}  // namespace medadv::host
