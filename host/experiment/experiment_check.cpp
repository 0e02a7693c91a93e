#include "experiment/experiment_check.h"

#include <algorithm>

#include "experiment/attack_keys.h"
#include "experiment/report_keys.h"
#include "experiment/train_keys.h"
#include "medadv/error.h"

namespace medadv::host {

namespace {

const std::vector<std::string> kSections = {"experiment", "dataset", "model", "defense", "attack", "detector", "report"};

ParamSchema experiment_schema() {
  ParamSchema s;
  s.add_string("name", "experiment", "Name of the run; runs are written under runs/<name>/.");
  s.add_int("seed", 0, "Seed of every random stream in the run.").min(0);
  s.add_string("device", "auto", "auto | cpu | cuda | cuda:N.");
  // Bounded: LibTorch creates the pool up front, and 100000 threads never finish starting.
  s.add_int("threads", 0, "CPU threads; 0 means OMP_NUM_THREADS when set, else all cores (at most 1024).").min(0).max(1024);
  s.add_enum<CudaMath>("cuda_math", {{"reproducible", CudaMath::Reproducible}, {"fast", CudaMath::Fast}},
                       CudaMath::Reproducible,
             "On CUDA: reproducible (deterministic cuDNN algorithms, full fp32, no TF32: a seed repeats a run) "
             "or fast (cuDNN autotuner and TF32 convolutions and matrix products; not repeatable).");
  s.add_int("batch_size", 64, "Images per batch when attacking, evaluating and detecting.").min(1);
  s.add_bool("attack_adv_train", true,
             "Also record every attack on the adv_train split. Detectors attack adv_train whatever this "
             "says (they are fitted on it); false skips those passes in an experiment without detectors.");
  s.add_list("plugin_path", ParamSpec("", ParamType::String, ""), {},
             "Extra plugin directories or files, relative to the experiment file.");
  return s;
}

// Host-owned keys of each plugin section (validated by the stages that use them).
std::vector<std::string> host_keys_of(const std::string& section) {
  if (section == "dataset") return {"plugin", "splits"};
  if (section == "model") return {"plugin", "train", "checkpoint"};
  if (section == "surrogate") return {"plugin", "train", "checkpoint", "split", "seed"};
  if (section == "defense") return {"plugin", "label"};
  if (section == "attack")
    return {"plugin", "label", "targeted", "target", "loss", "kappa", "add", "surrogate", "budgets", "detectors_fit_on",
            "bpda", "eot"};
  if (section == "detector") return {"plugin", "label", "layers"};
  return {"plugin"};
}

std::vector<Kind> kinds_of(const std::string& section) {
  if (section == "dataset") return {Kind::Dataset};
  if (section == "model" || section == "surrogate") return {Kind::Model};
  if (section == "defense") return {Kind::Preprocessor, Kind::Trainer, Kind::Wrapper};
  if (section == "attack") return {Kind::Attack};
  if (section == "detector") return {Kind::Detector};
  if (section == "add") return {Kind::AttackTerm};
  return {};
}

struct Checker {
  const PluginRegistry& registry;
  std::vector<Diagnostic> problems;
  CheckedExperiment result;
  const Value* model_table = nullptr;  // the experiment's [model], as written

  void fail(const Value& at, const std::string& key, const std::string& message, const std::string& plugin = "") {
    problems.push_back(Diagnostic{at.where(), key, plugin, message});
  }

  const PluginHandle* lookup(const std::string& kind_section, const std::string& name, const Value& at,
                             const std::string& key) {
    for (Kind k : kinds_of(kind_section))
      if (const PluginHandle* p = registry.find(k, name)) return p;
    try {
      registry.require(kinds_of(kind_section).front(), name);
    } catch (const InvalidInput& e) {
      fail(at, key, e.what());
    }
    return nullptr;
  }

