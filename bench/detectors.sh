#!/usr/bin/env bash
# Wall time of every detector plugin, fit and scoring together (`wall_time_s` of its
# detector trial), on the same PGD examples: `medadv run bench/detectors.toml` (small-cnn,
# phantom-fundus 32 px, untargeted PGD at 8/255, the ten detectors at their defaults) at
# two data set sizes, each in a fresh cache. Prints, per size, the images the detectors were
# fitted on and scored, and each detector's median seconds over the repeats with its AUC.
# Then kd, mahalanobis and svm on fixed feature vectors (bench/detector_throughput.cpp)
# against scikit-learn on the same vectors, as the reference code uses it
# (bench/detector_reference.py, Debian's python3-sklearn), at two sizes.
# Environment (see bench/lib.bash): MEDADV_BUILD (build), MEDADV_BENCH_THREADS (2),
# MEDADV_BENCH_REPEATS (3), MEDADV_BENCH_DETECTOR_COUNTS (data set sizes, "3000 12000"),
# MEDADV_BENCH_FEATURE_SIZES (fit/score vector counts, "1678/717 6000/3000"; either empty:
# that part is skipped), MEDADV_PYTHON.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"

bench_build_targets medadv medadv_models_small_cnn medadv_datasets_phantom medadv_attacks_gradient \
  medadv_detectors_feature medadv_detectors_svm medadv_detectors_dnn medadv_detectors_squeeze detector_throughput
python=$(bench_python_with sklearn python3-sklearn)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
repeats=${MEDADV_BENCH_REPEATS:-3}
counts=${MEDADV_BENCH_DETECTOR_COUNTS-3000 12000}

# One line per detector trial of results.jsonl: detector fit_samples n wall_time_s auc.
detector_rows() {
  grep '"kind":"detector"' "$1" | sed -E \
    's/.*"detector":"([^"]*)".*"n":([0-9]+),"fit_samples":([0-9]+),"auc":([^,]*),.*"wall_time_s":([^,]*),.*/\1 \3 \2 \5 \4/'
}

echo "== bench/detectors.sh =="
bench_machine
for count in $counts; do
  rm -f "$work/rows.txt"
  for ((i = 1; i <= repeats; i++)); do
    rm -rf "$work/run" "$work/cache"
    MEDADV_CACHE=$work/cache "$bench_build/bin/medadv" run "$MEDADV_ROOT/bench/detectors.toml" \
      --output "$work/run" --set "dataset.count=$count" --set "experiment.threads=$bench_threads" \
      >"$work/out.txt" 2>&1 || {
      cat "$work/out.txt"
      exit 1
    }
    detector_rows "$work/run/results.jsonl" >>"$work/rows.txt"
  done
  echo "-- result: $count images, fit + scoring seconds per detector (median of $repeats runs) --"
  sort -k1,1 -k4,4g "$work/rows.txt" | awk -v repeats="$repeats" '
    { t[$1, ++k[$1]] = $4; fit[$1] = $2; n[$1] = $3; auc[$1] = $5 }
    END {
      for (d in k) {
        m = int((k[d] + 1) / 2)
        printf "  %-18s fit on %4d turned images, scored %4d   %7.3f s   AUC %.3f\n", d, fit[d], n[d], t[d, m], auc[d]
      }
    }' | sort
done

for size in ${MEDADV_BENCH_FEATURE_SIZES-1678/717 6000/3000}; do
  echo "-- result: fixed features, medadv against scikit-learn --"
  "$bench_build/bin/detector_throughput" --fit "${size%/*}" --score "${size#*/}" --repeats "$repeats" \
    --threads "$bench_threads" --export "$work/features.npz" 2>/dev/null
  OMP_NUM_THREADS=$bench_threads OPENBLAS_NUM_THREADS=$bench_threads "$python" \
    "$MEDADV_ROOT/bench/detector_reference.py" "$work/features.npz"
done
