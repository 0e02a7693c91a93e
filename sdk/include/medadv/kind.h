#pragma once
// Plugin kinds and threat models as C++ enums over the C ABI's values. Free of
// LibTorch, so tools that only inspect libraries stay light.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "medadv/abi.h"
#include "medadv/export.h"

namespace medadv {

enum class Kind : std::uint32_t {
  Attack = MEDADV_KIND_ATTACK,
  AttackTerm = MEDADV_KIND_ATTACK_TERM,
  Preprocessor = MEDADV_KIND_PREPROCESSOR,
  Trainer = MEDADV_KIND_TRAINER,
  Wrapper = MEDADV_KIND_WRAPPER,
  Detector = MEDADV_KIND_DETECTOR,
  Dataset = MEDADV_KIND_DATASET,
  Model = MEDADV_KIND_MODEL,
};

// "attack", "attack-term", "preprocessor", "trainer", "wrapper", "detector",
// "dataset", "model"; nullptr for a value outside the enum.
MEDADV_API const char* kind_name(std::uint32_t kind);
inline const char* kind_name(Kind k) { return kind_name(static_cast<std::uint32_t>(k)); }
MEDADV_API std::optional<Kind> parse_kind(const std::string& name);
MEDADV_API std::vector<std::string> all_kind_names();

enum class ThreatModel : std::uint32_t {
  None = MEDADV_THREAT_NONE,
  WhiteBox = MEDADV_THREAT_WHITE_BOX,
  GrayBox = MEDADV_THREAT_GRAY_BOX,
  BlackBox = MEDADV_THREAT_BLACK_BOX,
  NoBox = MEDADV_THREAT_NO_BOX,
};
MEDADV_API const char* threat_model_name(ThreatModel t);

}  // namespace medadv
