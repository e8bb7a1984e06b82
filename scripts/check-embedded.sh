#!/usr/bin/env bash
# Compiles the runtime's Swift targets (the core, its generic kernel bodies and, for x86_64, the
# per-ISA kernel modules) and its C platform target in Embedded Swift mode for a Cortex-M4 class
# target, bare-metal AArch64 and x86_64, and prints the object sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/embedded-modules.sh
out="${TMPDIR:-/tmp}/earlyexit-embedded-check"
for target in armv7em-none-none-eabi aarch64-none-none-elf x86_64-unknown-linux-gnu; do
  compile_embedded_modules "$target" -Osize "$out/$target"
  echo "embedded check passed: $target, $(find Sources/EarlyExit -name '*.swift' | wc -l) Swift files in ${#EMBEDDED_OBJECTS[@]} objects"
  for object in "${EMBEDDED_OBJECTS[@]}"; do
    size "$object" 2>/dev/null | tail -n 1 | awk -v o="$(basename "$object")" '{print "  " o ": text " $1 " B, data " $2 " B, bss " $3 " B"}' || true
  done
done
