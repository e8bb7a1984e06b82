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
# compiles to replay Fuzz/regressions/): eem, eem-crc, onnx, onnx-external, gzip, inflate, idx,
# npy, capi.
#
# How it is built: not a SwiftPM product (CI's plain `swift build` never sees it). SwiftPM compiles
# the package's library targets (core, kernels, C API, tools) in release mode with
# -sanitize=fuzzer,address (coverage instrumentation + ASan) into $BUILD/spm; swiftc
# compiles Fuzz/FuzzMain.swift, Fuzz/FuzzSeeds.swift and the shared entry points against those
# modules and links one binary, whose main() comes from the toolchain's libclang_rt.fuzzer.
# EARLYEXIT_FUZZ_TARGET selects the target.
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
TIMEOUT="${EARLYEXIT_FUZZ_TIMEOUT:-10}"
RSS_MB="${EARLYEXIT_FUZZ_RSS_MB:-2048}"
BIN="$BUILD/earlyexit-fuzz"
TARGETS=(eem eem-crc onnx onnx-external gzip inflate idx npy capi)

usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# SwiftPM builds the package's library targets (the module graph and per-module flags of
# Package.swift, per-ISA kernel modules included) with -sanitize=fuzzer,address into its own
# scratch path; swiftc then compiles the harness against those modules and links everything.
# Not `swift build --sanitize=fuzzer --sanitize=address`: SwiftPM passes them to swiftc as two
# flags, and swiftc keeps only the last (ASan without coverage: libFuzzer would fuzz blind).
SPM=(swift build -c release -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address
     --scratch-path "$BUILD/spm")

build() {
  # Up to date when no source, package manifest or harness file is newer than the binary.
  if [ -x "$BIN" ] && [ -z "$(find Sources Fuzz Package.swift Tests/EarlyExitTests/FuzzTargets.swift -type f \
      -newer "$BIN" -not -name '*.md' -not -path 'Fuzz/regressions/*' -print -quit)" ]; then
    return 0
  fi
  local started=$SECONDS
  echo "== building $BIN (SwiftPM and swiftc, -sanitize=fuzzer,address)"
  [ -e "$TOOLCHAIN_BIN/../lib/swift/clang/lib/linux/libclang_rt.fuzzer-$(uname -m).a" ] ||
    { echo "error: this Swift toolchain has no libFuzzer (libclang_rt.fuzzer-$(uname -m).a)" >&2; exit 1; }
  mkdir -p "$BUILD/logs"
  local target
  for target in EarlyExitTools EarlyExitC; do
    "${SPM[@]}" --target "$target" > "$BUILD/logs/build-$target.log" 2>&1 ||
      { tail -n 40 "$BUILD/logs/build-$target.log" >&2; echo "error: swift build --target $target failed" >&2; exit 1; }
  done
  local products
  products="$(readlink -f "$("${SPM[@]}" --show-bin-path)")"
  # The objects of every library target (not the tests, benchmarks or the CLI).
  local objects=() dir
  for dir in "$products"/*.build; do
    case "$(basename "$dir")" in *Tests*.build | EarlyExitBenchmarks.build | early_exit.build) continue ;; esac
    for file in "$dir"/*.o; do [ -e "$file" ] && objects+=("$file"); done
  done
  local modulemaps=() map
  while IFS= read -r map; do modulemaps+=(-Xcc "-fmodule-map-file=$map"); done < <(find "$products" -name module.modulemap)
  while IFS= read -r map; do modulemaps+=(-Xcc "-fmodule-map-file=$ROOT/$map"); done < <(find Sources -name module.modulemap)
  "$SWIFTC" -O -g -wmo -sanitize=fuzzer,address -parse-as-library -module-name EarlyExitFuzz -I "$products/Modules" "${modulemaps[@]}" \
    -c Fuzz/FuzzMain.swift Fuzz/FuzzSeeds.swift Tests/EarlyExitTests/FuzzTargets.swift -o "$BUILD/EarlyExitFuzz.o"
  # (ld.gold warns about every ASan check routine it cannot export: noise, filtered.)
  "$SWIFTC" -g -sanitize=fuzzer,address "$BUILD/EarlyExitFuzz.o" "${objects[@]}" -o "$BIN" 2>&1 |
    { grep -v "Cannot export local symbol" || true; }
  [ -x "$BIN" ] || { echo "error: linking $BIN failed" >&2; exit 1; }
  touch "$BIN"
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
  # Leak detection stays on; .ci/lsan-suppressions.txt names the toolchain's own leaks (Foundation).
  EARLYEXIT_FUZZ_TARGET="$target" ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=1:symbolize=1" \
    LSAN_OPTIONS="suppressions=$ROOT/.ci/lsan-suppressions.txt:print_suppressions=0" \
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
    # libFuzzer's slow-unit-* files are not failures (a real hang is a timeout-* at
    # $TIMEOUT s): a run paused from outside (SIGSTOP, a suspended machine) makes whichever
    # input was running look slow. Say so; replay it to see its real time.
    if [[ "$(basename "$file")" == slow-unit-* ]]; then
      echo "   slow unit (not a failure; check with: Fuzz/run.sh replay $target $file): $(grep -a -m1 '^Slowest unit' "$log" || true)"
      continue
    fi
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
