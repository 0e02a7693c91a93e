#!/usr/bin/env bash
# Every run listed in experiments/gpu-runs.txt (which scripts/gpu-check makes on a GPU
# machine) validates here, read the way gpu-check reads it, so that a GPU lease is never
# spent on an experiment line that a CPU could have refused.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/common.sh"
medadv=$1
runs=$2
cd "$MEDADV_ROOT"
count=0
validate_run() {
  count=$((count + 1))
  "$medadv" validate "$@"
}
for_each_listed_run "$runs" validate_run
[ "$count" -gt 0 ] || { echo "$runs lists no run" >&2; exit 1; }
echo "$count run(s) valid"
