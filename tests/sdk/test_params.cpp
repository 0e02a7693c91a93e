// Parameter schemas: every type, ranges, enums, unknown keys with a did-you-mean and
// epsilon fractions, each error naming its key and plugin.
#include <gtest/gtest.h>

#include <cmath>

#include "medadv/params.h"

using medadv::Diagnostic;
using medadv::ParamSchema;
using medadv::ParamSpec;
using medadv::ParamType;
using medadv::Value;

namespace {

ParamSchema full_schema() {
  ParamSchema s;
  s.add_bool("random_start", true, "Start from a random point in the ball");
  s.add_int("steps", 10, "Iterations").min(1).max(1000);
  s.add_float("step", 0.5, "Step size").min_exclusive(0.0);
  s.add_string("tap", "penultimate", "Feature tap");
  s.add_enum("norm", {"linf", "l2"}, "linf", "Norm of the ball");
  s.add_epsilon("epsilon", "8/255", "Budget").max(1.0);
  s.add_list("layers", ParamSpec("", ParamType::Int, "").min(1), {Value(1), Value(2)}, "Layer indices").min_length(1);
  ParamSchema nested;
  nested.add_float("weight", 1.0, "Weight of the term").min(0.0);
  nested.add_string("name", "x", "Name");
  s.add_table("term", nested, "A nested table");
  return s;
}

Value table(Value::Table t) { return Value(std::move(t)); }

std::vector<Diagnostic> problems_of(const Value& t, const ParamSchema& s = full_schema()) {
  std::vector<Diagnostic> out;
  s.resolve(t, "pgd", "attack[0].", out);
  return out;
}

std::string only_message(const Value& t) {
  auto p = problems_of(t);
  EXPECT_EQ(p.size(), 1u);
  return p.empty() ? "" : p.front().to_string();
}

}  // namespace

TEST(Params, DefaultsFillEveryType) {
  auto p = full_schema().defaults("pgd");
  EXPECT_TRUE(p.get_bool("random_start"));
  EXPECT_EQ(p.get_int("steps"), 10);
  EXPECT_DOUBLE_EQ(p.get_float("step"), 0.5);
  EXPECT_EQ(p.get_string("tap"), "penultimate");
  EXPECT_EQ(p.get_string("norm"), "linf");
  EXPECT_DOUBLE_EQ(p.get_float("epsilon"), 8.0 / 255.0);
  EXPECT_EQ(p.text_of("epsilon"), "8/255");
  EXPECT_EQ(p.get_int_list("layers"), (std::vector<std::int64_t>{1, 2}));
  EXPECT_DOUBLE_EQ(p.get_table("term").get_float("weight"), 1.0);
}

TEST(Params, GivenValuesOverrideDefaults) {
  auto p = full_schema().resolve_or_throw(
      table({{"random_start", Value(false)}, {"steps", Value(20)}, {"step", Value(2)},  // an int for a float is fine
             {"norm", Value("l2")}, {"epsilon", Value(0.5)}, {"layers", Value(Value::Array{Value(3)})},
             {"term", table({{"weight", Value(0.25)}})}}),
      "pgd");
  EXPECT_FALSE(p.get_bool("random_start"));
  EXPECT_EQ(p.get_int("steps"), 20);
  EXPECT_DOUBLE_EQ(p.get_float("step"), 2.0);
  EXPECT_EQ(p.get_string("norm"), "l2");
  EXPECT_DOUBLE_EQ(p.get_float("epsilon"), 0.5);
  EXPECT_EQ(p.get_int_list("layers"), (std::vector<std::int64_t>{3}));
  EXPECT_DOUBLE_EQ(p.get_table("term").get_float("weight"), 0.25);
  EXPECT_EQ(p.get_table("term").get_string("name"), "x");
}

