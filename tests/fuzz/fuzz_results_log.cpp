// Resume's reading of results.jsonl (ResultsLog, and the line splitter it shares with the
// report) on arbitrary files: a run directory left by a crash, or edited by hand, must be
// read or refused, never crash the engine.
#include "common/result_lines.h"
#include "engine/results_log.h"
#include "fuzz_input.h"
#include "medadv/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = medadv::fuzz::input_file(data, size, "run/results.jsonl");
  const std::string text = medadv::fuzz::input_text(data, size);
  const auto lines = medadv::host::split_result_lines(text);
  for (const auto& line : lines.ended) (void)line.text.size();
  try {
    const medadv::host::ResultsLog log(file);
    (void)log.finished(std::string(lines.ended.empty() ? std::string_view() : lines.ended.front().text));
  } catch (const medadv::Error&) {
  }
  return 0;
}
