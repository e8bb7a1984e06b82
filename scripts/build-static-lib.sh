#!/usr/bin/env bash
# Builds libearlyexit.a: the core (Sources/EarlyExit) and the C API (Sources/EarlyExitC,
# include/earlyexit.h) compiled together as ONE Embedded Swift module, plus the platform services
# in C (Sources/EarlyExitPlatform: CPU detection, file mapping, aligned allocation), so that a C
# or C++ program links it with a plain C compiler and needs nothing but libc and libm.
#
# usage: scripts/build-static-lib.sh [host|aarch64|armv7em|all]    (default: host)
#   host     the machine's own Linux (x86_64-unknown-linux-gnu)  -> build/lib/host/libearlyexit.a
#   aarch64  64-bit Arm Linux (link with aarch64-linux-gnu-gcc)   -> build/lib/aarch64/libearlyexit.a
#   armv7em  Cortex-M4/M7 bare metal (thumbv7em, soft-float ABI)  -> build/lib/armv7em/libearlyexit.a
#   all      host and aarch64
#
# The aarch64 library is for Linux programs: its C platform files are compiled for
# aarch64-linux-gnu (file mapping, getauxval), with aarch64-linux-gnu-gcc (Debian's
# gcc-aarch64-linux-gnu and libc6-dev-arm64-cross: the target's headers are needed) or else the
# toolchain's clang with --sysroot=/usr/aarch64-linux-gnu. On armv7em (bare metal) they compile
# to stubs: ee_model_open_file returns EE_ERR_UNSUPPORTED there.
#
# Environment: EARLYEXIT_OPT (default -Osize; -O for speed), SWIFTC, and SWIFT_BIN (the
# toolchain's bin folder, for ld.lld, llvm-objcopy and llvm-ar; found next to swiftc).
#
# How the library is made, per target:
#   1. scripts/embedded-modules.sh compiles, in Embedded Swift mode (-wmo, one section per
#      function, position independent), the generic kernel bodies, on x86_64 the AVX2 and
#      AVX-512 kernel modules (each with its own -target-cpu: one library carries every variant
#      and picks one at run time), then the core and the C API as one module
#      (-D EARLYEXIT_SINGLE_MODULE) with the Embedded Swift runtime emitted into it, and the C
#      platform target with clang; ld.lld -r joins the objects.
#   2. ld.lld -r --gc-sections with the ee_* functions as roots keeps only the code the C API
#      can reach: Swift-only entry points (for example ModelError's ==, which would need the
#      toolchain's Unicode tables) are dropped, so the only undefined symbols left are libc's
#      and libm's (malloc family, mem*, rounding functions).
#   3. llvm-objcopy keeps ee_* as the only global symbols (no clash with other Swift code in
#      the application) and drops undefined symbols nothing refers to.
#   4. llvm-ar packs the object into build/lib/<target>/libearlyexit.a.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/embedded-modules.sh

SWIFTC="${SWIFTC:-swiftc}"
SWIFT_BIN="${SWIFT_BIN:-$(dirname "$(readlink -f "$(command -v "$SWIFTC")")")}"
OPT="${EARLYEXIT_OPT:--Osize}"
LLD="$SWIFT_BIN/ld.lld"
OBJCOPY="$SWIFT_BIN/llvm-objcopy"
AR="$SWIFT_BIN/llvm-ar"
NM="$SWIFT_BIN/llvm-nm"
for tool in "$LLD" "$OBJCOPY" "$AR" "$NM"; do
  [ -x "$tool" ] || { echo "error: $tool not found (set SWIFT_BIN to the Swift toolchain's bin folder)" >&2; exit 1; }
done

embedded_module_exists() {
  local dir
  dir="$(dirname "$SWIFT_BIN")/lib/swift/embedded/Swift.swiftmodule"
  [ -e "$dir/$1.swiftmodule" ]
}

# The Swift target triple for a library target name.
swift_target() {
  case "$1" in
    host)
      case "$(uname -m)" in
        x86_64) echo x86_64-unknown-linux-gnu ;;
        aarch64 | arm64) swift_target aarch64 ;;
        *) echo "error: no Embedded Swift target for host $(uname -m)" >&2; return 1 ;;
      esac ;;
    aarch64)
      # The Linux triple when the toolchain ships an Embedded stdlib for it; otherwise the
      # bare-metal one, whose code follows the same AAPCS64 ABI and links into Linux programs.
      if embedded_module_exists aarch64-unknown-linux-gnu; then echo aarch64-unknown-linux-gnu
      else echo aarch64-none-none-elf; fi ;;
    armv7em) echo armv7em-none-none-eabi ;;
    *) echo "error: unknown target '$1' (use host, aarch64, armv7em or all)" >&2; return 1 ;;
  esac
}