TEST(Params, WrongTypesAreNamed) {
  EXPECT_NE(only_message(table({{"random_start", Value("yes")}})).find("expected a boolean"), std::string::npos);
  EXPECT_NE(only_message(table({{"steps", Value(2.5)}})).find("expected an integer"), std::string::npos);
  EXPECT_NE(only_message(table({{"step", Value("fast")}})).find("expected a number"), std::string::npos);
  EXPECT_NE(only_message(table({{"tap", Value(3)}})).find("expected a string"), std::string::npos);
  EXPECT_NE(only_message(table({{"layers", Value(3)}})).find("expected an array"), std::string::npos);
  EXPECT_NE(only_message(table({{"term", Value(3)}})).find("expected a table"), std::string::npos);
}

TEST(Params, RangesAreEnforced) {
  const auto low = only_message(table({{"steps", Value(0)}}));
  EXPECT_NE(low.find("key 'attack[0].steps'"), std::string::npos) << low;
  EXPECT_NE(low.find("(plugin pgd)"), std::string::npos) << low;
  EXPECT_NE(low.find("must be >= 1"), std::string::npos) << low;
  EXPECT_NE(only_message(table({{"steps", Value(1001)}})).find("must be <= 1000"), std::string::npos);
  EXPECT_NE(only_message(table({{"step", Value(0.0)}})).find("must be > 0"), std::string::npos);
  EXPECT_NE(only_message(table({{"epsilon", Value("2/1")}})).find("must be <= 1"), std::string::npos);
  EXPECT_NE(only_message(table({{"layers", Value(Value::Array{})}})).find("at least 1"), std::string::npos);
  EXPECT_NE(only_message(table({{"layers", Value(Value::Array{Value(0)})}})).find("attack[0].layers[0]"),
            std::string::npos);
  EXPECT_NE(only_message(table({{"term", table({{"weight", Value(-1.0)}})}})).find("attack[0].term.weight"),
            std::string::npos);
  EXPECT_TRUE(problems_of(table({{"steps", Value(1)}})).empty());
  EXPECT_TRUE(problems_of(table({{"steps", Value(1000)}})).empty());
}

TEST(Params, EnumsSuggestTheClosestChoice) {
  const auto m = only_message(table({{"norm", Value("l3")}}));
  EXPECT_NE(m.find("one of linf | l2"), std::string::npos) << m;
  EXPECT_NE(m.find("did you mean 'l2'?"), std::string::npos) << m;
}

TEST(Params, UnknownKeysSuggestTheClosestKey) {
  const auto m = only_message(table({{"epsilom", Value("8/255")}}));
  EXPECT_NE(m.find("unknown key 'epsilom'"), std::string::npos) << m;
  EXPECT_NE(m.find("did you mean 'epsilon'?"), std::string::npos) << m;
  EXPECT_NE(m.find("key 'attack[0].epsilom'"), std::string::npos) << m;
  // Keys the host owns are not the plugin's business.
  std::vector<Diagnostic> out;
  full_schema().resolve(table({{"label", Value("x")}}), "pgd", "", out, {"label"});
  EXPECT_TRUE(out.empty());
}

TEST(Params, EveryProblemIsReportedTogether) {
  auto p = problems_of(table({{"steps", Value(0)}, {"norm", Value("x")}, {"bogus", Value(1)}}));
  EXPECT_EQ(p.size(), 3u);
}

TEST(Params, RequiredKeysMustBeGiven) {
  ParamSchema s;
  s.add_string("path", "", "Where the data is").required();
  const auto m = problems_of(table({}), s);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_NE(m.front().message.find("missing required key"), std::string::npos);
  EXPECT_THROW(s.defaults("x"), medadv::ValidationError);
}

TEST(Params, LocationsComeFromTheValues) {
  Value steps(0);
  steps.located({"exp.toml", 12, 9});
  const auto m = only_message(table({{"steps", steps}}));
  EXPECT_EQ(m.rfind("exp.toml:12:9: ", 0), 0u) << m;
}

