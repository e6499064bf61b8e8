#!/usr/bin/env bash
# auto_stability.sh: does `auto` never lose? (issue 16). For each model, 10 separate `asd bench` runs, each timing
# DDPM, a second DDPM (the A/A control of the measurement), fixed L = 1, 2, 4, 8 and auto side by side (interleaved
# repeats), in three conditions:
#   cold  - a fresh, empty curve cache for every run (auto calibrates first);
#   warm  - a cache filled by one untimed run before the ten;
#   load  - warm cache, and a competing CPU-bound process pinned to core 1 for the whole run.
# Writes one JSON per run under OUT (default artifacts/auto_stability) and prints the table of
# docs/bench/auto-stability.md (tools/auto_stability_table.py). Run it on an otherwise idle machine, in chunks:
#   tools/auto_stability.sh MODEL_INDEX [CONDITION ...]     (MODEL_INDEX 0..7, conditions default: cold warm load;
#                                                           7, the trained native ConditionalUnet1D, is beyond issue 16's list)
#   tools/auto_stability.sh table                           (just the table from what is there)
#   tools/auto_stability.sh all                             (every model and condition, then the table)
#   tools/auto_stability.sh run MODEL_INDEX CACHE_DIR JSON    (one run of one model, as the conditions run it; for
#                                                           tools/auto_ab.sh, which compares two builds this way)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-artifacts/auto_stability}
RUNS=${RUNS:-10}
# Timed repeats per bench: by model (the last field of MODELS), so that every setting gets ~20+ ms of timing: with 5
# repeats of the 2-D mixture's 70-us run, the A/A control (a second DDPM, --ddpm-control) read 0.78x (interval
# 0.32-1.21), with 101 it read 1.00x (1.00-1.00). REPEATS overrides them all.
ASD=${ASD:-"dotnet Asd.Cli/bin/Release/net10.0/asd.dll"}
# name | model spec | K | chains | extra flags | repeats
MODELS=(
  "policy|builtin:policy|100|1|--skip-quality|21"
  "mixture2|builtin:mixture|200|1||101"
  "mixture32|builtin:mixture?dim=32|1000|1||31"
  "unet16|tests/fixtures/onnx/unet16|100|1||11"
  "unet28|tests/fixtures/onnx/unet28|100|1||9"
  "unet16-rowpar|tests/fixtures/onnx/unet16|100|1|--row-parallel on|11"
  "unet28-rowpar|tests/fixtures/onnx/unet28|100|1|--row-parallel on|9"
  "unet-policy|models/unet-policy/policy.json|100|1|--cond 0,-0.8,0,0.8|7"
)

if [ "${1:-}" = table ]; then
  exec /usr/bin/python3 tools/auto_stability_table.py "$OUT"
fi

if [ "${1:-}" = all ]; then
  for i in "${!MODELS[@]}"; do "$0" "$i"; done
  exec "$0" table
fi

single=""
if [ "${1:-}" = run ]; then
  single=1
  shift
fi

idx=${1:?model index 0..$((${#MODELS[@]} - 1)) or table}
shift || true
conditions=("$@")
[ ${#conditions[@]} -gt 0 ] || [ -n "$single" ] || conditions=(cold warm load)
IFS='|' read -r name spec steps chains extra repeats <<<"${MODELS[$idx]}"
repeats=${REPEATS:-$repeats}
mkdir -p "$OUT/$name"

bench() { # bench CACHE_DIR JSON
  # shellcheck disable=SC2086
  ASD_CACHE_DIR="$1" timeout 300 $ASD bench --model "$spec" --steps "$steps" --samples "$chains" --threads 2 \
    --spec-lens 1,2,4,8,auto --repeats "$repeats" --ddpm-control --seed 0 --json "$2" $extra > "$2.txt"
}

if [ -n "$single" ]; then
  mkdir -p "$1"
  bench "$1" "$2"
  exit
fi

load_pid=""
stop_load() { if [ -n "$load_pid" ]; then kill "$load_pid" 2>/dev/null || true; wait "$load_pid" 2>/dev/null || true; load_pid=""; fi; }
trap stop_load EXIT

for cond in "${conditions[@]}"; do
  warm_dir="$OUT/$name/cache-warm"
  if [ "$cond" != cold ] && [ ! -d "$warm_dir/cost-curves" ]; then
    bench "$warm_dir" "$OUT/$name/prime.json"  # fills the cache; not counted
  fi

  if [ "$cond" = load ]; then
    # A competing CPU-bound process on one core (core 1), for the whole condition.
    taskset -c 1 /bin/sh -c 'while :; do :; done' &
    load_pid=$!
  fi

  for r in $(seq 1 "$RUNS"); do
    if [ "$cond" = cold ]; then
      cache=$(mktemp -d)
      bench "$cache" "$OUT/$name/$cond-$r.json"
      rm -rf "$cache"
    else
      bench "$warm_dir" "$OUT/$name/$cond-$r.json"
    fi
    echo "$name $cond $r: $(grep -E 'ASD \(auto\)' "$OUT/$name/$cond-$r.json.txt" | head -1)"
  done
  stop_load
done