  // Validates one plugin table; returns its resolved form (or the input on failure).
  Value plugin_table(const std::string& section_kind, const std::string& key, const Value& table) {
    if (table.type() != Value::Type::Table) {
      fail(table, key, std::string("expected a table, found ") + Value::type_name(table.type()));
      return table;
    }
    const Value* plugin_name = table.find("plugin");
    if (!plugin_name) {
      fail(table, key + ".plugin", "missing required key: the name of the plugin to use");
      return table;
    }
    if (plugin_name->type() != Value::Type::String) {
      fail(*plugin_name, key + ".plugin", "expected a plugin name (string)");
      return table;
    }
    const PluginHandle* plugin = lookup(section_kind, plugin_name->as_string(), *plugin_name, key + ".plugin");
    if (!plugin) return table;

    const auto host_keys = host_keys_of(section_kind);
    std::vector<Diagnostic> local;
    Params params;
    try {
      params = plugin->schema().resolve(table, plugin->name(), key + ".", local, host_keys);
    } catch (const std::exception& e) {
      fail(table, key, e.what(), plugin->name());
      return table;
    }
    problems.insert(problems.end(), local.begin(), local.end());

    PluginUse use;
    use.section = key;
    use.plugin = plugin;
    use.params = params;
    use.train_given = table.find("train") != nullptr;
    Value::Table host;
    for (const auto& [k, v] : table.as_table())
      if (std::find(host_keys.begin(), host_keys.end(), k) != host_keys.end()) host.emplace_back(k, v);
    if (section_kind == "model" || section_kind == "surrogate") check_model_keys(table, key, host, problems);
    if (section_kind == "surrogate") resolve_into_host(surrogate_schema(), {"split", "seed"}, table, key, plugin->name(), host);
    // The surrogate's use comes before the attack's terms, so that they stay just before the attack.
    if (section_kind == "attack") {
      check_attack_surrogate(table, key, *plugin, host);
      resolve_into_host(attack_defense_schema(), {"bpda", "eot"}, table, key, plugin->name(), host);
    }
    if (section_kind == "dataset") check_dataset_splits(table, key, host, problems);
    if (section_kind == "detector") check_detector_layers(table, key, plugin->name());
    use.host_keys = Value(host).located(table.where());  // where the section is, for later diagnostics
    const Value* label = table.find("label");
    use.label = label && label->type() == Value::Type::String ? label->as_string() : plugin->name();

    if (section_kind == "attack") {
      check_attack_terms(table, key);
      use.objective = attack_objective(table, key, plugin->name());
      if (params.has("epsilon")) use.epsilon_text = params.text_of("epsilon");
    }
    result.uses.push_back(std::move(use));

    // Host keys first (plugin, label, ...), then every parameter with defaults filled.
    Value::Table resolved = host;
    Value parameters = params.to_value();  // named: a range-for over a temporary's member dangles
    for (auto& entry : parameters.as_table()) resolved.push_back(std::move(entry));
    return Value(std::move(resolved));
  }

  // `epsilon = ["1/255", "2/255"]` makes one attack per budget: each is validated on its
  // own, the resolved table keeps the list.
  Value attack_table(const std::string& key, const Value& table) {
    if (table.type() == Value::Type::Table)
      if (const Value* budgets = table.find("budgets")) return attack_budgets(key, table, *budgets);
    const Value* epsilon = table.type() == Value::Type::Table ? table.find("epsilon") : nullptr;
    if (!epsilon || epsilon->type() != Value::Type::Array) return plugin_table("attack", key, table);
    if (epsilon->as_array().empty()) {
      fail(*epsilon, key + ".epsilon", "an empty list of budgets: give at least one, e.g. [\"8/255\"]");
      return table;
    }
    Value resolved;
    for (const Value& budget : epsilon->as_array()) {
      Value one = table;
      one.set("epsilon", budget);
      Value r = plugin_table("attack", key, one);
      if (resolved.type() != Value::Type::Table) resolved = r;
    }
    if (resolved.type() == Value::Type::Table && resolved.find("epsilon")) resolved.set("epsilon", *epsilon);
    return resolved;
  }

