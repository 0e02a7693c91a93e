#pragma once
// Files that survive a crash, for the host's run files and the SDK's npz archives and
// images alike: whole files are written beside their place, flushed to disk and renamed
// into it, so a reader (or a machine restarted after a crash) finds the old file or the
// new one, never part of one; lines are appended with one write and flushed.
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "medadv/export.h"

namespace medadv {

// Writes `content` to a new temporary file in the directory of `file` (unique to this
// process and call, so concurrent writers of one file do not clobber each other), fsyncs
// it, renames it over `file` and fsyncs the directory. Throws medadv::Error naming the
// file; the temporary file is removed on failure.
MEDADV_API void write_file_atomically(const std::filesystem::path& file, std::string_view content);

// The same for content a library writes to a path itself (a zip archive, a LibTorch
// archive): `fill` writes the temporary file whose path it is given. What `fill` throws
// propagates, after the temporary file is removed.
MEDADV_API void write_file_atomically(const std::filesystem::path& file,
                                      const std::function<void(const std::filesystem::path& temporary)>& fill);

// Appends `line` + '\n' with a single write(2) on an O_APPEND descriptor and fsyncs it:
// a reader never sees half a line unless the machine dies mid-write, and then only as
// the last line. Throws medadv::Error naming the file.
MEDADV_API void append_line_durably(const std::filesystem::path& file, std::string_view line);

}  // namespace medadv
