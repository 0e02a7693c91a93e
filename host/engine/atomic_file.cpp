#include "engine/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "medadv/error.h"

namespace medadv::host {

namespace {

[[noreturn]] void fail(const std::string& what, const std::filesystem::path& file) {
  throw Error("cannot " + what + " " + file.string() + ": " + std::strerror(errno));
}

void write_all(int fd, const std::string& data, const std::filesystem::path& file) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      fail("write", file);
    }
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

void write_file_atomically(const std::filesystem::path& file, const std::string& content) {
  const std::filesystem::path temporary = file.string() + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("create", temporary);
  write_all(fd, content, temporary);
  if (::fsync(fd) != 0 || ::close(fd) != 0) fail("flush", temporary);
  if (std::rename(temporary.c_str(), file.c_str()) != 0) fail("rename into place", file);
}

void append_line_durably(const std::filesystem::path& file, const std::string& line) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) fail("open for appending", file);
  write_all(fd, line + "\n", file);
  if (::fsync(fd) != 0 || ::close(fd) != 0) fail("flush", file);
}

std::string read_text_file(const std::filesystem::path& file) {
  // A directory opens as a stream that reads nothing: it would pass for an empty file.
  std::error_code error;
  if (std::filesystem::exists(file, error) && !std::filesystem::is_regular_file(file, error))
    throw InvalidInput(file.string() + ": not a regular file");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InvalidInput("cannot read " + file.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace medadv::host
