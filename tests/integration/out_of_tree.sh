#!/usr/bin/env bash
# The plugin author's path end to end, for every kind `medadv new` knows: install medadv
# to a prefix, `medadv new KIND my-KIND`, build each new plugin out of tree against the
# installed SDK exactly as its README says (no build type), run its test, list it and vet
# it with `plugins check` using the installed medadv. The eight projects are built as
# subdirectories of one CMake project: one configure, one parallel build.
set -euo pipefail
build=$1
work=$2
jobs=${MEDADV_TEST_BUILD_JOBS:-2}
rm -rf "$work"
mkdir -p "$work/plugins"
prefix=$work/prefix
start=$(date +%s)

cmake --install "$build" --prefix "$prefix" >/dev/null
"$prefix/bin/medadv" --version

kinds=(attack attack-term preprocessor trainer wrapper detector dataset model)
{
  echo "cmake_minimum_required(VERSION 3.25)"
  echo "project(every_scaffold LANGUAGES CXX)"
  echo "enable_testing()"
} >"$work/plugins/CMakeLists.txt"
for kind in "${kinds[@]}"; do
  "$prefix/bin/medadv" new "$kind" "my-$kind" --dir "$work/plugins" >/dev/null
  echo "add_subdirectory(my-$kind)" >>"$work/plugins/CMakeLists.txt"
  # The README is the kind's part followed by the part every kind shares.
  grep -q "a medadv $kind plugin" "$work/plugins/my-$kind/README.md"
  grep -q "^## Build, test, check" "$work/plugins/my-$kind/README.md"
done
# Every placeholder was substituted, in file names and contents.
if grep -rl '@NAME@\|@TARGET@\|@CLASS@' "$work/plugins" || find "$work/plugins" -name '*@*' | grep .; then
  echo "medadv new left placeholders in the files above" >&2
  exit 1
fi

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$work/plugins" -B "$work/b" "${generator[@]}" "${launcher[@]}" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/b" -j "$jobs"
built=$(date +%s)
ctest --test-dir "$work/b" --output-on-failure -j "$jobs"
# One test per kind, or a missing GoogleTest would have passed silently.
test "$(ctest --test-dir "$work/b" -N | grep -c '^  Test *#')" -eq "${#kinds[@]}"

for kind in "${kinds[@]}"; do
  target=my_${kind//-/_}
  listing=$("$prefix/bin/medadv" plugins list --plugin-path "$work/b/my-$kind")
  grep -q "my-$kind" <<<"$listing" || { echo "$listing"; echo "plugins list does not show my-$kind" >&2; exit 1; }
  # The installed built-in plugins are found next to the installed binary.
  "$prefix/bin/medadv" plugins check "$work/b/my-$kind/lib$target.so"
done

# medadv new never overwrites.
if "$prefix/bin/medadv" new attack my-attack --dir "$work/plugins" 2>"$work/new.err"; then
  echo "medadv new overwrote an existing folder" >&2
  exit 1
fi
grep -q "already exists" "$work/new.err"
echo "every scaffold builds out of tree, passes its test and plugins check: OK" \
  "($(( built - start )) s to install and build, $(( $(date +%s) - built )) s to test and check)"
