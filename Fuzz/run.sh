#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer and AddressSanitizer and runs them.
#
# usage: Fuzz/run.sh TARGET SECONDS [libFuzzer flags...]   fuzz one target for SECONDS
#        Fuzz/run.sh all SECONDS [libFuzzer flags...]      every target in turn, SECONDS each
#        Fuzz/run.sh build                                 build only
#        Fuzz/run.sh replay TARGET FILE...                 run inputs once (crash reproduction)
#        Fuzz/run.sh list                                  the target names
#
# Targets (entry points in Tests/EarlyExitTests/FuzzTargets.swift, which `swift test` also
# compiles to replay Fuzz/regressions/): eem, eem-crc, onnx, gzip, inflate, idx, npy, capi.
#
# How it is built: not a SwiftPM product (CI's plain `swift build` never sees it). swiftc compiles
# the core (Sources/EarlyExit), the C API (Sources/EarlyExitC) and the tools (Sources/EarlyExitTools)
# as three modules with -sanitize=fuzzer,address (coverage instrumentation + ASan), then links them
# with Fuzz/FuzzMain.swift, Fuzz/FuzzSeeds.swift and the shared entry points into one binary; the
# toolchain's libclang_rt.fuzzer provides main(). EARLYEXIT_FUZZ_TARGET selects the target.
#
# A run reads and extends the corpus $BUILD/corpus/TARGET (kept between runs), starts from the
# seeds (written to $BUILD/seeds/TARGET by the binary: small synthetic models and the repository's
# fixtures) and Fuzz/regressions/TARGET. An input that crashes, times out, leaks or runs out of
# memory is copied to Fuzz/regressions/TARGET/ (commit it once the bug is fixed: `swift test`
# replays that folder through the same entry point) and the script exits with status 1.
# The last line of each run: "fuzz TARGET: N executions in S s (E/s), cov C, ft F, corpus K, crashes X".
#
# Environment: EARLYEXIT_FUZZ_BUILD (build folder, default .build-fuzz), SWIFTC (default swiftc),
# EARLYEXIT_FUZZ_TIMEOUT (seconds per input before libFuzzer calls it a timeout, default 10),
# EARLYEXIT_FUZZ_RSS_MB (memory limit, default 2048).
# Long runs on a shared machine: `nice -n 19 Fuzz/run.sh all 900` (see docs/FUZZING.md).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
BUILD="${EARLYEXIT_FUZZ_BUILD:-.build-fuzz}"
SWIFTC="${SWIFTC:-swiftc}"
TOOLCHAIN_BIN="$(dirname "$(readlink -f "$(command -v "$SWIFTC")")")"
CLANG="${CLANG:-$TOOLCHAIN_BIN/clang}"
TIMEOUT="${EARLYEXIT_FUZZ_TIMEOUT:-10}"
RSS_MB="${EARLYEXIT_FUZZ_RSS_MB:-2048}"
BIN="$BUILD/earlyexit-fuzz"
TARGETS=(eem eem-crc onnx gzip inflate idx npy capi)

usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

sources() {
  find Sources/EarlyExit Sources/EarlyExitC Sources/EarlyExitTools Sources/CAllocationCounter -name '*.swift' -o -name '*.c' -o -name '*.h'
  echo Fuzz/FuzzMain.swift Fuzz/FuzzSeeds.swift Tests/EarlyExitTests/FuzzTargets.swift | tr ' ' '\n'
}