  // `budgets = [{ epsilon = "1/255", step = "0.5/255" }, ...]`: one attack per entry, the
  // table's keys with the entry's on top, for protocols whose step size or iterations
  // depend on the budget. Each entry is validated on its own; the resolved table keeps the
  // list.
  Value attack_budgets(const std::string& key, const Value& table, const Value& budgets) {
    if (const Value* epsilon = table.find("epsilon"))
      fail(*epsilon, key + ".epsilon", "with `budgets`, give epsilon inside each budget, not beside the list");
    if (budgets.type() != Value::Type::Array || budgets.as_array().empty()) {
      fail(budgets, key + ".budgets",
           "expected a non-empty list of tables, e.g. budgets = [{ epsilon = \"1/255\", step = \"0.5/255\" }]");
      return table;
    }
    Value::Table base;
    for (const auto& [k, v] : table.as_table())
      if (k != "budgets") base.emplace_back(k, v);
    Value resolved;
    for (std::size_t i = 0; i < budgets.as_array().size(); ++i) {
      const Value& entry = budgets.as_array()[i];
      const std::string entry_key = key + ".budgets[" + std::to_string(i) + "]";
      if (entry.type() != Value::Type::Table) {
        fail(entry, entry_key, "expected a table such as { epsilon = \"8/255\", step = \"2/255\" }");
        continue;
      }
      if (!entry.find("epsilon")) fail(entry, entry_key + ".epsilon", "missing: every budget names its epsilon");
      Value one = Value(base).located(table.where());
      for (const auto& [k, v] : entry.as_table()) one.set(k, v);
      Value r = plugin_table("attack", key, one);
      if (resolved.type() != Value::Type::Table) resolved = r;
    }
    if (resolved.type() != Value::Type::Table) return table;
    Value::Table out;
    for (const auto& [k, v] : resolved.as_table())
      if (k != "epsilon") out.emplace_back(k, v);
    out.emplace_back("budgets", budgets);
    return Value(out);
  }

  // The host keys `keys` of `table`, resolved by `schema` (defaults filled) into `host`.
  void resolve_into_host(const ParamSchema& schema, const std::vector<std::string>& keys, const Value& table,
                         const std::string& key, const std::string& plugin, Value::Table& host) {
    Value::Table given;
    for (const auto& k : keys)
      if (const Value* v = table.find(k)) given.emplace_back(k, *v);
    std::vector<Diagnostic> local;
    Params p = schema.resolve(Value(given).located(table.where()), plugin, key + ".", local);
    problems.insert(problems.end(), local.begin(), local.end());
    if (!local.empty()) return;
    const Value resolved = p.to_value();  // named: a range-for over a temporary's member dangles
    for (const auto& entry : resolved.as_table()) {
      const std::string& name = entry.first;  // not a structured binding: the lambda captures it
      auto at = std::find_if(host.begin(), host.end(), [&](const auto& kept) { return kept.first == name; });
      if (at != host.end()) at->second = entry.second;
      else host.push_back(entry);
    }
  }

  // [attack.surrogate]: a model table of its own (its plugin, parameters and `train`
  // default to the victim's [model], the same architecture: the gray-box setting), validated
  // as a use of section "attack[i].surrogate"; `host` gets it resolved. A black-box attack
  // queries the victim and takes no surrogate; a gray-box or no-box attack needs one.
  void check_attack_surrogate(const Value& attack, const std::string& key, const PluginHandle& plugin,
                              Value::Table& host) {
    const Value* surrogate = attack.find("surrogate");
    const ThreatModel threat = plugin.threat_model();
    if (!surrogate) {
      if (threat == ThreatModel::GrayBox || threat == ThreatModel::NoBox)
        fail(attack, key + ".surrogate",
             plugin.describe() + " is a " + threat_model_name(threat) +
                 " attack: it is crafted on a surrogate model, so give one, e.g. [attack.surrogate] with "
                 "split = \"disjoint\" (the victim's architecture) or plugin = \"mobilenetv2\"",
             plugin.name());
      return;
    }
    if (surrogate->type() != Value::Type::Table) {
      fail(*surrogate, key + ".surrogate", "expected a table such as [attack.surrogate] with split = \"disjoint\"",
           plugin.name());
      return;
    }
    if (threat == ThreatModel::BlackBox) {
      fail(*surrogate, key + ".surrogate",
           plugin.describe() + " is a black-box attack: it queries the victim, so a surrogate has no use; a "
           "transfer attack is a white-box attack (e.g. \"pgd\") with [attack.surrogate]",
           plugin.name());
      return;
    }
    Value table = *surrogate;
    if (!surrogate->find("plugin") && model_table && model_table->type() == Value::Type::Table) {
      // The victim's architecture and recipe; never its checkpoint (its weights).
      Value::Table same;
      for (const auto& [k, v] : model_table->as_table())
        if (k != "checkpoint" && !surrogate->find(k)) same.emplace_back(k, v);
      for (const auto& [k, v] : surrogate->as_table()) same.emplace_back(k, v);
      table = Value(std::move(same)).located(surrogate->where());
    }
    Value resolved = plugin_table("surrogate", key + ".surrogate", table);
    auto at = std::find_if(host.begin(), host.end(), [](const auto& entry) { return entry.first == "surrogate"; });
    if (at != host.end()) at->second = resolved.located(surrogate->where());
  }

