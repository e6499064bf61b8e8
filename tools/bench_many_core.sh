#!/usr/bin/env bash
# Issue 17's ONNX bench on a many-core CPU (the lent GPU machine has 16 cores), all in one call: the unet16 and unet28
# fixtures, one request, K = 100, asd bench with interleaved repeats:
#   a. row-parallel lanes on THREADS cores (default: every core), L = 2, 4, 8, 16 and auto, with their own DDPM;
#   b. DDPM on ONNX Runtime's intra-op threads, 1 to THREADS (the best of these is the "best DDPM configuration");
# then the same row-parallel bench on THREADS/2 cores. Every bench gets a fresh cost-curve cache. It runs the AOT
# build in ASD_BIN_DIR (asd + libonnxruntime.so), or, with no ASD_BIN_DIR, the framework-dependent Release build. Writes OUTDIR/r/*.txt, *.json, machine.txt, table.md (tools/many_core_table.py) and OUTDIR/many-core.tgz (the device
# tool returns at most 8 files). A bench starts only while ASD_BENCH_BUDGET_S (default 420 s) lasts, in the order
# above, so the results the goal needs come first and the output is always packed.
# Usage, from the repository root: tools/bench_many_core.sh OUTDIR [THREADS]
#
# For the device tool, whose calls carry at most 64 MiB with the tracked tree (52.5 MiB on 2026-12-04):
#   tools/bench_many_core.sh --pack   publishes the x86-64-v3 AOT asd and packs asd, libonnxruntime.so and its
#                                     providers_shared as an xz tarball in two parts (artifacts/mc/asd-cpu.txz.00, .01)
# then, with the machine kept warm between the two calls (it goes back after 30 s idle):
#   carry ["artifacts/mc/asd-cpu.txz.00"]: mkdir -p /tmp/p && cp artifacts/mc/asd-cpu.txz.00 /tmp/p/
#   carry ["artifacts/mc/asd-cpu.txz.01"]: mkdir -p /tmp/asd && cat /tmp/p/asd-cpu.txz.00 artifacts/mc/asd-cpu.txz.01 |
#     python3 -c "import lzma, sys; sys.stdout.buffer.write(lzma.decompress(sys.stdin.buffer.read()))" |
#     tar -x -C /tmp/asd && ASD_BIN_DIR=/tmp/asd tools/bench_many_core.sh /tmp/mc && cp /tmp/mc/many-core.tgz $OUT/
set -uo pipefail
if [ "${1:-}" = --pack ]; then
  set -e
  Asd.Cli/publish.sh v3
  rm -rf artifacts/mc && mkdir -p artifacts/mc
  # The far side's copy of the tree need not say which commit the binary came from; the binary's folder does.
  echo "asd built from $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' with uncommitted changes') at $(date -u +%FT%TZ)" \
    > artifacts/asd/linux-x64-v3/build.txt
  tar -C artifacts/asd/linux-x64-v3 -cf - asd build.txt libonnxruntime.so libonnxruntime_providers_shared.so | xz -9e -T2 \
    > artifacts/mc/asd-cpu.txz
  split -n 2 -d artifacts/mc/asd-cpu.txz artifacts/mc/asd-cpu.txz.
  rm artifacts/mc/asd-cpu.txz
  ls -l artifacts/mc
  exit 0
fi
out=${1:?usage: tools/bench_many_core.sh OUTDIR [THREADS]}
cores=${2:-$(nproc)}
mkdir -p "$out/r"
if [ -n "${ASD_BIN_DIR:-}" ]; then asd=("$ASD_BIN_DIR/asd"); else asd=(dotnet Asd.Cli/bin/Release/net10.0/asd.dll); fi
budget=${ASD_BENCH_BUDGET_S:-420}
{ grep -m1 'model name' /proc/cpuinfo; echo "nproc $(nproc)"; lscpu | grep -E '^(Socket|Core|Thread|NUMA node\(s\)|L3)'
  date -u +%FT%TZ; cat "${ASD_BIN_DIR:-/nonexistent}/build.txt" 2>/dev/null || echo "tree at $(git rev-parse --short HEAD 2>/dev/null)"
  "${asd[@]}" info | grep -E '^(build|machine|onnxruntime)'; } \
  > "$out/r/machine.txt" 2>&1
cat "$out/r/machine.txt"
bench() {
  local name=$1; shift
  if (( SECONDS + 10 > budget )); then echo "skipped (time budget): $name"; return; fi
  echo "== $name ($(date -u +%T))"
  ASD_CACHE_DIR=$(mktemp -d) timeout $(( budget - SECONDS )) "${asd[@]}" bench --steps 100 --samples 1 --json "$out/r/$name.json" "$@" \
    > "$out/r/$name.txt" 2>&1
  echo "exit $? after ${SECONDS}s"
  grep -E '^(DDPM|ASD L=auto|cost curve|row-parallel|best fixed)' "$out/r/$name.txt"
}
for model in unet28 unet16; do
  bench "$model-t$cores-rowpar-on" --model "tests/fixtures/onnx/$model" --threads "$cores" --row-parallel on \
    --spec-lens 2,4,8,16,auto --repeats 7
done
for model in unet28 unet16; do
  for t in $(printf '%s\n' "$cores" 8 4 2 1 | awk -v c="$cores" '$1 <= c && !seen[$1]++'); do
    bench "$model-t$t-rowpar-off" --model "tests/fixtures/onnx/$model" --threads "$t" --row-parallel off --spec-lens 2,4,auto --repeats 5
  done
done
half=$(( cores / 2 ))
for model in unet28 unet16; do
  (( half >= 2 )) && bench "$model-t$half-rowpar-on" --model "tests/fixtures/onnx/$model" --threads "$half" --row-parallel on \
    --spec-lens 2,4,8,auto --repeats 5
done
python3 tools/many_core_table.py "$out/r" > "$out/r/table.md" || echo "no table (tools/many_core_table.py failed)"
tar -czf "$out/many-core.tgz" -C "$out/r" .
echo "packed $out/many-core.tgz after ${SECONDS}s"