build() {
  if [ -x "$BIN" ] && [ -z "$(sources | xargs -I{} find {} -newer "$BIN" | head -n 1)" ]; then return 0; fi
  local started=$SECONDS
  echo "== building $BIN (swiftc -sanitize=fuzzer,address)"
  [ -e "$TOOLCHAIN_BIN/../lib/swift/clang/lib/linux/libclang_rt.fuzzer-$(uname -m).a" ] ||
    { echo "error: this Swift toolchain has no libFuzzer (libclang_rt.fuzzer-$(uname -m).a)" >&2; exit 1; }
  local modules="$BUILD/modules" objects="$BUILD/objects"
  rm -rf "$modules" "$objects"
  mkdir -p "$modules/CAllocationCounter" "$objects"
  local flags=(-O -g -sanitize=fuzzer,address -parse-as-library -wmo -I "$modules" -I "$modules/CAllocationCounter")
  # CAllocationCounter: counting is off under ASan (see the file); the Tools module imports it.
  "$CLANG" -c -O1 -g -fsanitize=address,fuzzer-no-link -I Sources/CAllocationCounter/include \
    Sources/CAllocationCounter/allocation_counter.c -o "$objects/allocation_counter.o"
  printf 'module CAllocationCounter {\n  header "%s"\n  export *\n}\n' \
    "$ROOT/Sources/CAllocationCounter/include/allocation_counter.h" > "$modules/CAllocationCounter/module.modulemap"
  local module files
  for module in EarlyExit EarlyExitC EarlyExitTools; do
    mapfile -t files < <(find "Sources/$module" -name '*.swift' | sort)
    "$SWIFTC" "${flags[@]}" -module-name "$module" -emit-module -emit-module-path "$modules/$module.swiftmodule" \
      -c "${files[@]}" -o "$objects/$module.o"
  done
  # (ld.gold warns about every ASan check routine it cannot export: noise, filtered.)
  "$SWIFTC" "${flags[@]}" -module-name EarlyExitFuzz -emit-module -emit-module-path "$modules/EarlyExitFuzz.swiftmodule" \
    -c Fuzz/FuzzMain.swift Fuzz/FuzzSeeds.swift Tests/EarlyExitTests/FuzzTargets.swift -o "$objects/EarlyExitFuzz.o"
  "$SWIFTC" -g -sanitize=fuzzer,address "$objects"/*.o -o "$BIN" 2>&1 | { grep -v "Cannot export local symbol" || true; }
  [ "${PIPESTATUS[0]}" = 0 ] && [ -x "$BIN" ] || { echo "error: linking $BIN failed" >&2; exit 1; }
  echo "   built in $((SECONDS - started)) s"
}

seeds() {
  rm -rf "$BUILD/seeds"
  EARLYEXIT_FUZZ_ROOT="$ROOT" EARLYEXIT_FUZZ_WRITE_SEEDS="$BUILD/seeds" "$BIN" > "$BUILD/seeds.log" 2>&1 ||
    { cat "$BUILD/seeds.log" >&2; exit 1; }
}

# run_target TARGET SECONDS [flags...]: one libFuzzer run; prints the summary line.
run_target() {
  local target="$1" seconds="$2"
  shift 2
  local corpus="$BUILD/corpus/$target" artifacts="$BUILD/artifacts/$target" log="$BUILD/logs/$target.log"
  local regressions="Fuzz/regressions/$target"
  mkdir -p "$corpus" "$artifacts" "$BUILD/logs"
  rm -f "$artifacts"/*
  local dirs=("$corpus" "$BUILD/seeds/$target")
  [ -d "$regressions" ] && dirs+=("$regressions")
  local status=0
  EARLYEXIT_FUZZ_TARGET="$target" ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=1:symbolize=1" \
    "$BIN" -max_total_time="$seconds" -timeout="$TIMEOUT" -rss_limit_mb="$RSS_MB" -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$@" "${dirs[@]}" > "$log" 2>&1 || status=$?
  local runs rate seconds_run cov ft units found=0 file
  runs="$(awk '/stat::number_of_executed_units/ {value = $NF} END {print value}' "$log")"
  rate="$(awk '/stat::average_exec_per_sec/ {value = $NF} END {print value}' "$log")"
  seconds_run="$(awk '/^Done [0-9]+ runs in/ {value = $5} END {print value}' "$log")"
  cov="$(awk '{for (i = 1; i < NF; i++) if ($i == "cov:") value = $(i + 1)} END {print value}' "$log")"
  ft="$(awk '{for (i = 1; i < NF; i++) if ($i == "ft:") value = $(i + 1)} END {print value}' "$log")"
  units="$(find "$corpus" -type f | wc -l)"
  for file in "$artifacts"/*; do
    [ -f "$file" ] || continue
    found=$((found + 1))
    mkdir -p "$regressions"
    cp "$file" "$regressions/$(basename "$file")"
    echo "   FOUND: $(basename "$file") -> $regressions/ (log: $log)"
  done
  if [ "$status" != 0 ] || [ "$found" != 0 ]; then
    grep -E "ERROR: |SUMMARY: |Fatal error|fuzz invariant|==[0-9]+==|deadly signal|Test unit written" "$log" | head -n 20 || true
  fi
  echo "fuzz $target: ${runs:-?} executions in ${seconds_run:-$seconds} s (${rate:-?}/s), cov ${cov:-?}, ft ${ft:-?}, corpus $units, crashes $found, exit status $status"
  [ "$status" = 0 ] && [ "$found" = 0 ]
}

[ $# -ge 1 ] || usage
case "$1" in
  list) printf '%s\n' "${TARGETS[@]}" ;;
  build) build; seeds; cat "$BUILD/seeds.log" ;;
  replay)
    [ $# -ge 3 ] || usage
    build
    target="$2"
    shift 2
    EARLYEXIT_FUZZ_TARGET="$target" EARLYEXIT_FUZZ_VERBOSE=1 "$BIN" -timeout="$TIMEOUT" -rss_limit_mb="$RSS_MB" "$@" ;;
  all)
    [ $# -ge 2 ] || usage
    seconds="$2"
    shift 2
    build
    seeds
    failed=()
    for target in "${TARGETS[@]}"; do run_target "$target" "$seconds" "$@" || failed+=("$target"); done
    if [ "${#failed[@]}" -gt 0 ]; then echo "fuzz: failed: ${failed[*]}"; exit 1; fi
    echo "fuzz: all ${#TARGETS[@]} targets ran ${seconds} s each without a finding" ;;
  *)
    [ $# -ge 2 ] || usage
    target="$1"
    seconds="$2"
    shift 2
    printf '%s\n' "${TARGETS[@]}" | grep -qxF "$target" || { echo "error: unknown target '$target' (Fuzz/run.sh list)" >&2; exit 2; }
    build
    seeds
    run_target "$target" "$seconds" "$@" ;;
esac
