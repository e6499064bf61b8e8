#!/usr/bin/env bash
# Issue 18's measurements on a CUDA 13 GPU machine, all in one call. NOT RUN YET: written in a session without a GPU
# (2026-12-03); every number it prints is still to be measured. tools/gpu_pack.sh prepares what it needs here (the
# CUDA-flavour AOT build as a tarball in parts of 36 MiB in artifacts/gpu/parts, carried one part per call; see its
# header for the calls); this script joins the parts, checks their sha256, unpacks them and runs:
#   a. precision: DDPM at K = 1 (the sample is one clipped model prediction) and K = 100, CUDA against the CPU, with
#      TF32 on (ONNX Runtime's default) and off (use_tf32=0);
#   b. the per-call cost curve on CUDA, B = 1..64, batch buckets on, CUDA graphs off and on (asd bench
#      --save-cost-curve);
#   c. DDPM, fixed L (4, 8, 32, inf) and auto at K = 100 and K = 1000, one request (--samples 1) and 16 chains, graphs
#      off and on (asd bench: interleaved repeats, ratios from one run);
# for the unet16 fixture and every extra model folder in $ASD_GPU_MODELS (space-separated; the trained 28x28 UNet).
# CUDA 13's cudart, cuBLAS and cuDNN 9 come from the machine's Python image (nvidia-* packages, added to
# LD_LIBRARY_PATH). Everything lands in OUTDIR and is packed into OUTDIR/gpu-results.tgz (the device tool returns at
# most 8 files). The order puts the measurements the goals need first (unet16, graphs off); what the time
# budget leaves out is printed as skipped.
# Usage, from the repository root: tools/gpu_check.sh OUTDIR
set -uo pipefail
out=${1:?usage: tools/gpu_check.sh OUTDIR}
dir=${ASD_GPU_DIR:-artifacts/gpu/bin}
parts=artifacts/gpu/parts
mkdir -p "$out/r"
exec > >(tee "$out/gpu-check.log") 2>&1
if [ ! -x "$dir/asd" ]; then
  cat "$parts"/asd-gpu.tgz.* > artifacts/gpu/asd-gpu.tgz || { echo "missing parts"; exit 2; }
  (cd artifacts/gpu && sha256sum -c "$OLDPWD/$parts/asd-gpu.sha256") || { echo "the parts do not match their sha256 (one missing?)"; ls -la "$parts"; exit 2; }
  tar -C artifacts/gpu -xzf artifacts/gpu/asd-gpu.tgz && rm artifacts/gpu/asd-gpu.tgz
fi
for p in /opt/torch/.venv/lib/python3*/site-packages/nvidia/*/lib; do LD_LIBRARY_PATH=$p:${LD_LIBRARY_PATH:-}; done
export LD_LIBRARY_PATH
nvidia-smi -L
grep -m1 'model name' /proc/cpuinfo; nproc
"$dir/asd" info | grep -E '^(build|machine|onnxruntime)'
# A command starts only while the budget lasts (ASD_GPU_BUDGET_S, default 540 s: the device tool stops a command at
# 600 s), and each has its own timeout, so one hang cannot eat the lease and the results are always packed.
run() {
  local t=$1; shift
  if (( SECONDS + 5 > ${ASD_GPU_BUDGET_S:-540} )); then echo "skipped (time budget): asd $*"; return; fi
  (( SECONDS + t > ${ASD_GPU_BUDGET_S:-540} )) && t=$(( ${ASD_GPU_BUDGET_S:-540} - SECONDS ))
  echo "\$ asd $*"; timeout "$t" "$dir/asd" "$@"; echo "exit $?"
}
cmp() { python3 -c "import numpy as n; a = n.load('$out/r/'+'$1'); b = n.load('$out/r/'+'$2'); print('$3', 'max |cuda - cpu|', abs(a - b).max(), 'of max |x|', abs(b).max())"; }
models="tests/fixtures/onnx/unet16 ${ASD_GPU_MODELS:-}"
start=$SECONDS
for model in $models; do
  m=$(basename "$model")
  # a. precision, TF32 on and off.
  for k in 1 100; do
    run 60 sample --model "$model" --sampler ddpm --device cpu --threads 16 --steps $k --samples 4 --seed 3 --out "$out/r/$m-ddpm-cpu-$k.npy" --no-plot
    run 60 sample --model "$model" --sampler ddpm --device cuda --steps $k --samples 4 --seed 3 --out "$out/r/$m-ddpm-cuda-$k.npy" --no-plot
    ASD_ORT_CUDA_OPTIONS="use_tf32=0" run 60 sample --model "$model" --sampler ddpm --device cuda --steps $k --samples 4 --seed 3 --out "$out/r/$m-ddpm-cuda-fp32-$k.npy" --no-plot
    cmp $m-ddpm-cuda-$k.npy $m-ddpm-cpu-$k.npy "$m K=$k TF32 (default):"
    cmp $m-ddpm-cuda-fp32-$k.npy $m-ddpm-cpu-$k.npy "$m K=$k use_tf32=0:"
  done
  for graphs in off on; do
    # b. the cost curve B = 1..64 (asd bench measures it before timing; one repeat of DDPM only).
    run 90 bench --model "$model" --device cuda --cuda-graphs $graphs --batch-buckets on --max-batch-rows 64 --spec-lens 1 --repeats 1 \
      --save-cost-curve "$out/r/$m-curve-graphs-$graphs.json"
    # c. DDPM, fixed L and auto; one request and 16 chains; K = 100 and 1000.
    for k in 100 1000; do
      reps=$([ $k = 100 ] && echo 5 || echo 2)
      for n in 1 16; do
        run 120 bench --model "$model" --device cuda --cuda-graphs $graphs --batch-buckets on --steps $k --samples $n --max-batch-rows 64 \
          --spec-lens 4,8,32,inf,auto --repeats $reps --cost-curve "$out/r/$m-curve-graphs-$graphs.json" \
          --json "$out/r/$m-k$k-n$n-graphs-$graphs.json"
      done
    done
  done
  echo "elapsed ${SECONDS}s after $m (start $start)"
done
tar -czf "$out/gpu-results.tgz" -C "$out" r gpu-check.log
