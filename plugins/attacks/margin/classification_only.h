#pragma once
// The margin family's attacks are defined on class logits (margins between classes,
// decision boundaries, class-wise losses): each refuses a segmentation task up front,
// in check_task, before the host trains or attacks anything.
//
// Internal to the family: plugins of other folders must not include it.
#include <string>

#include <medadv/error.h>
#include <medadv/model.h>

namespace medadv::plugins::margin {

inline void refuse_segmentation(const ModelSpec& task, const std::string& attack, const std::string& why) {
  if (task.task == Task::Segmentation)
    throw InvalidInput(attack + " attacks classifiers only: " + why + "; this task is segmentation");
}

}  // namespace medadv::plugins::margin
