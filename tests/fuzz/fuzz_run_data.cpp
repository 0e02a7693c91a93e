// The report's reading of results.jsonl (read_run) on arbitrary files, and the field
// accessors the tables use on every trial it returns.
#include "fuzz_input.h"
#include "medadv/error.h"
#include "report/run_data.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = medadv::fuzz::input_file(data, size, "run/results.jsonl");
  try {
    const auto run = medadv::host::read_run(file.parent_path());
    for (const auto& trial : run.trials)
      for (const char* key : {"trial", "kind", "attack", "epsilon", "robust_accuracy", "attack_success_rate"}) {
        (void)medadv::host::field_text(trial, key);
        (void)medadv::host::metric_value(trial, key);
      }
  } catch (const medadv::Error&) {
  }
  return 0;
}
