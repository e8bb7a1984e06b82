#!/usr/bin/env bash
# Installs what Benchmarks/compare.py needs (numpy, onnx, onnxruntime, PyTorch CPU) when missing,
# builds release early-exit binaries (portable baseline, and x86-64-v3 = haswell when the CPU has
# AVX2+FMA) in the scratch paths Benchmarks/run.sh uses, then runs compare.py with them.
#
#   Benchmarks/compare.sh [compare.py options...]        e.g. --limit 300, --onnx model.onnx
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
  echo "== installing ${missing[*]}"
  "$PY" -m pip install "${missing[@]}"
fi
if ! "$PY" -c "import torch" 2>/dev/null; then
  echo "== installing torch (CPU build)"
  "$PY" -m pip install torch --index-url https://download.pytorch.org/whl/cpu
fi

has_flag() { grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | tr ' ' '\n' | grep -qx "$1"; }

binaries=()
echo "== building early-exit (release, portable baseline) into .build-bench-base"
swift build -c release --scratch-path .build-bench-base --product early-exit >/dev/null
binaries+=(--early-exit "baseline=.build-bench-base/release/early-exit")
if has_flag avx2 && has_flag fma; then
  echo "== building early-exit (release, EARLYEXIT_TARGET_CPU=haswell, the x86-64-v3 feature set) into .build-bench-v3"
  EARLYEXIT_TARGET_CPU=haswell swift build -c release --scratch-path .build-bench-v3 --product early-exit >/dev/null
  binaries+=(--early-exit "x86-64-v3 (haswell)=.build-bench-v3/release/early-exit")
fi

exec "$PY" Benchmarks/compare.py "${binaries[@]}" "$@"
