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

// ---- typed enums --------------------------------------------------------------------

namespace {

enum class Shape { Round = 3, Square = 7 };
enum class Colour { Red, Blue };

ParamSchema shape_schema() {
  ParamSchema s;
  s.add_enum<Shape>("shape", {{"round", Shape::Round}, {"square", Shape::Square}}, Shape::Square, "Shape");
  s.add_enum("mode", {"fast", "slow"}, "fast", "An enum read as text");
  return s;
}

}  // namespace

TEST(TypedEnums, ReadBackTheValueEachNameStandsFor) {
  const auto defaults = shape_schema().defaults("p");
  EXPECT_EQ(defaults.get_enum<Shape>("shape"), Shape::Square);
  EXPECT_EQ(defaults.get_string("shape"), "square");  // the text stays, for reports
  const auto given = shape_schema().resolve_or_throw(table({{"shape", Value("round")}}), "p");
  EXPECT_EQ(given.get_enum<Shape>("shape"), Shape::Round);
  EXPECT_EQ(static_cast<int>(given.get_enum<Shape>("shape")), 3);
}

TEST(TypedEnums, DescribeAndRejectLikeEnumsOfText) {
  const ParamSchema s = shape_schema();
  EXPECT_EQ(s.find("shape")->type_description(), "one of round | square");
  EXPECT_EQ(s.find("shape")->allowed(), (std::vector<std::string>{"round", "square"}));
  EXPECT_EQ(s.find("shape")->enum_values(), (std::vector<std::int64_t>{3, 7}));
  EXPECT_TRUE(s.find("mode")->enum_values().empty());
  const auto m = problems_of(table({{"shape", Value("sqare")}}), s);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m.front().key, "attack[0].shape");
  EXPECT_NE(m.front().message.find("is not one of round | square (did you mean 'square'?)"), std::string::npos)
      << m.front().message;
}

TEST(TypedEnums, ReadingAsAnotherTypeIsAPluginBug) {
  const auto p = shape_schema().defaults("p");
  EXPECT_THROW(p.get_enum<Colour>("shape"), medadv::Error);  // declared as Shape
  EXPECT_THROW(p.get_enum<Colour>("mode"), medadv::Error);   // declared as text
  EXPECT_THROW(p.get_enum<Shape>("colour"), medadv::Error);  // not declared
}

TEST(TypedEnums, DefaultMustBeOneOfTheNames) {
  ParamSchema s;
  EXPECT_THROW(s.add_enum<Shape>("shape", {{"round", Shape::Round}}, Shape::Square, "Shape"), medadv::Error);
}

TEST(TypedEnums, NestedTablesKeepTheirValues) {
  ParamSchema s;
  s.add_table("inner", shape_schema(), "Nested");
  const auto p = s.resolve_or_throw(table({{"inner", table({{"shape", Value("round")}})}}), "p");
  EXPECT_EQ(p.get_table("inner").get_enum<Shape>("shape"), Shape::Round);
}

// ---- schema checks --------------------------------------------------------------------

namespace {

// k-means style bounds: min_k < max_k, blamed on max_k when the table gives it.
ParamSchema bounds_schema() {
  ParamSchema s;
  s.add_int("min_k", 2, "Smallest k").min(1);
  s.add_int("max_k", 8, "Largest k").min(1);
  s.add_check("min_k < max_k", {"max_k", "min_k"}, [](const medadv::Params& p) -> std::optional<std::string> {
    if (p.get_int("min_k") < p.get_int("max_k")) return std::nullopt;
    return "max_k (" + std::to_string(p.get_int("max_k")) + ") must exceed min_k (" +
           std::to_string(p.get_int("min_k")) + ")";
  });
  return s;
}

Value located(Value v, int line, int column) {
  v.located({"exp.toml", line, column});
  return v;
}

}  // namespace

