#include "medadv/model.h"

#include "medadv/error.h"

namespace medadv {

const char* task_name(Task t) { return t == Task::Classification ? "classification" : "segmentation"; }

const torch::Tensor& ModelOutput::tap(const std::string& name) const {
  auto it = taps.find(name);
  if (it != taps.end()) return it->second;
  std::string present;
  for (const auto& [k, v] : taps) present += (present.empty() ? "" : ", ") + k;
  throw Error("tap '" + name + "' was not computed in this forward (computed: " +
              (present.empty() ? std::string("none") : present) + ")");
}

TappedModule::~TappedModule() = default;
ModelPlugin::~ModelPlugin() = default;

}  // namespace medadv
