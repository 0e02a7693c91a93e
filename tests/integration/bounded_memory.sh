#!/bin/sh
# A data set whose images do not fit the process's memory limit trains and is attacked
# (issue 25): 20,000 phantom-fundus images at 64 px are 1.3 GB as float (0.98 GB of images,
# 0.33 GB of masks), and `medadv run` of bench/data_scale.toml (small-cnn, one epoch, FGSM)
# gets 1 GiB of data segment and private mappings (RLIMIT_DATA, which bounds glibc's heap
# and LibTorch's allocations alike). Its 2,000 adversarial images (98 MB as float, over a
# sixteenth of what the limit leaves) go to the run directory's unnamed file, and their npz
# export is written a block of rows at a time.
# Usage: bounded_memory.sh MEDADV EXPERIMENT WORK_DIR
set -eu
medadv=$1
experiment=$2
dir=$3
rm -rf "$dir"
mkdir -p "$dir"
ulimit -d 1048576  # KiB
MEDADV_CACHE="$dir/cache" "$medadv" run "$experiment" --output "$dir/run" \
  --set dataset.count=20000 --set dataset.image_size=64 --set experiment.name=bounded-memory \
  --set dataset.splits.train=0.8 --set dataset.splits.val=0 \
  --set dataset.splits.adv_train=0.1 --set dataset.splits.adv_test=0.1 --set 'report.export=["npz"]'
test -s "$dir/run/report.html"
grep -q '"kind":"attack".*"n":2000' "$dir/run/results.jsonl"
grep -q 'adversarial images .* kept in an unnamed file' "$dir/run/log.txt"
test "$(stat -c %s "$dir"/run/adversarial/*adv_test.npz)" -gt 196000000
echo "bounded_memory: trained and attacked 20000 images under a 1 GiB data limit"
