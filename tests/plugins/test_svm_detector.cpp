// The svm detector (plugins/detectors/svm): gamma "scale" in closed form; the fitted
// model, its probabilities and its decisions against libsvm's own command-line tools
// (svm-train -t 2 -c 1 -g gamma -b 1, svm-predict [-b 1]) on the same data; the plugin
// on a model's taps: shapes, range, gradient, determinism.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <medadv/capabilities.h>
#include <medadv/params.h>
#include <medadv/testing.h>
#include <medadv/torch_compat.h>

#include "detectors/svm/rbf_svm.h"
#include "detectors/svm/svm_detector.h"

// Oracle tests build their models on the CPU and pin their contexts to it
// (TestContext(torch::kCPU)), so that they check the same thing under MEDADV_TEST_DEVICE=cuda;
// the tests on trained victims run on the tests' device.
namespace {

namespace svm = medadv::plugins::svm;
using medadv::Value;

medadv::Params svm_params(Value::Table overrides = {}) {
  medadv::ParamSchema s;
  svm::SvmDetector::schema(s);
  return s.resolve_or_throw(Value(std::move(overrides)), "svm");
}

bool tool_available(const char* name) {
  return std::system((std::string("command -v ") + name + " >/dev/null 2>&1").c_str()) == 0;
}

// Rows in libsvm's text format, every feature written, at full float64 precision.
void write_libsvm(const std::filesystem::path& file, const torch::Tensor& x, const torch::Tensor& positive) {
  std::ofstream out(file);
  const auto xa = x.accessor<double, 2>();
  const auto ya = positive.accessor<bool, 1>();
  char buffer[64];
  for (std::int64_t i = 0; i < x.size(0); ++i) {
    out << (ya[i] ? "1" : "-1");
    for (std::int64_t j = 0; j < x.size(1); ++j) {
      std::snprintf(buffer, sizeof buffer, " %lld:%.17g", static_cast<long long>(j + 1), xa[i][j]);
      out << buffer;
    }
    out << "\n";
  }
}

int run(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()); }

// Two overlapping Gaussian clouds in 5-d (positives shifted by 0.8 per coordinate).
struct Data {
  torch::Tensor x, positive;
};
Data clouds(std::int64_t n, std::uint64_t seed) {
  auto gen = medadv::compat::cpu_generator(seed);
  Data d;
  d.positive = torch::rand({n}, gen) < 0.5;
  d.x = (torch::randn({n, 5}, gen, torch::kDouble) + 0.8 * d.positive.to(torch::kDouble).unsqueeze(1)) * 2.0;
  return d;
}

// The numbers svm-train writes into a model file.
struct ModelFile {
  double rho = 0, prob_a = 0, prob_b = 0;
  std::vector<int> labels;
  std::int64_t total_sv = 0;
  std::vector<double> coefficients;
  std::vector<std::vector<double>> support_vectors;
};
ModelFile read_model(const std::filesystem::path& file, std::int64_t dims) {
  std::ifstream in(file);
  ModelFile m;
  std::string line;
  bool in_sv = false;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    if (in_sv) {
      double coef = 0;
      words >> coef;
      m.coefficients.push_back(coef);
      std::vector<double> sv(static_cast<std::size_t>(dims), 0.0);
      std::string pair;
      while (words >> pair) {
        const auto colon = pair.find(':');
        sv[static_cast<std::size_t>(std::stoi(pair.substr(0, colon)) - 1)] = std::stod(pair.substr(colon + 1));
      }
      m.support_vectors.push_back(sv);
      continue;
    }
    std::string key;
    words >> key;
    if (key == "rho") words >> m.rho;
    else if (key == "probA") words >> m.prob_a;
    else if (key == "probB") words >> m.prob_b;
    else if (key == "total_sv") words >> m.total_sv;
    else if (key == "label") {
      int l = 0;
      while (words >> l) m.labels.push_back(l);
    } else if (key == "SV") in_sv = true;
  }
  return m;
}

}  // namespace

