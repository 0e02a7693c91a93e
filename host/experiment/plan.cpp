#include "experiment/plan.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <sstream>

#include "common/canonical_json.h"
#include "common/json.h"
#include "common/sha256.h"
#include "common/text.h"
#include "medadv/error.h"
#include "medadv/splits.h"

namespace medadv::host {

namespace {

bool is_term_of(const PluginUse& term, const std::string& attack_section) {
  return term.section.rfind(attack_section + ".add[", 0) == 0;
}

std::string canonical(const PluginUse* use) {
  if (!use) return "null";
  Value::Table t;
  t.emplace_back("plugin", Value(use->plugin->name()));
  t.emplace_back("version", Value(use->plugin->version()));
  t.emplace_back("params", use->params.to_value());
  return canonical_json(Value(t));
}

// Labels name files (images, adversarial sets) and trial ids through file_safe, so two
// labels that differ only in characters it replaces ("P Q", "P_Q") collide as well.
void require_unique(const std::vector<std::string>& labels, const std::vector<const PluginUse*>& uses,
                    const std::string& what, std::vector<Diagnostic>& problems) {
  std::map<std::string, std::size_t> first;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    auto [it, inserted] = first.emplace(file_safe(labels[i]), i);
    if (inserted) continue;
    const std::string other = uses[it->second] ? uses[it->second]->section : "the undefended model";
    const std::string& other_label = labels[it->second];
    const std::string message =
        other_label == labels[i]
            ? "two " + what + " are labelled '" + labels[i] + "' (the other is " + other + "); give each a distinct `label`"
            : "the " + what + " labelled '" + labels[i] + "' and '" + other_label + "' (" + other +
                  ") share the file name '" + file_safe(labels[i]) +
                  "' (characters other than letters, digits, '.', '-' and '+' become '_'); give labels that differ "
                  "in letters or digits";
    problems.push_back(
        Diagnostic{uses[i]->host_keys.where(), uses[i]->section + ".label", uses[i]->plugin->name(), message});
  }
}

SurrogatePlan surrogate_plan(const PluginUse& use, std::uint64_t experiment_seed) {
  SurrogatePlan s;
  s.use = &use;
  const Value* split = use.host_keys.find("split");
  s.split = split && split->type() == Value::Type::String ? split->as_string() : kSurrogateTrainSplit;
  const Value* seed = use.host_keys.find("seed");
  const std::int64_t given = seed && seed->type() == Value::Type::Int ? seed->as_int() : -1;
  s.seed = given < 0 ? experiment_seed + 1 : static_cast<std::uint64_t>(given);
  return s;
}

// What determines a surrogate's weights, for trial hashes and term fit keys.
std::string surrogate_text(const SurrogatePlan& s) {
  return canonical(s.use) + " " + canonical_json(s.use->host_keys) + " seed " + std::to_string(s.seed);
}

// The use a trial's id was made from last: its detector, else its attack, else its defense.
const PluginUse* deciding_use(const Plan& plan, const Trial& t) {
  if (t.detector) return plan.detectors[*t.detector].use;
  if (t.attack) return plan.attacks[*t.attack].use;
  return plan.variants[t.variant].defense;
}

std::string trial_origin(const Plan& plan, const Trial& t) {
  std::string text = std::string(trial_kind_name(t.kind)) + " trial of variant '" + plan.variants[t.variant].label + "'";
  if (t.attack) {
    const AttackPlan& a = plan.attacks[*t.attack];
    text += ", attack '" + a.label + "' (" + a.section + ")" + (a.epsilon_text.empty() ? "" : " at " + a.epsilon_text);
  }
  if (t.detector) text += ", detector '" + plan.detectors[*t.detector].label + "'";
  return text;
}

// Trial ids name result lines and files: two trials with one id would overwrite each
// other's images and hide one result. Labels are distinct as file names by now, but their
// joins need not be ("a__b" + "c" and "a" + "b__c"), nor are budgets written twice.
void require_unique_trial_ids(const Plan& plan, std::vector<Diagnostic>& problems) {
  std::map<std::string, std::size_t> first;
  for (std::size_t i = 0; i < plan.trials.size(); ++i) {
    const Trial& t = plan.trials[i];
    auto [it, inserted] = first.emplace(t.id, i);
    if (inserted) continue;
    const PluginUse* use = deciding_use(plan, t);
    const std::string key = use ? use->section + (t.attack && !t.detector && !use->epsilon_text.empty() ? ".epsilon" : ".label")
                                : "label";
    problems.push_back(Diagnostic{use ? use->host_keys.where() : SourceLocation{}, key, use ? use->plugin->name() : "",
                                  "the " + trial_origin(plan, t) + " and the " + trial_origin(plan, plan.trials[it->second]) +
                                      " would both be trial '" + t.id +
                                      "' (ids join labels and budgets with '__'); change a label, or drop the repeated "
                                      "budget"});
  }
}

// `detectors_fit_on = "LABEL"`: the attack of that label at the same budget, not this one.
void resolve_detectors_fit_on(std::vector<AttackPlan>& attacks, std::vector<Diagnostic>& problems) {
  for (AttackPlan& a : attacks) {
    const Value* named = a.use->host_keys.find("detectors_fit_on");
    if (!named) continue;
    const std::string key = a.section + ".detectors_fit_on";
    auto fail = [&](const std::string& message) {
      problems.push_back(Diagnostic{named->where(), key, a.use->plugin->name(), message});
    };
    if (named->type() != Value::Type::String) {
      fail("expected the label of another [[attack]], e.g. detectors_fit_on = \"BIM\"");
      continue;
    }
    const std::string& label = named->as_string();
    std::vector<std::string> others, budgets;
    for (std::size_t j = 0; j < attacks.size(); ++j) {
      if (attacks[j].section == a.section) continue;
      if (std::find(others.begin(), others.end(), attacks[j].label) == others.end()) others.push_back(attacks[j].label);
      if (attacks[j].label != label) continue;
      if (attacks[j].epsilon_text == a.epsilon_text) a.detectors_fit_on = j;
      else budgets.push_back(attacks[j].epsilon_text);
    }
    if (label == a.label) fail("names this attack itself; leave it out to fit the detectors on its own outcome");
    else if (!a.detectors_fit_on && !budgets.empty())
      fail("'" + label + "' has no budget " + a.epsilon_text + " (its budgets: " + joined(budgets, ", ") +
           "); the detectors must be fitted at the budget they are scored at");
    else if (!a.detectors_fit_on)
      fail("no other attack labelled '" + label + "'" + did_you_mean(label, others) + "; attacks: " +
           joined(others, ", "));
  }
}

}  // namespace