  Params attack_objective(const Value& attack, const std::string& key, const std::string& plugin) {
    // A target mask file is resolved against the experiment file (attack_keys.h).
    const Value* target = attack.find("target");
    Value target_used = target ? *target : Value();
    if (target && target->type() == Value::Type::String) {
      try {
        target_used = resolve_target(*target);
      } catch (const InvalidInput& e) {
        fail(*target, key + ".target", e.what(), plugin);
      }
    }
    Value::Table keys;
    for (const char* k : {"targeted", "target", "loss", "kappa"})
      if (const Value* v = attack.find(k)) keys.emplace_back(k, std::string(k) == "target" ? target_used : *v);
    std::vector<Diagnostic> local;
    Params p = attack_objective_schema().resolve(Value(keys).located(attack.where()), plugin, key + ".", local);
    problems.insert(problems.end(), local.begin(), local.end());
    return p;
  }

  // `layers = ["block2", "penultimate"]`: the taps a detector may read. Whether the model
  // has them is checked once the model is known (engine/task_check.h).
  void check_detector_layers(const Value& detector, const std::string& key, const std::string& plugin) {
    const Value* layers = detector.find("layers");
    if (!layers) return;
    const bool list = layers->type() == Value::Type::Array && !layers->as_array().empty();
    if (list)
      for (const Value& layer : layers->as_array())
        if (layer.type() != Value::Type::String || layer.as_string().empty()) {
          fail(layer, key + ".layers", "expected a tap name (string), e.g. \"penultimate\"", plugin);
          return;
        }
    if (!list) fail(*layers, key + ".layers", "expected a non-empty list of tap names, e.g. [\"block2\", \"penultimate\"]", plugin);
  }

  void check_attack_terms(const Value& attack, const std::string& key) {
    const Value* add = attack.find("add");
    if (!add) return;
    if (add->type() != Value::Type::Array) {
      fail(*add, key + ".add", "expected an array of tables, e.g. add = [{ plugin = \"hfc\" }]");
      return;
    }
    for (std::size_t i = 0; i < add->as_array().size(); ++i) {
      const Value& term = add->as_array()[i];
      const std::string term_key = key + ".add[" + std::to_string(i) + "]";
      if (term.type() != Value::Type::Table) {
        fail(term, term_key, "expected a table such as { plugin = \"hfc\", weight = 1.0 }");
        continue;
      }
      const Value* weight = term.find("weight");
      if (weight && !weight->is_number()) fail(*weight, term_key + ".weight", "expected a number");
      const Value* fit_split = term.find("fit_split");
      if (fit_split && !(fit_split->type() == Value::Type::String && is_term_fit_split(fit_split->as_string())))
        fail(*fit_split, term_key + ".fit_split",
             "expected \"train\" (the victim's training split, which a white-box attacker knows) or \"adv_train\"");
      Value::Table rest;
      for (const auto& [k, v] : term.as_table())
        if (k != "weight" && k != "fit_split") rest.emplace_back(k, v);
      plugin_table("add", term_key, Value(rest).located(term.where()));
    }
  }

