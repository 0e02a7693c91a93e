// medadv::read_npz on arbitrary files (MedMNIST archives and medadv's own caches come
// through it): its contract is InvalidInput (a medadv::Error) for every bad archive.
#include "fuzz_input.h"
#include "medadv/error.h"
#include "medadv/npz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = medadv::fuzz::input_file(data, size, "input.npz");
  try {
    for (const auto& [name, tensor] : medadv::read_npz(file)) (void)tensor.sum();
  } catch (const medadv::Error&) {
  }
  return 0;
}
