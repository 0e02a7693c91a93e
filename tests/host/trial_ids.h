#pragma once
// What the host tests read from a trial id ("baseline__PGD__8_255__adv_train",
// host/experiment/plan.h) when they only have the results keyed by id.
#include <string>

namespace medadv::testing {

// An attack trial on adv_train: the trials experiment.attack_adv_train = false drops.
inline bool is_adv_train_attack_id(const std::string& id) {
  return id.find("__adv_train") != std::string::npos && id.find("__clean__") == std::string::npos;
}

}  // namespace medadv::testing