TEST(SchemaChecks, AFailedRuleIsReportedAtTheKeyItBlames) {
  const Value t = located(
      Value(Value::Table{{"min_k", located(Value(5), 3, 9)}, {"max_k", located(Value(4), 4, 9)}}), 2, 1);
  const auto out = problems_of(t, bounds_schema());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out.front().to_string(), "exp.toml:4:9: key 'attack[0].max_k' (plugin pgd): max_k (4) must exceed min_k (5)");
  EXPECT_TRUE(problems_of(table({{"min_k", Value(3)}}), bounds_schema()).empty());
}

TEST(SchemaChecks, WithoutTheFirstKeyTheNextGivenOneIsBlamed) {
  const Value t = located(Value(Value::Table{{"min_k", located(Value(9), 3, 9)}}), 2, 1);
  const auto out = problems_of(t, bounds_schema());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out.front().where.to_string(), "exp.toml:3:9");
  EXPECT_EQ(out.front().key, "attack[0].min_k");
}

TEST(SchemaChecks, RulesOverKeysThatFailedThemselvesAreSkipped) {
  // max_k = 0 is out of range; the rule would only repeat that.
  const auto out = problems_of(table({{"min_k", Value(5)}, {"max_k", Value(0)}}), bounds_schema());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NE(out.front().message.find("must be >= 1"), std::string::npos);
}

TEST(SchemaChecks, ABrokenDefaultIsReportedAtTheTable) {
  ParamSchema s;
  s.add_int("min_k", 9, "Smallest k");
  s.add_int("max_k", 8, "Largest k");
  s.add_check("min_k < max_k", {"max_k", "min_k"}, [](const medadv::Params& p) -> std::optional<std::string> {
    if (p.get_int("min_k") < p.get_int("max_k")) return std::nullopt;
    return "max_k must exceed min_k";
  });
  std::vector<Diagnostic> out;
  s.resolve(located(Value(Value::Table{}), 2, 1), "km", "", out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out.front().to_string(), "exp.toml:2:1: key 'max_k' (plugin km): max_k must exceed min_k (in the plugin's own defaults)");
  EXPECT_THROW(s.defaults("km"), medadv::ValidationError);
}

TEST(SchemaChecks, AreListedAndMustReadDeclaredKeys) {
  const ParamSchema s = bounds_schema();
  ASSERT_EQ(s.checks().size(), 1u);
  EXPECT_EQ(s.checks().front().description, "min_k < max_k");
  EXPECT_EQ(s.checks().front().keys, (std::vector<std::string>{"max_k", "min_k"}));
  ParamSchema bad;
  bad.add_int("k", 1, "k");
  const auto always = [](const medadv::Params&) -> std::optional<std::string> { return std::nullopt; };
  EXPECT_THROW(bad.add_check("k < n", {"k", "n"}, always), medadv::Error);  // n is not declared
  EXPECT_THROW(bad.add_check("", {"k"}, always), medadv::Error);
  EXPECT_THROW(bad.add_check("k", {}, always), medadv::Error);
}

TEST(SchemaChecks, TypedEnumsAreReadableInRules) {
  ParamSchema s = shape_schema();
  s.add_int("side", 1, "Side").min(1);
  s.add_check("round shapes have side 1", {"side", "shape"}, [](const medadv::Params& p) -> std::optional<std::string> {
    if (p.get_enum<Shape>("shape") == Shape::Round && p.get_int("side") != 1) return "a round shape has side 1";
    return std::nullopt;
  });
  EXPECT_EQ(problems_of(table({{"shape", Value("round")}, {"side", Value(2)}}), s).size(), 1u);
  EXPECT_TRUE(problems_of(table({{"shape", Value("square")}, {"side", Value(2)}}), s).empty());
}

TEST(Params, StringsCanRequireAMinimumLength) {
  ParamSchema s;
  s.add_string("tap", "penultimate", "Tap").min_length(1);
  EXPECT_EQ(s.find("tap")->type_description(), "string (not empty)");
  const auto out = problems_of(table({{"tap", Value("")}}), s);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out.front().message, "must not be empty");
  EXPECT_TRUE(problems_of(table({{"tap", Value("x")}}), s).empty());
}
