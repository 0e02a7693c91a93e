#!/usr/bin/env bash
# Issue 25: peak resident memory and throughput of `medadv run` against the data set's
# size: small-cnn trained 1 epoch and FGSM on phantom-fundus at 224 px, for each count in
# MEDADV_BENCH_COUNTS (default "1000 10000"; the issue also names 50000, an hour on 2
# cores), in a fresh cache each time so that the model is trained. The goal: 10,000 images
# under 4 GB, and memory growing by at most the stored bytes of what the run keeps plus a
# constant. Also prints the run's own estimate (`--dry-run`) beside the measured peak.
# Environment (see bench/lib.bash): MEDADV_BUILD, MEDADV_BENCH_THREADS.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"

bench_build_targets medadv medadv_models_small_cnn medadv_datasets_phantom medadv_attacks_gradient
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
counts=${MEDADV_BENCH_COUNTS:-1000 10000}
size=${MEDADV_BENCH_IMAGE_SIZE:-224}

echo "== bench/data_scale.sh =="
bench_machine
echo "-- result: medadv run (small-cnn 1 epoch, FGSM) on phantom-fundus ${size} px --"
printf '%8s %10s %12s %12s  %s\n' count wall_s peak_rss_MB images_per_s estimate
for count in $counts; do
  rm -rf "$work/run" "$work/cache"
  sets=(--set "dataset.count=$count" --set "dataset.image_size=$size" --set "experiment.threads=$bench_threads")
  estimate=$(MEDADV_CACHE=$work/cache "$bench_build/bin/medadv" run "$MEDADV_ROOT/bench/data_scale.toml" --dry-run "${sets[@]}" |
    sed -n 's/^estimated peak memory \([0-9.]* GiB\).*/\1/p')
  start=$(date +%s%N)
  MEDADV_CACHE=$work/cache /usr/bin/time -f '%M' -o "$work/rss.txt" "$bench_build/bin/medadv" run "$MEDADV_ROOT/bench/data_scale.toml" \
    --output "$work/run" "${sets[@]}" >"$work/out.txt" 2>&1 || {
    tail -30 "$work/out.txt"
    exit 1
  }
  wall_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  rss_kb=$(tail -1 "$work/rss.txt")
  awk -v n="$count" -v ms="$wall_ms" -v kb="$rss_kb" -v est="$estimate" \
    'BEGIN { printf "%8d %10.1f %12.0f %12.1f  %s\n", n, ms / 1000, kb / 1024, n / (ms / 1000), est }'
done
