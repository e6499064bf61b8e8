#!/usr/bin/env bash
# bench_ab.sh: an Asd.Bench probe on two builds side by side: the code at BASE (a commit, built in a temporary git
# worktree) and the working tree, alternated run by run (base, head, base, ...), so that a change's effect is read
# against the same minutes of a noisy machine. Prints each run's "B=" lines (the quick-unet format) and, per size, the
# median of head / base over the pairs.
# Usage: tools/bench_ab.sh BASE PAIRS PROBE [ARGS...]
#   e.g. tools/bench_ab.sh af616c7~1 4 quick-unet artifacts/unet1d-deploy/unet1d_deploy.json 2 1,4,6 15
# The probe must exist at BASE too. Run it on an otherwise idle machine. Writes OUT (default artifacts/bench_ab).
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:?usage: tools/bench_ab.sh BASE PAIRS PROBE [ARGS...]}
pairs=${2:?pairs}
shift 2
OUT=${OUT:-artifacts/bench_ab}
rm -rf "$OUT"
mkdir -p "$OUT"
tree="$OUT/base-tree"
git worktree add -f --detach "$tree" "$base" > /dev/null
trap 'git worktree remove --force "$tree" > /dev/null 2>&1 || true' EXIT
dotnet build -c Release "$tree/bench/Asd.Bench" -v q -nologo > "$OUT/build-base.log" || { tail -20 "$OUT/build-base.log"; exit 1; }
dotnet build -c Release bench/Asd.Bench -v q -nologo > "$OUT/build-head.log" || { tail -20 "$OUT/build-head.log"; exit 1; }
for r in $(seq 1 "$pairs"); do
  "$tree/bench/Asd.Bench/bin/Release/net10.0/Asd.Bench" "$@" < /dev/null > "$OUT/base-$r.txt"
  bench/Asd.Bench/bin/Release/net10.0/Asd.Bench "$@" < /dev/null > "$OUT/head-$r.txt"
  echo "pair $r base: $(grep -E '^B=' "$OUT/base-$r.txt" | awk '{printf "%s%s ", $2, $3}')"
  echo "pair $r head: $(grep -E '^B=' "$OUT/head-$r.txt" | awk '{printf "%s%s ", $2, $3}')"
done

/usr/bin/python3 - "$OUT" "$pairs" "$base" <<'PY'
import re, statistics, sys
out, pairs, base = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def times(path):
    return {int(m.group(1)): float(m.group(2)) for m in re.finditer(r"^B=\s*(\d+):\s+([\d.]+) ms", open(path).read(), re.M)}
ratios = {}
for r in range(1, pairs + 1):
    b, h = times(f"{out}/base-{r}.txt"), times(f"{out}/head-{r}.txt")
    for size in b.keys() & h.keys():
        ratios.setdefault(size, []).append(h[size] / b[size])
for size in sorted(ratios):
    v = ratios[size]
    print(f"B={size}: working tree / {base}, median over {len(v)} pairs {statistics.median(v):.3f} (each: {', '.join(f'{x:.3f}' for x in v)})")
PY