const char* trial_kind_name(TrialKind k) {
  switch (k) {
    case TrialKind::Clean: return "clean";
    case TrialKind::Attack: return "attack";
    case TrialKind::Detector: return "detector";
  }
  return "?";
}

std::string file_safe(const std::string& text) {
  std::string out;
  for (char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '-' || c == '+';
    out += ok ? c : '_';
  }
  return out.empty() ? "_" : out;
}

Plan make_plan(const CheckedExperiment& e) {
  Plan plan;
  plan.name = e.name;
  plan.seed = e.seed;
  std::vector<Diagnostic> problems;
  std::vector<std::string> variant_labels{"baseline"}, detector_labels;
  std::vector<const PluginUse*> variant_uses{nullptr}, detector_uses;
  // Attack labels are unique per [[attack]] table (budgets of one table share it).
  std::vector<std::string> attack_labels;
  std::vector<const PluginUse*> attack_uses;

  for (std::size_t i = 0; i < e.uses.size(); ++i) {
    const PluginUse& use = e.uses[i];
    if (use.section == "dataset") plan.dataset = &use;
    else if (use.section == "model") plan.model = &use;
    else if (use.section.rfind("defense[", 0) == 0) {
      plan.variants.push_back({use.label, &use});
      variant_labels.push_back(use.label);
      variant_uses.push_back(&use);
    } else if (use.section.rfind("detector[", 0) == 0) {
      plan.detectors.push_back({use.label, &use});
      detector_labels.push_back(use.label);
      detector_uses.push_back(&use);
    } else if (use.section.rfind("attack[", 0) == 0 && use.section.find('.') == std::string::npos) {
      AttackPlan a;
      a.label = use.label;
      a.section = use.section;
      a.use = &use;
      a.objective = objective_spec_from(use.objective);
      a.epsilon_text = use.epsilon_text;
      a.epsilon = use.params.has("epsilon") ? use.params.get_float("epsilon") : std::nan("");
      // Its terms are the uses just before it that belong to its section.
      std::size_t first = i;
      while (first > 0 && is_term_of(e.uses[first - 1], use.section)) --first;
      const Value* add = use.host_keys.find("add");
      for (std::size_t t = first; t < i; ++t) {
        a.terms.push_back(&e.uses[t]);
        double weight = 1.0;
        std::string fit_split = kTrainSplit;
        if (add && add->type() == Value::Type::Array && t - first < add->as_array().size()) {
          const Value& entry = add->as_array()[t - first];
          if (const Value* w = entry.find("weight")) weight = (w->is_number() ? w->as_double() : 1.0);
          if (const Value* f = entry.find("fit_split"); f && f->type() == Value::Type::String) fit_split = f->as_string();
        }
        a.term_weights.push_back(weight);
        a.term_fit_splits.push_back(fit_split);
        a.term_fit_keys.push_back(canonical(&e.uses[t]) + "\nfit " + fit_split);
      }
      if (const Value* bpda = use.host_keys.find("bpda"); bpda && bpda->type() == Value::Type::Bool)
        a.bpda = bpda->as_bool();
      if (const Value* eot = use.host_keys.find("eot"); eot && eot->type() == Value::Type::Int) a.eot = eot->as_int();
      if (first > 0 && e.uses[first - 1].section == use.section + ".surrogate")
        a.surrogate = surrogate_plan(e.uses[first - 1], e.seed);
      // A term fitted on the surrogate's features is not the victim's.
      if (a.surrogate)
        for (auto& key : a.term_fit_keys) key += "\non the surrogate " + surrogate_text(*a.surrogate);
      if (plan.attacks.empty() || plan.attacks.back().section != use.section) {
        attack_labels.push_back(use.label);
        attack_uses.push_back(&use);
      }
      plan.attacks.push_back(std::move(a));
    }
  }
  plan.variants.insert(plan.variants.begin(), VariantPlan{"baseline", nullptr});
  require_unique(variant_labels, variant_uses, "model variants", problems);
  require_unique(attack_labels, attack_uses, "attacks", problems);
  require_unique(detector_labels, detector_uses, "detectors", problems);
  resolve_detectors_fit_on(plan.attacks, problems);
  if (!problems.empty()) throw ValidationError(std::move(problems));

  plan.model_hash = sha256_hex("medadv-model/1\n" + canonical(plan.dataset) + "\n" + canonical(plan.model) + "\n" +
                               (plan.model ? canonical_json(plan.model->host_keys) : "") + "\nseed " +
                               std::to_string(e.seed) + "\n" +
                               (plan.dataset ? canonical_json(plan.dataset->host_keys) : ""));

  auto attack_hash_text = [&](const AttackPlan& a) {
    std::string text = canonical(a.use) + "\nobjective " + canonical_json(a.use->objective.to_value());
    for (std::size_t t = 0; t < a.terms.size(); ++t)
      text += "\nterm " + canonical(a.terms[t]) + " weight " + std::to_string(a.term_weights[t]) + " fit " +
              a.term_fit_splits[t];
    if (a.surrogate) text += "\nsurrogate " + surrogate_text(*a.surrogate);
    // Only when not the default, so that the trials of earlier runs keep their hashes.
    if (!a.bpda) text += "\nbpda false";
    if (a.eot != 0) text += "\neot " + std::to_string(a.eot);
    return text;
  };
  auto hash = [&](const std::string& text) { return sha256_hex(plan.model_hash + "\n" + text); };

  for (std::size_t v = 0; v < plan.variants.size(); ++v) {
    const VariantPlan& variant = plan.variants[v];
    const std::string variant_text = "variant " + canonical(variant.defense);
    const std::string vid = file_safe(variant.label);
    for (const char* split : {kAdvTrainSplit, kAdvTestSplit}) {
      Trial t;
      t.kind = TrialKind::Clean;
      t.variant = v;
      t.split = split;
      t.id = vid + "__clean__" + split;
      t.hash = hash(variant_text + "\nclean " + split);
      plan.trials.push_back(t);
    }
    for (std::size_t a = 0; a < plan.attacks.size(); ++a) {
      const AttackPlan& attack = plan.attacks[a];
      const std::string aid = vid + "__" + file_safe(attack.label) +
                              (attack.epsilon_text.empty() ? "" : "__" + file_safe(attack.epsilon_text));
      for (const char* split : {kAdvTrainSplit, kAdvTestSplit}) {
        if (split == std::string(kAdvTrainSplit) && !e.attack_adv_train) continue;
        Trial t;
        t.kind = TrialKind::Attack;
        t.variant = v;
        t.attack = a;
        t.split = split;
        t.id = aid + "__" + split;
        t.hash = hash(variant_text + "\n" + attack_hash_text(attack) + "\nsplit " + split);
        plan.trials.push_back(t);
      }
      const std::string fit_text =
          attack.detectors_fit_on ? "\ndetectors fit on " + attack_hash_text(plan.attacks[*attack.detectors_fit_on]) : "";
      for (std::size_t d = 0; d < plan.detectors.size(); ++d) {
        Trial t;
        t.kind = TrialKind::Detector;
        t.variant = v;
        t.attack = a;
        t.detector = d;
        t.split = kAdvTestSplit;
        t.id = aid + "__" + file_safe(plan.detectors[d].label);
        t.hash = hash(variant_text + "\n" + attack_hash_text(attack) + fit_text + "\ndetector " +
                      canonical(plan.detectors[d].use) + " " + canonical_json(plan.detectors[d].use->host_keys));
        plan.trials.push_back(t);
      }
    }
  }
  require_unique_trial_ids(plan, problems);
  if (!problems.empty()) throw ValidationError(std::move(problems));
  return plan;
}

