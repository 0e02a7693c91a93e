#pragma once
// Exported dynamic symbols of an ELF shared object, read from the file without
// loading it. Boost.DLL 1.74's library_info lists .symtab, which a stripped library
// lacks, so the loader reads .dynsym (what the dynamic linker actually exports) here.
#include <filesystem>
#include <string>
#include <vector>

namespace medadv::host {

// Defined, global or weak, default-visibility symbols of `.dynsym`.
// Throws medadv::InvalidInput for a file that is not a readable 64-bit ELF object.
std::vector<std::string> exported_dynamic_symbols(const std::filesystem::path& file);

}  // namespace medadv::host
