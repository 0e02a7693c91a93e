#include "experiment/train_keys.h"

#include "medadv/splits.h"
#include "medadv/training.h"

namespace medadv::host {

namespace {
void set_host_key(Value::Table& host, const std::string& key, Value v) {
  for (auto& [k, existing] : host)
    if (k == key) {
      existing = std::move(v);
      return;
    }
  host.emplace_back(key, std::move(v));
}
}  // namespace

const ParamSchema& model_train_schema() {
  static const ParamSchema schema = [] {
    ParamSchema s;
    train_options_schema(s);
    return s;
  }();
  return schema;
}

void check_model_keys(const Value& model_table, const std::string& key, Value::Table& host,
                      std::vector<Diagnostic>& out) {
  if (const Value* checkpoint = model_table.find("checkpoint")) {
    if (checkpoint->type() != Value::Type::String || checkpoint->as_string().empty())
      out.push_back(Diagnostic{checkpoint->where(), key + ".checkpoint", "",
                               "expected the path of a weights file (string, relative to the experiment file)"});
  }
  const Value empty(Value::Table{});
  const Value* train = model_table.find("train");
  if (train && train->type() != Value::Type::Table) {
    out.push_back(Diagnostic{train->where(), key + ".train", "",
                             std::string("expected a table such as [model.train] with epochs = 8, found ") +
                                 Value::type_name(train->type())});
    return;
  }
  const std::size_t before = out.size();
  const Params params = model_train_schema().resolve(train ? *train : empty, "", key + ".train.", out);
  if (out.size() != before) return;
  Value resolved = params.to_value();
  resolved.located(train ? train->where() : model_table.where());
  set_host_key(host, "train", std::move(resolved));
}

void check_dataset_splits(const Value& dataset_table, const std::string& key, Value::Table& host,
                          std::vector<Diagnostic>& out) {
  const std::size_t before = out.size();
  const Value* splits = dataset_table.find("splits");
  const SplitPlan plan = resolve_split_plan(splits, key + ".splits", out);
  if (out.size() != before) return;
  Value resolved = plan.to_value();
  resolved.located(splits ? splits->where() : dataset_table.where());
  set_host_key(host, "splits", std::move(resolved));
}

std::filesystem::path checkpoint_path(const Value& model_table, const std::filesystem::path& experiment_dir) {
  const Value* checkpoint = model_table.find("checkpoint");
  if (!checkpoint || checkpoint->type() != Value::Type::String) return {};
  const std::filesystem::path p = checkpoint->as_string();
  return p.is_absolute() ? p : experiment_dir / p;
}

}  // namespace medadv::host