TEST(SvmDetector, SchemaDefaultsAndRanges) {
  const auto p = svm_params();
  EXPECT_EQ(p.get_string_list("taps"), std::vector<std::string>{"penultimate"});
  EXPECT_DOUBLE_EQ(p.get_float("c"), 1.0);
  EXPECT_DOUBLE_EQ(p.get_float("gamma"), 0.0);  // "scale"
  EXPECT_TRUE(p.get_bool("probability"));
  EXPECT_THROW(svm_params({{"c", 0.0}}), medadv::ValidationError);
  EXPECT_THROW(svm_params({{"gamma", -1.0}}), medadv::ValidationError);
  EXPECT_THROW(svm_params({{"taps", Value::Array{}}}), medadv::ValidationError);

  medadv::testing::TestContext ctx;
  svm::SvmDetector detector(p, ctx);
  EXPECT_TRUE(detector.supervised());
  EXPECT_TRUE(detector.differentiable());
  EXPECT_EQ(detector.taps({"block1", "penultimate", "logits"}), std::vector<std::string>{"penultimate"});
  EXPECT_THROW(detector.taps({"block1", "logits"}), medadv::InvalidInput);
}

TEST(SvmDetector, ScaleGammaIsOneOverDimTimesVariance) {
  // Elements 0, 2, 2, 0: mean 1, population variance 1, d = 2 -> gamma = 1 / 2.
  EXPECT_DOUBLE_EQ(svm::scale_gamma(torch::tensor({{0.0, 2.0}, {2.0, 0.0}})), 0.5);
  // Elements 1, 3, 5, 7, 9, 11 (d = 3): variance 35 / 3 -> gamma = 1 / 35.
  EXPECT_NEAR(svm::scale_gamma(torch::tensor({{1.0, 3.0, 5.0}, {7.0, 9.0, 11.0}})), 1.0 / 35.0, 1e-15);
  // Constant features: sklearn's fallback 1.
  EXPECT_DOUBLE_EQ(svm::scale_gamma(torch::full({4, 3}, 2.5)), 1.0);
}

