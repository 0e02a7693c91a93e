#pragma once
// Text helpers every layer's messages use.
#include <string>
#include <vector>

namespace medadv::host {

// "a, b, c" for joined({"a", "b", "c"}, ", ").
inline std::string joined(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? separator : "") + parts[i];
  return out;
}

}  // namespace medadv::host
