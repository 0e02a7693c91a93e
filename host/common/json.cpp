#include "common/json.h"

#include <limits>
#include <vector>

#include <nlohmann/json.hpp>

#include "medadv/error.h"

namespace medadv::host {

namespace {

// Ordered: objects keep the order they were built or read in, as Value tables do.
using Json = nlohmann::ordered_json;

// Deep enough for any run file, shallow enough that the Value built from malformed input
// cannot exhaust the stack when it is destroyed.
constexpr int kMaxDepth = 256;

std::string dump(const Json& json) { return json.dump(-1, ' ', false, Json::error_handler_t::replace); }

Json json_of(const Value& v) {
  switch (v.type()) {
    case Value::Type::Null: return nullptr;
    case Value::Type::Bool: return v.as_bool();
    case Value::Type::Int: return v.as_int();
    case Value::Type::Float: return v.as_double();
    case Value::Type::String: return v.as_string();
    case Value::Type::Array: {
      Json out = Json::array();
      for (const Value& item : v.as_array()) out.push_back(json_of(item));
      return out;
    }
    case Value::Type::Table: {
      Json out = Json::object();
      for (const auto& [k, child] : v.as_table()) out[k] = json_of(child);
      return out;
    }
  }
  return nullptr;
}

// "origin:line:column: invalid JSON: problem", the line and column of text[at].
[[noreturn]] void fail_at(std::string_view text, std::size_t at, const std::string& origin, int first_line,
                          const std::string& problem) {
  int line = first_line, column = 1;
  for (std::size_t i = 0; i < at && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  throw InvalidInput(origin + ":" + std::to_string(line) + ":" + std::to_string(column) + ": invalid JSON: " + problem);
}

// The library's message without its own prefixes: "[json.exception.parse_error.101] parse
// error at line 2, column 7: syntax error while parsing object separator - unexpected number
// literal; expected ':'" becomes "unexpected number literal; expected ':'".
std::string problem_of(const nlohmann::detail::exception& e) {
  std::string what = e.what();
  auto drop_through = [&](const std::string& prefix_end, const char* only_if_starting) {
    if (what.rfind(only_if_starting, 0) != 0) return;
    const auto at = what.find(prefix_end);
    if (at != std::string::npos) what.erase(0, at + prefix_end.size());
  };
  drop_through("] ", "[json.exception.");
  drop_through(": ", "parse error");
  drop_through(" - ", "syntax error while parsing");
  return what;
}

// Where the first bracket nested deeper than kMaxDepth opens: the parse stopped there.
std::size_t too_deep_at(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) return i;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return text.size();
}

// Builds the Value straight from the parser's events, without an intermediate json tree.
class ValueBuilder : public nlohmann::json_sax<Json> {
 public:
  ValueBuilder(std::string_view text, const std::string& origin, int first_line)
      : text_(text), origin_(origin), first_line_(first_line) {}

  Value result;
  bool too_deep = false;

  bool null() override { return put(Value()); }
  bool boolean(bool v) override { return put(Value(v)); }
  bool number_integer(number_integer_t v) override { return put(Value(static_cast<std::int64_t>(v))); }
  bool number_unsigned(number_unsigned_t v) override {
    if (v <= static_cast<number_unsigned_t>(std::numeric_limits<std::int64_t>::max()))
      return put(Value(static_cast<std::int64_t>(v)));
    return put(Value(static_cast<double>(v)));
  }
  bool number_float(number_float_t v, const string_t&) override { return put(Value(v)); }
  bool string(string_t& v) override { return put(Value(std::move(v))); }
  bool binary(binary_t&) override { return false; }  // JSON text has no binary values
  bool start_object(std::size_t) override { return open(Value(Value::Table{})); }
  bool key(string_t& k) override {
    keys_.back() = std::move(k);
    return true;
  }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(Value(Value::Array{})); }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) override {
    // `position` counts the characters read, the offending one last.
    fail_at(text_, position > 0 ? position - 1 : 0, origin_, first_line_, problem_of(e));
  }

 private:
  bool put(Value v) {
    if (open_.empty()) {
      result = std::move(v);
    } else if (open_.back().type() == Value::Type::Array) {
      open_.back().as_array().push_back(std::move(v));
    } else {
      open_.back().set(keys_.back(), std::move(v));
    }
    return true;
  }
  bool open(Value container) {
    if (open_.size() >= static_cast<std::size_t>(kMaxDepth)) {
      too_deep = true;
      return false;
    }
    open_.push_back(std::move(container));
    keys_.emplace_back();
    return true;
  }
  bool close() {
    Value done = std::move(open_.back());
    open_.pop_back();
    keys_.pop_back();
    return put(std::move(done));
  }

  std::string_view text_;
  const std::string& origin_;
  int first_line_;
  std::vector<Value> open_;  // the containers being filled, innermost last
  std::vector<std::string> keys_;  // each one's key awaiting its value
};

}  // namespace

std::string to_json(const Value& v) { return dump(json_of(v)); }

Value parse_json(std::string_view text, const std::string& origin, int first_line) {
  ValueBuilder builder(text, origin, first_line);
  const bool parsed = Json::sax_parse(text, &builder);
  if (builder.too_deep)
    fail_at(text, too_deep_at(text), origin, first_line, "nested deeper than " + std::to_string(kMaxDepth) + " levels");
  if (!parsed) fail_at(text, 0, origin, first_line, "not a JSON document");
  return std::move(builder.result);
}

struct JsonWriter::Document {
  Json root;
  std::vector<Json*> open;  // the containers being filled, innermost last
  std::string key;          // the key the next value of the innermost object goes under

  Json& place(Json v) {
    if (open.empty()) return root = std::move(v);
    Json& container = *open.back();
    if (container.is_array()) {
      container.push_back(std::move(v));
      return container.back();
    }
    return container[key] = std::move(v);
  }
};

JsonWriter::JsonWriter() : document_(std::make_unique<Document>()) {}
JsonWriter::~JsonWriter() = default;

JsonWriter& JsonWriter::begin_object() {
  document_->open.push_back(&document_->place(Json::object()));
  return *this;
}
JsonWriter& JsonWriter::end_object() {
  document_->open.pop_back();
  return *this;
}
JsonWriter& JsonWriter::begin_array() {
  document_->open.push_back(&document_->place(Json::array()));
  return *this;
}
// Closing is the same for both kinds of container: the innermost open one ends.
JsonWriter& JsonWriter::end_array() { return end_object(); }
JsonWriter& JsonWriter::key(const std::string& k) {
  document_->key = k;
  return *this;
}
JsonWriter& JsonWriter::value(const std::string& v) {
  document_->place(v);
  return *this;
}
JsonWriter& JsonWriter::value(double v) {
  document_->place(v);
  return *this;
}
JsonWriter& JsonWriter::value(std::int64_t v) {
  document_->place(v);
  return *this;
}
JsonWriter& JsonWriter::value(bool v) {
  document_->place(v);
  return *this;
}
JsonWriter& JsonWriter::raw(const std::string& json) {
  document_->place(Json::parse(json));
  return *this;
}
std::string JsonWriter::str() const { return dump(document_->root); }

}  // namespace medadv::host