TrialCost cost_per_image(const Plan& plan, const Trial& trial) {
  TrialCost c;
  if (trial.kind == TrialKind::Clean) return c.forward = 1, c;
  const Params& p = plan.attacks[*trial.attack].use->params;
  // A black-box attack spends at most its query budget, forward only.
  if (trial.kind == TrialKind::Attack && plan.attacks[*trial.attack].use->plugin->threat_model() == ThreatModel::BlackBox &&
      p.has("max_queries"))
    return c.forward = p.get_int("max_queries") + 2, c;
  const std::int64_t steps = p.has("steps") ? p.get_int("steps") : 1;
  const std::int64_t restarts = p.has("restarts") ? std::max<std::int64_t>(1, p.get_int("restarts")) : 1;
  if (trial.kind == TrialKind::Attack) {
    c.forward = steps * restarts + 2;  // + clean and adversarial evaluation
    c.backward = steps * restarts;
  } else {
    c.forward = 4;  // features of clean and adversarial images, fit and score
  }
  return c;
}

std::string describe_plan(const Plan& plan, std::int64_t adv_train_images, std::int64_t adv_test_images) {
  std::ostringstream out;
  out << "trial grid of '" << plan.name << "': " << plan.variants.size() << " variant(s) x " << plan.attacks.size()
      << " attack(s) x 2 splits, plus a clean evaluation per variant and split";
  if (!plan.detectors.empty()) out << ", plus " << plan.detectors.size() << " detector(s) per attack";
  out << ": " << plan.trials.size() << " trials\n";
  std::int64_t forward = 0, backward = 0;
  for (const Trial& t : plan.trials) {
    const std::int64_t n = t.split == kAdvTrainSplit ? adv_train_images : adv_test_images;
    const TrialCost c = cost_per_image(plan, t);
    const std::int64_t images = t.kind == TrialKind::Detector ? adv_train_images + adv_test_images : n;
    forward += c.forward * images;
    backward += c.backward * images;
    out << "  " << t.id << "  [" << trial_kind_name(t.kind) << "]  ~" << c.forward * images << " forward, "
        << c.backward * images << " backward passes  " << t.hash.substr(0, 12) << "\n";
  }
  out << "estimated cost: " << forward << " forward and " << backward << " backward image passes";
  if (adv_train_images < 0) out << " (split sizes unknown before the data set is loaded)";
  out << "\n";
  return out.str();
}

}  // namespace medadv::host
