# Shared by scripts/demo, scripts/test, scripts/asan, scripts/fuzz and scripts/gpu-check: install what is missing
# (Debian packages only), then configure and build with a preset (default, asan).
# Idempotent: a second run installs nothing and rebuilds only what changed.

MEDADV_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MEDADV_PACKAGES=(cmake ninja-build g++ ccache pkg-config
  libtorch-dev libboost-dev libboost-program-options-dev
  libtomlplusplus-dev libspdlog-dev libgtest-dev
  libpng-dev libjpeg-dev zlib1g-dev
  nlohmann-json3-dev libssl-dev libzip-dev
  libsvm-dev libsvm-tools  # libsvm: the svm detector; its tools: the test's oracle
  python3  # its zipfile: the npz test's zip64 oracle; the smoke matrix (tests/integration/smoke_matrix.py)
  python3-torch  # PyTorch, the oracle of integration.torchscript_reference
  python3-sklearn)  # BayesianGaussianMixture, the oracle of the SDK's variational mixture fit
# The asan preset's compiler and sanitizer runtimes (libFuzzer among them): scripts/asan
# and scripts/fuzz only.
MEDADV_SANITIZER_PACKAGES=(clang-14 libclang-rt-14-dev)

# The machine's cores. Not plain `nproc` where it matters: GNU nproc answers
# OMP_NUM_THREADS when it is set, and isolate_tests sets it to 1 for the tests, which made
# `ctest -j "$(nproc)"` run every test one after another (CI took 66 minutes).
MEDADV_CORES=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Calls the command $2 with the arguments of each `medadv run` that the file $1 lists
# (experiments/gpu-runs.txt: one argument list per line; blank and '#' lines skipped), its
# standard input closed so that it cannot eat the list.
for_each_listed_run() {
  local run_args
  while read -r -a run_args; do
    if [ ${#run_args[@]} -eq 0 ] || [[ ${run_args[0]} == \#* ]]; then
      continue
    fi
    "$2" "${run_args[@]}" </dev/null
  done <"$1"
}

install_packages() {
  local missing=()
  for p in "${MEDADV_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "all packages present"
    return
  fi
  log "installing: ${missing[*]}"
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# build_preset CONFIGURE_PRESET BUILD_PRESET: configures and builds (all of the build
# preset's targets) with every core.
build_preset() {
  cd "$MEDADV_ROOT"
  # ccache keeps object files between runs (its settings for the precompiled header
  # are in CMakeLists.txt, so plain `cmake --build` gets them too).
  export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
  export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
  log "configuring (preset $1)"
  cmake --preset "$1" >/dev/null
  log "building (preset $2) with $MEDADV_CORES jobs"
  cmake --build --preset "$2" -j "$MEDADV_CORES"
}

build_default() { build_preset default default; }

# Tests must not read a developer's own plugins or cache: both live under BUILD_DIR.
# ctest runs as many tests at once as there are cores, so each test computes on one
# thread: LibTorch's OpenMP threads of two processes on the same cores spin against each
# other (a run took five times as long beside another; docs/decisions.md).
isolate_tests() {
  export XDG_DATA_HOME=$1/test-home/data
  export MEDADV_CACHE=$1/test-home/cache
  export OMP_NUM_THREADS=${MEDADV_TEST_THREADS:-1}
  unset MEDADV_PLUGIN_PATH
}
