#!/usr/bin/env bash
# CI for the embedded C API: libearlyexit.a for the host and aarch64, the C examples linked
# with a plain C compiler (no Swift toolchain or runtime), their results compared line for line
# with `early-exit classify`, and the same on aarch64 under qemu-user.
#
# usage: .ci/embedded.sh [MODEL.eem]
#   MODEL defaults to $EARLYEXIT_MODEL, else Models/fashion-attn-wrn.eem when it exists, else a
#   model converted from the conformance fixture with the bundled layout.
# Environment: EARLYEXIT_SCRATCH (SwiftPM scratch path, default .build), EARLYEXIT_COMPARE_IMAGES
# (sample images compared on the host, default 200) and EARLYEXIT_QEMU_COMPARE_IMAGES (under
# qemu, which is about 50 times slower, default 50).
# Installs gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and qemu-user-static with apt-get when missing.
# Last line: "embedded: N passed, M failed"; exits non-zero when a check failed.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
SCRATCH="${EARLYEXIT_SCRATCH:-.build}"
COMPARE="${EARLYEXIT_COMPARE_IMAGES:-200}"
QEMU_COMPARE="${EARLYEXIT_QEMU_COMPARE_IMAGES:-50}"
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "  ok: $1"; }
fail() { failed=$((failed + 1)); echo "  FAILED: $1"; }

