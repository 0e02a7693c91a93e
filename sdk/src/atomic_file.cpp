#include "medadv/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>

#include "medadv/error.h"

namespace medadv {

namespace {

[[noreturn]] void fail(const std::string& what, const std::filesystem::path& file, int error) {
  throw Error("cannot " + what + " " + file.string() + ": " + std::strerror(error));
}

// Closes the descriptor however the function leaves.
class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  ~Descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  int get() const { return fd_; }
  // fsync then close, reporting either failure.
  void sync_and_close(const std::filesystem::path& file) {
    const int fd = fd_;
    fd_ = -1;
    if (::fsync(fd) != 0) {
      const int error = errno;
      ::close(fd);
      fail("flush", file, error);
    }
    if (::close(fd) != 0) fail("flush", file, errno);
  }

 private:
  int fd_;
};

void write_all(int fd, std::string_view data, const std::filesystem::path& file) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write", file, errno);
    }
    done += static_cast<std::size_t>(n);
  }
}

// FILE.tmp-PID-N, created here (O_EXCL): no other writer, in this process or another, has it.
Descriptor create_temporary(const std::filesystem::path& file, std::filesystem::path& temporary) {
  static std::atomic<unsigned> counter{0};
  for (;;) {
    temporary = file.string() + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) return Descriptor(fd);
    if (errno != EEXIST) fail("create", temporary, errno);  // EEXIST: left by a crashed process of the same pid
  }
}

// A rename is durable once the directory holding the name is on disk.
void sync_directory(const std::filesystem::path& file) {
  const std::filesystem::path dir = file.parent_path().empty() ? std::filesystem::path(".") : file.parent_path();
  Descriptor fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) fail("open the directory of", file, errno);
  fd.sync_and_close(dir);
}

void replace(const std::filesystem::path& temporary, const std::filesystem::path& file) {
  if (std::rename(temporary.c_str(), file.c_str()) != 0) fail("rename into place", file, errno);
  sync_directory(file);
}

void remove_quietly(const std::filesystem::path& temporary) {
  std::error_code ignored;
  std::filesystem::remove(temporary, ignored);
}

}  // namespace

void write_file_atomically(const std::filesystem::path& file, std::string_view content) {
  std::filesystem::path temporary;
  Descriptor fd = create_temporary(file, temporary);
  try {
    write_all(fd.get(), content, temporary);
    fd.sync_and_close(temporary);
    replace(temporary, file);
  } catch (...) {
    remove_quietly(temporary);
    throw;
  }
}

void write_file_atomically(const std::filesystem::path& file,
                           const std::function<void(const std::filesystem::path& temporary)>& fill) {
  std::filesystem::path temporary;
  create_temporary(file, temporary);  // closed at once: `fill` writes it by its path
  try {
    fill(temporary);
    Descriptor written(::open(temporary.c_str(), O_RDONLY | O_CLOEXEC));
    if (written.get() < 0) fail("reopen", temporary, errno);
    written.sync_and_close(temporary);
    replace(temporary, file);
  } catch (...) {
    remove_quietly(temporary);
    throw;
  }
}

void append_line_durably(const std::filesystem::path& file, std::string_view line) {
  Descriptor fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (fd.get() < 0) fail("open for appending", file, errno);
  std::string whole(line);
  whole += '\n';
  write_all(fd.get(), whole, file);
  fd.sync_and_close(file);
}

}  // namespace medadv
