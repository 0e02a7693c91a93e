#!/usr/bin/env bash
# Issue 25: peak resident memory and throughput of `medadv run` against the data set's
# size: small-cnn trained 1 epoch and FGSM (bench/data_scale.toml) at 224 px, for each count
# in MEDADV_BENCH_COUNTS (default "1000 10000"; the issue also names 50000, hours on 2
# cores), on each source in MEDADV_BENCH_SOURCES (default "phantom image-folder"):
#   phantom       phantom-fundus, drawn on demand, in a fresh cache (the model is trained);
#   image-folder  COUNT PNG files (bench/make_image_folder.py) read by image-folder, twice:
#                 "first" decodes them into the cache, "cached" maps the cache.
# The goal: 10,000 images under 4 GB, and memory growing by at most the stored bytes of
# what the run keeps plus a constant. Also prints the run's own estimate (`--dry-run`).
# MEDADV_BENCH_SETS: more `--set` assignments for every run, space-separated (e.g.
# "experiment.batch_size=16"). Environment (see bench/lib.bash): MEDADV_BUILD,
# MEDADV_BENCH_THREADS.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"

bench_build_targets medadv medadv_models_small_cnn medadv_datasets_phantom medadv_datasets_files medadv_attacks_gradient
python=$(bench_python_with zlib python3)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
counts=${MEDADV_BENCH_COUNTS:-1000 10000}
sources=${MEDADV_BENCH_SOURCES:-phantom image-folder}
size=${MEDADV_BENCH_IMAGE_SIZE:-224}

# measure LABEL COUNT EXPERIMENT [--set ...]: one run, its wall time, peak and estimate.
measure() {
  local label=$1 count=$2 experiment=$3
  shift 3
  local sets=("$@" --set "experiment.threads=$bench_threads") assignment
  for assignment in ${MEDADV_BENCH_SETS:-}; do sets+=(--set "$assignment"); done
  local estimate start wall_ms rss_kb
  estimate=$(MEDADV_CACHE=$work/cache "$bench_build/bin/medadv" run "$experiment" --dry-run "${sets[@]}" |
    sed -n 's/^estimated peak memory \([0-9.]* GiB\).*/\1/p')
  rm -rf "$work/run"
  start=$(date +%s%N)
  MEDADV_CACHE=$work/cache /usr/bin/time -f '%M' -o "$work/rss.txt" "$bench_build/bin/medadv" run "$experiment" \
    --output "$work/run" "${sets[@]}" >"$work/out.txt" 2>&1 || {
    tail -30 "$work/out.txt"
    exit 1
  }
  wall_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  rss_kb=$(tail -1 "$work/rss.txt")
  awk -v l="$label" -v n="$count" -v ms="$wall_ms" -v kb="$rss_kb" -v est="$estimate" \
    'BEGIN { printf "%-22s %8d %10.1f %12.0f %12.1f  %s\n", l, n, ms / 1000, kb / 1024, n / (ms / 1000), est }'
}

echo "== bench/data_scale.sh =="
bench_machine
echo "-- result: medadv run (small-cnn 1 epoch, FGSM) at ${size} px --"
printf '%-22s %8s %10s %12s %12s  %s\n' source count wall_s peak_rss_MB images_per_s estimate
for source in $sources; do
  for count in $counts; do
    rm -rf "$work/cache"
    case $source in
      phantom)
        measure "phantom" "$count" "$MEDADV_ROOT/bench/data_scale.toml" \
          --set "dataset.count=$count" --set "dataset.image_size=$size" ;;
      image-folder)
        rm -rf "$work/images"
        "$python" "$MEDADV_ROOT/bench/make_image_folder.py" "$work/images" "$count" "$size"
        # The phantom experiment with the folder as its data set.
        sed -e '/^\[dataset\]/,/^$/d' "$MEDADV_ROOT/bench/data_scale.toml" >"$work/folder.toml"
        printf '[dataset]\nplugin = "image-folder"\nroot = "%s"\nimage_size = %s\n' "$work/images" "$size" >>"$work/folder.toml"
        measure "image-folder first" "$count" "$work/folder.toml"
        # The model is cached too: the second run measures reading the data, not training.
        measure "image-folder cached" "$count" "$work/folder.toml" ;;
      *) echo "unknown source '$source' (phantom, image-folder)" >&2; exit 2 ;;
    esac
  done
done
