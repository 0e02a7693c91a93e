#!/usr/bin/env bash
# Every run listed in experiments/gpu-runs.txt (which scripts/gpu-check makes on a GPU
# machine) validates here, read the way gpu-check reads it, so that a GPU lease is never
# spent on an experiment line that a CPU could have refused.
set -euo pipefail
medadv=$1
runs=$2
cd "$(dirname "$runs")/.."
count=0
while read -r -a run_args; do
  if [ ${#run_args[@]} -eq 0 ] || [[ ${run_args[0]} == \#* ]]; then
    continue
  fi
  count=$((count + 1))
  "$medadv" validate "${run_args[@]}" </dev/null
done <"$runs"
[ "$count" -gt 0 ] || { echo "$runs lists no run" >&2; exit 1; }
echo "$count run(s) valid"
