#include "engine/manifest.h"

#include <unistd.h>

#include <set>

#include <torch/version.h>

#include "common/json.h"
#include "medadv/atomic_file.h"
#include "engine/run_directory.h"
#include "medadv/build_info.h"
#include "medadv/version.h"

namespace medadv::host {

Manifest::Manifest(std::filesystem::path file, const CheckedExperiment& experiment, const Plan& plan,
                   c10::Device device, int threads, std::vector<std::string> overrides)
    : file_(std::move(file)),
      experiment_(experiment),
      plan_(plan),
      device_(device),
      threads_(threads),
      overrides_(std::move(overrides)),
      started_(utc_now()) {}

void Manifest::write(const std::string& status) {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  JsonWriter json;
  json.begin_object();
  json.key("experiment").value(experiment_.name);
  json.key("status").value(status);
  json.key("started").value(started_);
  json.key("updated").value(utc_now());
  json.key("medadv_version").value(MEDADV_VERSION);
  json.key("libtorch_version").value(TORCH_VERSION);
  json.key("cxx_abi").value(MEDADV_CXX_ABI_TAG);
  json.key("device").value(device_.str());
  json.key("threads").value(threads_);
  json.key("seed").value(static_cast<std::int64_t>(experiment_.seed));
  json.key("host").value(std::string(host));
  json.key("overrides").begin_array();
  for (const auto& o : overrides_) json.value(o);
  json.end_array();
  json.key("model_hash").value(plan_.model_hash);
  json.key("trials").value(static_cast<std::int64_t>(plan_.trials.size()));
  json.key("plugins").begin_array();
  std::set<std::string> seen;
  for (const PluginUse& use : experiment_.uses) {
    const PluginHandle& p = *use.plugin;
    if (!seen.insert(p.describe()).second) continue;
    json.begin_object();
    json.key("name").value(p.name());
    json.key("kind").value(p.kind_text());
    json.key("version").value(p.version());
    json.key("library").value(p.library().path().string());
    json.key("sha256").value(p.library().sha256());
    json.end_object();
  }
  json.end_array();
  json.end_object();
  write_file_atomically(file_, json.str() + "\n");
}

}  // namespace medadv::host
