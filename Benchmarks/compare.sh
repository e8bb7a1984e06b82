#!/usr/bin/env bash
# Installs what Benchmarks/compare.py needs from PyPI by package name (numpy, onnx, onnxruntime;
# no PyTorch), builds the README's release build (kernels chosen at run time) and the benchmark
# program, then runs compare.py: onnxruntime float32 and int8 (QDQ) against EarlyExit float32 and
# int8, full network and early exit, for the README build and every kernel set this CPU supports.
#
#   Benchmarks/compare.sh [compare.py options...]   e.g. --limit 300, --kernels auto, --update-readme
#
# Environment: PYTHON (default python3). Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

missing=()
for module in numpy onnx onnxruntime; do
  "$PY" -c "import $module" 2>/dev/null || missing+=("$module")
done
if ((${#missing[@]})); then
  echo "== installing ${missing[*]} from PyPI"
  "$PY" -m pip install --quiet "${missing[@]}"
fi

echo "== building early-exit and EarlyExitBenchmarks (release, the README's build)"
swift build -c release --product early-exit > /dev/null
swift build -c release --product EarlyExitBenchmarks > /dev/null

exec "$PY" Benchmarks/compare.py "$@"
