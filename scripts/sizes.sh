#!/usr/bin/env bash
# The library and code sizes quoted in README.md and docs/EMBEDDED.md, measured now.
#
# usage: scripts/sizes.sh [--print | --check | --update]     (default --print)
#   --print   build what is missing and print every size, one "key bytes" line each
#   --check   compare each size quoted in the docs with the measurement; fails when one is off
#             by more than SIZES_TOLERANCE percent (default 5); CI runs this (.ci/embedded.sh)
#   --update  rewrite the quoted sizes with the measurements, keeping each one's unit
#
# The docs quote a size as <!--size:KEY-->VALUE<!--/size--> (the comments do not show when the
# Markdown is rendered). VALUE is bytes ("135,775") or kilobytes of 1,000 bytes ("136 KB",
# "135.8 KB"). Keys:
#   core_armv7em                 the runtime alone (kernels, core, platform C), armv7em -Osize, text+data
#                                of its objects as scripts/check-embedded.sh compiles them, joined
#   code_x86_64, code_aarch64, code_armv7em
#                                what an application linking libearlyexit.a gets: text+data of the
#                                C-API-reachable object (build/obj/<target>/earlyexit.o)
#   lib_host, lib_aarch64, lib_armv7em   libearlyexit.a on disk (symbol names included)
#   classify_host                Examples/c/classify.c with cc, dynamic libc: file size
#   classify_aarch64             the same with aarch64-linux-gnu-gcc -static-pie (static glibc inside)
# Builds what it needs: scripts/build-static-lib.sh for the three targets, the core object, and
# the classify example (with the compilers .ci/embedded.sh installs; missing ones are skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:---print}"
TOLERANCE="${SIZES_TOLERANCE:-5}"
DOCS=(README.md docs/EMBEDDED.md)
work="build/sizes"
mkdir -p "$work"

case "$mode" in
  --print | --check | --update) ;;
  -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
  *) echo "usage: $0 [--print|--check|--update]" >&2; exit 2 ;;
esac

text_data() { size "$1" | awk 'NR == 2 {print $1 + $2}'; }

for target in host aarch64 armv7em; do
  if [ ! -f "build/lib/$target/libearlyexit.a" ] || [ -n "$(find Sources/EarlyExit Sources/EarlyExitC Sources/EarlyExitPlatform \
      -newer "build/lib/$target/libearlyexit.a" -type f 2> /dev/null | head -n 1)" ]; then
    scripts/build-static-lib.sh "$target" > "$work/build-$target.log" 2>&1 || { cat "$work/build-$target.log" >&2; exit 1; }
  fi
done
# The runtime's objects as scripts/check-embedded.sh builds them (kernels, core, platform), joined.
source scripts/embedded-modules.sh
compile_embedded_modules armv7em-none-none-eabi -Osize "$work/core-armv7em" > "$work/core-armv7em.log" 2>&1 \
  || { cat "$work/core-armv7em.log" >&2; exit 1; }
"$(dirname "$(readlink -f "$(command -v swiftc)")")/ld.lld" -r "${EMBEDDED_OBJECTS[@]}" -o "$work/core-armv7em.o"

declare -A measured
measured[core_armv7em]="$(text_data "$work/core-armv7em.o")"
measured[code_x86_64]="$(text_data build/obj/host/earlyexit.o)"
measured[code_aarch64]="$(text_data build/obj/aarch64/earlyexit.o)"
measured[code_armv7em]="$(text_data build/obj/armv7em/earlyexit.o)"
for target in host aarch64 armv7em; do measured[lib_$target]="$(wc -c < "build/lib/$target/libearlyexit.a")"; done
CFLAGS=(-std=c11 -O2 -D_POSIX_C_SOURCE=200809L -Iinclude)
if command -v cc > /dev/null; then
  cc "${CFLAGS[@]}" Examples/c/classify.c -Lbuild/lib/host -learlyexit -lm -o "$work/classify-host"
  measured[classify_host]="$(wc -c < "$work/classify-host")"
fi
if command -v aarch64-linux-gnu-gcc > /dev/null; then
  aarch64-linux-gnu-gcc "${CFLAGS[@]}" -static-pie Examples/c/classify.c -Lbuild/lib/aarch64 -learlyexit -lm -o "$work/classify-aarch64"
  measured[classify_aarch64]="$(wc -c < "$work/classify-aarch64")"
fi

if [ "$mode" = --print ]; then
  for key in $(printf '%s\n' "${!measured[@]}" | sort); do printf '%-18s %10s\n' "$key" "${measured[$key]}"; done
  exit 0
fi

# Check or rewrite every quoted size (python3: the one scripting language CI already has).
keys=""
for key in "${!measured[@]}"; do keys+="$key=${measured[$key]} "; done
python3 - "$mode" "$TOLERANCE" "$keys" "${DOCS[@]}" << 'EOF'
import re, sys
mode, tolerance, pairs, docs = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4:]
measured = {k: int(v) for k, v in (p.split("=") for p in pairs.split())}
pattern = re.compile(r"<!--size:([a-z0-9_]+)-->([^<]*)<!--/size-->")

def parse(value):
    text = value.strip().replace(",", "")
    m = re.fullmatch(r"([0-9.]+)\s*(KB|MB|B)?", text)
    if not m:
        raise ValueError(f"cannot read the size '{value}'")
    scale = {"KB": 1000, "MB": 1000000}.get(m.group(2) or "B", 1)
    decimals = len(m.group(1).split(".")[1]) if "." in m.group(1) else 0
    return float(m.group(1)) * scale, m.group(2) or "B", decimals

def render(size, unit, decimals):
    if unit == "B":
        return f"{size:,}"
    scale = 1000 if unit == "KB" else 1000000
    return f"{size / scale:.{decimals}f} {unit}"

failed, checked, unknown = 0, 0, 0
for doc in docs:
    text = open(doc, encoding="utf-8").read()
    def replace(m):
        global failed, checked, unknown
        key, value = m.group(1), m.group(2)
        if key not in measured:
            print(f"{doc}: size key '{key}' is not measured here (skipped)")
            unknown += 1
            return m.group(0)
        documented, unit, decimals = parse(value)
        actual = measured[key]
        off = abs(documented - actual) / actual * 100
        checked += 1
        if mode == "--check":
            status = "ok" if off <= tolerance else "STALE"
            if off > tolerance:
                failed += 1
            print(f"  {status:5} {doc}: {key} documented {value.strip()}, measured {actual:,} B ({off:.1f}% off)")
            return m.group(0)
        return f"<!--size:{key}-->{render(actual, unit, decimals)}<!--/size-->"
    new = pattern.sub(replace, text)
    if mode == "--update" and new != text:
        open(doc, "w", encoding="utf-8").write(new)
        print(f"updated {doc}")
if mode == "--check":
    print(f"sizes: {checked} checked, {failed} off by more than {tolerance:g}%"
          + (f", {unknown} not measured" if unknown else "")
          + ("; run scripts/sizes.sh --update and commit the docs" if failed else ""))
    sys.exit(1 if failed else 0)
EOF
