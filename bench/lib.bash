# Shared by the bench/<name>.sh runners (sourced; named .bash so that scripts/gpu-check,
# which runs every bench/*.sh, does not take it for a benchmark).
#   MEDADV_BUILD          build directory, relative to the repository root or absolute
#                         (default build; scripts/gpu-check passes build-cuda)
#   MEDADV_BENCH_THREADS  intra-op threads (default 2: the CI machine's cores)
#   MEDADV_PYTHON         a Python 3 with torch to use first
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"  # MEDADV_ROOT, log, install_packages

MEDADV_BUILD=${MEDADV_BUILD:-build}
case $MEDADV_BUILD in
  /*) bench_build=$MEDADV_BUILD ;;
  *) bench_build=$MEDADV_ROOT/$MEDADV_BUILD ;;
esac
bench_threads=${MEDADV_BENCH_THREADS:-2}

# The cores this process may run on; plain `nproc` reports OMP_NUM_THREADS instead when the
# caller set it.
cores_online() { env -u OMP_NUM_THREADS nproc; }

# Builds the targets, configuring the build directory with the default preset first when
# it is not configured yet (scripts/gpu-check configures build-cuda with the cuda preset).
bench_build_targets() {
  if [ ! -f "$bench_build/CMakeCache.txt" ]; then
    log "configuring $bench_build (preset default)"
    (cd "$MEDADV_ROOT" && cmake --preset default -B "$bench_build" >/dev/null)
  fi
  log "building $* in $bench_build"
  cmake --build "$bench_build" -j "$(cores_online)" --target "$@" >&2
}

# True when the build directory is a CUDA build (the cuda preset).
bench_build_has_cuda() {
  grep -q '^MEDADV_REQUIRE_CUDA:BOOL=ON' "$bench_build/CMakeCache.txt" 2>/dev/null
}

# A Python 3 that imports MODULE: $MEDADV_PYTHON, python3 (on GPU machines PyTorch comes
# with the machine), or Debian's /usr/bin/python3 with PACKAGE (installed when no Python
# has MODULE). Usage: python=$(bench_python_with torch python3-torch)
bench_python_with() {
  local module=$1 package=$2 candidate
  for candidate in ${MEDADV_PYTHON:-} python3 /usr/bin/python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c "import $module" 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
  MEDADV_PACKAGES=()
  install_packages "$package" >&2
  echo /usr/bin/python3
}

# The machine, for bench/RESULTS.md.
bench_machine() {
  local cpu
  cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
  echo "machine: ${cpu:-unknown CPU}, $(cores_online) cores online, $bench_threads threads used," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC')"
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | sed 's/^/gpu: /' || true
  fi
}
