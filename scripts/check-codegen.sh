#!/usr/bin/env bash
# Reads the machine code of a release binary (default .build/release/early-exit) or of the static
# library's object, and fails when the kernels are not what they are meant to be. Not a timing
# test: it reads instructions. Checks:
#  1. Every function that uses ymm or zmm registers belongs to a per-ISA kernel module (its name
#     mentions AVX2 or AVX512). Anything else would run AVX code on a CPU the run-time kernel
#     selection did not check (for example a standard-library specialization emitted inside an
#     ISA module and picked by the linker for a baseline caller).
#  2. The float32 GEMM microkernels of each ISA module use fused multiply-adds on their own
#     registers (vfmadd on zmm for AVX-512, on ymm for AVX2), and no kernel calls fmaf or a
#     generic standard-library function (an out-of-line pointwiseMax once cost 20% of a run).
#  3. The native int8 tile kernels (C, Kernels/Native) use their dot-product instructions:
#     vpdpbusd on zmm (AVX-512 VNNI) and on ymm (AVX-VNNI), vpmaddwd on ymm (AVX2).
#  4. The portable int8 GEMM's int16 multiply-adds are pmaddwd and its SIMD widenings inlined
#     (once they became calls into the standard library's generic conversions: int8 ran 3x slower).
# An AArch64 object or library (build/lib/aarch64/libearlyexit.a: read with the toolchain's
# llvm-objdump on any host) is checked for its own instructions instead:
#  5. Every float32 GEMM microkernel uses fmla on vector registers and calls no fmaf.
#  6. The int8 tile kernel ee_qs8_tile_neondot uses sdot.
# usage: scripts/check-codegen.sh [BINARY_OR_OBJECT]
set -euo pipefail
cd "$(dirname "$0")/.."
binary="${1:-.build/release/early-exit}"
SWIFT_BIN="$(dirname "$(readlink -f "$(command -v swift)")")"
objdump="$SWIFT_BIN/llvm-objdump"
[ -x "$objdump" ] || objdump="$(command -v objdump || true)"
if [ -z "$objdump" ]; then echo "check-codegen: no llvm-objdump or objdump; skipped"; exit 0; fi
listing="$(mktemp)"
trap 'rm -f "$listing"' EXIT
"$objdump" -d --no-show-raw-insn "$binary" > "$listing"
if grep -q "file format elf64-littleaarch64" "$listing"; then
  awk '
    /^[0-9a-f]+ <.*>:$/ {
      name = $2
      micro = (name ~ /microkernel[0-9]x[0-9]+|EarlyExitKernels4gemmyy/) ? name : ""
      if (micro != "") { functions[micro] = 1; fmla[micro] += 0 }
      tile = (name ~ /<ee_qs8_tile_neondot>/)
      next
    }
    micro != "" && /fmla[ \t]+v[0-9]+\.4s/ { fmla[micro]++ }
    micro != "" && /bl[ \t].*fmaf/ { fmaf_calls++ }
    tile && /sdot[ \t]+v[0-9]+\.4s/ { sdot++ }
    END {
      failed = 0; n = 0; without = 0
      for (f in functions) { n++; total += fmla[f]; if (fmla[f] == 0) { without++; print "  no fmla in " f } }
      printf "check-codegen (aarch64): %d float32 GEMM function(s) (microkernels, and the driver where they are inlined), %d fmla, %d without, %d fmaf calls; int8 tile: %d sdot\n", n, total, without, fmaf_calls, sdot
      if (n == 0 || without > 0 || fmaf_calls > 0 || sdot == 0) { print "check-codegen: FAILED"; exit 1 }
      print "check-codegen: passed"
    }' "$listing"
  exit $?
fi
if [ "$(uname -m)" != "x86_64" ]; then echo "check-codegen: x86-64 binaries only on an x86-64 host; skipped"; exit 0; fi
awk '
  /^[0-9a-f]+ <.*>:$/ {
    name = $2
    isa = (name ~ /AVX2|AVX512|avx2|avx512|avxvnni/)
    avx512 = (name ~ /AVX512|avx512/)
    micro = (name ~ /microkernel[0-9]x[0-9]+/ && isa)
    int8gemm = (name ~ /Int8KernelsO4gemm/)
    tile = (name ~ /<ee_qs8_tile_/) ? name : ""

    if (micro) { micro_functions++; if (avx512) zmm_micro++; else ymm_micro++ }
    if (int8gemm) int8_functions++
    next
  }
  /[yz]mm[0-9]/ && !isa { stray[name] = 1 }
  micro && /vfmadd[0-9]+ps/ { if (avx512 && /zmm/) zmm_fma++; if (!avx512 && /ymm/) ymm_fma++ }
  isa && /call.*fmaf/ { fmaf_calls++ }
  isa && name !~ /WT>:|Wl>:/ && /call.*<\$ss/ { generic_calls[name] = 1 }
  int8gemm && /pmaddwd/ { madd++ }
  tile ~ /avx512vnni/ && /vpdpbusd.*zmm/ { vnni512++ }
  tile ~ /avxvnni/ && /vpdpbusd.*ymm/ { vnni256++ }
  tile ~ /tile_avx2/ && /vpmaddwd.*ymm/ { madd256++ }
  int8gemm && /call.*truncatingIfNeeded/ { int8_calls++ }
  END {
    failed = 0
    n = 0; for (f in stray) { n++; if (n <= 5) print "  AVX registers outside an ISA module: " f }
    if (n > 0) { print "check-codegen: " n " function(s) outside the ISA modules use ymm/zmm"; failed = 1 }
    printf "check-codegen: float32 GEMM microkernels: %d AVX-512 (%d zmm vfmadd), %d AVX2 (%d ymm vfmadd); %d fmaf calls\n", zmm_micro, zmm_fma, ymm_micro, ymm_fma, fmaf_calls
    if (zmm_micro == 0 || ymm_micro == 0 || zmm_fma == 0 || ymm_fma == 0 || fmaf_calls > 0) failed = 1
    n = 0; for (f in generic_calls) { n++; if (n <= 5) print "  a call to a generic standard-library function in " f }
    if (n > 0) { print "check-codegen: " n " ISA kernel function(s) call generic standard-library code"; failed = 1 }
    printf "check-codegen: native int8 tiles: %d zmm vpdpbusd (AVX-512 VNNI), %d ymm vpdpbusd (AVX-VNNI), %d ymm vpmaddwd (AVX2)\n", vnni512, vnni256, madd256
    if (vnni512 == 0 || vnni256 == 0 || madd256 == 0) failed = 1
    printf "check-codegen: portable int8 GEMM (%d function(s)): %d pmaddwd, %d calls to generic conversions\n", int8_functions, madd, int8_calls
    if (int8_functions == 0 || madd == 0 || int8_calls > 0) failed = 1
    if (failed) { print "check-codegen: FAILED"; exit 1 }
    print "check-codegen: passed"
  }' "$listing"
