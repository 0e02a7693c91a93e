// Keeps freed host memory in the process (glibc only), for every process that loads the
// SDK: the host, the tests, the benchmarks, a user's own program.
//
// Why: glibc serves large allocations (above 128 KiB, adapting up to 32 MiB) with fresh
// mmap pages and returns them, and the top of the heap, to the kernel when freed. LibTorch
// frees a batch's activations and allocates them again at the next step, so every step
// page-faults its activations in anew; on a virtual machine a page fault traps to the
// hypervisor, and the faults cost more than the convolutions (a 64x16x32x32 convolution,
// forward and input gradient: 110 ms with glibc's defaults, 10 ms with this; see
// bench/RESULTS.md). Serving everything from the heap and never trimming it keeps the
// pages mapped, as PyTorch's CUDA caching allocator keeps device memory. The cost: the
// resident size stays at its peak until the process ends.
//
// MEDADV_SYSTEM_MALLOC=1 keeps glibc's defaults (e.g. for a long-lived process that must
// give memory back).
#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <climits>
#include <malloc.h>
#endif

namespace {

bool keep_freed_memory() {
  const char* opt_out = std::getenv("MEDADV_SYSTEM_MALLOC");
  if (opt_out && *opt_out && std::strcmp(opt_out, "0") != 0) return false;
#if defined(__GLIBC__)
  return mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, INT_MAX) == 1;
#else
  return false;
#endif
}

[[maybe_unused]] const bool kFreedMemoryKept = keep_freed_memory();

}  // namespace
