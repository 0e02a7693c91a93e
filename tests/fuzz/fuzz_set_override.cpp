// `--set KEY=VALUE` (apply_override) on arbitrary assignments, one per input line,
// applied in turn to a small experiment: each must apply or give InvalidInput.
#include <sstream>

#include "experiment/toml_value.h"
#include "fuzz_input.h"
#include "medadv/error.h"

namespace {
const char* const kExperiment = R"(
[experiment]
name = "fuzz"
[dataset]
plugin = "phantom-fundus"
splits = { train = 0.8, adv_train = 0.1, adv_test = 0.1 }
[model]
plugin = "small-cnn"
[model.train]
epochs = 1
[[attack]]
plugin = "pgd"
epsilon = ["2/255", "8/255"]
[[attack]]
plugin = "fgsm"
)";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const medadv::Value kRoot = medadv::host::parse_toml_text(kExperiment, "fuzz.toml");
  medadv::Value root = kRoot;
  std::istringstream lines(medadv::fuzz::input_text(data, size));
  std::string assignment;
  while (std::getline(lines, assignment)) {
    try {
      medadv::host::apply_override(root, assignment);
    } catch (const medadv::Error&) {
    }
  }
  return 0;
}
