#include "medadv/kind.h"

namespace medadv {

namespace {
struct KindName {
  Kind kind;
  const char* name;
};
constexpr KindName kKinds[] = {
    {Kind::Attack, "attack"},   {Kind::AttackTerm, "attack-term"}, {Kind::Preprocessor, "preprocessor"},
    {Kind::Trainer, "trainer"}, {Kind::Wrapper, "wrapper"},        {Kind::Detector, "detector"},
    {Kind::Dataset, "dataset"}, {Kind::Model, "model"},
};
}  // namespace

const char* kind_name(std::uint32_t kind) {
  for (const auto& k : kKinds)
    if (static_cast<std::uint32_t>(k.kind) == kind) return k.name;
  return nullptr;
}

std::optional<Kind> parse_kind(const std::string& name) {
  for (const auto& k : kKinds)
    if (name == k.name) return k.kind;
  return std::nullopt;
}

const char* threat_model_name(ThreatModel t) {
  switch (t) {
    case ThreatModel::None: return "none";
    case ThreatModel::WhiteBox: return "white-box";
    case ThreatModel::GrayBox: return "gray-box";
    case ThreatModel::BlackBox: return "black-box";
    case ThreatModel::NoBox: return "no-box";
  }
  return "unknown";
}

std::vector<std::string> all_kind_names() {
  std::vector<std::string> names;
  for (const auto& k : kKinds) names.emplace_back(k.name);
  return names;
}

}  // namespace medadv
