#!/usr/bin/env bash
# auto_ab.sh: two builds of asd side by side on auto's stability (issue 16): the code at BASE (a commit, built in a
# temporary git worktree) and the working tree. Each build gets its own curve cache, filled by one untimed run (the
# warm condition of tools/auto_stability.sh); then RUNS runs of each, interleaved run by run (base, head, base, ...),
# each one `asd bench` with DDPM, fixed L = 1, 2, 4, 8 and auto side by side. Prints every run's most used L and auto's
# speedup over DDPM and over the best fixed L, each setting's time per sample in both builds (median of the run pairs'
# ratios), then per build how many runs share their dominant L and the medians.
# Usage: tools/auto_ab.sh BASE [RUNS] [MODEL_INDEX]   (defaults: 10 runs, model 0 = builtin:policy; the indices are
# tools/auto_stability.sh's). LOAD=1: the timed runs (not the priming ones) with a CPU-bound process on core 1. Run it on an otherwise idle machine. Writes OUT (default artifacts/auto_ab).
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:?usage: tools/auto_ab.sh BASE [RUNS] [MODEL_INDEX]}
runs=${2:-10}
idx=${3:-0}
OUT=${OUT:-artifacts/auto_ab}
rm -rf "$OUT"
mkdir -p "$OUT"
tree="$OUT/base-tree"
git worktree add -f --detach "$tree" "$base" > /dev/null
trap 'git worktree remove --force "$tree" > /dev/null 2>&1 || true' EXIT
dotnet build -c Release "$tree/Asd.Cli" -v q -nologo > "$OUT/build-base.log" || { tail -20 "$OUT/build-base.log"; exit 1; }
dotnet build -c Release Asd.Cli -v q -nologo > "$OUT/build-head.log" || { tail -20 "$OUT/build-head.log"; exit 1; }
asd_base="dotnet $tree/Asd.Cli/bin/Release/net10.0/asd.dll"
asd_head="dotnet Asd.Cli/bin/Release/net10.0/asd.dll"
for v in base head; do
  var="asd_$v"
  ASD=${!var} tools/auto_stability.sh run "$idx" "$OUT/cache-$v" "$OUT/$v-prime.json"
done

load_pid=""
if [ -n "${LOAD:-}" ]; then
  # The load condition of tools/auto_stability.sh: a CPU-bound process pinned to core 1 for the timed runs.
  taskset -c 1 /bin/sh -c 'while :; do :; done' &
  load_pid=$!
  trap 'kill $load_pid 2>/dev/null || true; git worktree remove --force "$tree" > /dev/null 2>&1 || true' EXIT
fi

for r in $(seq 1 "$runs"); do
  for v in base head; do
    var="asd_$v"
    ASD=${!var} tools/auto_stability.sh run "$idx" "$OUT/cache-$v" "$OUT/$v-$r.json"
  done
done
[ -z "$load_pid" ] || kill "$load_pid" 2>/dev/null || true

/usr/bin/python3 - "$OUT" "$runs" "$base" <<'PY'
import json, statistics, sys
out, runs, base = sys.argv[1], int(sys.argv[2]), sys.argv[3]
print(f"run | {base}: dominant L, auto / DDPM | working tree: dominant L, auto / DDPM")
summary = {}
for r in range(1, runs + 1):
    cells = []
    for v in ("base", "head"):
        d = json.load(open(f"{out}/{v}-{r}.json"))
        lengths = d.get("auto_round_lengths", {})
        dom = max(lengths, key=lambda k: lengths[k]) if lengths else "?"
        auto = next(row["wall_speedup"] for row in d["rows"] if row["spec_len"] == "auto")
        best = max(row["wall_speedup"] for row in d["rows"] if row["spec_len"] not in ("auto", "-"))
        summary.setdefault(v, []).append((dom, auto, auto / best))
        cells.append(f"L = {dom}, {auto:.2f}x, {auto / best:.2f} of the best fixed L")
    print(f"{r} | {cells[0]} | {cells[1]}")
# Per setting, the time per sample of the working tree over the base's, run pair by run pair (each pair ran minutes
# apart on the same machine): what a change of speed, rather than of auto's choice, did to every setting.
times = {}
for r in range(1, runs + 1):
    for v in ("base", "head"):
        for row in json.load(open(f"{out}/{v}-{r}.json"))["rows"]:
            times.setdefault(f"{row['sampler']} L={row['spec_len']}", {}).setdefault(v, []).append(row["wall_seconds_per_sample"])
for setting, t in times.items():
    pairs = [h / b for b, h in zip(t["base"], t["head"])]
    print(f"{setting}: {statistics.median(t['base']) * 1e3:.2f} ms -> {statistics.median(t['head']) * 1e3:.2f} ms per sample; "
          f"working tree / base, median of {len(pairs)} run pairs {statistics.median(pairs):.3f} (range {min(pairs):.3f}-{max(pairs):.3f})")
for v, name in (("base", base), ("head", "working tree")):
    doms = [d for d, _, _ in summary[v]]
    top = max(set(doms), key=doms.count)
    print(f"{name}: dominant L {top} in {doms.count(top)} of {runs} runs; auto / DDPM median {statistics.median(a for _, a, _ in summary[v]):.2f}x; "
          f"auto / best fixed L median {statistics.median(b for _, _, b in summary[v]):.2f} (min {min(b for _, _, b in summary[v]):.2f})")
PY
