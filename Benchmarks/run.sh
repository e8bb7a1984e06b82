#!/usr/bin/env bash
# Builds EarlyExitBenchmarks for several CPU targets and runs each build, so that the effect of
# CPU features (SSE2 baseline, AVX2+FMA, AVX-512) and of -enforce-exclusivity=unchecked is
# visible side by side.
#
#   Benchmarks/run.sh [EarlyExitBenchmarks options...]       e.g. Benchmarks/run.sh --quick
#
# Environment:
#   CONFIGS   space-separated subset of: base v3 avx512 base-unchecked v3-unchecked
#             base = portable x86-64 (SSE2); v3 = EARLYEXIT_TARGET_CPU=haswell, the x86-64-v3 feature
#             set (AVX2, FMA, BMI2; swiftc does not accept the name x86-64-v3); avx512 =
#             skylake-avx512; *-unchecked add -Xswiftc -enforce-exclusivity=unchecked
#             (default: all that build and run on this machine)
#   OUT       results directory (default Benchmarks/results/<timestamp>, git-ignored by nothing:
#             delete it or keep it out of commits)
#
# Each configuration has its own scratch path (.build-bench-<name>) so switching targets never
# forces a rebuild of another. Results: OUT/<name>.txt (the tables) and OUT/<name>.json.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-Benchmarks/results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"

has_flag() { grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | tr ' ' '\n' | grep -qx "$1"; }

# name | EARLYEXIT_TARGET_CPU | extra swift build flags
all_configs=(
  "base||"
  "v3|haswell|"
  "avx512|skylake-avx512|"
  "base-unchecked||-Xswiftc -enforce-exclusivity=unchecked"
  "v3-unchecked|haswell|-Xswiftc -enforce-exclusivity=unchecked"
)
wanted=${CONFIGS:-"base v3 avx512 base-unchecked v3-unchecked"}

for entry in "${all_configs[@]}"; do
  IFS='|' read -r name cpu flags <<<"$entry"
  [[ " $wanted " == *" $name "* ]] || continue
  case "$cpu" in
    haswell) if ! { has_flag avx2 && has_flag fma; }; then echo "== $name: skipped (CPU lacks AVX2/FMA)"; continue; fi ;;
    skylake-avx512) if ! has_flag avx512f; then echo "== $name: skipped (CPU lacks AVX-512)"; continue; fi ;;
  esac
  scratch=".build-bench-$name"
  echo "== $name: building (EARLYEXIT_TARGET_CPU=${cpu:-<unset>} ${flags}) into $scratch"
  # Retried once: in a working tree others edit, a file changing mid-build fails that build.
  # shellcheck disable=SC2086
  if ! EARLYEXIT_TARGET_CPU="$cpu" swift build -c release --scratch-path "$scratch" --product EarlyExitBenchmarks $flags \
       >"$OUT/$name.build.log" 2>&1 &&
     ! EARLYEXIT_TARGET_CPU="$cpu" swift build -c release --scratch-path "$scratch" --product EarlyExitBenchmarks $flags \
       >>"$OUT/$name.build.log" 2>&1; then
    echo "== $name: build FAILED (see $OUT/$name.build.log); skipped"
    continue
  fi
  echo "== $name: running"
  rm -f "$OUT/$name.json"
  if ! "$scratch/release/EarlyExitBenchmarks" --json-out "$OUT/$name.json" "$@" | tee "$OUT/$name.txt"; then
    echo "== $name: run FAILED; skipped"
    continue
  fi
done

# Summarize every configuration with results in OUT (also those of an earlier run into the same
# OUT, so a configuration can be re-run alone with CONFIGS=... OUT=...).
ran=()
for entry in "${all_configs[@]}"; do
  IFS='|' read -r name _ _ <<<"$entry"
  if [[ -s "$OUT/$name.json" ]]; then ran+=("$name"); fi
done
if ((${#ran[@]} == 0)); then echo "nothing ran"; exit 1; fi

echo
echo "== side by side"
python3 - "$OUT" "${ran[@]}" <<'PY'
import json, sys
out, names = sys.argv[1], sys.argv[2:]
runs = {n: json.load(open(f"{out}/{n}.json")) for n in names}
for n in names:
    print(f"  {n:15s} {runs[n]['build']}")
first = runs[names[0]]

def table(title, pick):
    print()
    print(title)
    print(f"{'kernel':27s} {'shape':24s}" + "".join(f"{n:>15s}" for n in names))
    for i, k in enumerate(first["kernels"]):
        row = f"{k['name']:27s} {k['shape']:24s}"
        for n in names:
            ks = runs[n]["kernels"]
            v = pick(ks[i]) if i < len(ks) else None
            row += f"{v:15.2f}" if v is not None else f"{'-':>15s}"
        print(row)

if first["kernels"]:
    table("direct kernel call, GMAC/s per thread CPU second (steadier on a shared machine):",
          lambda k: k["direct"].get("gmacs_per_cpu_s"))
    table("direct kernel call, GMAC/s per wall-clock second:", lambda k: k["direct"]["gmacs_per_s"])
    table("interpreter (one-operator model + exit read-out), GMAC/s per thread CPU second:",
          lambda k: k["interpreter"].get("gmacs_per_cpu_s") if k["interpreter"] else None)
model_names = []
for n in names:
    for m in runs[n]["models"]:
        if m["name"] not in model_names:
            model_names.append(m["name"])
for key, label in [("latency_ns_p50", "median wall-clock"), ("cpu_ns_mean", "mean thread-CPU")]:
    if not model_names:
        break
    print()
    print(f"end to end, {label} time per image (µs):")
    print(f"{'model':30s} {'configuration':14s}" + "".join(f"{n:>15s}" for n in names))
    for name in model_names:
        for config in ["stored policy", "full network"]:
            row = f"{name[:30]:30s} {config:14s}"
            for n in names:
                found = [c for m in runs[n]["models"] if m["name"] == name for c in m["configurations"] if c["name"] == config]
                row += f"{found[0][key] / 1000:15.1f}" if found and key in found[0] else f"{'-':>15s}"
            print(row)
print(f"\nresults in {out}/")
PY