echo "== tools"
need_install=0
command -v aarch64-linux-gnu-gcc > /dev/null || need_install=1
command -v qemu-aarch64-static > /dev/null || need_install=1
[ -e /usr/aarch64-linux-gnu/lib/libc.a ] || need_install=1
if [ "$need_install" = 1 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "installing gcc-aarch64-linux-gnu, libc6-dev-arm64-cross, qemu-user-static"
  $SUDO apt-get update -qq > /dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static > /dev/null
fi
for tool in cc gunzip aarch64-linux-gnu-gcc qemu-aarch64-static swift; do
  command -v "$tool" > /dev/null || { echo "error: $tool is missing" >&2; exit 1; }
done
echo "$(cc --version | head -n 1); $(aarch64-linux-gnu-gcc --version | head -n 1); $(qemu-aarch64-static --version | head -n 1)"

echo "== libearlyexit.a (Embedded Swift), host and aarch64"
scripts/build-static-lib.sh all

work="$(mktemp -d "${TMPDIR:-/tmp}/earlyexit-embedded.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "== early-exit CLI (release)"
if ! swift build -c release --product early-exit --scratch-path "$SCRATCH" > "$work/swift-build.log" 2>&1; then
  cat "$work/swift-build.log"
  exit 1
fi
tail -n 1 "$work/swift-build.log"
CLI="$(swift build -c release --product early-exit --scratch-path "$SCRATCH" --show-bin-path)/early-exit"

# A small model (1.2 M MACs) converted from the conformance fixture with the bundled layout: the
# C API tests run on it under qemu, where the bundled model (57 M MACs) would take a minute.
FIXTURE="$work/fixture.eem"
"$CLI" convert Tests/EarlyExitToolsTests/Fixtures/conformance/aw2_k1_gray28_same_as_bundled_layout_dynamo/model.onnx \
  -o "$FIXTURE" --mean 0.2860 --std 0.3530 --classes Models/fashion-classes.txt > /dev/null
MODEL="${1:-${EARLYEXIT_MODEL:-}}"
if [ -z "$MODEL" ]; then
  if [ -f Models/fashion-attn-wrn.eem ]; then
    MODEL=Models/fashion-attn-wrn.eem
  else
    MODEL="$FIXTURE"
    echo "(Models/fashion-attn-wrn.eem is not there yet: using the model converted from the conformance fixture)"
  fi
fi
echo "model: $MODEL ($(wc -c < "$MODEL") bytes)"
gunzip -c Models/fashion-test-sample-images-idx3-ubyte.gz > "$work/images.idx"
gunzip -c Models/fashion-test-sample-labels-idx1-ubyte.gz > "$work/labels.idx"
"$CLI" export-c "$MODEL" -o "$work/model_data.c" > /dev/null

CFLAGS=(-std=c11 -O2 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L -ffp-contract=off -Iinclude)
WRAP="-Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=posix_memalign,--wrap=aligned_alloc"

# The int8 quantization of the bundled model, when it is there (float input, quantized by the runtime).
MODEL_INT8=""
if [ -z "${1:-${EARLYEXIT_MODEL:-}}" ] && [ -f Models/fashion-attn-wrn-int8.eem ]; then
  MODEL_INT8=Models/fashion-attn-wrn-int8.eem
fi

# compare NAME RUNNER PROGRAM COUNT LABEL MODEL [POLICY...]: PROGRAM's output (MODEL may be "-"
# for the compiled-in model) must equal `early-exit classify`'s on the first COUNT images.
compare() {
  local name="$1" runner="$2" program="$3" count="$4" label="$5" model="$6"
  shift 6
  local key
  key="$(echo "$model $count $*" | cksum | awk '{print $1}')"
  local reference="$work/reference-$key.txt" output="$work/$name-$(basename "$program")-$key.txt"
  local source="$model" args=()
  [ "$model" = - ] && source="$MODEL"
  [ "$model" = - ] || args=("$model")
  if [ ! -f "$reference" ]; then
    "$CLI" classify "$source" --images "$work/images.idx" --labels "$work/labels.idx" --limit "$count" "$@" > "$reference"
  fi
  if $runner "$program" "${args[@]}" --images "$work/images.idx" --labels "$work/labels.idx" --limit "$count" "$@" \
      > "$output" 2>&1 && diff -q "$reference" "$output" > /dev/null; then
    pass "$name $(basename "$program"), $label: $count lines and totals equal to early-exit classify's ($(tail -n 1 "$output"))"
  else
    fail "$name $(basename "$program"), $label: differs from early-exit classify"
    diff "$reference" "$output" | head -n 10 || true
  fi
}

# Runs the checks of one built target: $1 name, $2 runner prefix (empty or qemu), $3 folder,
# $4 images to compare, $5 "all" to check every policy (the slow full-network one included).
check_target() {
  local name="$1" runner="$2" dir="$3" count="$4" scope="$5"
  local test_model models=("$FIXTURE")
  if [ "$scope" = all ] && [ "$MODEL" != "$FIXTURE" ]; then models+=("$MODEL"); fi
  if [ "$scope" = all ] && [ -f Models/fashion-attn-wrn-int8.eem ]; then models+=(Models/fashion-attn-wrn-int8.eem); fi
  for test_model in "${models[@]}"; do
    local log="$dir/test_capi-$(basename "$test_model").log"
    if $runner "$dir/test_capi" "$test_model" > "$log" 2>&1 && tail -n 1 "$log" | grep -q " 0 failed$"; then
      pass "$name test_capi $(basename "$test_model"): $(tail -n 1 "$log")"
    else
      fail "$name test_capi $(basename "$test_model")"
      tail -n 20 "$log"
    fi
  done
  compare "$name" "$runner" "$dir/classify" "$count" "the model's stored policy" "$MODEL"
  compare "$name" "$runner" "$dir/classify" "$count" "maxprob 0.5" "$MODEL" --policy maxprob --threshold 0.5
  if [ "$scope" = all ]; then
    compare "$name" "$runner" "$dir/classify" "$count" "full network" "$MODEL" --policy none
    compare "$name" "$runner" "$dir/classify" "$count" "entropy 0.3, combined" "$MODEL" --policy entropy --threshold 0.3 --combine
  fi
  [ -z "$MODEL_INT8" ] || compare "$name" "$runner" "$dir/classify" "$count" "int8 model" "$MODEL_INT8"
  compare "$name" "$runner" "$dir/classify-embedded" "$count" "model compiled in (export-c)" -
  # The IDX files as shipped (gzip) must give the same lines as their gunzipped copies.
  if $runner "$dir/classify" "$MODEL" --images Models/fashion-test-sample-images-idx3-ubyte.gz \
      --labels Models/fashion-test-sample-labels-idx1-ubyte.gz --limit "$count" > "$dir/classify-gz.txt" 2>&1 &&
     $runner "$dir/classify" "$MODEL" --images "$work/images.idx" --labels "$work/labels.idx" --limit "$count" > "$dir/classify-raw.txt" 2>&1 &&
     diff -q "$dir/classify-gz.txt" "$dir/classify-raw.txt" > /dev/null; then
    pass "$name classify reads the .gz files as shipped: the same $count lines as from the raw files"
  else
    fail "$name classify on the .gz files differs from the raw files"; head -n 3 "$dir/classify-gz.txt"
  fi
}

# No Swift symbol may remain undefined in a binary, and the binary needs nothing but libc and libm.
check_no_swift() {
  local name="$1" binary="$2" nm="$3"
  if "$nm" -u "$binary" | awk '{print $NF}' | grep -E '^(_?swift|\$s|\$e|_T)' > /dev/null; then
    fail "$name $(basename "$binary") has undefined Swift symbols"
  else
    pass "$name $(basename "$binary"): no undefined Swift symbol"
  fi
}

echo "== host: cc, linked dynamically against libc and libm"
host="$work/host"
mkdir -p "$host"
cc "${CFLAGS[@]}" Examples/c/classify.c -Lbuild/lib/host -learlyexit -lm -o "$host/classify"
cc "${CFLAGS[@]}" -DEE_EMBEDDED_MODEL Examples/c/classify.c "$work/model_data.c" -Lbuild/lib/host -learlyexit -lm -o "$host/classify-embedded"
cc "${CFLAGS[@]}" -DEE_COUNT_ALLOCATIONS Examples/c/test_capi.c -Lbuild/lib/host -learlyexit -lm "$WRAP" -o "$host/test_capi"
libs="$(ldd "$host/classify" | awk '{print $1}' | grep -vE '^(linux-vdso|/lib64/ld-linux|/lib/ld-linux)' | sort | tr '\n' ' ')"
if [ "$libs" = "libc.so.6 libm.so.6 " ] || [ "$libs" = "libc.so.6 " ]; then pass "host classify needs only: $libs"
else fail "host classify needs more than libc and libm: $libs"; fi
check_no_swift host "$host/classify" nm
check_target host "" "$host" "$COMPARE" all

echo "== aarch64: aarch64-linux-gnu-gcc -static-pie, run under qemu-aarch64-static"
arm="$work/aarch64"
mkdir -p "$arm"
LINK=-static-pie
if ! aarch64-linux-gnu-gcc "${CFLAGS[@]}" $LINK Examples/c/classify.c -Lbuild/lib/aarch64 -learlyexit -lm -o "$arm/classify" 2> "$arm/link.log"; then
  echo "(-static-pie failed, using -static: $(head -n 1 "$arm/link.log"))"
  LINK=-static
  aarch64-linux-gnu-gcc "${CFLAGS[@]}" $LINK Examples/c/classify.c -Lbuild/lib/aarch64 -learlyexit -lm -o "$arm/classify"
fi
aarch64-linux-gnu-gcc "${CFLAGS[@]}" $LINK -DEE_EMBEDDED_MODEL Examples/c/classify.c "$work/model_data.c" -Lbuild/lib/aarch64 -learlyexit -lm -o "$arm/classify-embedded"
aarch64-linux-gnu-gcc "${CFLAGS[@]}" $LINK -DEE_COUNT_ALLOCATIONS Examples/c/test_capi.c -Lbuild/lib/aarch64 -learlyexit -lm "$WRAP" -o "$arm/test_capi"
if [ -z "$(aarch64-linux-gnu-readelf -d "$arm/classify" | grep NEEDED || true)" ]; then pass "aarch64 classify is static ($LINK): no shared library needed"
else fail "aarch64 classify needs shared libraries"; fi
check_no_swift aarch64 "$arm/classify" aarch64-linux-gnu-nm
check_target aarch64 qemu-aarch64-static "$arm" "$QEMU_COMPARE" some

# Every kernel set forced with EARLYEXIT_KERNELS, as a C application would: test_capi on the
# fixture must report that set, and the int8 model's classifications must equal the CLI's (int8
# is bit-exact on every set). On the host: each x86-64 set this CPU supports; on aarch64 under
# qemu (which emulates the dot product): neon and neon-dotprod.
forced_sets() {
  local name="$1" runner="$2" dir="$3" count="$4"
  shift 4
  local set
  for set in "$@"; do
    local log="$dir/test_capi-$set.log"
    if env EARLYEXIT_KERNELS="$set" $runner "$dir/test_capi" "$FIXTURE" > "$log" 2>&1 && tail -n 1 "$log" | grep -q " 0 failed$" &&
       grep -q "^kernels $set," "$log"; then
      pass "$name EARLYEXIT_KERNELS=$set: test_capi runs on $set ($(grep '^kernels' "$log")): $(tail -n 1 "$log")"
    else
      fail "$name EARLYEXIT_KERNELS=$set: test_capi"
      tail -n 5 "$log"
    fi
    [ -z "$MODEL_INT8" ] || compare "$name-$set" "env EARLYEXIT_KERNELS=$set $runner" "$dir/classify" "$count" "int8 model on $set" "$MODEL_INT8"
  done
}
echo "== kernel sets forced: host (those this CPU has)"
host_sets=()
for set in avx512 avx512f avx2-vnni avx2 sse2 sse2-direct; do
  if env EARLYEXIT_KERNELS="$set" "$CLI" info "$FIXTURE" > /dev/null 2>&1; then host_sets+=("$set"); fi
done
echo "this CPU runs: ${host_sets[*]}"
forced_sets host "" "$host" "$COMPARE" "${host_sets[@]}"
echo "== kernel sets forced: aarch64 under qemu"
forced_sets aarch64 qemu-aarch64-static "$arm" "$QEMU_COMPARE" neon neon-dotprod

echo "== machine code of the libraries' kernels (scripts/check-codegen.sh)"
for lib in build/lib/host/libearlyexit.a build/lib/aarch64/libearlyexit.a; do
  if scripts/check-codegen.sh "$lib" > "$work/codegen.log" 2>&1; then pass "$lib: $(grep -v 'passed$' "$work/codegen.log" | tr '\n' ' ')"
  else cat "$work/codegen.log"; fail "$lib: kernels not compiled as intended"; fi
done

echo "== sizes (bytes)"
printf "  %-34s %10s %10s %10s\n" "file" "file size" "text" "data+bss"
for file in build/lib/host/libearlyexit.a build/lib/aarch64/libearlyexit.a "$host/classify" "$arm/classify"; do
  sizes="$(size --totals "$file" 2> /dev/null | tail -n 1)"
  printf "  %-34s %10s %10s %10s\n" "${file#"$work"/}" "$(wc -c < "$file")" "$(awk '{print $1}' <<< "$sizes")" \
    "$(awk '{print $2 + $3}' <<< "$sizes")"
done
echo "(the aarch64 classify is static: its text includes glibc)"

echo "== the sizes quoted in README.md and docs/EMBEDDED.md (scripts/sizes.sh --check, within 5%)"
if scripts/sizes.sh --check > "$work/sizes.log" 2>&1; then pass "$(tail -n 1 "$work/sizes.log")"
else cat "$work/sizes.log"; fail "documented sizes are stale: run scripts/sizes.sh --update"; fi

echo "embedded checks took $((SECONDS - start)) s"
echo "embedded: $passed passed, $failed failed"
[ "$failed" = 0 ]
