#include "experiment/attack_keys.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "medadv/error.h"
#include "medadv/splits.h"
#include "medadv/image_io.h"

namespace medadv::host {

namespace fs = std::filesystem;

namespace {

bool ends_with_png(const std::string& text) {
  if (text.size() < 5) return false;
  std::string tail = text.substr(text.size() - 4);
  std::transform(tail.begin(), tail.end(), tail.begin(), [](unsigned char c) { return std::tolower(c); });
  return tail == ".png";
}

}  // namespace

ParamSchema attack_objective_schema() {
  ParamSchema s;
  s.add_bool("targeted", false,
             "Targeted attack: success means reaching the target (a class, or a target mask for "
             "segmentation); otherwise success means leaving the true class of a correctly classified sample "
             "(segmentation: breaking a usable segmentation, Dice below 0.5).");
  s.add_string("target", "random",
               "Target of a targeted attack. Classification: \"random\" (a class other than the label, drawn from "
               "the seed), \"least-likely\" (the clean prediction's least likely class), \"next\" ((label + 1) mod "
               "K) or a class index such as \"0\". Segmentation: \"empty\" (make the structure vanish), \"full\" "
               "(everything foreground) or a PNG mask file (foreground where the gray level is above 0.5, resized "
               "to the images), relative to the experiment file.");
  EnumNames<BaseLoss> losses;
  for (BaseLoss b : {BaseLoss::CrossEntropy, BaseLoss::CWMargin, BaseLoss::DLR, BaseLoss::BCE, BaseLoss::SoftIoU,
                     BaseLoss::SoftDice, BaseLoss::None})
    losses.emplace_back(base_loss_name(b), b);
  s.add_enum<BaseLoss>("loss", losses, BaseLoss::CrossEntropy,
             "Base loss of the objective. Classification: cross-entropy, Carlini-Wagner margin, or AutoAttack's "
             "DLR (three classes or more). Segmentation: mean binary cross-entropy, soft IoU or soft Dice loss "
             "against the mask (targeted: towards the target mask). \"none\": no base loss, only the `add` terms "
             "(the feature stress test).");
  s.add_float("kappa", 0.0, "Confidence margin of the CW loss.").min(0.0);
  return s;
}

ParamSchema attack_defense_schema() {
  ParamSchema s;
  s.add_bool("bpda", true,
             "On a preprocessing or wrapper defense: attack through it, its real transform forward and its "
             "backward approximation (BPDA, the adaptive attacker). false: craft the attack on the undefended "
             "model and score it on the defended one (the non-adaptive setting, which shows what obfuscated "
             "gradients hide). No effect on the undefended model or a trained defense.");
  s.add_int("eot", 0,
            "Expectation over Transformation on a randomised defense (TVM, a randomised wrapper): every "
            "gradient step is the mean of `eot` draws' gradients, and the attack sees the average prediction. "
            "0 (not given): a white-box attack on a randomised defense is refused; 1 attacks single draws "
            "knowingly. No effect on deterministic variants.")
      .min(0)
      .max(10000);
  return s;
}

ParamSchema surrogate_schema() {
  ParamSchema s;
  s.add_enum("split", {kSurrogateDisjointSplit, kSurrogateTrainSplit}, kSurrogateDisjointSplit,
               "Where the surrogate is trained. \"disjoint\": the images that [dataset] splits leave unused "
               "(give the splits fractions summing below 1), which the victim never saw; a tenth of them "
               "validate. \"train\": the victim's own training and validation images, with the surrogate's "
               "seed, so only its weights differ.");
  s.add_int("seed", -1,
            "Seed of the surrogate's initial weights, data order and (disjoint) validation draw; -1: the "
            "experiment's seed + 1.")
      .min(-1);
  return s;
}

bool is_term_fit_split(const std::string& split) { return split == kTrainSplit || split == kAdvTrainSplit; }

bool is_segmentation_target(const TargetChoice& t) {
  using Rule = TargetChoice::Rule;
  return t.rule == Rule::Empty || t.rule == Rule::Full || t.rule == Rule::MaskFile;
}

std::string target_text(const TargetChoice& t) {
  using Rule = TargetChoice::Rule;
  switch (t.rule) {
    case Rule::Random: return "random";
    case Rule::LeastLikely: return "least-likely";
    case Rule::Next: return "next";
    case Rule::Fixed: return std::to_string(t.fixed_class);
    case Rule::Empty: return "empty";
    case Rule::Full: return "full";
    case Rule::MaskFile: return t.mask_file;
  }
  return "?";
}

TargetChoice parse_target(const std::string& text) {
  TargetChoice t;
  if (text == "random") return t;
  if (text == "least-likely") return t.rule = TargetChoice::Rule::LeastLikely, t;
  if (text == "next") return t.rule = TargetChoice::Rule::Next, t;
  if (text == "empty") return t.rule = TargetChoice::Rule::Empty, t;
  if (text == "full") return t.rule = TargetChoice::Rule::Full, t;
  if (ends_with_png(text)) {
    t.rule = TargetChoice::Rule::MaskFile;
    t.mask_file = text;
    return t;
  }
  const bool digits = !text.empty() && text.size() < 10 &&
                      std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
  if (!digits)
    throw InvalidInput("\"" + text +
                       "\" is not a target: use \"random\", \"least-likely\", \"next\" or a class index "
                       "(classification), or \"empty\", \"full\" or a PNG mask file (segmentation)");
  t.rule = TargetChoice::Rule::Fixed;
  t.fixed_class = std::stoll(text);
  return t;
}

Value resolve_target(const Value& target) {
  if (target.type() != Value::Type::String) return target;  // the schema reports the type
  const TargetChoice choice = parse_target(target.as_string());
  if (choice.rule != TargetChoice::Rule::MaskFile) return target;
  fs::path file = choice.mask_file;
  if (file.is_relative()) {
    // Relative to the experiment file the key was written in; a --set override has no
    // file (its location is "--set key", line 0): the current directory.
    const auto& where = target.where();
    const fs::path written_in = where.line > 0 ? fs::path(where.file) : fs::path();
    file = (written_in.empty() ? fs::current_path() : fs::absolute(written_in).parent_path()) / file;
  }
  file = file.lexically_normal();
  if (!fs::is_regular_file(file))
    throw InvalidInput("the target mask file " + file.string() + " does not exist (relative paths are taken from "
                       "the experiment file's directory)");
  read_image(file, 1);  // throws InvalidInput naming the file when it is not a readable image
  Value resolved(file.string());
  resolved.located(target.where());
  return resolved;
}

torch::Tensor target_mask_from_file(const std::string& file, std::int64_t height, std::int64_t width) {
  auto gray = read_image(file, 1).unsqueeze(0);  // [1,1,h,w] in [0,1]
  if (gray.size(2) != height || gray.size(3) != width)
    gray = torch::nn::functional::interpolate(gray, torch::nn::functional::InterpolateFuncOptions()
                                                         .size(std::vector<std::int64_t>{height, width})
                                                         .mode(torch::kBilinear)
                                                         .align_corners(false));
  return (gray > 0.5).to(torch::kFloat);
}

ObjectiveSpec objective_spec_from(const Params& p) {
  ObjectiveSpec s;
  s.targeted = p.get_bool("targeted");
  s.target = parse_target(p.get_string("target"));
  s.loss = p.get_enum<BaseLoss>("loss");
  s.kappa = p.get_float("kappa");
  return s;
}

}  // namespace medadv::host
