#!/usr/bin/env bash
# The plugin author's path end to end: install medadv to a prefix, `medadv new`,
# build the new plugin out of tree against the installed SDK, run its test, list it
# and vet it with `plugins check` using the installed medadv.
set -euo pipefail
build=$1
work=$2
rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix

cmake --install "$build" --prefix "$prefix" >/dev/null
"$prefix/bin/medadv" --version

"$prefix/bin/medadv" new attack myattack --dir "$work"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$work/myattack" -B "$work/b" "${generator[@]}" "${launcher[@]}" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release
cmake --build "$work/b"
ctest --test-dir "$work/b" --output-on-failure

listing=$("$prefix/bin/medadv" plugins list --plugin-path "$work/b")
echo "$listing"
grep -q "myattack" <<<"$listing"
# The installed built-in plugins are found next to the installed binary.
"$prefix/bin/medadv" plugins check "$work/b/libmyattack.so"

# medadv new never overwrites.
if "$prefix/bin/medadv" new attack myattack --dir "$work" 2>"$work/new.err"; then
  echo "medadv new overwrote an existing folder" >&2
  exit 1
fi
grep -q "already exists" "$work/new.err"
echo "out-of-tree plugin: OK"
