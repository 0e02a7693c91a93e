// The report's JSON parser: every construct of RFC 8259, its errors, and round trips
// through the JSON writer.
#include <gtest/gtest.h>

#include <string>

#include "medadv/error.h"
#include "common/json.h"

using medadv::Value;
using medadv::host::parse_json;
using medadv::host::to_json;

namespace {
Value parse(const std::string& text) { return parse_json(text, "test.json"); }

std::string error_of(const std::string& text, int first_line = 1) {
  try {
    parse_json(text, "test.json", first_line);
  } catch (const medadv::InvalidInput& e) {
    return e.what();
  }
  return "(no error)";
}
}  // namespace

TEST(JsonParse, ScalarsAndNumbers) {
  EXPECT_TRUE(parse("null").is_null());
  EXPECT_EQ(parse(" true ").as_bool(), true);
  EXPECT_EQ(parse("false").as_bool(), false);
  EXPECT_EQ(parse("42").type(), Value::Type::Int);
  EXPECT_EQ(parse("-7").as_int(), -7);
  EXPECT_EQ(parse("0").as_int(), 0);
  EXPECT_EQ(parse("9223372036854775807").as_int(), INT64_MAX);
  // Beyond 64 bits: a float.
  EXPECT_EQ(parse("92233720368547758070").type(), Value::Type::Float);
  EXPECT_EQ(parse("0.5").type(), Value::Type::Float);
  EXPECT_DOUBLE_EQ(parse("-0.0313725").as_double(), -0.0313725);
  EXPECT_DOUBLE_EQ(parse("1e3").as_double(), 1000.0);
  EXPECT_DOUBLE_EQ(parse("2.5E-2").as_double(), 0.025);
  EXPECT_EQ(parse("1E+2").type(), Value::Type::Float);
}

TEST(JsonParse, StringsWithEveryEscape) {
  EXPECT_EQ(parse(R"("a\"b\\c\/d\b\f\n\r\t")").as_string(), "a\"b\\c/d\b\f\n\r\t");
  EXPECT_EQ(parse(R"("\u0041\u00e9\u20AC")").as_string(), "A\xC3\xA9\xE2\x82\xAC");  // A, e acute, euro sign
  EXPECT_EQ(parse(R"("\ud83d\ude00")").as_string(), "\xF0\x9F\x98\x80");              // a surrogate pair
  EXPECT_EQ(parse("\"caf\xC3\xA9\"").as_string(), "caf\xC3\xA9");                     // raw UTF-8 passes through
  EXPECT_EQ(parse(R"("")").as_string(), "");
}

TEST(JsonParse, ObjectsKeepOrderAndArraysNest) {
  const Value v = parse(R"( { "b" : 1, "a" : [1, 2.5, "x", [true, null], {}], "c": {"d": {"e": []}} } )");
  ASSERT_EQ(v.type(), Value::Type::Table);
  ASSERT_EQ(v.as_table().size(), 3u);
  EXPECT_EQ(v.as_table()[0].first, "b");
  EXPECT_EQ(v.as_table()[1].first, "a");
  const auto& a = v.find("a")->as_array();
  ASSERT_EQ(a.size(), 5u);
  EXPECT_EQ(a[2].as_string(), "x");
  EXPECT_TRUE(a[3].as_array()[1].is_null());
  EXPECT_TRUE(a[4].as_table().empty());
  EXPECT_TRUE(v.find("c")->find("d")->find("e")->as_array().empty());
  // A repeated key keeps its last value.
  EXPECT_EQ(parse(R"({"k": 1, "k": 2})").find("k")->as_int(), 2);
}

TEST(JsonParse, RoundTripsTheWriter) {
  Value v{Value::Table{}};
  v.set("trial", Value("baseline__PGD__8_255 \"q\" \\ \n\t\x01"));
  v.set("n", Value(120));
  v.set("epsilon", Value(0.031372549019607843));
  v.set("flags", Value(Value::Array{Value(true), Value(false), Value()}));
  const std::string text = to_json(v);
  const Value back = parse(text);
  EXPECT_EQ(to_json(back), text);
  EXPECT_EQ(back.find("trial")->as_string(), v.find("trial")->as_string());
  EXPECT_EQ(back.find("epsilon")->as_double(), 0.031372549019607843);
}

TEST(JsonParse, ErrorsNameTheLineAndColumn) {
  const std::string missing_colon = error_of("{\"a\": 1,\n  \"b\" 2}");
  EXPECT_EQ(missing_colon.rfind("test.json:2:7: invalid JSON: ", 0), 0u) << missing_colon;
  EXPECT_NE(missing_colon.find("expected ':'"), std::string::npos) << missing_colon;
  // Lines counted from first_line: a .jsonl line reports its own number (the column is
  // where the parser gave up: the end of the bad literal).
  EXPECT_EQ(error_of("{\"a\": tru}", 5).rfind("test.json:5:10: invalid JSON: ", 0), 0u) << error_of("{\"a\": tru}", 5);
  for (const char* bad : {"", "   ", "{", "[1,]", "{\"a\":1,}", "[1 2]", "01", "1.", "-", "1e", ".5", "+1", "\"abc",
                          "\"a\nb\"", R"("\x")", R"("\u12")", R"("\udc00")", R"("\ud83d")", R"("\ud83dx")",
                          "nul", "True", "{} {}", "[1] x", "{1: 2}", "NaN", "Infinity", "1e999"}) {
    const std::string e = error_of(bad);
    EXPECT_NE(e.find("invalid JSON"), std::string::npos) << "input: " << bad << " -> " << e;
  }
  // Deep nesting is refused, not a stack overflow.
  EXPECT_NE(error_of(std::string(100000, '[')).find("nested deeper"), std::string::npos);
}
