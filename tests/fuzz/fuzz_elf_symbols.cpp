// The loader's ELF reader (exported_dynamic_symbols) on arbitrary files: it reads every
// library on the plugin search path before loading it, so a damaged or hostile file must
// give InvalidInput, never a crash or an unbounded allocation.
#include "fuzz_input.h"
#include "loader/elf_symbols.h"
#include "medadv/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = medadv::fuzz::input_file(data, size, "libinput.so");
  try {
    medadv::host::exported_dynamic_symbols(file);
  } catch (const medadv::Error&) {
  }
  return 0;
}
