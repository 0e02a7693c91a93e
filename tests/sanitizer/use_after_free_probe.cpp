// Keeps the Logger of a HostContext past the context's end and logs through it, as the
// torchscript model plugin once did between create() and build(). Under ASan this must
// stop with a heap-use-after-free report; without it, the line below is printed.
#include <cstdio>
#include <memory>

#include "common/host_context.h"
#include "common/logging.h"

namespace {

// What the faulty plugin did: remember the context's logger for later.
class ForgetfulPlugin {
 public:
  explicit ForgetfulPlugin(medadv::RunContext& ctx) : log_(ctx.log()) {}
  void build() { log_.info("building"); }

 private:
  medadv::Logger& log_;
};

}  // namespace

int main() {
  auto host_log = std::make_shared<medadv::host::HostLog>(medadv::host::LogSettings{});
  auto ctx = std::make_unique<medadv::host::HostContext>(medadv::host::ContextSettings{}, host_log, "probe");
  ForgetfulPlugin plugin(*ctx);
  ctx.reset();
  plugin.build();
  std::puts("logged after the context was destroyed, unnoticed");
  return 0;
}
