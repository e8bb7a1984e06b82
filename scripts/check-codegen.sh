#!/usr/bin/env bash
# Checks the machine code of the int8 GEMM in a release binary (default .build/release/early-exit):
# its int16 multiply-adds must be pmaddwd and its SIMD widenings inlined. The optimizer's inlining
# decisions can change when unrelated code changes; once that turned the widenings into calls to
# the standard library's generic conversions and int8 ran 3x slower. Not a timing test: it reads
# the instructions.
set -euo pipefail
cd "$(dirname "$0")/.."
binary="${1:-.build/release/early-exit}"
if [ "$(uname -m)" != "x86_64" ]; then echo "check-codegen: x86-64 only; skipped"; exit 0; fi
SWIFT_BIN="$(dirname "$(readlink -f "$(command -v swift)")")"
objdump="$SWIFT_BIN/llvm-objdump"
[ -x "$objdump" ] || objdump="$(command -v objdump || true)"
if [ -z "$objdump" ]; then echo "check-codegen: no llvm-objdump or objdump; skipped"; exit 0; fi
"$objdump" -d --no-show-raw-insn "$binary" | awk '
  /^[0-9a-f]+ <.*>:$/ { inside = ($0 ~ /Int8KernelsO4gemm/); if (inside) functions++; next }
  inside && /pmaddwd/ { madd++ }
  inside && /call.*truncatingIfNeeded/ { calls++ }
  END {
    printf "check-codegen: int8 GEMM (%d function(s)): %d pmaddwd, %d calls to generic conversions\n", functions, madd, calls
    if (functions == 0 || madd == 0 || calls > 0) { print "check-codegen: FAILED"; exit 1 }
  }'
