#!/usr/bin/env bash
# dotnet_run_overhead.sh: the README's reason for ./asd. Runs `asd sample --no-plot` through `dotnet run` (build step
# included, as the old README command did) and through ./asd, alternated pair by pair, each on an empty cost-curve
# cache, and prints DDPM's and ASD's per-request latency from the sample's latency line. The `dotnet run` host keeps
# a core busy while the program runs (dotnet/sdk#21855), which on a 2-core machine shows as slower requests.
# Usage: tools/dotnet_run_overhead.sh [PAIRS]   (default 4). Run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${1:-4}
./asd info > /dev/null # build once, outside the timings
for p in $(seq 1 "$pairs"); do
  for how in "dotnet run" "./asd"; do
    cache=$(mktemp -d)
    if [ "$how" = "./asd" ]; then
      line=$(ASD_CACHE_DIR=$cache ./asd sample --no-plot | grep '^latency')
    else
      line=$(ASD_CACHE_DIR=$cache dotnet run --project Asd.Cli -c Release -- sample --no-plot | grep '^latency')
    fi
    rm -rf "$cache"
    printf '%s  %-10s  %s\n' "$p" "$how" "$(sed -E 's/.*: (ASD [0-9.]+ ms, DDPM [0-9.]+ ms).*/\1/' <<<"$line")"
  done
done
