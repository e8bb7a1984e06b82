#!/usr/bin/env bash
# Compiles every core file in Embedded Swift mode for a Cortex-M4 class target and prints the object size.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${TMPDIR:-/tmp}/earlyexit-embedded-check"
mkdir -p "$out"
for target in armv7em-none-none-eabi aarch64-none-none-elf; do
  swiftc -enable-experimental-feature Embedded -target "$target" -wmo -Osize -parse-as-library \
    -module-name EarlyExit -c $(find Sources/EarlyExit -name "*.swift" | sort) -o "$out/EarlyExit-$target.o"
  echo "embedded check passed: $target, $(find Sources/EarlyExit -name "*.swift" | wc -l) core files"
  size "$out/EarlyExit-$target.o" 2>/dev/null | tail -n 1 | awk -v t="$target" '{print "  " t " -Osize object: text " $1 " B, data " $2 " B, bss " $3 " B"}' || true
done
