#!/usr/bin/env bash
# Does tune's guarantee hold on images it never saw? Pools the validation split (5,000 images)
# and the Fashion-MNIST test set (10,000), draws random tune/evaluate splits, tunes the bundled
# model on each tune part with the guaranteed mode (Learn-then-Test) and the empirical mode, and
# reports how often the drop measured on the evaluate part exceeds --max-drop, and the mean MACs
# saved (README "Tuning"). The pool runs through the network once; its exit outputs are cached
# (keyed by a hash of the model and pool files: a retrained model or another pool runs again).
#
#   Benchmarks/tuning-experiment.sh [--splits N] [--tune N] [--max-drop PP] [--confidence C] ...
#
# Needs Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist).
set -euo pipefail
cd "$(dirname "$0")/.."
T=/usr/share/datasets/fashion-mnist
if [ ! -f "$T/t10k-images-idx3-ubyte.gz" ]; then
  echo "the Fashion-MNIST test set is missing: apt-get install dataset-fashion-mnist" >&2
  exit 1
fi
swift build -c release --product TuningExperiment >&2
CACHE="${EXIT_CACHE:-${TMPDIR:-/tmp}/earlyexit-pool-exit-cache.bin}"
.build/release/TuningExperiment --model "${MODEL:-Models/fashion-attn-wrn.eem}" \
    --pool Models/fashion-val-images-idx3-ubyte.gz:Models/fashion-val-labels-idx1-ubyte.gz \
    --pool "$T/t10k-images-idx3-ubyte.gz:$T/t10k-labels-idx1-ubyte.gz" \
    --cache "$CACHE" --splits 200 --tune 5000 --max-drop 0.3 --confidence 0.9 "$@"
