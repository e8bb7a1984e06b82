#!/usr/bin/env bash
# The C API misuse suite (Examples/c/test_capi.c) against an AddressSanitizer build of the
# library: the same Embedded Swift modules as libearlyexit.a (scripts/embedded-modules.sh),
# compiled with -sanitize=address, joined and garbage-collected from the ee_* roots like the
# shipped library, and linked with test_capi.c by the toolchain's clang -fsanitize=address.
# Any heap overflow, use after free or leak in the library or the suite fails the run.
# test_capi leaves out its use-after-close checks under ASan (they read freed memory on purpose).
#
# usage: .ci/capi-asan.sh [MODEL.eem...]
#   default models: one converted from the conformance fixture with the bundled layout, and the
#   bundled float32 and int8 models when they are there.
# Last line: "capi-asan: N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
SWIFT_BIN="${SWIFT_BIN:-$(dirname "$(readlink -f "$(command -v swiftc)")")}"
export SWIFT_BIN
work="$(mktemp -d "${TMPDIR:-/tmp}/earlyexit-capi-asan.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# swiftc with ASan added to every module compile. -gline-tables-only, not -g: with full debug
# info some standard-library code lands in .text instead of its own section, and the
# --gc-sections step below could not drop it.
cat > "$work/swiftc" <<EOF
#!/usr/bin/env bash
exec "$SWIFT_BIN/swiftc" "\$@" -sanitize=address -gline-tables-only
EOF
chmod +x "$work/swiftc"

echo "== library (Embedded Swift, -sanitize=address)"
source scripts/embedded-modules.sh
SWIFTC="$work/swiftc" compile_embedded_modules x86_64-unknown-linux-gnu -O "$work/objects" Sources/EarlyExitC/*.swift
"$SWIFT_BIN/ld.lld" -r "${EMBEDDED_OBJECTS[@]}" -o "$work/joined.o"
roots=()
while read -r symbol; do roots+=(-u "$symbol"); done < <("$SWIFT_BIN/llvm-nm" --defined-only -g "$work/joined.o" | awk '$3 ~ /^ee_/ {print $3}')
"$SWIFT_BIN/ld.lld" -r --gc-sections "${roots[@]}" "$work/joined.o" -o "$work/earlyexit-asan.o"

echo "== test_capi (clang -fsanitize=address)"
"$SWIFT_BIN/clang" -fuse-ld=lld -std=c11 -O1 -g -fsanitize=address -fno-omit-frame-pointer -Wall -Wextra -Werror \
  -D_POSIX_C_SOURCE=200809L -ffp-contract=off -Iinclude Examples/c/test_capi.c "$work/earlyexit-asan.o" -lm -o "$work/test_capi"

models=("$@")
if [ "${#models[@]}" = 0 ]; then
  swift build -c release --product early-exit > "$work/cli-build.log" 2>&1 || { cat "$work/cli-build.log"; exit 1; }
  cli="$(swift build -c release --product early-exit --show-bin-path)/early-exit"
  "$cli" convert Tests/EarlyExitToolsTests/Fixtures/conformance/aw2_k1_gray28_same_as_bundled_layout_dynamo/model.onnx \
    -o "$work/fixture.eem" --mean 0.2860 --std 0.3530 --classes Models/fashion-classes.txt > /dev/null
  models=("$work/fixture.eem")
  for bundled in Models/fashion-attn-wrn.eem Models/fashion-attn-wrn-int8.eem; do [ -f "$bundled" ] && models+=("$bundled"); done
fi

passed=0
failed=0
for model in "${models[@]}"; do
  log="$work/test_capi-$(basename "$model").log"
  if ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:symbolize=1" "$work/test_capi" "$model" > "$log" 2>&1 \
      && tail -n 1 "$log" | grep -q " 0 failed$"; then
    passed=$((passed + 1))
    echo "  ok: test_capi $(basename "$model") under ASan: $(tail -n 1 "$log")"
  else
    failed=$((failed + 1))
    echo "  FAILED: test_capi $(basename "$model") under ASan"
    grep -E "ERROR|SUMMARY|FAILED|#[0-9]+ " "$log" | head -n 40 || tail -n 20 "$log"
  fi
done
echo "capi-asan took $((SECONDS - start)) s"
echo "capi-asan: $passed passed, $failed failed"
[ "$failed" = 0 ]
