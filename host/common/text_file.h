#pragma once
// A whole file as text, for the run files the host reads back. Files are written through
// medadv/atomic_file.h.
#include <filesystem>
#include <string>

namespace medadv::host {

// Throws medadv::InvalidInput naming the file when it cannot be read.
std::string read_text_file(const std::filesystem::path& file);

}  // namespace medadv::host