  void run(const Value& root) {
    Value resolved(Value::Table{});
    for (const auto& [key, v] : root.as_table())
      if (std::find(kSections.begin(), kSections.end(), key) == kSections.end()) {
        std::string message = "unknown section '" + key + "'" + did_you_mean(key, kSections) + "; sections:";
        for (const auto& s : kSections) message += " " + s;
        fail(v, key, message);
      }

    const Value empty(Value::Table{});
    const Value* experiment = root.find("experiment");
    std::vector<Diagnostic> local;
    Params settings = experiment_schema().resolve(experiment ? *experiment : empty, "", "experiment.", local);
    problems.insert(problems.end(), local.begin(), local.end());
    if (local.empty()) {
      result.name = settings.get_string("name");
      result.seed = static_cast<std::uint64_t>(settings.get_int("seed"));
      result.device = settings.get_string("device");
      result.threads = static_cast<int>(settings.get_int("threads"));
      result.cuda_math = settings.get_enum<CudaMath>("cuda_math");
      result.batch_size = settings.get_int("batch_size");
      result.attack_adv_train = settings.get_bool("attack_adv_train");
      // The name is a folder under runs/: one path component, so the run stays inside it.
      const std::string& name = result.name;
      if (name.empty() || name == "." || name == ".." || name.find_first_of("/\\") != std::string::npos ||
          std::any_of(name.begin(), name.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; }))
        fail(experiment && experiment->find("name") ? *experiment->find("name") : root, "experiment.name",
             "\"" + name + "\" is not a folder name: runs go to runs/<name>/, so give a name without '/', '\\' or "
             "control characters, other than \".\" and \"..\"");
      const std::string& d = result.device;
      const bool known = d == "auto" || d == "cpu" || d == "cuda" ||
                         (d.rfind("cuda:", 0) == 0 && d.size() > 5 &&
                          d.find_first_not_of("0123456789", 5) == std::string::npos);
      if (!known) fail(*experiment->find("device"), "experiment.device", "\"" + d + "\" is not one of auto | cpu | cuda | cuda:N");
      resolved.set("experiment", settings.to_value());
    }

    for (const char* single : {"dataset", "model"}) {
      const Value* table = root.find(single);
      if (!table) {
        fail(root, single, std::string("missing section [") + single + "]");
        continue;
      }
      if (table->type() == Value::Type::Array) {
        fail(*table, single, std::string("[[") + single + "]] given; an experiment has exactly one [" + single + "]");
        continue;
      }
      if (std::string(single) == "model" && table->type() == Value::Type::Table) {
        result.model_train_given = table->find("train") != nullptr;
        model_table = table;
      }
      resolved.set(single, plugin_table(single, single, *table));
    }
    for (const char* many : {"defense", "attack", "detector"}) {
      const Value* list = root.find(many);
      if (!list) continue;
      if (list->type() != Value::Type::Array) {
        fail(*list, many, std::string("expected [[") + many + "]] (an array of tables)");
        continue;
      }
      Value::Array out;
      for (std::size_t i = 0; i < list->as_array().size(); ++i)
      {
        const std::string key = std::string(many) + "[" + std::to_string(i) + "]";
        const Value& table = list->as_array()[i];
        out.push_back(std::string(many) == "attack" ? attack_table(key, table) : plugin_table(many, key, table));
      }
      resolved.set(many, Value(out));
    }
    resolved.set("report", check_report(root.find("report"), problems));
    result.resolved = std::move(resolved);
  }
};

}  // namespace

std::vector<std::filesystem::path> experiment_plugin_paths(const Value& root, const std::filesystem::path& file) {
  std::vector<std::filesystem::path> paths;
  const Value* experiment = root.find("experiment");
  const Value* list = experiment ? experiment->find("plugin_path") : nullptr;
  if (!list) return paths;
  const auto base = std::filesystem::absolute(file).parent_path();
  auto add = [&](const Value& v) {
    if (v.type() != Value::Type::String)
      throw ValidationError({Diagnostic{v.where(), "experiment.plugin_path", "", "expected a path string"}});
    std::filesystem::path p = v.as_string();
    paths.push_back(p.is_absolute() ? p : base / p);
  };
  if (list->type() == Value::Type::Array)  // anything else is reported by the schema check
    for (const auto& v : list->as_array()) add(v);
  return paths;
}

CheckedExperiment check_experiment(const Value& root, const PluginRegistry& registry) {
  Checker checker{registry, {}, {}};
  checker.run(root);
  // An epsilon list validates the rest of its table once per budget: report each problem once.
  std::vector<Diagnostic> unique;
  for (auto& d : checker.problems) {
    const bool seen = std::any_of(unique.begin(), unique.end(),
                                  [&](const Diagnostic& u) { return u.to_string() == d.to_string(); });
    if (!seen) unique.push_back(std::move(d));
  }
  if (!unique.empty()) throw ValidationError(std::move(unique));
  return std::move(checker.result);
}

}  // namespace medadv::host
