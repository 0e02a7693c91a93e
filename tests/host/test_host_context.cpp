// Tests of the host's run context: how many threads `threads = 0` computes on.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>

#include "common/host_context.h"
#include "common/logging.h"

namespace {

using medadv::host::ContextSettings;
using medadv::host::HostContext;

// Sets OMP_NUM_THREADS for the test's scope and restores what was there.
class OmpThreads {
 public:
  explicit OmpThreads(const char* value) {
    if (const char* before = std::getenv("OMP_NUM_THREADS")) before_ = before;
    if (value) ::setenv("OMP_NUM_THREADS", value, 1);
    else ::unsetenv("OMP_NUM_THREADS");
  }
  ~OmpThreads() {
    if (before_) ::setenv("OMP_NUM_THREADS", before_->c_str(), 1);
    else ::unsetenv("OMP_NUM_THREADS");
  }

 private:
  std::optional<std::string> before_;
};

int threads_of(int setting) {
  ContextSettings settings;
  settings.threads = setting;
  return HostContext(settings, medadv::host::host_log()).threads();
}

TEST(HostContextThreads, ZeroMeansOmpNumThreadsWhenSetElseEveryCore) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  {
    OmpThreads env("3");
    EXPECT_EQ(threads_of(0), 3);
    EXPECT_EQ(threads_of(5), 5);  // the experiment's own figure wins
  }
  for (const char* ignored : {static_cast<const char*>(nullptr), "0", "x", "2x", "", "100000"}) {
    OmpThreads env(ignored);
    EXPECT_EQ(threads_of(0), cores) << (ignored ? ignored : "(unset)");
  }
}

}  // namespace
