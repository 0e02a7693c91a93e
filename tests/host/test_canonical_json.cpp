// The text trial, model and variant keys hash: pinned byte for byte to what medadv wrote
// before JSON moved to nlohmann::json (the %.17g writer of host/report/json.cpp), so that
// run directories and cached models of earlier versions keep their keys.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "common/canonical_json.h"
#include "common/json.h"

using medadv::Value;
using medadv::host::canonical_json;

TEST(CanonicalJson, NumbersAreWrittenAsEarlierVersionsWroteThem) {
  // printf("%.17g") by hand: 8/255 needs 17 significant digits, 1.0 has no ".0".
  EXPECT_EQ(canonical_json(Value(8.0 / 255)), "0.031372549019607843");
  EXPECT_EQ(canonical_json(Value(1.0)), "1");
  EXPECT_EQ(canonical_json(Value(0.1)), "0.10000000000000001");
  EXPECT_EQ(canonical_json(Value(1e-7)), "9.9999999999999995e-08");
  EXPECT_EQ(canonical_json(Value(std::nan(""))), "null");
  EXPECT_EQ(canonical_json(Value(std::numeric_limits<double>::infinity())), "null");
  EXPECT_EQ(canonical_json(Value(std::int64_t{-42})), "-42");
  // The files' writer formats the same numbers its own (shortest) way: the two differ.
  EXPECT_EQ(medadv::host::to_json(Value(1.0)), "1.0");
}

TEST(CanonicalJson, StructureIsCompactAndOrdered) {
  Value params{Value::Table{}};
  params.set("epsilon", Value(8.0 / 255));
  params.set("steps", Value(10));
  params.set("loss", Value("ce \"quoted\" \\ \n\t\x01"));
  params.set("taps", Value(Value::Array{Value("block1"), Value(true), Value()}));
  params.set("nested", Value(Value::Table{{"b", Value(2)}, {"a", Value(Value::Table{})}}));
  EXPECT_EQ(canonical_json(params),
            "{\"epsilon\":0.031372549019607843,\"steps\":10,\"loss\":\"ce \\\"quoted\\\" \\\\ \\n\\t\\u0001\","
            "\"taps\":[\"block1\",true,null],\"nested\":{\"b\":2,\"a\":{}}}");
}