TEST(Epsilon, FractionsAndNumbers) {
  EXPECT_DOUBLE_EQ(medadv::parse_epsilon("8/255"), 8.0 / 255.0);
  EXPECT_DOUBLE_EQ(medadv::parse_epsilon("0.02/256"), 0.02 / 256.0);
  EXPECT_DOUBLE_EQ(medadv::parse_epsilon(" 1 / 256 "), 1.0 / 256.0);
  EXPECT_DOUBLE_EQ(medadv::parse_epsilon("0.5"), 0.5);
  EXPECT_DOUBLE_EQ(medadv::parse_epsilon(Value(0.25)), 0.25);
  EXPECT_DOUBLE_EQ(medadv::parse_epsilon(Value(0)), 0.0);
}

TEST(Epsilon, BadFractionsAreRejectedWithTheKeyNamed) {
  for (const char* bad : {"8/0", "abc", "-1/255", "8/", "/255", "1/2/3", "inf", ""}) {
    const auto m = only_message(table({{"epsilon", Value(bad)}}));
    EXPECT_NE(m.find("key 'attack[0].epsilon' (plugin pgd)"), std::string::npos) << bad << ": " << m;
  }
  EXPECT_NE(only_message(table({{"epsilon", Value("8/0")}})).find("zero denominator"), std::string::npos);
  EXPECT_NE(only_message(table({{"epsilon", Value("abc")}})).find("not a number or a fraction"), std::string::npos);
  EXPECT_NE(only_message(table({{"epsilon", Value("-1/255")}})).find("negative"), std::string::npos);
  EXPECT_NE(only_message(table({{"epsilon", Value(-0.1)}})).find("negative"), std::string::npos);
  EXPECT_NE(only_message(table({{"epsilon", Value(true)}})).find("fraction string"), std::string::npos);
}

TEST(Epsilon, ResolvedParamsKeepTheTextForReports) {
  auto p = full_schema().resolve_or_throw(table({{"epsilon", Value("2/255")}}), "pgd");
  EXPECT_EQ(p.text_of("epsilon"), "2/255");
  EXPECT_EQ(p.to_value().find("epsilon")->as_string(), "2/255");
}

TEST(DidYouMean, RanksByEditDistance) {
  EXPECT_EQ(medadv::closest_names("pdg", {"fgsm", "pgd", "bim"}).front(), "pgd");
  EXPECT_TRUE(medadv::closest_names("completely-different", {"fgsm", "pgd"}).empty());
  EXPECT_EQ(medadv::did_you_mean("mahalanobs", {"kd", "mahalanobis"}), " (did you mean 'mahalanobis'?)");
}

TEST(Schema, DuplicateParameterIsAPluginBug) {
  ParamSchema s;
  s.add_int("steps", 1, "x");
  EXPECT_THROW(s.add_int("steps", 2, "y"), medadv::Error);
}

TEST(Params, ExclusiveUpperBound) {
  ParamSchema s;
  s.add_float("momentum", 0.9, "SGD momentum").min(0.0).max_exclusive(1.0);
  std::vector<Diagnostic> out;
  s.resolve(table({{"momentum", Value(1.0)}}), "sgd", "", out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NE(out.front().message.find("must be < 1"), std::string::npos) << out.front().message;
  EXPECT_EQ(s.find("momentum")->type_description(), "float in [0, 1)");
  out.clear();
  s.resolve(table({{"momentum", Value(0.99)}}), "sgd", "", out);
  EXPECT_TRUE(out.empty());
}

TEST(Value, FloatsPrintShortestExactText) {
  EXPECT_EQ(Value(0.05).to_string(), "0.05");
  EXPECT_EQ(Value(2.0).to_string(), "2.0");
  EXPECT_EQ(Value(1.0 / 3.0).to_string(), "0.3333333333333333");
  EXPECT_EQ(Value("a\"b").to_string(), "\"a\\\"b\"");
}
