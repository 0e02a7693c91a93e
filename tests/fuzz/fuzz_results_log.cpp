// Resume's reading of results.jsonl (ResultsLog) on arbitrary files: a run directory
// left by a crash, or edited by hand, must be read or refused, never crash the engine.
#include "engine/results_log.h"
#include "fuzz_input.h"
#include "medadv/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = medadv::fuzz::input_file(data, size, "run/results.jsonl");
  try {
    const medadv::host::ResultsLog log(file);
    const std::string text = medadv::fuzz::input_text(data, size);
    (void)log.finished(medadv::host::json_string_field(text.substr(0, text.find('\n')), "hash"));
  } catch (const medadv::Error&) {
  }
  return 0;
}
