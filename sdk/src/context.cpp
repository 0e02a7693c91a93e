#include "medadv/context.h"

namespace medadv {

Logger::~Logger() = default;
Progress::~Progress() = default;
RunContext::~RunContext() = default;

std::uint64_t derive_seed(std::uint64_t seed, const std::string& purpose) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : purpose) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  std::uint64_t z = seed ^ h;
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t RunContext::seed_for(const std::string& purpose) const { return derive_seed(seed(), purpose); }

}  // namespace medadv
