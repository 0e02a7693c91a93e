#!/usr/bin/env bash
# Issue 6: images per second of PGD-20 (L-inf, eps 8/255, step 2/255, random start, no
# early stop) with medadv's pgd plugin, against the same attack in bare LibTorch (in the
# same executable) and in plain PyTorch eager Python (bench/pgd_reference.py) on the
# same weights, images, batch size, warm-up, thread count and device:
#   resnet18 at 64 px and small-cnn at 32 px on phantom-fundus.
# Environment (see bench/lib.bash): MEDADV_BUILD (build), MEDADV_BENCH_THREADS (2),
# MEDADV_BENCH_DEVICE (cpu; cuda by default in a cuda-preset build), MEDADV_PYTHON.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"

bench_build_targets pgd_throughput
python=$(bench_python_with torch python3-torch)
if bench_build_has_cuda; then default_device=cuda; else default_device=cpu; fi
device=${MEDADV_BENCH_DEVICE:-$default_device}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# model image_size count batch_size train_epochs: a few minutes on 2 CPU cores. resnet18
# keeps its seeded initial weights (training it is issue 4's benchmark and throughput
# does not depend on the weights); small-cnn is trained for 5 epochs (seconds), so its
# success rates also say something.
if [ "$device" = cpu ]; then
  configs=("resnet18 64 32 16 0" "small-cnn 32 512 64 5")
else
  configs=("resnet18 64 2048 256 0" "small-cnn 32 8192 1024 5")
fi

echo "== bench/pgd_throughput.sh =="
bench_machine
echo "python: $python ($("$python" -c 'import torch; print("torch", torch.__version__)'))"
for config in "${configs[@]}"; do
  read -r model size count batch epochs <<<"$config"
  "$bench_build/bin/pgd_throughput" --model "$model" --image-size "$size" --count "$count" \
    --batch-size "$batch" --warmup 1 --train-epochs "$epochs" --threads "$bench_threads" \
    --device "$device" --export "$work/$model.npz"
  "$python" "$MEDADV_ROOT/bench/pgd_reference.py" "$work/$model.npz" --model "$model"
  echo
done
