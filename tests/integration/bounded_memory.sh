#!/bin/sh
# A data set whose images do not fit the process's memory limit trains and is attacked
# (issue 25): 20,000 phantom-fundus images at 64 px are 1.3 GB as float (0.98 GB of images,
# 0.33 GB of masks), and `medadv run` gets 1 GiB of data segment and private mappings
# (RLIMIT_DATA, which bounds glibc's heap and LibTorch's allocations alike).
# Usage: bounded_memory.sh MEDADV WORK_DIR
set -eu
medadv=$1
dir=$2
rm -rf "$dir"
mkdir -p "$dir"
cat > "$dir/bounded.toml" <<TOML
[experiment]
name = "bounded-memory"
seed = 0

[dataset]
plugin = "phantom-fundus"
image_size = 64
count = 20000
splits = { train = 0.9, val = 0.0, adv_train = 0.01, adv_test = 0.01 }

[model]
plugin = "small-cnn"
[model.train]
epochs = 1

[[attack]]
plugin = "fgsm"
epsilon = "4/255"
TOML
ulimit -d 1048576  # KiB
MEDADV_CACHE="$dir/cache" "$medadv" run "$dir/bounded.toml" --output "$dir/run"
test -s "$dir/run/report.html"
grep -q '"kind":"attack"' "$dir/run/results.jsonl"
echo "bounded_memory: trained and attacked 20000 images under a 1 GiB data limit"
