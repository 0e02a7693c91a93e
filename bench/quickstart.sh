#!/usr/bin/env bash
# Issue 5: wall time of `medadv run experiments/quickstart.toml` (data generation,
# training small-cnn, FGSM and PGD at two budgets, report) in a fresh cache, so that it
# always trains; the quickstart must finish in under 2 minutes on 2 CPU cores.
# Also with MEDADV_SYSTEM_MALLOC=1 (glibc's default allocator settings instead of the
# SDK's, see sdk/src/host_memory.cpp), alternating, to show what keeping freed memory
# is worth. Environment (see bench/lib.bash): MEDADV_BUILD (build), MEDADV_BENCH_THREADS
# (2), MEDADV_BENCH_REPEATS (3).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"

bench_build_targets medadv medadv_models_small_cnn medadv_datasets_phantom medadv_attacks_gradient
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
repeats=${MEDADV_BENCH_REPEATS:-3}

echo "== bench/quickstart.sh =="
bench_machine
for ((i = 1; i <= repeats; i++)); do
  for system_malloc in 0 1; do
    rm -rf "$work/run" "$work/cache"
    start=$(date +%s%N)
    MEDADV_SYSTEM_MALLOC=$system_malloc MEDADV_CACHE=$work/cache "$bench_build/bin/medadv" run \
      "$MEDADV_ROOT/experiments/quickstart.toml" --output "$work/run" \
      --set "experiment.threads=$bench_threads" >"$work/out.txt" 2>&1 || {
      cat "$work/out.txt"
      exit 1
    }
    echo "$system_malloc $(( ($(date +%s%N) - start) / 1000000 ))" >>"$work/times.txt"
  done
done
awk '
  { s[$1] = s[$1] " " sprintf("%.1f", $2 / 1000); n[$1]++; t[$1] += $2 / 1000 }
  END {
    print "-- result: medadv run experiments/quickstart.toml, wall seconds per run --"
    printf "  SDK allocator settings (default)     %s   mean %.1f s\n", s[0], t[0] / n[0]
    printf "  glibc defaults (MEDADV_SYSTEM_MALLOC=1)%s   mean %.1f s\n", s[1], t[1] / n[1]
  }' "$work/times.txt"