TEST(SvmDetector, MatchesLibsvmCommandLineTools) {
  if (!tool_available("svm-train") || !tool_available("svm-predict"))
    GTEST_SKIP() << "libsvm's command-line tools (svm-train, svm-predict) are not installed: "
                    "apt-get install libsvm-tools (scripts/common.sh installs it)";
  const Data train = clouds(80, 1), test = clouds(50, 2);
  // svm-train keeps -g in single precision (its model file shows gamma as a float), so
  // the comparison uses a gamma that a float holds exactly.
  const double gamma = static_cast<double>(static_cast<float>(svm::scale_gamma(train.x)));

  const auto dir = std::filesystem::temp_directory_path() /
                   ("medadv-svm-tools-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  write_libsvm(dir / "train", train.x, train.positive);
  write_libsvm(dir / "test", test.x, test.positive);
  char g[64];
  std::snprintf(g, sizeof g, "%.17g", gamma);
  const std::string d = "'" + dir.string() + "/";
  ASSERT_EQ(run("svm-train -q -t 2 -c 1 -g " + std::string(g) + " -b 1 " + d + "train' " + d + "model'"), 0);
  ASSERT_EQ(run("svm-predict -b 1 " + d + "test' " + d + "model' " + d + "probabilities'"), 0);
  ASSERT_EQ(run("svm-predict " + d + "test' " + d + "model' " + d + "labels'"), 0);

  // svm-train never seeds rand(): shuffle seed 1 is the same stream.
  svm::RbfSvmOptions options;
  options.gamma = gamma;
  options.shuffle_seed = 1;
  const svm::RbfSvm model = svm::RbfSvm::fit(train.x, train.positive, options);

  // The trained model: same support vectors, coefficients, rho and Platt parameters.
  const ModelFile file = read_model(dir / "model", 5);
  ASSERT_EQ(file.total_sv, model.support_vector_count());
  ASSERT_EQ(file.labels.size(), 2u);
  EXPECT_EQ(file.labels[0] == 1, model.positive_first());
  EXPECT_NEAR(file.rho, model.rho(), 1e-12 * std::max(1.0, std::abs(file.rho)));
  EXPECT_NEAR(file.prob_a, model.prob_a(), 1e-10 * std::max(1.0, std::abs(file.prob_a)));
  EXPECT_NEAR(file.prob_b, model.prob_b(), 1e-10 * std::max(1.0, std::abs(file.prob_b)));
  for (std::int64_t i = 0; i < model.support_vector_count(); ++i) {
    EXPECT_NEAR(file.coefficients[static_cast<std::size_t>(i)], model.coefficients()[i].item<double>(), 1e-12);
    for (std::int64_t j = 0; j < 5; ++j)  // svm-train writes SV values with 8 significant digits
      EXPECT_NEAR(file.support_vectors[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)],
                  model.support_vectors()[i][j].item<double>(), 1e-7 * std::max(1.0, std::abs(file.support_vectors[i][j])));
  }

  // Probabilities (svm-predict -b 1 prints them with 6 significant digits) and labels.
  const torch::Tensor probability = model.probability(test.x);
  const torch::Tensor decision = model.decision(test.x);
  std::ifstream probs(dir / "probabilities");
  std::string header, word;
  std::getline(probs, header);
  std::istringstream columns(header);
  columns >> word;
  ASSERT_EQ(word, "labels");
  int first = 0, second = 0;
  columns >> first >> second;
  std::ifstream labels(dir / "labels");
  std::int64_t compared = 0;
  for (std::int64_t i = 0; i < test.x.size(0); ++i) {
    double predicted = 0, p_first = 0, p_second = 0, plain = 0;
    ASSERT_TRUE(static_cast<bool>(probs >> predicted >> p_first >> p_second));
    ASSERT_TRUE(static_cast<bool>(labels >> plain));
    const double p_positive = first == 1 ? p_first : p_second;
    EXPECT_NEAR(probability[i].item<double>(), p_positive, 1e-5) << "row " << i;
    // Without -b, svm-predict labels by the sign of the decision value.
    EXPECT_EQ(decision[i].item<double>() > 0, plain > 0) << "row " << i << ", decision " << decision[i].item<double>();
    ++compared;
  }
  EXPECT_EQ(compared, 50);
  // The test set is not trivial: both labels occur in svm-predict's answers.
  const torch::Tensor sign = decision > 0;
  EXPECT_GT(sign.sum().item<std::int64_t>(), 0);
  EXPECT_LT(sign.sum().item<std::int64_t>(), 50);
  std::filesystem::remove_all(dir);
}

// What a detector-evasion attack follows: the gradients of the decision value and of the
// probability, against their closed forms. With f(x) = sum_i c_i exp(-gamma |x - sv_i|^2)
// - rho (libsvm's sign), df/dx = -2 gamma sum_i c_i exp(-gamma |x - sv_i|^2) (x - sv_i),
// and Platt's P(first class) = 1 / (1 + exp(A f + B)) has dP/dx = -A P (1 - P) df/dx.
TEST(SvmDetector, DecisionAndProbabilityGradientsEqualTheirClosedForms) {
  const Data train = clouds(80, 1), test = clouds(12, 2);
  svm::RbfSvmOptions options;
  const svm::RbfSvm model = svm::RbfSvm::fit(train.x, train.positive, options);
  ASSERT_TRUE(model.has_probability());
  const torch::Tensor x = test.x.clone().requires_grad_(true);
  const torch::Tensor decision_grad = torch::autograd::grad({model.decision(x).sum()}, {x})[0];
  const torch::Tensor probability = model.probability(test.x);
  const torch::Tensor probability_grad = torch::autograd::grad({model.probability(x).sum()}, {x})[0];

  const double sign = model.positive_first() ? 1.0 : -1.0;  // decision() is positive on the positive side
  const torch::Tensor offsets = test.x.unsqueeze(1) - model.support_vectors().unsqueeze(0);  // [B, S, D]
  const torch::Tensor kernel = torch::exp(-model.gamma() * offsets.pow(2).sum(2));          // [B, S]
  const torch::Tensor libsvm_grad =
      -2.0 * model.gamma() * (model.coefficients().unsqueeze(0).unsqueeze(2) * kernel.unsqueeze(2) * offsets).sum(1);
  EXPECT_LT((decision_grad - sign * libsvm_grad).abs().max().item<double>(), 1e-10);

  const torch::Tensor libsvm_decision = (kernel * model.coefficients().unsqueeze(0)).sum(1) - model.rho();
  const torch::Tensor p_first = torch::sigmoid(-(model.prob_a() * libsvm_decision + model.prob_b()));
  const torch::Tensor first_grad = (-model.prob_a() * p_first * (1 - p_first)).unsqueeze(1) * libsvm_grad;
  std::int64_t checked = 0;
  for (std::int64_t b = 0; b < x.size(0); ++b) {
    const double p = probability[b].item<double>();
    if (p <= 1e-6 || p >= 1 - 1e-6) continue;  // clamped to [1e-7, 1 - 1e-7]: no gradient there
    EXPECT_LT((probability_grad[b] - sign * first_grad[b]).abs().max().item<double>(), 1e-10) << "row " << b;
    ++checked;
  }
  EXPECT_GE(checked, 6);
}

