#!/usr/bin/env bash
# Issue 17's CPU measurements, regenerated into docs/bench/issue17/: asd bench (interleaved repeats, ratios from one
# run, 2 threads, one request) on builtin:policy (float16-packed weights, with the bandwidth and FMA bounds) and on
# the unet16 and unet28 fixtures with intra-op threads (1 and 2) and row-parallel lanes (2), and the policy's float16 against
# float32 packing (Asd.Bench quick-policy-half), and the pinned MLP bench network against ONNX Runtime (quick-mlp), on Release builds it makes first; run on an otherwise idle machine where the
# machine is shared. Usage, from the repository root: tools/bench_issue17.sh   (ASD_ISSUE17_OUT=DIR writes there
# instead: docs/bench/issue17-avx2 holds a pass on the AVX2-only Zen 3 the project VM is some days, issue17-zen4 one on a
# Zen 4, whose AVX-512 runs at half the FMA rate)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${ASD_ISSUE17_OUT:-docs/bench/issue17}
mkdir -p "$out"
# A cost-curve cache of its own (unless ASD_CACHE_DIR is given): every bench here calibrates on this machine now.
export ASD_CACHE_DIR=${ASD_CACHE_DIR:-$(mktemp -d)}
# Built every time: an old build would time old code.
dotnet build -c Release Asd.Cli -v q -nologo > /dev/null
dotnet build -c Release bench/Asd.Bench -v q -nologo > /dev/null
asd() { dotnet Asd.Cli/bin/Release/net10.0/asd.dll "$@"; }
{ grep -m1 'model name' /proc/cpuinfo; nproc; date -u +%FT%TZ; git rev-parse --short HEAD; } > "$out/machine.txt"
asd bench --model builtin:policy --threads 2 --samples 1 --repeats 10 --json "$out/policy.json" > "$out/policy.txt"
for model in unet16 unet28; do
  for mode in "1 off" "2 off" "2 on"; do
    set -- $mode
    asd bench --model "tests/fixtures/onnx/$model" --threads "$1" --row-parallel "$2" --steps 100 --samples 1 --spec-lens 2,4,8,auto \
      --repeats 5 --json "$out/$model-t$1-rowpar-$2.json" > "$out/$model-t$1-rowpar-$2.txt"
  done
done
dotnet bench/Asd.Bench/bin/Release/net10.0/Asd.Bench.dll quick-policy-half > "$out/policy-half.txt"
dotnet bench/Asd.Bench/bin/Release/net10.0/Asd.Bench.dll quick-mlp > "$out/mlp-vs-onnxruntime.txt"