build() {
  local name="$1" target out work
  target="$(swift_target "$name")"
  out="build/lib/$name"
  work="build/obj/$name"
  mkdir -p "$out" "$work"
  echo "== $name: $target, $OPT"
  compile_embedded_modules "$target" "$OPT" "$work/modules" Sources/EarlyExitC/*.swift 2> "$work/swiftc.log" \
    || { cat "$work/swiftc.log" >&2; exit 1; }
  grep -E "error" "$work/swiftc.log" >&2 || true
  [ "$name" = aarch64 ] && linux_platform_objects "$work/modules"
  "$LLD" -r "${EMBEDDED_OBJECTS[@]}" -o "$work/earlyexit-all.o"

  local roots=()
  while read -r symbol; do roots+=(-u "$symbol"); done < <("$NM" --defined-only -g "$work/earlyexit-all.o" | awk '$3 ~ /^ee_/ {print $3}')
  [ "${#roots[@]}" -gt 0 ] || { echo "error: no ee_* functions in the object" >&2; exit 1; }
  "$LLD" -r --gc-sections "${roots[@]}" "$work/earlyexit-all.o" -o "$work/earlyexit-gc.o"

  # Undefined symbols that no relocation uses any more (left in the symbol table by step 2).
  local used unneeded=()
  used="$(llvm_relocated_symbols "$work/earlyexit-gc.o")"
  while read -r symbol; do
    grep -qxF "$symbol" <<< "$used" || unneeded+=(--strip-symbol="$symbol")
  done < <("$NM" -u "$work/earlyexit-gc.o" | awk '{print $2}')
  "$OBJCOPY" --wildcard --keep-global-symbol='ee_*' "${unneeded[@]}" "$work/earlyexit-gc.o" "$work/earlyexit.o"

  rm -f "$out/libearlyexit.a"
  "$AR" rcs "$out/libearlyexit.a" "$work/earlyexit.o"
  echo "   $out/libearlyexit.a ($(wc -c < "$out/libearlyexit.a") bytes); undefined symbols, all from libc/libm:"
  echo "   $("$NM" -u "$work/earlyexit.o" | awk '{print $2}' | tr '\n' ' ')"
}

# Recompiles Sources/EarlyExitPlatform/*.c for aarch64 Linux (compile_embedded_modules built them
# for the bare-metal triple, where the OS services are stubs) and puts them in EMBEDDED_OBJECTS.
linux_platform_objects() {
  local dir="$1" cc flags=(-c -Os -ffunction-sections -fdata-sections -fPIC -std=gnu11 -Wall -Wextra -Werror
    -I Sources/EarlyExitPlatform/include) c object objects=()
  if command -v aarch64-linux-gnu-gcc > /dev/null; then cc=aarch64-linux-gnu-gcc
  elif [ -d /usr/aarch64-linux-gnu/include ]; then cc="$SWIFT_BIN/clang"; flags+=(--target=aarch64-linux-gnu --sysroot=/usr/aarch64-linux-gnu)
  else
    echo "error: no C compiler for aarch64 Linux: install gcc-aarch64-linux-gnu and libc6-dev-arm64-cross" >&2; exit 1
  fi
  for object in "${EMBEDDED_OBJECTS[@]}"; do
    case "$object" in "$dir"/c-EarlyExitPlatform-*.o) ;; *) objects+=("$object") ;; esac
  done
  for c in Sources/EarlyExitPlatform/*.c; do
    object="$dir/linux-platform-$(basename "$c" .c).o"
    "$cc" "${flags[@]}" "$c" -o "$object"
    objects+=("$object")
  done
  EMBEDDED_OBJECTS=("${objects[@]}")
}

# The names of the symbols that relocations of an object refer to.
llvm_relocated_symbols() {
  "$SWIFT_BIN/llvm-objdump" -r "$1" | awk 'NF >= 3 && $1 ~ /^[0-9a-f]+$/ {sub(/[-+]0x[0-9a-f]+$/, "", $3); print $3}' | sort -u
}

case "${1:-host}" in
  all) build host; build aarch64 ;;
  host | aarch64 | armv7em) build "${1:-host}" ;;
  -h | --help) sed -n '2,30p' "$0"; exit 0 ;;
  *) echo "usage: $0 [host|aarch64|armv7em|all]" >&2; exit 2 ;;
esac
