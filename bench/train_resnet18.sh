#!/usr/bin/env bash
# Issue 4: training time per epoch and test accuracy of resnet18 on phantom-fundus at
# 64 px with the real CLI, `medadv train bench/train_resnet18.toml`, in a fresh cache
# directory (MEDADV_CACHE) so that it always trains. Reads the per-epoch log lines
# ("epoch i/n ... (S s)"; S includes the val-split evaluation) and the test metrics.
# Environment (see bench/lib.bash): MEDADV_BUILD (build), MEDADV_BENCH_THREADS (2).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"

bench_build_targets medadv medadv_models_resnet medadv_datasets_phantom
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== bench/train_resnet18.sh =="
bench_machine
experiment=$MEDADV_ROOT/bench/train_resnet18.toml
start=$(date +%s%N)
MEDADV_CACHE=$work/cache "$bench_build/bin/medadv" train "$experiment" \
  --set "experiment.threads=$bench_threads" >"$work/out.txt" 2>&1 || {
  cat "$work/out.txt"
  exit 1
}
wall=$(( ($(date +%s%N) - start) / 1000000 ))  # ms
grep -E 'splits:|epoch [0-9]+/[0-9]+|^model:|^val:|^test:' "$work/out.txt" | sed 's/^/  /'

# Per-epoch seconds; the first epoch also pays for one-time warm-up (allocator, oneDNN
# kernel selection), so the steady state is the mean over epochs 2..n.
train_images=$(sed -n 's/.*splits: train \([0-9]*\),.*/\1/p' "$work/out.txt" | head -1)
sed -n 's/.*epoch [0-9]*\/[0-9]* .*(\([0-9.]*\) s)$/\1/p' "$work/out.txt" >"$work/epochs.txt"
test_accuracy=$(sed -n 's/^test: accuracy \([0-9.]*\).*/\1/p' "$work/out.txt")
val_accuracy=$(sed -n 's/^val: accuracy \([0-9.]*\).*/\1/p' "$work/out.txt")
awk -v n="$train_images" -v test="$test_accuracy" -v val="$val_accuracy" -v wall="$wall" '
  { s[NR] = $1; total += $1; if (NR > 1) rest += $1 }
  END {
    if (NR == 0) { print "no epoch lines found"; exit 1 }
    steady = NR > 1 ? rest / (NR - 1) : total
    printf "-- result: resnet18, phantom-fundus 64 px, %d train images, %d epochs --\n", n, NR
    printf "  s/epoch (epochs 2..%d)   %8.2f   (first epoch %.2f s, all epochs %.1f s)\n", NR, steady, s[1], total
    printf "  train images/s           %8.2f\n", n / steady
    printf "  val accuracy             %8s\n", val
    printf "  test accuracy            %8s\n", test
    printf "  medadv train wall time   %8.1f s (data generation, training, evaluation)\n", wall / 1000
  }' "$work/epochs.txt"
