#pragma once
// The host's splits and stored adversarial images as the SDK's ImageBatches, so that
// attack terms fit and summarise a batch at a time (AttackTerm::fit, summarize).
#include <memory>

#include "engine/attack_stage.h"
#include "engine/image_store.h"
#include "medadv/image_batches.h"

namespace medadv::host {

// Both keep a reference: `split` and `store` must outlive them. `labels` as the attack
// gets them (attack_labels).
std::unique_ptr<ImageBatches> split_batches(const SplitData& split, torch::Tensor labels);
std::unique_ptr<ImageBatches> store_batches(const ImageStore& store, torch::Tensor labels);

}  // namespace medadv::host