TEST(SvmDetector, FitsOnPooledTapsScoresDifferentiablyAndDeterministically) {
  auto module = std::make_shared<medadv::testing::TinyClassifier>(3, 3, 0);
  medadv::ModuleModel model(module, 3, medadv::Task::Classification);
  const torch::Tensor fit_clean = medadv::testing::random_images(40, 3, 16, 1) * 0.5;
  // "Adversarial": brighter, with a fine checkerboard on top.
  const torch::Tensor checker = (torch::arange(16).view({1, 16}) + torch::arange(16).view({16, 1})).remainder(2);
  const auto data =
      medadv::detector_fit_data(fit_clean, torch::arange(40) % 3, (fit_clean + 0.3 + 0.2 * checker).clamp(0, 1));

  medadv::testing::TestContext ctx(torch::kCPU, 5);
  svm::SvmDetector detector(svm_params({{"taps", Value::Array{Value("block2"), Value("penultimate")}}}), ctx);
  detector.fit(model, data, ctx, nullptr);
  EXPECT_GT(detector.model().support_vector_count(), 0);
  EXPECT_EQ(detector.model().support_vectors().size(1), 16 + 16);  // block2 (16 channels) + penultimate (16)

  const torch::Tensor clean = medadv::testing::random_images(10, 3, 16, 2) * 0.5;
  const torch::Tensor adversarial = (clean + 0.3 + 0.2 * checker).clamp(0, 1);
  torch::Tensor s_clean, s_adv;
  {
    torch::NoGradGuard no_grad;
    s_clean = detector.score(model, clean);
    s_adv = detector.score(model, adversarial);
  }
  ASSERT_EQ(s_clean.sizes(), (std::vector<std::int64_t>{10}));
  EXPECT_GE(s_clean.min().item<double>(), 0.0);
  EXPECT_LE(s_adv.max().item<double>(), 1.0);
  EXPECT_GT(s_adv.min().item<double>(), s_clean.max().item<double>());  // separable: every pair ordered

  // The same seed fits the same model (libsvm's folds follow it); scores are equal.
  svm::SvmDetector again(svm_params({{"taps", Value::Array{Value("block2"), Value("penultimate")}}}), ctx);
  medadv::testing::TestContext same(torch::kCPU, 5);
  again.fit(model, data, same, nullptr);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(again.score(model, clean), s_clean));
  {
    // Differentiable in the input: a finite, nonzero gradient.
    torch::AutoGradMode grad_mode(true);
    const torch::Tensor x = clean.clone().requires_grad_(true);
    const torch::Tensor grad = torch::autograd::grad({detector.score(model, x).sum()}, {x})[0];
    EXPECT_TRUE(torch::isfinite(grad).all().item<bool>());
    EXPECT_GT(grad.abs().sum().item<double>(), 0.0);
  }
  // Decision-value scores rank the same way as the probabilities.
  svm::SvmDetector decision(svm_params({{"probability", false}, {"taps", Value::Array{Value("block2"), Value("penultimate")}}}), ctx);
  decision.fit(model, data, same, nullptr);
  EXPECT_GT(decision.score(model, adversarial).min().item<double>(), decision.score(model, clean).max().item<double>());
}
