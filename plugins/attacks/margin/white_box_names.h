#pragma once
// The names the margin family takes from the SDK's norm-ball geometry and white-box
// loop, declared once for the family (a header must not say `using namespace`).
//
// Internal to the family: plugins of other folders must not include it.
#include <medadv/perturbation.h>
#include <medadv/white_box.h>

namespace medadv::plugins::margin {

using medadv::perturbation::add_linf_epsilon_check;
using medadv::perturbation::ascent_direction;
using medadv::perturbation::Norm;
using medadv::perturbation::norm_names;
using medadv::perturbation::per_sample;
using medadv::perturbation::project_and_clip;
using medadv::perturbation::random_start;
using medadv::white_box::best_of_restarts;
using medadv::white_box::evaluate;
using medadv::white_box::evaluate_with_grad;
using medadv::white_box::iterate;
using medadv::white_box::IterativeConfig;
using medadv::white_box::make_problem;
using medadv::white_box::Outcome;
using medadv::white_box::Problem;
using medadv::white_box::to_result;

}  // namespace medadv::plugins::margin
