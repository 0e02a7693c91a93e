#pragma once
// Files that survive a crash: whole files are written then renamed into place, result
// lines are appended with one write and flushed to disk before the trial counts as done.
#include <filesystem>
#include <string>

namespace medadv::host {

// Writes `content` to file + ".tmp", flushes it, renames it over `file`.
// Throws medadv::Error naming the file.
void write_file_atomically(const std::filesystem::path& file, const std::string& content);

// Appends `line` + '\n' with a single write(2) on an O_APPEND descriptor and fsyncs it:
// a reader never sees half a line unless the machine dies mid-write, and then only as
// the last line (which the results log drops on resume).
void append_line_durably(const std::filesystem::path& file, const std::string& line);

std::string read_text_file(const std::filesystem::path& file);

}  // namespace medadv::host
