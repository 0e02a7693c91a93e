#pragma once
// What can only be checked once the data set is known, before any model is trained:
// every attack handles the task (Attack::check_task, the objective's loss), and every
// tap an attack term, a detector's `layers` or a detector itself (Detector::taps, from its
// `taps` parameter) names exists in the model.
#include <map>
#include <string>
#include <vector>

#include "common/host_context.h"
#include "experiment/plan.h"
#include "medadv/context.h"
#include "medadv/model.h"

namespace medadv::host {

struct ModelTaps {
  std::string model;              // "model 'small-cnn'" for messages
  std::vector<std::string> taps;  // what the model's forward offers
};

struct TaskFacts {
  ModelSpec spec;                       // what the model is built for
  std::string model;                    // "model 'small-cnn'" for messages
  std::vector<std::string> model_taps;  // what the model's forward offers
  // The surrogate of each attack that has one, by the attack's section: its terms read
  // the surrogate's taps.
  std::map<std::string, ModelTaps> surrogates;
};

// Every problem found, one per line, each led by its section ("attack[1].add[0]",
// "detector[0].layers"); empty when all is well.
std::vector<std::string> task_problems(const Plan& plan, const TaskFacts& facts, const ContextFactory& contexts);

}  // namespace medadv::host
